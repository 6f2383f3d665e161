"""ONAP VES 7.x event listener: ``/eventListener/v7`` and ``/eventListener/v7/eventBatch``.

Collectors authenticate with an API key (``X-API-Key`` or bearer) or HTTP basic; the network
the events belong to is named by ``network_id`` in the query string. Events go through the
same parser and all-or-nothing validation as VES files.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from starlette.concurrency import run_in_threadpool

from ranopt.api.deps import SessionDep, Writer, record
from ranopt.api.errors import ProblemError
from ranopt.api.schemas import MAX_DB_ID, IdPath, IngestOut
from ranopt.ingest.batch import CellLookup, validate
from ranopt.ingest.ves import parse_ves
from ranopt.store import networks as nets
from ranopt.store import repository as repo

router = APIRouter(prefix="/eventListener/v7", tags=["ves"])
MAX_EVENT_BYTES = 16 * 1024 * 1024


async def _body(request: Request) -> bytes:
    data = await request.body()
    if len(data) > MAX_EVENT_BYTES:
        raise ProblemError(413, f"body: larger than {MAX_EVENT_BYTES} bytes", field="body")
    return data


def _ingest(data: bytes, network_id: IdPath, principal: Writer, session: SessionDep) -> IngestOut:
    net = nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    parsed = parse_ves(data, source="body")
    cells = CellLookup.from_cells(
        repo.network_cells(session, tenant_id=principal.tenant_id, network_id=net.id)
    )
    batch = validate(parsed, cells=cells, interval_s=net.interval_s)
    written = repo.upsert_samples(
        session, tenant_id=principal.tenant_id, network_id=net.id, batch=batch
    )
    record(session, principal, action="ves.ingest", target=f"network:{net.id}",
           detail={"num_records": len(parsed), "num_samples": written})  # fmt: skip
    return IngestOut(num_records=len(parsed), num_samples=written, skipped=parsed.skipped)


_OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.post("", status_code=status.HTTP_202_ACCEPTED, openapi_extra=_OPENAPI_BODY)
async def event(
    request: Request,
    principal: Writer,
    session: SessionDep,
    network_id: Annotated[int, Query(ge=1, le=MAX_DB_ID)],
) -> IngestOut:
    """One VES event (``{"event": {...}}``)."""
    data = await _body(request)
    return await run_in_threadpool(_ingest, data, network_id, principal, session)


@router.post("/eventBatch", status_code=status.HTTP_202_ACCEPTED, openapi_extra=_OPENAPI_BODY)
async def event_batch(
    request: Request,
    principal: Writer,
    session: SessionDep,
    network_id: Annotated[int, Query(ge=1, le=MAX_DB_ID)],
) -> IngestOut:
    """Ingest a VES ``eventList`` batch."""
    data = await _body(request)
    return await run_in_threadpool(_ingest, data, network_id, principal, session)
