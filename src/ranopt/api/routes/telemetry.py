"""Telemetry ingest (JSON batch, all or nothing) and KPI queries (series, aggregates).

Every query's work is bounded before it starts: the raw samples it may read
(``RANOPT_MAX_SCAN_SAMPLES``), the points and values its answer may hold
(``RANOPT_MAX_SERIES_POINTS``, ``RANOPT_MAX_SERIES_VALUES``), and the database time it may take
(``RANOPT_MAX_QUERY_S``); past any of them it answers 422 naming the parameter to change.
"""

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import Field
from sqlalchemy.orm import Session

from ranopt.api.deps import Reader, Services, ServicesDep, SessionDep, Writer, record
from ranopt.api.errors import ProblemError, problem_responses
from ranopt.api.jsonenc import encode_json
from ranopt.api.kpi_cache import answer_key
from ranopt.api.schemas import (
    MAX_DB_ID,
    MAX_EPOCH_S,
    AggregateOut,
    IdPath,
    IngestOut,
    SeriesOut,
    TelemetryBatch,
)
from ranopt.api.settings import Settings
from ranopt.counters import COUNTER_COLUMNS
from ranopt.ingest.batch import CellLookup, validate
from ranopt.ingest.records import TelemetryRecord, parse_records
from ranopt.store import networks as nets
from ranopt.store import repository as repo

router = APIRouter(prefix="/api/v2/networks/{network_id}", tags=["telemetry"])
StartS = Annotated[int, Query(ge=0, le=MAX_EPOCH_S, description="epoch s, inclusive")]
EndS = Annotated[int, Query(gt=0, le=MAX_EPOCH_S, description="epoch s, exclusive")]


@router.post(
    "/telemetry", status_code=status.HTTP_201_CREATED, responses=problem_responses(400, 413)
)
def ingest_batch(
    network_id: IdPath,
    body: TelemetryBatch,
    principal: Writer,
    session: SessionDep,
    services: ServicesDep,
) -> IngestOut:
    """Validate every record, then write them all in the request's transaction (or none)."""
    if len(body.records) > services.settings.max_batch_records:
        raise ProblemError(
            413, f"records: at most {services.settings.max_batch_records} per batch",
            field="records",
        )  # fmt: skip
    net = nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    parsed = parse_records(
        [
            TelemetryRecord(r.cell, r.interval_start_s, dict(r.counters), r.suspect)
            for r in body.records
        ],
        source="body",
    )
    cells = CellLookup.from_cells(
        repo.network_cells(session, tenant_id=principal.tenant_id, network_id=net.id)
    )
    batch = validate(parsed, cells=cells, interval_s=net.interval_s)
    written = repo.upsert_samples(
        session, tenant_id=principal.tenant_id, network_id=net.id, batch=batch
    )
    record(session, principal, action="telemetry.ingest", target=f"network:{net.id}",
           detail={"num_records": len(parsed), "num_samples": written})  # fmt: skip
    return IngestOut(num_records=len(parsed), num_samples=written, skipped=parsed.skipped)


def _check_range(start_s: int, end_s: int) -> None:
    if end_s <= start_s:
        raise ProblemError(422, "end_s: must be after start_s", field="end_s")


def _check_scan(
    settings: Settings, num_cells: int, start_s: int, end_s: int, interval_s: int
) -> None:
    """422 when the query would read more raw samples than one request may."""
    scanned = num_cells * -(-(end_s - start_s) // interval_s)
    if scanned > settings.max_scan_samples:
        raise ProblemError(
            422,
            f"end_s: {num_cells} cells over this range are up to {scanned} samples to read, "
            f"more than the {settings.max_scan_samples} one request may; shorten the range "
            "or name fewer cell_id",
            field="end_s",
        )


def _cached_answer(
    services: Services,
    *,
    tenant_id: int,
    network_id: int,
    query: str,
    compute: Callable[[Session, repo.KpiGenerationOut], bytes],
) -> bytes:
    """Return the encoded answer to ``query``: from the KPI cache, or computed and cached.

    One transaction: the network's generation is read first (404 if not the tenant's), so
    an answer computed after it holds at least the samples that generation stands for.
    """
    settings = services.settings
    limits = (
        f"{settings.max_series_points},{settings.max_series_values},{settings.max_scan_samples}"
    )
    cache = services.kpi_cache
    with services.store.transaction() as session:
        net = repo.kpi_generation(session, tenant_id=tenant_id, network_id=network_id)
        key = answer_key(
            tenant_id=tenant_id, network_id=network_id, generation=net.generation,
            query=f"{query}|{limits}",
        )  # fmt: skip
        cached, outcome = cache.get(key)
        services.metrics.kpi_cache.labels(cache.kind, outcome).inc()
        if cached is not None:
            return cached
        body = compute(session, net)
    cache.put(key, body)
    return body


def _series_body(
    session: Session,
    net: repo.KpiGenerationOut,
    *,
    settings: Settings,
    tenant_id: int,
    start_s: int,
    end_s: int,
    bucket_s: int,
    cell_ids: list[int] | None,
    columns: tuple[str, ...],
) -> bytes:
    """Check the query's bounds, read the series in one statement, encode it."""
    ids = nets.owned_cell_ids(
        session, tenant_id=tenant_id, network_id=net.network_id, cell_ids=cell_ids
    )
    num_buckets = (end_s - 1) // bucket_s - start_s // bucket_s + 1
    points = len(ids) * num_buckets
    if points > settings.max_series_points:
        raise ProblemError(
            422,
            f"bucket_s: {len(ids)} cells x {num_buckets} buckets = {points} points, more than "
            f"the {settings.max_series_points} one answer may hold; raise bucket_s, shorten "
            "the range or name fewer cell_id",
            field="bucket_s",
        )
    if points * len(columns) > settings.max_series_values:
        raise ProblemError(
            422,
            f"counter: {points} points x {len(columns)} counters is more than the "
            f"{settings.max_series_values} values one answer may hold; name fewer counters",
            field="counter",
        )
    _check_scan(settings, len(ids), start_s, end_s, net.interval_s)
    with repo.time_budget(session, settings.max_query_s, field="end_s"):
        result = repo.series(
            session, tenant_id=tenant_id, cell_ids=ids, start_s=start_s, end_s=end_s,
            bucket_s=bucket_s, columns=columns,
        )  # fmt: skip
    return encode_json({
        "cell_id": result.cell_id, "bucket_start_s": result.bucket_start_s,
        "num_samples": result.num_samples, "values": result.values,
    })  # fmt: skip


@router.get("/kpis/series", response_model=SeriesOut)
async def kpi_series(
    network_id: IdPath,
    principal: Reader,
    services: ServicesDep,
    start_s: StartS,
    end_s: EndS,
    bucket_s: Annotated[int, Query(gt=0, le=31 * 86_400)] = 900,
    cell_id: Annotated[list[Annotated[int, Field(ge=1, le=MAX_DB_ID)]] | None, Query()] = None,
    counter: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """Each cell's counters in buckets of ``bucket_s`` over ``[start_s, end_s)``.

    Answers come from the KPI cache while the network's samples are unchanged (any write
    invalidates them at once, in every worker); a miss reads the database in one statement.
    """
    _check_range(start_s, end_s)
    columns = tuple(dict.fromkeys(counter)) if counter else COUNTER_COLUMNS
    unknown = [c for c in columns if c not in COUNTER_COLUMNS]
    if unknown:
        raise ProblemError(
            422, f"counter: unknown column {unknown[0]!r}; one of {', '.join(COUNTER_COLUMNS)}",
            field="counter",
        )  # fmt: skip
    cells = list(dict.fromkeys(cell_id)) if cell_id else None
    query = f"series|{start_s}|{end_s}|{bucket_s}|{cells}|{','.join(columns)}"
    compute = partial(
        _series_body, settings=services.settings, tenant_id=principal.tenant_id,
        start_s=start_s, end_s=end_s, bucket_s=bucket_s, cell_ids=cells, columns=columns,
    )  # fmt: skip
    answer = partial(
        _cached_answer, services, tenant_id=principal.tenant_id, network_id=network_id,
        query=query, compute=compute,
    )  # fmt: skip
    body = await asyncio.get_running_loop().run_in_executor(services.reads, answer)
    return Response(body, media_type="application/json")


def _aggregate_body(
    session: Session,
    net: repo.KpiGenerationOut,
    *,
    settings: Settings,
    tenant_id: int,
    start_s: int,
    end_s: int,
) -> bytes:
    """Check the query's bounds, read the network-wide counters, encode them."""
    num_intervals = -(-(end_s - start_s) // net.interval_s)
    if num_intervals * len(COUNTER_COLUMNS) > settings.max_series_values:
        raise ProblemError(
            422,
            f"end_s: {num_intervals} intervals x {len(COUNTER_COLUMNS)} counters is more than "
            f"the {settings.max_series_values} values one answer may hold; shorten the range",
            field="end_s",
        )
    num_cells = len(nets.owned_cell_ids(session, tenant_id=tenant_id, network_id=net.network_id))
    _check_scan(settings, num_cells, start_s, end_s, net.interval_s)
    with repo.time_budget(session, settings.max_query_s, field="end_s"):
        result = repo.network_aggregate(
            session, tenant_id=tenant_id, network_id=net.network_id, start_s=start_s,
            end_s=end_s,
        )  # fmt: skip
    return encode_json({
        "interval_start_s": result.interval_start_s, "num_cells": result.num_cells,
        "values": result.values,
    })  # fmt: skip


@router.get("/kpis/aggregate", response_model=AggregateOut)
async def kpi_aggregate(
    network_id: IdPath,
    principal: Reader,
    services: ServicesDep,
    start_s: StartS,
    end_s: EndS,
) -> Response:
    """Network-wide counters per interval over ``[start_s, end_s)`` (cached like the series)."""
    _check_range(start_s, end_s)
    compute = partial(
        _aggregate_body, settings=services.settings, tenant_id=principal.tenant_id,
        start_s=start_s, end_s=end_s,
    )  # fmt: skip
    answer = partial(
        _cached_answer, services, tenant_id=principal.tenant_id, network_id=network_id,
        query=f"aggregate|{start_s}|{end_s}", compute=compute,
    )  # fmt: skip
    body = await asyncio.get_running_loop().run_in_executor(services.reads, answer)
    return Response(body, media_type="application/json")
