"""A network's southbound: settings, O1 discovery, transactions, A1 status notifications.

Credentials are write-only; a near-RT RIC POSTs policy status notifications back here.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from starlette.concurrency import run_in_threadpool

from ranopt.api.deps import Reader, ServicesDep, SessionDep, Writer, now_s, record
from ranopt.api.errors import ProblemError
from ranopt.api.schemas import IdPath
from ranopt.service import southbound as service
from ranopt.southbound.o1 import O1Error
from ranopt.southbound.o1_xml import MalformedReplyError
from ranopt.store import southbound as sb
from ranopt.store.networks import network_by_id
from ranopt.store.southbound import SouthboundIn, SouthboundOut, TransactionOut

router = APIRouter(prefix="/api/v2/networks", tags=["southbound"])


@router.get("/{network_id}/southbound")
def get_southbound(network_id: IdPath, principal: Reader, session: SessionDep) -> SouthboundOut:
    """How the network is reached (passwords and tokens are never returned)."""
    return sb.get_southbound(session, tenant_id=principal.tenant_id, network_id=network_id)


@router.put("/{network_id}/southbound")
def put_southbound(
    network_id: IdPath, body: SouthboundIn, principal: Writer, session: SessionDep,
    services: ServicesDep,
) -> SouthboundOut:  # fmt: skip
    """Set the network's southbound: ``twin``, or O1 endpoints (and optionally A1)."""
    out = sb.set_southbound(
        session,
        tenant_id=principal.tenant_id,
        network_id=network_id,
        settings=body,
        keyring=services.settings.keyring(),
        now_s=now_s(),
    )
    record(
        session,
        principal,
        action="southbound.set",
        target=f"network:{network_id}",
        detail={"kind": body.kind, "o1_endpoints": len(body.o1), "a1": body.a1 is not None},
    )
    return out


@router.post("/{network_id}/discover")
async def discover(network_id: IdPath, principal: Writer, services: ServicesDep) -> dict[str, Any]:
    """Read the network over O1 and refresh its sites and cells (write: it changes the network)."""
    try:
        report = await run_in_threadpool(
            service.discover, services.store, tenant_id=principal.tenant_id,
            network_id=network_id, keyring=services.settings.keyring(), supplement=None,
            now_s=now_s(), actor=principal.subject,
        )  # fmt: skip
    except (O1Error, MalformedReplyError) as exc:
        raise ProblemError(502, str(exc), title="O1 endpoint failed") from exc
    return report.__dict__


@router.get("/{network_id}/southbound/transactions")
def transactions(
    network_id: IdPath, principal: Reader, session: SessionDep,
    run_id: Annotated[int | None, Query(ge=1)] = None,
) -> list[TransactionOut]:  # fmt: skip
    """List the network's O1 / A1 transactions and their outcomes, newest first."""
    return sb.list_transactions(session, tenant_id=principal.tenant_id, network_id=network_id,
                                run_id=run_id)  # fmt: skip


@router.post("/{network_id}/a1/notifications", status_code=204)
def a1_notification(
    network_id: IdPath, principal: Writer, session: SessionDep,
    policy_type: Annotated[str, Query(min_length=1, max_length=200)],
    policy_id: Annotated[str, Query(min_length=1, max_length=200)],
    body: Annotated[dict[str, Any], Body()],
) -> None:  # fmt: skip
    """Record a policy status a near-RT RIC reports (A1-P v2 policyStatusNotification)."""
    network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    status = body.get("enforceStatus")
    if status not in ("ENFORCED", "NOT_ENFORCED"):
        raise ProblemError(422, "enforceStatus: must be ENFORCED or NOT_ENFORCED",
                           field="enforceStatus")  # fmt: skip
    reason = body.get("enforceReason")
    known = sb.set_policy_status(session, tenant_id=principal.tenant_id, network_id=network_id,
                                 policy_type=policy_type, policy_id=policy_id,
                                 enforce_status=status,
                                 enforce_reason=reason if isinstance(reason, str) else None,
                                 now_s=now_s())  # fmt: skip
    if not known:
        raise ProblemError(404, f"policy_id: no A1 policy {policy_type}/{policy_id}",
                           field="policy_id")  # fmt: skip
    record(
        session,
        principal,
        action="southbound.a1.status",
        target=f"network:{network_id}",
        detail={"policy_type": policy_type, "policy_id": policy_id, "status": status},
    )
