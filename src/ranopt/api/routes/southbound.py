"""A network's southbound: settings, O1 discovery, transactions, A1 status notifications.

Credentials are write-only; a near-RT RIC POSTs policy status notifications back here.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ranopt.api.deps import (
    Principal,
    Reader,
    Services,
    ServicesDep,
    SessionDep,
    Writer,
    now_s,
    record,
)
from ranopt.api.errors import ProblemError
from ranopt.api.schemas import Accepted, IdPath
from ranopt.service import southbound as service
from ranopt.southbound.o1 import O1Error
from ranopt.southbound.o1_xml import MalformedReplyError
from ranopt.store import southbound as sb
from ranopt.store.networks import network_by_id
from ranopt.store.southbound import (
    DiscoveryJobOut,
    SouthboundIn,
    SouthboundOut,
    TransactionOut,
)

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


def _discovery_job(services: Services, principal: Principal, network_id: int, job_id: int) -> None:
    service.run_discovery_job(
        services.store, tenant_id=principal.tenant_id, network_id=network_id, job_id=job_id,
        keyring=services.settings.keyring(), actor=principal.subject, clock=now_s,
    )  # fmt: skip


def _queue_discovery(
    services: Services, principal: Principal, network_id: int, expected: int
) -> DiscoveryJobOut:
    with services.store.transaction() as session:
        job = sb.create_discovery_job(session, tenant_id=principal.tenant_id,
                                      network_id=network_id, created_by=principal.subject,
                                      now_s=now_s())  # fmt: skip
        record(session, principal, action="southbound.discover.request",
               target=f"network:{network_id}",
               detail={"job_id": job.id, "expected_cells": expected})  # fmt: skip
    services.jobs.submit(_discovery_job, services, principal, network_id, job.id)
    return job


@router.post(
    "/{network_id}/discover",
    responses={202: {"model": Accepted, "description": "queued; poll status_url"}},
)
async def discover(
    network_id: IdPath, principal: Writer, services: ServicesDep,
    background: Annotated[bool, Query(description="run as a job whatever the size")] = False,
) -> Any:  # fmt: skip
    """Read the network over O1 and refresh its sites and cells (write: it changes the network).

    A network expected to hold more than ``sync_max_cells`` cells (its stored cells, at least
    one per O1 endpoint), or ``background=true``, is discovered as a job: 202 with a status URL.
    """
    keyring = services.settings.keyring()
    store = services.store
    tenant_id = principal.tenant_id
    # checked now, so that a network without an O1 southbound answers 422, not a failed job
    await run_in_threadpool(service.o1_endpoints, store, tenant_id=tenant_id,
                            network_id=network_id, keyring=keyring)  # fmt: skip
    expected = await run_in_threadpool(service.expected_cells, store, tenant_id=tenant_id,
                                       network_id=network_id)  # fmt: skip
    if background or expected > services.settings.sync_max_cells:
        job = await run_in_threadpool(_queue_discovery, services, principal, network_id, expected)
        status_url = f"/api/v2/networks/{network_id}/discoveries/{job.id}"
        return JSONResponse(
            Accepted(id=job.id, status="queued", status_url=status_url).model_dump(),
            status_code=status.HTTP_202_ACCEPTED, headers={"Location": status_url},
        )  # fmt: skip
    try:
        report = await run_in_threadpool(
            service.discover, store, tenant_id=principal.tenant_id, network_id=network_id,
            keyring=keyring, supplement=None, now_s=now_s(), actor=principal.subject,
        )  # fmt: skip
    except (O1Error, MalformedReplyError) as exc:
        raise ProblemError(502, str(exc), title="O1 endpoint failed") from exc
    return report.__dict__


@router.get("/{network_id}/discoveries/{job_id}")
def discovery_job(
    network_id: IdPath, job_id: IdPath, principal: Reader, session: SessionDep
) -> DiscoveryJobOut:
    """Return a discovery job: queued, running, succeeded (with its report) or failed."""
    return sb.get_discovery_job(session, tenant_id=principal.tenant_id, network_id=network_id,
                                job_id=job_id)  # fmt: skip


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
