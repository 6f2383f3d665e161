"""Optimization runs, the twin a network is bound to, and alerts (keyword-only, scoped).

A run goes queued -> running -> ``awaiting_approval`` (its plan waits for a decision) or
failed; a decision makes it applied or rejected, and the loop marks plans made before a cell
failure superseded. Plans carry their window in network time (``window_start_s`` /
``window_end_s``): the network's own clock, which for a twin's closed loop is the loop's
(``LOOP_EPOCH`` + interval x interval length) and otherwise the newest stored counters. A
plan whose window has passed, or a compensation whose fault was repaired, cannot be applied.

Alerts carry the network time they are about and a triage state: open, acknowledged (someone
looks at it) or resolved (by a person, or by the system when the fault behind it was cleared).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ranopt.errors import ConflictError
from ranopt.store.loops import LOOP_ACTOR, LOOP_EPOCH, FaultOut
from ranopt.store.repository import NotFoundError
from ranopt.store.tables import (
    Alert,
    CellFault,
    KpiSample,
    Network,
    NetworkLoop,
    NetworkTwin,
    OptimizationRun,
)

AWAITING_APPROVAL = "awaiting_approval"
RunStatus = Literal[
    "queued", "running", "awaiting_approval", "failed", "applied", "rejected", "superseded"
]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
RunSource = Literal["loop", "person"]  # who asked for the run: the closed loop or a caller
Decision = Literal["applied", "rejected"]
AlertStatus = Literal["open", "acknowledged", "resolved"]
LOOP_EPOCH_S = int(LOOP_EPOCH.timestamp())


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunOut(_Out):
    """An optimization run with its plan and measured confidence."""

    id: int
    network_id: int
    status: str
    objective: str
    solver: str
    horizon_min: int
    request: dict[str, Any]
    plan: dict[str, Any] | None
    confidence: float | None
    saving_pct: float | None
    error: str | None
    created_by: str
    created_s: int
    finished_s: int | None
    decided_by: str | None
    decided_s: int | None
    # the plan's window in network time, epoch seconds [start, end) (None: no plan or window)
    window_start_s: int | None = None
    window_end_s: int | None = None
    num_actions: int | None = None  # how many actions the plan holds (None: no plan)


class AlertOut(_Out):
    """An alert: its network and triage state; a detected condition also its span and evidence."""

    id: int
    network_id: int | None
    network_name: str | None
    created_s: int  # wall clock, epoch seconds
    network_time_s: int | None  # the network time it is about (its newest interval then)
    severity: str
    kind: str
    message: str
    status: AlertStatus
    acknowledged_by: str | None
    acknowledged_s: int | None
    resolved_by: str | None
    resolved_s: int | None
    resolution: str | None
    cell_id: int | None = None
    since_s: int | None = None  # the condition's first interval (or first evidence)
    cleared_s: int | None = None  # when it ended; None while it lasts
    detail: dict[str, Any] | None = None  # counter, expected, observed / evidence ids


@dataclass(frozen=True)
class TwinBinding:
    """The twin scenario behind a network (its planning model and default actuator)."""

    network_id: int
    scenario: str
    seed: int
    num_sites: int
    num_ues: int
    applied_run_id: int | None


def bind_twin(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    scenario: str,
    seed: int,
    num_sites: int,
    num_ues: int,
) -> None:
    """Record that the tenant's network was exported from this twin scenario."""
    session.add(
        NetworkTwin(
            network_id=network_id,
            tenant_id=tenant_id,
            scenario=scenario,
            seed=seed,
            num_sites=num_sites,
            num_ues=num_ues,
        )
    )
    session.flush()


def twin_binding(session: Session, *, tenant_id: int, network_id: int) -> TwinBinding | None:
    """Return the twin behind the tenant's network, or None when it has none."""
    row = session.scalar(
        select(NetworkTwin).where(
            NetworkTwin.tenant_id == tenant_id, NetworkTwin.network_id == network_id
        )
    )
    if row is None:
        return None
    return TwinBinding(
        network_id=row.network_id,
        scenario=row.scenario,
        seed=row.seed,
        num_sites=row.num_sites,
        num_ues=row.num_ues,
        applied_run_id=row.applied_run_id,
    )


def plan_window_s(plan: dict[str, Any] | None) -> tuple[int, int] | None:
    """Return a stored plan's window ``[start, end)`` in network time (epoch s), if it has one.

    A plan made for a network's telemetry names its start (``window.start_s``); a closed-loop
    plan names its first loop interval (``window.first_interval``), which starts at
    ``LOOP_EPOCH`` plus that many intervals.
    """
    if not plan:
        return None
    window = plan.get("window")
    interval_min = plan.get("interval_min")
    num_intervals = plan.get("num_intervals")
    if not isinstance(window, dict) or not isinstance(interval_min, int):
        return None
    if not isinstance(num_intervals, int):
        return None
    step_s = 60 * interval_min
    if isinstance(window.get("start_s"), int):
        start_s = int(window["start_s"])
    elif isinstance(window.get("first_interval"), int):
        start_s = LOOP_EPOCH_S + int(window["first_interval"]) * step_s
    else:
        return None
    return start_s, start_s + num_intervals * step_s


def _run_out(r: OptimizationRun, *, with_plan: bool = True) -> RunOut:
    window = plan_window_s(r.plan)
    actions = (r.plan or {}).get("actions")
    return RunOut(
        id=r.id,
        network_id=r.network_id,
        status=r.status,
        objective=r.objective,
        solver=r.solver,
        horizon_min=r.horizon_min,
        request=dict(r.request),
        plan=None if r.plan is None or not with_plan else dict(r.plan),
        confidence=r.confidence,
        saving_pct=r.saving_pct,
        error=r.error,
        created_by=r.created_by,
        created_s=r.created_s,
        finished_s=r.finished_s,
        decided_by=r.decided_by,
        decided_s=r.decided_s,
        window_start_s=None if window is None else window[0],
        window_end_s=None if window is None else window[1],
        num_actions=len(actions) if isinstance(actions, list) else None,
    )


def create_run(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    objective: str,
    solver: str,
    horizon_min: int,
    request: dict[str, Any],
    created_by: str,
    now_s: int,
) -> RunOut:
    """Record a queued run."""
    row = OptimizationRun(
        tenant_id=tenant_id,
        network_id=network_id,
        status="queued",
        objective=objective,
        solver=solver,
        horizon_min=horizon_min,
        request=request,
        created_by=created_by,
        created_s=now_s,
    )
    session.add(row)
    session.flush()
    return _run_out(row)


def _run_row(session: Session, tenant_id: int, run_id: int) -> OptimizationRun:
    row = session.scalar(
        select(OptimizationRun).where(
            OptimizationRun.tenant_id == tenant_id, OptimizationRun.id == run_id
        )
    )
    if row is None:
        msg = f"no optimization run {run_id} for this tenant"
        raise NotFoundError(msg)
    return row


def count_open(session: Session, *, since_s: int) -> int:
    """Return how many runs (all tenants) created since ``since_s`` are queued or running."""
    return int(
        session.scalar(
            select(func.count()).where(
                OptimizationRun.status.in_(("queued", "running")),
                OptimizationRun.created_s >= since_s,
            )
        )
        or 0
    )


def set_running(session: Session, *, tenant_id: int, run_id: int) -> None:
    """Mark a queued run as running."""
    _run_row(session, tenant_id, run_id).status = "running"
    session.flush()


def finish_run(
    session: Session,
    *,
    tenant_id: int,
    run_id: int,
    now_s: int,
    plan: dict[str, Any] | None = None,
    confidence: float | None = None,
    saving_pct: float | None = None,
    error: str | None = None,
) -> RunOut:
    """Record a run's outcome: its plan and confidence, or the error that stopped it."""
    row = _run_row(session, tenant_id, run_id)
    row.status = "failed" if error is not None else AWAITING_APPROVAL
    row.plan, row.confidence, row.saving_pct, row.error = plan, confidence, saving_pct, error
    row.finished_s = now_s
    session.flush()
    return _run_out(row)


def get_run(session: Session, *, tenant_id: int, run_id: int) -> RunOut:
    """Return one of the tenant's runs."""
    return _run_out(_run_row(session, tenant_id, run_id))


def _runs_query(
    tenant_id: int,
    network_id: int | None,
    status: str | None,
    objective: str | None,
    source: RunSource | None,
) -> Select[tuple[OptimizationRun]]:
    query = select(OptimizationRun).where(OptimizationRun.tenant_id == tenant_id)
    if network_id is not None:
        query = query.where(OptimizationRun.network_id == network_id)
    if status is not None:
        query = query.where(OptimizationRun.status == status)
    if objective is not None:
        query = query.where(OptimizationRun.objective == objective)
    if source == "loop":
        query = query.where(OptimizationRun.created_by == LOOP_ACTOR)
    elif source == "person":
        query = query.where(OptimizationRun.created_by != LOOP_ACTOR)
    return query


def list_runs(
    session: Session,
    *,
    tenant_id: int,
    network_id: int | None = None,
    limit: int = 100,
    status: str | None = None,
    objective: str | None = None,
    source: RunSource | None = None,
    before_id: int | None = None,
    with_plans: bool = True,
) -> list[RunOut]:
    """Return the tenant's runs, newest first, filtered; page back with ``before_id``.

    ``with_plans=False`` leaves each plan out (``plan`` is None; its window and number of
    actions are still given): a list of many large plans costs more than it shows.
    """
    query = _runs_query(tenant_id, network_id, status, objective, source)
    if before_id is not None:
        query = query.where(OptimizationRun.id < before_id)
    rows = session.scalars(query.order_by(OptimizationRun.id.desc()).limit(limit))
    return [_run_out(r, with_plan=with_plans) for r in rows]


def count_runs(
    session: Session,
    *,
    tenant_id: int,
    network_id: int | None = None,
    status: str | None = None,
    objective: str | None = None,
    source: RunSource | None = None,
) -> int:
    """Return how many of the tenant's runs match the filters (for ``X-Total-Count``)."""
    query = _runs_query(tenant_id, network_id, status, objective, source)
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def check_decidable(run: RunOut, *, decision: Decision) -> None:
    """Raise ``ConflictError`` unless the run's plan awaits a decision."""
    if run.status != AWAITING_APPROVAL:
        msg = (
            f"status: run {run.id} is {run.status!r}; only a run awaiting approval can be "
            f"{decision}"
        )
        raise ConflictError(msg)


def network_clock_s(session: Session, *, tenant_id: int, network_id: int) -> int | None:
    """Return the network's time now: the start of its next interval (epoch s), or None.

    That is the furthest of its closed loop's clock (a twin loop's intervals) and the end of
    its newest stored counters (any network); None before either.
    """
    interval_s = session.scalar(
        select(Network.interval_s).where(Network.tenant_id == tenant_id, Network.id == network_id)
    )
    if interval_s is None:
        msg = f"no network {network_id} for this tenant"
        raise NotFoundError(msg)
    next_interval = session.scalar(
        select(NetworkLoop.next_interval).where(
            NetworkLoop.tenant_id == tenant_id, NetworkLoop.network_id == network_id
        )
    )
    newest = session.scalar(
        select(func.max(KpiSample.interval_start_s)).where(
            KpiSample.tenant_id == tenant_id, KpiSample.network_id == network_id
        )
    )
    clocks = [
        LOOP_EPOCH_S + int(next_interval) * int(interval_s) if next_interval else None,
        int(newest) + int(interval_s) if newest is not None else None,
    ]
    known = [c for c in clocks if c is not None]
    return max(known) if known else None


def network_time(epoch_s: int) -> str:
    """Return network time as people read it: ``2026-01-22 17:00 UTC``."""
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _open_fault(session: Session, tenant_id: int, run: RunOut) -> FaultOut | None:
    """Return the fault a compensation plan is for, if it is still open (not cleared)."""
    comp = (run.plan or {}).get("compensation")
    fault_id = comp.get("fault_id") if isinstance(comp, dict) else None
    if not isinstance(fault_id, int):
        return None
    row = session.scalar(
        select(CellFault).where(
            CellFault.tenant_id == tenant_id,
            CellFault.network_id == run.network_id,
            CellFault.id == fault_id,
        )
    )
    if row is None or row.status == "cleared":
        return None
    return FaultOut.model_validate(row, from_attributes=True)


def check_applicable(session: Session, *, tenant_id: int, run: RunOut) -> None:
    """Raise ``ConflictError`` unless ``run``'s plan can still be applied, with the reason.

    It must await approval; a compensation's fault must still be open; any other plan's
    window must not have passed in network time (a window under way applies its rest).
    """
    check_decidable(run, decision="applied")
    compensation = (run.plan or {}).get("compensation")
    if compensation is not None:
        if _open_fault(session, tenant_id, run) is None:
            fault = compensation.get("fault_id") if isinstance(compensation, dict) else None
            msg = f"run_id: run {run.id} compensates fault {fault}, which has been cleared"
            raise ConflictError(msg)
        return
    if run.window_end_s is None:
        return
    now_s = network_clock_s(session, tenant_id=tenant_id, network_id=run.network_id)
    if now_s is not None and now_s >= run.window_end_s:
        msg = (
            f"run_id: run {run.id}'s window ({network_time(run.window_start_s or 0)} to "
            f"{network_time(run.window_end_s)}) has passed; the network is at "
            f"{network_time(now_s)}: plan again"
        )
        raise ConflictError(msg)


def decide_run(
    session: Session, *, tenant_id: int, run_id: int, decision: Decision, by: str, now_s: int
) -> RunOut:
    """Apply or reject a waiting plan; applying makes it the twin's running plan.

    Applying checks ``check_applicable`` (a passed window or a cleared fault is refused).
    """
    row = _run_row(session, tenant_id, run_id)
    if decision == "applied":
        check_applicable(session, tenant_id=tenant_id, run=_run_out(row))
    else:
        check_decidable(_run_out(row), decision=decision)
    row.status, row.decided_by, row.decided_s = decision, by, now_s
    if decision == "applied":
        twin = session.scalar(
            select(NetworkTwin).where(
                NetworkTwin.tenant_id == tenant_id, NetworkTwin.network_id == row.network_id
            )
        )
        if twin is not None:
            twin.applied_run_id = row.id
    session.flush()
    return _run_out(row)


def _clock_if_readable(session: Session, *, tenant_id: int, network_id: int) -> int | None:
    """Return the network's clock, or None when the store cannot tell.

    An alert about a failing store must still be written: the read runs in a savepoint that a
    failure rolls back.
    """
    try:
        with session.begin_nested():
            return network_clock_s(session, tenant_id=tenant_id, network_id=network_id)
    except SQLAlchemyError:
        return None


def add_alert(
    session: Session,
    *,
    tenant_id: int,
    network_id: int | None,
    severity: str,
    kind: str,
    message: str,
    now_s: int,
    network_time_s: int | None = None,
) -> int:
    """Raise an alert for the tenant; return its id.

    ``network_time_s`` defaults to the start of the network's newest interval (its clock
    less one interval): the interval the loop or the telemetry had reached.
    """
    interval_s = (
        session.scalar(select(Network.interval_s).where(Network.id == network_id))
        if network_time_s is None and network_id is not None
        else None
    )
    if interval_s is not None and network_id is not None:  # None: no such network
        clock_s = _clock_if_readable(session, tenant_id=tenant_id, network_id=network_id)
        network_time_s = None if clock_s is None else clock_s - int(interval_s)
    row = Alert(
        tenant_id=tenant_id,
        network_id=network_id,
        created_s=now_s,
        network_time_s=network_time_s,
        severity=severity,
        kind=kind,
        message=message,
    )
    session.add(row)
    session.flush()
    return row.id


def alerts_page(
    session: Session, query: Select[tuple[Alert]], *, active: bool | None, limit: int
) -> list[AlertOut]:
    """Return a filtered alert query's rows, newest first (``active``: open or cleared only)."""
    if active is True:
        query = query.where(Alert.cleared_s.is_(None))
    elif active is False:
        query = query.where(Alert.cleared_s.is_not(None))
    rows = session.scalars(query.order_by(Alert.id.desc()).limit(limit))
    return [alert_out(r) for r in rows]


def _alert_status(row: Alert) -> AlertStatus:
    if row.resolved_s is not None:
        return "resolved"
    return "acknowledged" if row.acknowledged_s is not None else "open"


def alert_out(row: Alert, network_name: str | None = None) -> AlertOut:
    """Return the API's view of an alert row (``network_name``: its network's, if any)."""
    return AlertOut(
        id=row.id,
        network_id=row.network_id,
        network_name=network_name,
        created_s=row.created_s,
        network_time_s=row.network_time_s,
        severity=row.severity,
        kind=row.kind,
        message=row.message,
        status=_alert_status(row),
        acknowledged_by=row.acknowledged_by,
        acknowledged_s=row.acknowledged_s,
        resolved_by=row.resolved_by,
        resolved_s=row.resolved_s,
        resolution=row.resolution,
        cell_id=row.cell_id,
        since_s=row.since_s,
        cleared_s=row.cleared_s,
        detail=row.detail,
    )


def list_alerts(
    session: Session,
    *,
    tenant_id: int,
    limit: int = 100,
    network_id: int | None = None,
    status: AlertStatus | None = None,
) -> list[AlertOut]:
    """Return the tenant's alerts (of one network, of one triage status if given), newest first."""
    query = (
        select(Alert, Network.name)
        .outerjoin(Network, Network.id == Alert.network_id)
        .where(Alert.tenant_id == tenant_id)
    )
    if network_id is not None:
        query = query.where(Alert.network_id == network_id)
    if status == "resolved":
        query = query.where(Alert.resolved_s.is_not(None))
    elif status == "acknowledged":
        query = query.where(Alert.resolved_s.is_(None), Alert.acknowledged_s.is_not(None))
    elif status == "open":
        query = query.where(Alert.resolved_s.is_(None), Alert.acknowledged_s.is_(None))
    rows = session.execute(query.order_by(Alert.id.desc()).limit(limit)).all()
    return [alert_out(row, name) for row, name in rows]


def _alert_row(session: Session, tenant_id: int, network_id: int, alert_id: int) -> Alert:
    row = session.scalar(
        select(Alert).where(
            Alert.tenant_id == tenant_id, Alert.network_id == network_id, Alert.id == alert_id
        )
    )
    if row is None:
        msg = f"no alert {alert_id} in network {network_id} for this tenant"
        raise NotFoundError(msg)
    return row


def _network_name(session: Session, network_id: int) -> str | None:
    return session.scalar(select(Network.name).where(Network.id == network_id))


def acknowledge_alert(
    session: Session, *, tenant_id: int, network_id: int, alert_id: int, by: str, now_s: int
) -> AlertOut:
    """Record that ``by`` looks at an open alert; ``ConflictError`` if it is not open."""
    row = _alert_row(session, tenant_id, network_id, alert_id)
    if row.resolved_s is not None or row.acknowledged_s is not None:
        msg = f"alert_id: alert {alert_id} is already {_alert_status(row)}"
        raise ConflictError(msg)
    row.acknowledged_by, row.acknowledged_s = by, now_s
    session.flush()
    return alert_out(row, _network_name(session, network_id))


def resolve_alert(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    alert_id: int,
    by: str,
    now_s: int,
    resolution: str | None = None,
) -> AlertOut:
    """Close an alert (acknowledged or not); ``ConflictError`` if it is already resolved."""
    row = _alert_row(session, tenant_id, network_id, alert_id)
    if row.resolved_s is not None:
        msg = f"alert_id: alert {alert_id} is already resolved"
        raise ConflictError(msg)
    row.resolved_by, row.resolved_s, row.resolution = by, now_s, resolution
    session.flush()
    return alert_out(row, _network_name(session, network_id))
