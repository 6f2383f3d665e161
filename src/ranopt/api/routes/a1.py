"""A network's A1 policies over HTTP: list, create or update, delete (through its RIC or PMS).

The body of a PUT is the policy instance itself, as the O-RAN policy type defines it (a
traffic-steering preference, a slice SLA target); it is checked against the schema the RIC
publishes for the type (422 naming the field, nothing sent), then sent with ranopt's status
notification route as its ``notificationDestination``. Every write and failure is a recorded
southbound transaction with an audit entry (the service does it); the route adds the caller's
own audit entry for a successful change.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response, status

from ranopt.api.deps import Reader, ServicesDep, SessionDep, Writer, now_s, record
from ranopt.api.errors import ProblemError
from ranopt.api.schemas import IdPath
from ranopt.service import southbound as service
from ranopt.southbound.a1 import A1RefusedError, A1UnavailableError
from ranopt.southbound.a1_types import PolicySchemaError
from ranopt.store import southbound as sb
from ranopt.store.southbound import A1PolicyOut

router = APIRouter(prefix="/api/v2/networks", tags=["a1"])
NAME_PATTERN = r"^[A-Za-z0-9_.:\-]{1,200}$"
PolicyType = Annotated[str, Path(pattern=NAME_PATTERN, description="A1 policy type id")]
PolicyId = Annotated[str, Path(pattern=NAME_PATTERN, description="policy instance id")]


def _a1_problem(exc: Exception) -> ProblemError:
    """Map what the RIC (or PMS) answered to ranopt's answer."""
    if isinstance(exc, PolicySchemaError):
        return ProblemError(422, str(exc), field=exc.field)
    if isinstance(exc, A1RefusedError):
        if exc.status == status.HTTP_404_NOT_FOUND:
            return ProblemError(404, str(exc), title="Not found on the A1 endpoint")
        return ProblemError(422, str(exc), title="Refused by the A1 endpoint", field="body")
    return ProblemError(502, str(exc), title="A1 endpoint failed")


@router.get("/{network_id}/a1/policies")
def list_policies(
    network_id: IdPath, principal: Reader, session: SessionDep,
    policy_type: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
) -> list[A1PolicyOut]:  # fmt: skip
    """List the A1 policies ranopt holds for the network, with the last status reported."""
    return sb.list_policies(session, tenant_id=principal.tenant_id, network_id=network_id,
                            policy_type=policy_type)  # fmt: skip


@router.put(
    "/{network_id}/a1/policies/{policy_type}/{policy_id}",
    responses={201: {"model": A1PolicyOut, "description": "created"}},
)
def put_policy(
    network_id: IdPath, policy_type: PolicyType, policy_id: PolicyId,
    body: Annotated[dict[str, Any], Body(description="the policy instance")],
    principal: Writer, services: ServicesDep, request: Request, response: Response,
) -> A1PolicyOut:  # fmt: skip
    """Create or update a policy instance on the network's near-RT RIC (201 when created)."""
    store, tenant_id = services.store, principal.tenant_id
    url = service.a1_notification_url(str(request.base_url), network_id=network_id,
                                      policy_type=policy_type, policy_id=policy_id)  # fmt: skip
    try:
        created = service.put_a1_policy(
            store, tenant_id=tenant_id, network_id=network_id,
            policy_type=policy_type, policy_id=policy_id, body=body, notification_url=url,
            keyring=services.settings.keyring(), actor=principal.subject, now_s=now_s(),
        )  # fmt: skip
    except (PolicySchemaError, A1RefusedError, A1UnavailableError) as exc:
        raise _a1_problem(exc) from exc
    with store.transaction() as session:
        record(session, principal, action="a1.policy.put", target=f"network:{network_id}",
               detail={"policy_type": policy_type, "policy_id": policy_id,
                       "created": created})  # fmt: skip
        out = sb.get_policy(session, tenant_id=tenant_id, network_id=network_id,
                            policy_type=policy_type, policy_id=policy_id)  # fmt: skip
    if out is None:  # deleted by another request in between
        raise ProblemError(409, f"policy_id: {policy_type}/{policy_id} changed meanwhile",
                           field="policy_id")  # fmt: skip
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return out


@router.delete("/{network_id}/a1/policies/{policy_type}/{policy_id}", status_code=204)
def delete_policy(
    network_id: IdPath, policy_type: PolicyType, policy_id: PolicyId, principal: Writer,
    services: ServicesDep,
) -> Response:  # fmt: skip
    """Delete a policy instance on the network's RIC and forget it."""
    store, tenant_id = services.store, principal.tenant_id
    with store.transaction() as session:
        known = sb.get_policy(session, tenant_id=tenant_id, network_id=network_id,
                              policy_type=policy_type, policy_id=policy_id)  # fmt: skip
    if known is None:
        raise ProblemError(404, f"policy_id: no A1 policy {policy_type}/{policy_id}",
                           field="policy_id")  # fmt: skip
    try:
        service.delete_a1_policy(
            store, tenant_id=tenant_id, network_id=network_id,
            policy_type=policy_type, policy_id=policy_id, keyring=services.settings.keyring(),
            actor=principal.subject, now_s=now_s(),
        )  # fmt: skip
    except (A1RefusedError, A1UnavailableError) as exc:
        raise _a1_problem(exc) from exc
    with store.transaction() as session:
        record(session, principal, action="a1.policy.delete", target=f"network:{network_id}",
               detail={"policy_type": policy_type, "policy_id": policy_id})  # fmt: skip
    return Response(status_code=204)
