"""The closed loop's rows: settings and clock per network, loop intervals, cell faults.

Every function is keyword-only and scoped by ``tenant_id``, except ``enabled_loops``, which the
loop runner (a system component, not a tenant's request) uses to find its work. Clearing a
fault resolves the outage alerts it raised.
"""

import math
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ranopt.errors import ValidationError
from ranopt.store.repository import NotFoundError
from ranopt.store.tables import (
    Alert,
    Cell,
    CellFault,
    KpiSample,
    LoopInterval,
    NetworkLoop,
    OptimizationRun,
)

FAULT_OPEN = ("requested", "active", "compensated")
LOOP_ACTOR = "ranopt:loop"  # who the closed loop's runs and decisions are recorded as
LOOP_EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # wall-clock start of loop interval 0, a Monday


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class LoopPace(_Out):
    """How fast the loop really steps: its newest intervals' step times against its target.

    A step takes what it takes; the runner waits out the rest of the target tick, so the
    achieved pace is the slower of the two (the demo promises one interval per tick).
    """

    intervals: int  # loop intervals measured (the newest, at most ``PACE_WINDOW``)
    step_s_median: float
    step_s_p95: float
    target_s: float  # the serving process's tick (RANOPT_LOOP_TICK_S)
    seconds_per_interval: float  # achieved: max(target, median step)
    behind: bool  # steps are slower than the target


PACE_WINDOW = 96  # one network day of 15-minute intervals


class LoopSettings(_Out):
    """How a network's loop runs and where its clock stands."""

    network_id: int
    tenant_id: int
    enabled: bool
    auto_apply: bool
    confidence_threshold: float
    solver: str
    horizon_intervals: int
    next_interval: int
    live: dict[str, Any] | None
    # network time of loop interval 0 (epoch s): interval k starts k intervals later
    epoch_s: int = int(LOOP_EPOCH.timestamp())
    pace: LoopPace | None = None  # filled by the API from the stored step times


class LoopIntervalRow(_Out):
    """One loop interval as stored (powers in W, traffic in Mbit/s, means over the interval)."""

    interval: int
    phase: str
    offered_mbps: float
    served_mbps: float | None
    power_w: float | None
    always_on_served_mbps: float | None
    always_on_power_w: float | None
    violations: int
    switching_breaks: int
    home_demand_mbps: list[float]
    asleep: list[int]
    failed: list[int]
    tick_s: float | None


class FaultOut(_Out):
    """A cell fault and its detection and compensation record."""

    id: int
    network_id: int
    cell_index: int
    cell_name: str
    status: str
    requested_by: str
    requested_at: float
    fault_interval: int | None
    first_telemetry_at: float | None
    detected_at: float | None
    compensated_at: float | None
    compensated_interval: int | None
    compensation_run_id: int | None
    lost_mbit: float | None
    recovered_ratio: float | None
    cleared_at: float | None


def _settings_out(row: NetworkLoop) -> LoopSettings:
    return LoopSettings(
        network_id=row.network_id,
        tenant_id=row.tenant_id,
        enabled=row.enabled,
        auto_apply=row.auto_apply,
        confidence_threshold=row.confidence_threshold,
        solver=row.solver,
        horizon_intervals=row.horizon_intervals,
        next_interval=row.next_interval,
        live=None if row.live is None else dict(row.live),
    )


def _loop_row(session: Session, tenant_id: int, network_id: int) -> NetworkLoop | None:
    return session.scalar(
        select(NetworkLoop).where(
            NetworkLoop.tenant_id == tenant_id, NetworkLoop.network_id == network_id
        )
    )


def configure_loop(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    enabled: bool,
    auto_apply: bool,
    confidence_threshold: float,
    solver: str,
    horizon_intervals: int,
    now_s: int,
) -> LoopSettings:
    """Create or change the tenant's network loop (its clock is kept)."""
    if not 0.0 <= confidence_threshold <= 1.0:
        msg = f"confidence_threshold: must lie in [0, 1], got {confidence_threshold}"
        raise ValidationError(msg)
    if horizon_intervals < 1:
        msg = f"horizon_intervals: must be >= 1, got {horizon_intervals}"
        raise ValidationError(msg)
    row = _loop_row(session, tenant_id, network_id)
    if row is None:
        row = NetworkLoop(network_id=network_id, tenant_id=tenant_id, next_interval=0)
        session.add(row)
    row.enabled, row.auto_apply = enabled, auto_apply
    row.confidence_threshold, row.solver = confidence_threshold, solver
    row.horizon_intervals, row.updated_s = horizon_intervals, now_s
    session.flush()
    return _settings_out(row)


def loop_settings(session: Session, *, tenant_id: int, network_id: int) -> LoopSettings:
    """Return the tenant's network loop; NotFoundError if it has none."""
    row = _loop_row(session, tenant_id, network_id)
    if row is None:
        msg = f"network {network_id} has no closed loop"
        raise NotFoundError(msg)
    return _settings_out(row)


def enabled_loops(session: Session) -> list[LoopSettings]:
    """Every enabled loop of every tenant (for the loop runner only)."""
    rows = session.scalars(select(NetworkLoop).where(NetworkLoop.enabled.is_(True)))
    return [_settings_out(r) for r in rows]


def record_interval(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    row: LoopIntervalRow,
    live: dict[str, Any] | None,
    now_s: int,
) -> None:
    """Store one interval and move the loop's clock past it (history rows keep ``live``)."""
    loop = _loop_row(session, tenant_id, network_id)
    if loop is None:
        msg = f"network {network_id} has no closed loop"
        raise NotFoundError(msg)
    session.add(LoopInterval(tenant_id=tenant_id, network_id=network_id, **row.model_dump()))
    loop.next_interval = row.interval + 1
    if live is not None:
        loop.live = live
    loop.updated_s = now_s
    session.flush()


def intervals(
    session: Session, *, tenant_id: int, network_id: int, first: int, stop: int
) -> list[LoopIntervalRow]:
    """Return the stored intervals in ``[first, stop)``, oldest first."""
    rows = session.scalars(
        select(LoopInterval)
        .where(
            LoopInterval.tenant_id == tenant_id,
            LoopInterval.network_id == network_id,
            LoopInterval.interval >= first,
            LoopInterval.interval < stop,
        )
        .order_by(LoopInterval.interval)
    )
    return [LoopIntervalRow.model_validate(r, from_attributes=True) for r in rows]


def step_times(session: Session, *, tenant_id: int, network_id: int) -> list[float]:
    """Wall seconds the loop spent on each of its newest ``PACE_WINDOW`` loop intervals."""
    rows = session.scalars(
        select(LoopInterval.tick_s)
        .where(
            LoopInterval.tenant_id == tenant_id,
            LoopInterval.network_id == network_id,
            LoopInterval.phase == "loop",
            LoopInterval.tick_s.is_not(None),
        )
        .order_by(LoopInterval.interval.desc())
        .limit(PACE_WINDOW)
    )
    return [float(t) for t in rows if t is not None]


def pace_of(step_s: list[float], target_s: float) -> LoopPace | None:
    """Return the achieved pace from step times (None before the first loop interval)."""
    if not step_s:
        return None
    ordered = sorted(step_s)
    median = ordered[(len(ordered) - 1) // 2]
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return LoopPace(
        intervals=len(ordered), step_s_median=median, step_s_p95=p95, target_s=target_s,
        seconds_per_interval=max(target_s, median), behind=median > target_s,
    )  # fmt: skip


def request_fault(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    cell_index: int,
    cell_name: str,
    by: str,
    at: float,
) -> FaultOut:
    """Ask the twin to fail a cell at its next interval; refused if that cell is already down."""
    open_faults = faults(session, tenant_id=tenant_id, network_id=network_id, open_only=True)
    if any(f.cell_index == cell_index for f in open_faults):
        msg = f"cell: {cell_name} already has an open fault"
        raise ValidationError(msg)
    row = CellFault(
        tenant_id=tenant_id, network_id=network_id, cell_index=cell_index, cell_name=cell_name,
        status="requested", requested_by=by, requested_at=at,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:  # a concurrent request opened one first
        msg = f"cell: {cell_name} already has an open fault"
        raise ValidationError(msg) from exc
    return FaultOut.model_validate(row, from_attributes=True)


def faults(
    session: Session, *, tenant_id: int, network_id: int, open_only: bool = False
) -> list[FaultOut]:
    """Return the network's faults, oldest first (only those not cleared if ``open_only``)."""
    query = select(CellFault).where(
        CellFault.tenant_id == tenant_id, CellFault.network_id == network_id
    )
    if open_only:
        query = query.where(CellFault.status.in_(FAULT_OPEN))
    rows = session.scalars(query.order_by(CellFault.id))
    return [FaultOut.model_validate(r, from_attributes=True) for r in rows]


def update_fault(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    fault_id: int,
    expected: tuple[str, ...] = FAULT_OPEN,
    **changes: Any,
) -> FaultOut | None:
    """Record a fault's progress if its status is still one of ``expected``.

    One conditional UPDATE, so a repair that lands while the loop works on the fault is never
    undone; returns None (and changes nothing) when the fault has moved on.
    """
    for name in changes:
        if name not in FaultOut.model_fields or name in {"id", "network_id"}:
            msg = f"update_fault: unknown field {name!r}"
            raise ValidationError(msg)
    done = session.execute(
        update(CellFault)
        .where(
            CellFault.tenant_id == tenant_id,
            CellFault.network_id == network_id,
            CellFault.id == fault_id,
            CellFault.status.in_(expected),
        )
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    row = session.scalar(
        select(CellFault).where(
            CellFault.tenant_id == tenant_id,
            CellFault.network_id == network_id,
            CellFault.id == fault_id,
        )
    )
    if row is None:
        msg = f"no fault {fault_id} in network {network_id} for this tenant"
        raise NotFoundError(msg)
    session.refresh(row)
    if getattr(done, "rowcount", 0) == 0:
        return None
    fault = FaultOut.model_validate(row, from_attributes=True)
    if fault.status == "cleared":
        resolve_outage_alerts(
            session, tenant_id=tenant_id, network_id=network_id, fault=fault,
            now_s=int(fault.cleared_at or fault.requested_at),
        )  # fmt: skip
    return fault


def set_tick_seconds(
    session: Session, *, tenant_id: int, network_id: int, interval: int, seconds: float
) -> None:
    """Record the wall time the loop spent on one interval."""
    session.execute(
        update(LoopInterval)
        .where(
            LoopInterval.tenant_id == tenant_id,
            LoopInterval.network_id == network_id,
            LoopInterval.interval == interval,
        )
        .values(tick_s=seconds)
        .execution_options(synchronize_session=False)
    )


def cell_ids_by_name(session: Session, *, tenant_id: int, network_id: int) -> dict[str, int]:
    """Return the network's cell ids by cell name."""
    rows = session.execute(
        select(Cell.name, Cell.id).where(Cell.tenant_id == tenant_id, Cell.network_id == network_id)
    ).all()
    return {name: cell_id for name, cell_id in rows}


def served_by_cell(
    session: Session, *, tenant_id: int, network_id: int, interval_start_s: int
) -> dict[int, float]:
    """Return each reporting cell's served volume (Mbit) in one interval, by cell id."""
    rows = session.execute(
        select(KpiSample.cell_id, KpiSample.dl_volume_mbit).where(
            KpiSample.tenant_id == tenant_id,
            KpiSample.network_id == network_id,
            KpiSample.interval_start_s == interval_start_s,
        )
    ).all()
    return {cell_id: float(volume or 0.0) for cell_id, volume in rows}


def loop_runs(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    status: str,
    human_only: bool = False,
    since_id: int = 0,
    limit: int | None = None,
) -> list[OptimizationRun]:
    """Return the loop's runs of a status, newest first (``human_only``: decided by a person)."""
    query = select(OptimizationRun).where(
        OptimizationRun.tenant_id == tenant_id,
        OptimizationRun.network_id == network_id,
        OptimizationRun.created_by == LOOP_ACTOR,
        OptimizationRun.status == status,
        OptimizationRun.id > since_id,
    )
    if human_only:
        query = query.where(OptimizationRun.decided_by != LOOP_ACTOR)
    query = query.order_by(OptimizationRun.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def supersede_waiting(session: Session, *, tenant_id: int, network_id: int) -> int:
    """Mark the loop's plans still waiting for approval as superseded; return how many."""
    done = session.execute(
        update(OptimizationRun)
        .where(
            OptimizationRun.tenant_id == tenant_id,
            OptimizationRun.network_id == network_id,
            OptimizationRun.created_by == LOOP_ACTOR,
            OptimizationRun.status == "awaiting_approval",
        )
        .values(status="superseded")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(done, "rowcount", 0))


def resolve_outage_alerts(
    session: Session, *, tenant_id: int, network_id: int, fault: FaultOut, now_s: int
) -> int:
    """Resolve the open outage alerts a cleared fault raised; return how many.

    An outage alert names its cell first (``"<cell> failed ..."``, ``"<cell>: ..."``, as the
    closed loop writes them) and was raised after the fault was requested.
    """
    done = session.execute(
        update(Alert)
        .where(
            Alert.tenant_id == tenant_id,
            Alert.network_id == network_id,
            Alert.kind == "cell_outage",
            Alert.resolved_s.is_(None),
            Alert.created_s >= int(fault.requested_at),
            (Alert.message.startswith(f"{fault.cell_name} ", autoescape=True))
            | (Alert.message.startswith(f"{fault.cell_name}:", autoescape=True)),
        )
        .values(
            resolved_by="system", resolved_s=now_s,
            resolution=f"fault {fault.id} cleared: {fault.cell_name} is back in service",
        )
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return int(getattr(done, "rowcount", 0))


def set_clock(
    session: Session, *, tenant_id: int, network_id: int, next_interval: int, now_s: int
) -> LoopSettings:
    """Move a loop's clock to ``next_interval`` (a counters-fed loop starts at its network's)."""
    loop = _loop_row(session, tenant_id, network_id)
    if loop is None:
        msg = f"network {network_id} has no closed loop"
        raise NotFoundError(msg)
    loop.next_interval, loop.updated_s = next_interval, now_s
    session.flush()
    return _settings_out(loop)
