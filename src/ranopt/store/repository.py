"""Tenant-scoped repository functions: every query filters by the caller's ``tenant_id``.

Functions are keyword-only, take an open ``Session`` (the caller owns the transaction) and
return plain data (pydantic models, dataclasses of arrays), never table rows.
"""

import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Row, Select, and_, delete, func, select, text, union_all
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ranopt.counters import COUNTER_BY_COLUMN, COUNTER_COLUMNS, Aggregation
from ranopt.errors import ConflictError, RanoptError, ValidationError, did_you_mean
from ranopt.store.samples import FloatArray, NetworkAggregate, SampleBatch, Series
from ranopt.store.schemas import NetworkOut, TopologyIn
from ranopt.store.tables import (
    Cell,
    KpiHourly,
    KpiSample,
    Network,
    RetentionPolicy,
    Site,
    Slice,
    Tenant,
)
from ranopt.twin.topology import project_to_plane_m

SECONDS_PER_DAY = 86_400
SECONDS_PER_HOUR = 3_600
DEFAULT_RAW_DAYS = 90
DEFAULT_ROLLUP_DAYS = 7 * 365
SAMPLE_KEY = ("network_id", "interval_start_s", "cell_id")
SAMPLE_COLUMNS = (*SAMPLE_KEY, "tenant_id", "suspect", *COUNTER_COLUMNS, "extra")
ProgressFn = Callable[[int], None]
ANALYZE_AFTER_ROWS = 100_000  # PostgreSQL: refresh statistics after a bulk load this large


class NotFoundError(RanoptError, LookupError):
    """A named object does not exist for this tenant."""


class QueryBudgetError(ValidationError):
    """A query ran past its time budget and was stopped (the message names the field)."""


SQLITE_PROGRESS_OPS = 20_000  # SQLite VM steps between two looks at the clock


@contextmanager
def time_budget(session: Session, seconds: float, *, field: str) -> Iterator[None]:
    """Stop the session's queries inside this block once they took ``seconds`` in all.

    PostgreSQL: ``SET LOCAL statement_timeout`` (until the transaction ends); SQLite: a
    progress handler that interrupts the statement. Either raises ``QueryBudgetError``
    naming ``field``; the caller's transaction is then rolled back.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}"))
    raw = connection.connection.dbapi_connection
    sqlite_handler = dialect == "sqlite" and isinstance(raw, sqlite3.Connection)
    if sqlite_handler:
        deadline = time.monotonic() + seconds
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), SQLITE_PROGRESS_OPS)  # type: ignore[union-attr]
    try:
        yield
        if dialect == "postgresql":
            connection.execute(text("SET LOCAL statement_timeout = DEFAULT"))
    except OperationalError as exc:
        text_ = str(exc.orig).lower()
        if "interrupted" in text_ or "statement timeout" in text_ or "canceling" in text_:
            msg = (
                f"{field}: the query needed more than {seconds:g} s of database time; "
                "ask for a shorter range or fewer cells"
            )
            raise QueryBudgetError(msg) from exc
        raise
    finally:
        if sqlite_handler:
            raw.set_progress_handler(None, 0)  # type: ignore[union-attr]


# --- tenants and networks -------------------------------------------------------------------


def ensure_tenant(session: Session, *, name: str, now_s: int) -> int:
    """Return the id of tenant ``name``, creating it (with the default retention) if new."""
    tenant_id = session.scalar(select(Tenant.id).where(Tenant.name == name))
    if tenant_id is not None:
        return tenant_id
    tenant = Tenant(name=name, created_s=now_s)
    session.add(tenant)
    session.flush()
    session.add(
        RetentionPolicy(
            tenant_id=tenant.id, raw_days=DEFAULT_RAW_DAYS, rollup_days=DEFAULT_ROLLUP_DAYS
        )
    )
    session.flush()
    return tenant.id


def create_network(
    session: Session, *, tenant_id: int, topology: TopologyIn, now_s: int, name: str | None = None
) -> NetworkOut:
    """Register a network with its sites, cells and slices from a topology."""
    net_name = name or topology.network.name
    exists = session.scalar(
        select(Network.id).where(Network.tenant_id == tenant_id, Network.name == net_name)
    )
    if exists is not None:
        msg = f"network.name: network {net_name!r} already exists"
        raise ConflictError(msg)
    network = Network(
        tenant_id=tenant_id,
        name=net_name,
        interval_s=topology.network.interval_s,
        dn_prefix=topology.network.dn_prefix,
        created_s=now_s,
    )
    session.add(network)
    session.flush()
    renew_kpi_generation(session, network_id=network.id)  # a reused id starts afresh
    positions = site_positions_m(topology)
    sites = {
        s.name: Site(
            tenant_id=tenant_id,
            network_id=network.id,
            name=s.name,
            x_m=positions[s.name][0],
            y_m=positions[s.name][1],
            height_m=s.height_m,
            latitude_deg=s.latitude_deg,
            longitude_deg=s.longitude_deg,
        )
        for s in topology.sites
    }
    session.add_all(sites.values())
    session.flush()
    for c in topology.cells:
        site = sites[c.site]
        session.add(
            Cell(
                tenant_id=tenant_id,
                network_id=network.id,
                site_id=site.id,
                name=c.name,
                dn=c.dn,
                cu_dn=c.cu_dn,
                nci=c.nci,
                layer=c.layer,
                sector=c.sector,
                azimuth_deg=c.azimuth_deg,
                carrier_ghz=c.carrier_ghz,
                bandwidth_mhz=c.bandwidth_mhz,
                scs_khz=c.scs_khz,
                num_prb=c.num_prb,
                max_tx_power_w=c.max_tx_power_w,
                x_m=site.x_m if c.x_m is None else c.x_m,
                y_m=site.y_m if c.y_m is None else c.y_m,
                height_m=site.height_m if c.height_m is None else c.height_m,
                tilt_deg=c.tilt_deg,
            )
        )
    for s in topology.slices:
        session.add(
            Slice(tenant_id=tenant_id, network_id=network.id, name=s.name, sst=s.sst, sd=s.sd)
        )
    session.flush()
    return get_network(session, tenant_id=tenant_id, name=net_name)


def network_exists(session: Session, *, tenant_id: int, name: str) -> bool:
    """Whether the tenant has a network called ``name``."""
    query = select(Network.id).where(Network.tenant_id == tenant_id, Network.name == name)
    return session.scalar(query) is not None


def site_positions_m(topology: TopologyIn) -> dict[str, tuple[float, float]]:
    """Return each site's (x, y) in metres: as given, or projected from latitude/longitude.

    A topology places every site by x/y or none (``TopologyIn`` checks it); latitude and
    longitude are projected to a local plane about the sites' centroid
    (``ranopt.twin.topology.project_to_plane_m``).
    """
    if all(s.x_m is not None and s.y_m is not None for s in topology.sites):
        return {s.name: (float(s.x_m or 0.0), float(s.y_m or 0.0)) for s in topology.sites}
    lat = np.array([float(s.latitude_deg or 0.0) for s in topology.sites])
    lon = np.array([float(s.longitude_deg or 0.0) for s in topology.sites])
    x_m, y_m = project_to_plane_m(lat, lon, (float(lat.mean()), float(lon.mean())))
    return {s.name: (float(x), float(y)) for s, x, y in zip(topology.sites, x_m, y_m, strict=True)}


def get_network(session: Session, *, tenant_id: int, name: str) -> NetworkOut:
    """Return the tenant's network ``name`` or raise ``NotFoundError``."""
    row = session.execute(
        select(Network).where(Network.tenant_id == tenant_id, Network.name == name)
    ).scalar_one_or_none()
    if row is None:
        names = session.scalars(select(Network.name).where(Network.tenant_id == tenant_id))
        msg = f"no network {name!r} for this tenant{did_you_mean(name, names)}"
        raise NotFoundError(msg)
    num_cells = session.scalar(
        select(func.count())
        .select_from(Cell)
        .where(Cell.tenant_id == tenant_id, Cell.network_id == row.id)
    )
    return NetworkOut(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        interval_s=row.interval_s,
        dn_prefix=row.dn_prefix,
        num_cells=int(num_cells or 0),
    )


def list_networks(session: Session, *, tenant_id: int) -> list[NetworkOut]:
    """Return the tenant's networks by name."""
    names = session.scalars(
        select(Network.name).where(Network.tenant_id == tenant_id).order_by(Network.name)
    )
    return [get_network(session, tenant_id=tenant_id, name=n) for n in names]


@dataclass(frozen=True)
class CellRef:
    """A cell's identifiers, as ingestion matches them."""

    id: int
    name: str
    dn: str
    cu_dn: str | None
    nci: int | None
    layer: str = ""
    max_tx_power_w: float = 0.0


def network_cells(session: Session, *, tenant_id: int, network_id: int) -> list[CellRef]:
    """Return the identifiers of a network's cells (with layer and power), by id."""
    rows = session.execute(
        select(Cell.id, Cell.name, Cell.dn, Cell.cu_dn, Cell.nci, Cell.layer, Cell.max_tx_power_w)
        .where(Cell.tenant_id == tenant_id, Cell.network_id == network_id)
        .order_by(Cell.id)
    )
    return [
        CellRef(id=r[0], name=r[1], dn=r[2], cu_dn=r[3], nci=r[4], layer=r[5] or "",
                max_tx_power_w=float(r[6] or 0.0))
        for r in rows
    ]  # fmt: skip


# --- KPI generations (what cached KPI answers are keyed on) --------------------------------


def renew_kpi_generation(session: Session, *, network_id: int) -> int:
    """Give the network a new KPI generation token in the caller's transaction; return it.

    Every write to a network's samples calls it, so a reader that sees the token sees the
    samples it stands for (``ranopt.store.tables.KpiGeneration``).
    """
    token = secrets.randbits(62) + 1  # 0 stands for "never written"
    session.execute(
        text(
            "INSERT INTO kpi_generations (network_id, generation) VALUES (:n, :g) "
            "ON CONFLICT (network_id) DO UPDATE SET generation = excluded.generation"
        ),
        {"n": network_id, "g": token},
    )
    return token


@dataclass(frozen=True)
class KpiGenerationOut:
    """A tenant's network as a KPI read needs it: grid and current generation token."""

    network_id: int
    interval_s: int
    generation: int  # 0: no write recorded yet


_GENERATION_SQL = (
    "SELECT n.interval_s, g.generation FROM networks n "
    "LEFT JOIN kpi_generations g ON g.network_id = n.id WHERE n.id = {p} AND n.tenant_id = {p}"
)


def kpi_generation(session: Session, *, tenant_id: int, network_id: int) -> KpiGenerationOut:
    """Return the network's interval and KPI generation, in one query; 404 if not the tenant's.

    Every cached KPI read runs this first, so it goes to the driver as plain SQL (a tenth of
    the time the ORM takes to build and run the same select).
    """
    connection = session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    row = connection.exec_driver_sql(
        _GENERATION_SQL.format(p=marker), (network_id, tenant_id)
    ).first()
    if row is None:
        msg = f"no network {network_id} for this tenant"
        raise NotFoundError(msg)
    return KpiGenerationOut(network_id, int(row[0]), int(row[1] or 0))


# --- writing samples ------------------------------------------------------------------------


def _require_owned(
    session: Session, *, tenant_id: int, network_id: int, batch: SampleBatch
) -> None:
    """Refuse a batch whose network or cells are not the tenant's."""
    owned = session.scalar(
        select(Network.id).where(Network.id == network_id, Network.tenant_id == tenant_id)
    )
    if owned is None:
        msg = f"network id {network_id} does not belong to this tenant"
        raise NotFoundError(msg)
    cell_ids = np.fromiter(
        session.scalars(
            select(Cell.id).where(Cell.tenant_id == tenant_id, Cell.network_id == network_id)
        ),
        dtype=np.int64,
    )
    stray = ~np.isin(batch.cell_id, cell_ids)
    if stray.any():
        msg = f"cell id {int(batch.cell_id[stray][0])} is not a cell of network {network_id}"
        raise ValidationError(msg)


def _rows(batch: SampleBatch, *, tenant_id: int, network_id: int) -> list[tuple[object, ...]]:
    """Return the batch as DB-API rows in ``SAMPLE_COLUMNS`` order (NaN -> NULL)."""
    n = len(batch)
    columns: list[list[object]] = [
        [network_id] * n,
        batch.interval_start_s.tolist(),
        batch.cell_id.tolist(),
        [tenant_id] * n,
        batch.suspect.tolist(),
    ]
    for name in COUNTER_COLUMNS:
        values = batch.values.get(name)
        if values is None:
            columns.append([None] * n)
            continue
        missing = np.isnan(values)
        if missing.any():
            obj = values.astype(object)
            obj[missing] = None
            columns.append(obj.tolist())
        else:
            columns.append(values.tolist())
    if batch.extra is None:
        columns.append([None] * n)
    else:
        columns.append([None if e is None else json.dumps(e) for e in batch.extra])
    return list(zip(*columns, strict=True))


def _update_clause(dialect: str) -> str:
    """SET list of the upsert: new values win, missing ones keep the stored value."""
    sets = ["suspect = excluded.suspect"]
    sets += [f"{c} = COALESCE(excluded.{c}, kpi_samples.{c})" for c in COUNTER_COLUMNS]
    merged = (
        "kpi_samples.extra || excluded.extra"
        if dialect == "postgresql"
        else "json_patch(kpi_samples.extra, excluded.extra)"
    )
    sets.append(
        "extra = CASE WHEN excluded.extra IS NULL THEN kpi_samples.extra "
        "WHEN kpi_samples.extra IS NULL THEN excluded.extra "
        f"ELSE {merged} END"
    )
    return ", ".join(sets)


def upsert_samples(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    batch: SampleBatch,
    chunk_rows: int = 50_000,
    progress: ProgressFn | None = None,
) -> int:
    """Insert or update samples keyed on (cell, interval) in the caller's transaction.

    Counters absent from the batch (NaN) keep their stored values, so a later file carrying
    other counters of the same interval adds to a sample instead of erasing it; the same
    data ingested twice leaves the same rows. Returns the number of samples written.
    """
    _require_owned(session, tenant_id=tenant_id, network_id=network_id, batch=batch)
    if len(batch) == 0:
        return 0
    # first write of the transaction: concurrent writers to one network queue here, in order
    renew_kpi_generation(session, network_id=network_id)
    dialect = session.get_bind().dialect.name
    dbapi = session.connection().connection.dbapi_connection
    if dbapi is None:  # pragma: no cover - a checked-out connection always has one
        msg = "no DB-API connection"
        raise RanoptError(msg)
    if dialect == "postgresql":
        _upsert_postgresql(
            session, dbapi, batch, tenant_id=tenant_id, network_id=network_id,
            chunk_rows=chunk_rows, progress=progress,
        )  # fmt: skip
    else:
        placeholders = ", ".join("?" for _ in SAMPLE_COLUMNS)
        # every name in this statement is a constant of this module, values are bound
        sql = (
            f"INSERT INTO kpi_samples ({', '.join(SAMPLE_COLUMNS)}) VALUES ({placeholders}) "  # noqa: S608
            f"ON CONFLICT ({', '.join(SAMPLE_KEY)}) DO UPDATE SET {_update_clause('sqlite')}"
        )
        cursor = dbapi.cursor()
        for start in range(0, len(batch), chunk_rows):
            chunk = batch.take(start, start + chunk_rows)
            cursor.executemany(sql, _rows(chunk, tenant_id=tenant_id, network_id=network_id))
            if progress is not None:
                progress(len(chunk))
        cursor.close()
    return len(batch)


def _upsert_postgresql(
    session: Session,
    dbapi: object,
    batch: SampleBatch,
    *,
    tenant_id: int,
    network_id: int,
    chunk_rows: int,
    progress: ProgressFn | None,
) -> None:
    """COPY straight into kpi_samples when no key can collide, else COPY to a stage and merge.

    The no-collision check and the COPY run in the caller's transaction; a concurrent writer
    that slips a colliding row in between makes the COPY fail on the primary key, and the
    savepoint falls back to the merge path, so correctness never rests on the check.
    """
    import psycopg  # noqa: PLC0415 - only the PostgreSQL path needs the driver

    if not isinstance(dbapi, psycopg.Connection):  # pragma: no cover - psycopg is the driver
        msg = "PostgreSQL store needs the psycopg 3 driver (postgresql+psycopg://)"
        raise RanoptError(msg)
    columns = ", ".join(SAMPLE_COLUMNS)
    t_min = int(batch.interval_start_s.min())
    t_max = int(batch.interval_start_s.max())
    overlap = session.execute(
        text(
            "SELECT 1 FROM kpi_samples WHERE network_id = :n AND interval_start_s BETWEEN :a AND :b"
            " AND cell_id = ANY(:cells) LIMIT 1"
        ),
        {"n": network_id, "a": t_min, "b": t_max, "cells": np.unique(batch.cell_id).tolist()},
    ).first()

    def copy_into(table: str) -> None:
        with dbapi.cursor() as cursor:
            for start in range(0, len(batch), chunk_rows):
                chunk = batch.take(start, start + chunk_rows)
                rows = _rows(chunk, tenant_id=tenant_id, network_id=network_id)
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                if progress is not None:
                    progress(len(chunk))

    if overlap is None:
        try:
            with dbapi.transaction():  # a savepoint inside the caller's transaction
                copy_into("kpi_samples")
        except psycopg.errors.UniqueViolation:
            pass
        else:
            _analyze_after_bulk(dbapi, len(batch))
            return
    with dbapi.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS kpi_stage "
            "(LIKE kpi_samples INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        cursor.execute("TRUNCATE kpi_stage")
    copy_into("kpi_stage")
    with dbapi.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO kpi_samples ({columns}) SELECT {columns} FROM kpi_stage "  # noqa: S608
            f"ON CONFLICT ({', '.join(SAMPLE_KEY)}) DO UPDATE SET {_update_clause('postgresql')}"
        )
    _analyze_after_bulk(dbapi, len(batch))


def _analyze_after_bulk(dbapi: object, num_rows: int) -> None:
    """Refresh the planner's statistics after a bulk load (autovacuum would lag behind).

    Without it, the first queries over a just-loaded time range are planned on stale
    statistics; ANALYZE samples a fixed number of rows, so it costs well under a second.
    """
    if num_rows >= ANALYZE_AFTER_ROWS:
        with dbapi.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute("ANALYZE kpi_samples")


def count_samples(session: Session, *, tenant_id: int, network_id: int | None = None) -> int:
    """Return the number of raw samples of the tenant (in one network if given)."""
    query = select(func.count()).select_from(KpiSample).where(KpiSample.tenant_id == tenant_id)
    if network_id is not None:
        query = query.where(KpiSample.network_id == network_id)
    return int(session.scalar(query) or 0)


# --- queries --------------------------------------------------------------------------------


def _aggregate(column: ColumnElement[Any], how: Aggregation) -> ColumnElement[Any]:
    if how == "mean":
        return func.avg(column)
    if how == "max":
        return func.max(column)
    return func.sum(column)


def _float_array(values: list[Any]) -> FloatArray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def series(
    session: Session,
    *,
    tenant_id: int,
    cell_ids: list[int],
    start_s: int,
    end_s: int,
    bucket_s: int,
    columns: tuple[str, ...] = COUNTER_COLUMNS,
) -> Series:
    """Return the cells' counters over ``[start_s, end_s)`` in buckets of ``bucket_s``.

    Each counter is downsampled by its aggregation (mean of a gauge, sum of a volume or an
    energy, max of a peak). Buckets start at multiples of ``bucket_s`` since the epoch. Hours
    already pruned from the raw table are read from the hourly rollups when ``bucket_s`` is a
    whole number of hours (a rollup's mean is weighted by its sample count). One SQL
    statement: raw and rollup partial aggregates are combined by the database.
    """
    if bucket_s <= 0:
        msg = f"bucket_s must be > 0, got {bucket_s}"
        raise ValidationError(msg)
    unknown = [c for c in columns if c not in COUNTER_BY_COLUMN]
    if unknown:
        msg = f"unknown counter columns {unknown}"
        raise ValidationError(msg)
    raw = _bucketed(
        KpiSample.interval_start_s, None, columns, bucket_s,
        and_(
            KpiSample.tenant_id == tenant_id,
            KpiSample.cell_id.in_(cell_ids),
            KpiSample.interval_start_s >= start_s,
            KpiSample.interval_start_s < end_s,
        ),
    )  # fmt: skip
    if bucket_s % SECONDS_PER_HOUR != 0:
        query = raw.order_by(text("1, 2"))
    else:
        hourly = _bucketed(
            KpiHourly.hour_start_s, KpiHourly.num_samples, columns, bucket_s,
            and_(
                KpiHourly.tenant_id == tenant_id,
                KpiHourly.cell_id.in_(cell_ids),
                KpiHourly.hour_start_s >= start_s,
                KpiHourly.hour_start_s < end_s,
            ),
        )  # fmt: skip
        query = _combined(union_all(raw, hourly).subquery("parts"), columns)
    rows = session.execute(query).all()
    return _series_from_rows(rows, columns)


def _bucketed(
    time_col: Any,
    weight: Any,
    columns: tuple[str, ...],
    bucket_s: int,
    where: ColumnElement[bool],
) -> Select[Any]:
    """Per (cell, bucket): sample count and, per counter, (sum, weight) or max or sum."""
    table = time_col.table
    bucket = (time_col - time_col % bucket_s).label("bucket")
    n = func.count() if weight is None else func.sum(weight)
    selected: list[Any] = [table.c.cell_id.label("cell_id"), bucket, n.label("n")]
    for i, name in enumerate(columns):
        col = table.c[name]
        how = COUNTER_BY_COLUMN[name].aggregation
        if how == "mean":
            w = 1 if weight is None else weight
            selected.append(func.sum(col * w).label(f"a{i}"))
            selected.append(func.sum(func.coalesce(col * 0 + w, 0)).label(f"w{i}"))
        else:
            selected.append(_aggregate(col, how).label(f"a{i}"))
    return select(*selected).where(where).group_by(table.c.cell_id, bucket)


def _combined(parts: Any, columns: tuple[str, ...]) -> Select[Any]:
    """Combine the raw and rollup partial aggregates of each (cell, bucket)."""
    selected: list[Any] = [parts.c.cell_id, parts.c.bucket, func.sum(parts.c.n)]
    for i, name in enumerate(columns):
        how = COUNTER_BY_COLUMN[name].aggregation
        if how == "mean":
            selected += [func.sum(parts.c[f"a{i}"]), func.sum(parts.c[f"w{i}"])]
        else:
            selected.append(_aggregate(parts.c[f"a{i}"], "max" if how == "max" else "sum"))
    return (
        select(*selected)
        .group_by(parts.c.cell_id, parts.c.bucket)
        .order_by(parts.c.cell_id, parts.c.bucket)
    )


def _series_from_rows(rows: Sequence[Row[Any]], columns: tuple[str, ...]) -> Series:
    """Turn (cell, bucket, n, partial aggregates...) rows into a ``Series`` (NULL -> NaN)."""
    width = 3 + sum(2 if COUNTER_BY_COLUMN[c].aggregation == "mean" else 1 for c in columns)
    # [num_rows, width]; None (an empty aggregate) becomes NaN
    table = np.array(rows, dtype=np.float64).reshape(len(rows), width)
    values: dict[str, FloatArray] = {}
    i = 3
    for name in columns:
        first = table[:, i]
        if COUNTER_BY_COLUMN[name].aggregation == "mean":
            weight = np.nan_to_num(table[:, i + 1])
            with np.errstate(invalid="ignore", divide="ignore"):
                values[name] = np.where(weight > 0, first / np.where(weight > 0, weight, 1), np.nan)
            i += 2
        else:
            values[name] = np.ascontiguousarray(first)
            i += 1
    return Series(
        cell_id=table[:, 0].astype(np.int64),
        bucket_start_s=table[:, 1].astype(np.int64),
        num_samples=table[:, 2].astype(np.int64),
        values=values,
    )


def network_aggregate(
    session: Session, *, tenant_id: int, network_id: int, start_s: int, end_s: int
) -> NetworkAggregate:
    """Return network-wide counters per interval over ``[start_s, end_s)``.

    Each counter is combined over cells by its ``across_cells`` rule (total power, energy,
    volume and connections; mean PRB usage and UE throughput).
    """
    selected: list[Any] = [KpiSample.interval_start_s, func.count()]
    for name in COUNTER_COLUMNS:
        col = KpiSample.__table__.c[name]
        selected.append(_aggregate(col, COUNTER_BY_COLUMN[name].across_cells))
    rows = session.execute(
        select(*selected)
        .where(
            KpiSample.tenant_id == tenant_id,
            KpiSample.network_id == network_id,
            KpiSample.interval_start_s >= start_s,
            KpiSample.interval_start_s < end_s,
        )
        .group_by(KpiSample.interval_start_s)
        .order_by(KpiSample.interval_start_s)
    ).all()
    return NetworkAggregate(
        interval_start_s=np.array([r[0] for r in rows], dtype=np.int64),
        num_cells=np.array([r[1] for r in rows], dtype=np.int64),
        values={
            name: _float_array([r[2 + i] for r in rows]) for i, name in enumerate(COUNTER_COLUMNS)
        },
    )


# --- retention ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneResult:
    """What one prune did (cutoffs per network id: each counts from its own newest sample)."""

    rolled_up_hours: int  # hourly rollup rows written
    deleted_samples: int  # raw samples removed
    deleted_rollups: int  # hourly rows older than the rollup retention removed
    raw_cutoff_s: dict[int, int]
    rollup_cutoff_s: dict[int, int]


def get_retention(session: Session, *, tenant_id: int) -> tuple[int, int]:
    """Return the tenant's (raw_days, rollup_days)."""
    policy = session.get(RetentionPolicy, tenant_id)
    if policy is None:
        msg = f"no tenant {tenant_id}"
        raise NotFoundError(msg)
    return policy.raw_days, policy.rollup_days


def set_retention(session: Session, *, tenant_id: int, raw_days: int, rollup_days: int) -> None:
    """Set how many days raw samples and hourly rollups are kept."""
    if raw_days <= 0 or rollup_days < raw_days:
        msg = f"retention needs 0 < raw_days <= rollup_days, got {raw_days}, {rollup_days}"
        raise ValidationError(msg)
    policy = session.get(RetentionPolicy, tenant_id)
    if policy is None:
        msg = f"no tenant {tenant_id}"
        raise NotFoundError(msg)
    policy.raw_days = raw_days
    policy.rollup_days = rollup_days
    session.flush()


def network_time_s(session: Session, *, network_id: int, interval_s: int, now_s: int) -> int | None:
    """Return the network's "now": the end of its newest sample, never later than ``now_s``.

    Retention counts from it, so a network whose clock is not the wall clock (a replayed
    history, the demo's twin starting on 1 January) never sees its own history as expired,
    and a sample stamped in the future cannot expire everything else. None: no data.
    """
    newest_raw = session.scalar(
        select(func.max(KpiSample.interval_start_s)).where(KpiSample.network_id == network_id)
    )
    newest_hour = session.scalar(
        select(func.max(KpiHourly.hour_start_s)).where(KpiHourly.network_id == network_id)
    )
    ends = [int(newest_raw) + interval_s] if newest_raw is not None else []
    ends += [int(newest_hour) + SECONDS_PER_HOUR] if newest_hour is not None else []
    return min(now_s, max(ends)) if ends else None


def prune(session: Session, *, tenant_id: int, now_s: int) -> PruneResult:
    """Roll raw samples older than ``raw_days`` into hourly rows, then delete them.

    Each network's age is counted from its own time (``network_time_s``). The cutoff is
    floored to a whole hour so that an hour is never split between raw and rollup. Rollups
    older than ``rollup_days`` are deleted. A rollup row that already exists (late data for a
    pruned hour) is merged, weighted by sample counts.
    """
    policy = session.get(RetentionPolicy, tenant_id)
    if policy is None:
        msg = f"no tenant {tenant_id}"
        raise NotFoundError(msg)
    dialect = session.get_bind().dialect.name
    rolled = deleted_samples = deleted_rollups = 0
    raw_cutoffs: dict[int, int] = {}
    rollup_cutoffs: dict[int, int] = {}
    networks = session.execute(
        select(Network.id, Network.interval_s).where(Network.tenant_id == tenant_id)
    ).all()
    for network_id, interval_s in networks:
        reference_s = network_time_s(
            session, network_id=network_id, interval_s=interval_s, now_s=now_s
        )
        if reference_s is None:
            continue
        raw_cutoff_s = reference_s - policy.raw_days * SECONDS_PER_DAY
        raw_cutoff_s -= raw_cutoff_s % SECONDS_PER_HOUR
        rollup_cutoff_s = reference_s - policy.rollup_days * SECONDS_PER_DAY
        raw_cutoffs[network_id], rollup_cutoffs[network_id] = raw_cutoff_s, rollup_cutoff_s
        hours = _rollup(
            session, tenant_id=tenant_id, network_id=network_id, before_s=raw_cutoff_s,
            dialect=dialect,
        )  # fmt: skip
        samples = session.execute(
            delete(KpiSample).where(
                KpiSample.tenant_id == tenant_id, KpiSample.network_id == network_id,
                KpiSample.interval_start_s < raw_cutoff_s,
            )
        ).rowcount  # type: ignore[attr-defined]  # fmt: skip
        rollups = session.execute(
            delete(KpiHourly).where(
                KpiHourly.tenant_id == tenant_id, KpiHourly.network_id == network_id,
                KpiHourly.hour_start_s < rollup_cutoff_s,
            )
        ).rowcount  # type: ignore[attr-defined]  # fmt: skip
        if hours or samples or rollups:
            renew_kpi_generation(session, network_id=network_id)
        rolled += int(hours)
        deleted_samples += int(samples)
        deleted_rollups += int(rollups)
    policy.last_prune_s = now_s
    session.flush()
    return PruneResult(
        rolled_up_hours=rolled,
        deleted_samples=deleted_samples,
        deleted_rollups=deleted_rollups,
        raw_cutoff_s=raw_cutoffs,
        rollup_cutoff_s=rollup_cutoffs,
    )


def prune_if_due(session: Session, *, tenant_id: int, now_s: int) -> PruneResult | None:
    """Prune when the last prune is a day old or more (the automatic daily prune)."""
    policy = session.get(RetentionPolicy, tenant_id)
    if policy is None:
        msg = f"no tenant {tenant_id}"
        raise NotFoundError(msg)
    if policy.last_prune_s is not None and now_s - policy.last_prune_s < SECONDS_PER_DAY:
        return None
    return prune(session, tenant_id=tenant_id, now_s=now_s)


def _rollup(
    session: Session, *, tenant_id: int, network_id: int, before_s: int, dialect: str
) -> int:
    """Aggregate the network's raw samples before ``before_s`` into ``kpi_hourly``."""
    hour = "interval_start_s - (interval_start_s % 3600)"
    aggs = []
    for name in COUNTER_COLUMNS:
        how = COUNTER_BY_COLUMN[name].aggregation
        aggs.append({"mean": "AVG", "max": "MAX", "sum": "SUM"}[how] + f"({name})")
    flag = "BOOL_OR(suspect)" if dialect == "postgresql" else "MAX(suspect)"
    merge = []
    for name in COUNTER_COLUMNS:
        how = COUNTER_BY_COLUMN[name].aggregation
        old, new = f"kpi_hourly.{name}", f"excluded.{name}"
        if how == "mean":
            combined = (
                f"({old} * kpi_hourly.num_samples + {new} * excluded.num_samples)"
                " / (kpi_hourly.num_samples + excluded.num_samples)"
            )
        elif how == "max":
            combined = f"CASE WHEN {old} > {new} THEN {old} ELSE {new} END"
        else:
            combined = f"{old} + {new}"
        merge.append(f"{name} = COALESCE({combined}, {new}, {old})")
    sql = (
        f"INSERT INTO kpi_hourly (network_id, hour_start_s, cell_id, tenant_id, num_samples, "  # noqa: S608
        f"suspect, {', '.join(COUNTER_COLUMNS)}) "
        f"SELECT network_id, {hour}, cell_id, tenant_id, COUNT(*), {flag}, {', '.join(aggs)} "
        "FROM kpi_samples WHERE tenant_id = :tenant AND network_id = :network "
        "AND interval_start_s < :before "
        f"GROUP BY network_id, {hour}, cell_id, tenant_id "
        + ("" if dialect == "postgresql" else "HAVING 1 ")
        + "ON CONFLICT (network_id, hour_start_s, cell_id) DO UPDATE SET "
        + ", ".join(merge)
        + ", num_samples = kpi_hourly.num_samples + excluded.num_samples"
        + ", suspect = kpi_hourly.suspect OR excluded.suspect"
    )
    result = session.execute(
        text(sql), {"tenant": tenant_id, "network": network_id, "before": before_s}
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
