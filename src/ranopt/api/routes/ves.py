"""ONAP VES 7.x event listener: ``/eventListener/v7`` and ``/eventListener/v7/eventBatch``.

Collectors authenticate with an API key (``X-API-Key`` or bearer) or HTTP basic; the network
the events belong to is named by ``network_id`` in the query string. Events go through the
same parser and all-or-nothing validation as VES files; ``fault`` events raise and clear the
cell's alarm (``ranopt.store.ves_faults``) in the same transaction. The body is capped at
``MAX_EVENT_BYTES`` by ``RequestGuard`` (413) and only read once the collector is identified;
the 202 goes out after the samples are committed.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ranopt.api.deps import Principal, SessionDep, Writer, now_s, record
from ranopt.api.errors import problem_responses
from ranopt.api.schemas import MAX_DB_ID, VesIngestOut
from ranopt.ingest.batch import CellLookup, validate
from ranopt.ingest.ves import VesFault, parse_ves
from ranopt.store import networks as nets
from ranopt.store import repository as repo
from ranopt.store import ves_faults

PREFIX = "/eventListener/v7"
router = APIRouter(prefix=PREFIX, tags=["ves"])
MAX_EVENT_BYTES = 16 * 1024 * 1024
BODY_CAPS = {PREFIX: MAX_EVENT_BYTES, f"{PREFIX}/eventBatch": MAX_EVENT_BYTES}


def _ingest(data: bytes, network_id: int, principal: Principal, session: Session) -> VesIngestOut:
    net = nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    faults: list[VesFault] = []
    parsed = parse_ves(data, source="body", faults=faults)
    cells = CellLookup.from_cells(
        repo.network_cells(session, tenant_id=principal.tenant_id, network_id=net.id)
    )
    fault_cells = ves_faults.resolve_cells(faults, cells, parsed.problems)
    batch = validate(parsed, cells=cells, interval_s=net.interval_s)  # raises every problem
    written = repo.upsert_samples(
        session, tenant_id=principal.tenant_id, network_id=net.id, batch=batch
    )
    counts = ves_faults.record_faults(
        session, tenant_id=principal.tenant_id, network_id=net.id, faults=faults,
        cell_ids=[c for c in fault_cells if c is not None], now_s=now_s(),
    )  # fmt: skip
    record(session, principal, action="ves.ingest", target=f"network:{net.id}",
           detail={"num_records": len(parsed), "num_samples": written,
                   "num_faults": len(faults)})  # fmt: skip
    return VesIngestOut(
        num_records=len(parsed), num_samples=written, skipped=parsed.skipped,
        num_faults=len(faults), faults_raised=counts.raised, faults_cleared=counts.cleared,
    )  # fmt: skip


_OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, openapi_extra=_OPENAPI_BODY,
    responses=problem_responses(400, 413),
)  # fmt: skip
async def event(
    request: Request,
    principal: Writer,
    session: SessionDep,
    network_id: Annotated[int, Query(ge=1, le=MAX_DB_ID)],
) -> VesIngestOut:
    """One VES event (``{"event": {...}}``)."""
    data = await request.body()
    return await run_in_threadpool(_ingest, data, network_id, principal, session)


@router.post(
    "/eventBatch", status_code=status.HTTP_202_ACCEPTED, openapi_extra=_OPENAPI_BODY,
    responses=problem_responses(400, 413),
)  # fmt: skip
async def event_batch(
    request: Request,
    principal: Writer,
    session: SessionDep,
    network_id: Annotated[int, Query(ge=1, le=MAX_DB_ID)],
) -> VesIngestOut:
    """Ingest a VES ``eventList`` batch."""
    data = await request.body()
    return await run_in_threadpool(_ingest, data, network_id, principal, session)
