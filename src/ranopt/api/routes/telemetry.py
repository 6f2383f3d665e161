"""Telemetry ingest (JSON batch, all or nothing) and KPI queries (series, aggregates).

Every query's work is bounded before it starts: the raw samples it may read
(``RANOPT_MAX_SCAN_SAMPLES``), the points and values its answer may hold
(``RANOPT_MAX_SERIES_POINTS``, ``RANOPT_MAX_SERIES_VALUES``), and the database time it may take
(``RANOPT_MAX_QUERY_S``); past any of them it answers 422 naming the parameter to change.
"""

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, status
from pydantic import Field

from ranopt.api.deps import Reader, ServicesDep, SessionDep, Writer, record
from ranopt.api.errors import ProblemError, problem_responses
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
from ranopt.store.samples import FloatArray

router = APIRouter(prefix="/api/v2/networks/{network_id}", tags=["telemetry"])
StartS = Annotated[int, Query(ge=0, le=MAX_EPOCH_S, description="epoch s, inclusive")]
EndS = Annotated[int, Query(gt=0, le=MAX_EPOCH_S, description="epoch s, exclusive")]


def _json_floats(values: FloatArray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values.tolist()]


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


@router.get("/kpis/series")
def kpi_series(
    network_id: IdPath,
    principal: Reader,
    session: SessionDep,
    services: ServicesDep,
    start_s: StartS,
    end_s: EndS,
    bucket_s: Annotated[int, Query(gt=0, le=31 * 86_400)] = 900,
    cell_id: Annotated[list[Annotated[int, Field(ge=1, le=MAX_DB_ID)]] | None, Query()] = None,
    counter: Annotated[list[str] | None, Query()] = None,
) -> SeriesOut:
    """Each cell's counters in buckets of ``bucket_s`` over ``[start_s, end_s)``."""
    settings = services.settings
    _check_range(start_s, end_s)
    columns = tuple(dict.fromkeys(counter)) if counter else COUNTER_COLUMNS
    unknown = [c for c in columns if c not in COUNTER_COLUMNS]
    if unknown:
        raise ProblemError(
            422, f"counter: unknown column {unknown[0]!r}; one of {', '.join(COUNTER_COLUMNS)}",
            field="counter",
        )  # fmt: skip
    net = nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    ids = nets.owned_cell_ids(
        session, tenant_id=principal.tenant_id, network_id=network_id,
        cell_ids=list(cell_id) if cell_id else None,
    )  # fmt: skip
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
            session, tenant_id=principal.tenant_id, cell_ids=ids, start_s=start_s,
            end_s=end_s, bucket_s=bucket_s, columns=columns,
        )  # fmt: skip
    return SeriesOut(
        cell_id=result.cell_id.tolist(),
        bucket_start_s=result.bucket_start_s.tolist(),
        num_samples=result.num_samples.tolist(),
        values={k: _json_floats(v) for k, v in result.values.items()},
    )


@router.get("/kpis/aggregate")
def kpi_aggregate(
    network_id: IdPath,
    principal: Reader,
    session: SessionDep,
    services: ServicesDep,
    start_s: StartS,
    end_s: EndS,
) -> AggregateOut:
    """Network-wide counters per interval over ``[start_s, end_s)``."""
    settings = services.settings
    _check_range(start_s, end_s)
    net = nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    num_intervals = -(-(end_s - start_s) // net.interval_s)
    if num_intervals * len(COUNTER_COLUMNS) > settings.max_series_values:
        raise ProblemError(
            422,
            f"end_s: {num_intervals} intervals x {len(COUNTER_COLUMNS)} counters is more than "
            f"the {settings.max_series_values} values one answer may hold; shorten the range",
            field="end_s",
        )
    _check_scan(settings, net.num_cells, start_s, end_s, net.interval_s)
    with repo.time_budget(session, settings.max_query_s, field="end_s"):
        result = repo.network_aggregate(
            session, tenant_id=principal.tenant_id, network_id=network_id, start_s=start_s,
            end_s=end_s,
        )  # fmt: skip
    return AggregateOut(
        interval_start_s=result.interval_start_s.tolist(),
        num_cells=result.num_cells.tolist(),
        values={k: _json_floats(v) for k, v in result.values.items()},
    )
