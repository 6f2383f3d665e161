"""The closed loop of a network: settings, live state, interval KPIs, energy, faults, alerts.

Alerts are triaged here: a network_admin acknowledges one (someone looks at it) and resolves
it, each audited; clearing a fault resolves the outage alerts it raised.
"""

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ranopt.api.deps import Executor, Reader, ServicesDep, SessionDep, Writer, now_s, record
from ranopt.api.errors import ProblemError, problem_responses
from ranopt.api.schemas import IdPath
from ranopt.store import loops, runs
from ranopt.store import networks as nets
from ranopt.store import repository as repo
from ranopt.store import southbound as sb
from ranopt.store.loops import FaultOut, LoopIntervalRow, LoopSettings
from ranopt.store.repository import NotFoundError
from ranopt.store.runs import LOOP_EPOCH_S, AlertOut, AlertStatus
from ranopt.store.schemas import Count, Name, Real

router = APIRouter(prefix="/api/v2/networks", tags=["closed loop"])

INTERVAL_MIN = 15  # the twin scenarios' KPI granularity (Scenario.interval_min)
INTERVALS_PER_DAY = 24 * 60 // INTERVAL_MIN
WEEK_DAYS = 7


class LoopIn(BaseModel):
    """A network loop's settings."""

    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool = True
    auto_apply: StrictBool = True
    confidence_threshold: Real = Field(default=0.9, ge=0.0, le=1.0)
    solver: str = Field(default="greedy", pattern="^(greedy|exact|anneal)$")
    horizon_intervals: Count = Field(default=4, ge=1, le=96)


class FaultIn(BaseModel):
    """Fail a cell of the network's twin (by cell name)."""

    model_config = ConfigDict(extra="forbid")

    cell: Name


class LoopKpi(BaseModel):
    """One loop interval's network figures (means over the interval)."""

    start_s: int  # network time: the interval's start, epoch seconds
    sim_min: int
    day: int
    minute_of_day: int
    offered_mbps: float
    served_mbps: float
    power_w: float
    always_on_power_w: float
    energy_kwh: float
    always_on_energy_kwh: float
    violations: int
    switching_breaks: int
    failed: list[int]  # indices of the cells failed in the interval (faults)


class EnergyFigures(BaseModel):
    """Energy with ranopt against the always-on counterfactual over a period."""

    intervals: int
    energy_kwh: float
    always_on_kwh: float
    saved_kwh: float
    saved_pct: float | None


class EnergySummary(BaseModel):
    """Today's and this week's energy (network days, since the loop started)."""

    day: int
    today: EnergyFigures
    week: EnergyFigures


def _loop(session: SessionDep, tenant_id: int, network_id: int) -> LoopSettings:
    nets.network_by_id(session, tenant_id=tenant_id, network_id=network_id)
    return loops.loop_settings(session, tenant_id=tenant_id, network_id=network_id)


def _kpi(row: LoopIntervalRow) -> LoopKpi:
    hours = INTERVAL_MIN / 60.0
    power = row.power_w or 0.0
    always_on = row.always_on_power_w or 0.0
    day, t = divmod(row.interval, INTERVALS_PER_DAY)
    return LoopKpi(
        start_s=LOOP_EPOCH_S + row.interval * INTERVAL_MIN * 60,
        sim_min=row.interval * INTERVAL_MIN, day=day, minute_of_day=t * INTERVAL_MIN,
        offered_mbps=row.offered_mbps, served_mbps=row.served_mbps or 0.0, power_w=power,
        always_on_power_w=always_on, energy_kwh=power * hours / 1000.0,
        always_on_energy_kwh=always_on * hours / 1000.0, violations=row.violations,
        switching_breaks=row.switching_breaks, failed=row.failed,
    )  # fmt: skip


def _figures(rows: list[LoopKpi]) -> EnergyFigures:
    energy = sum(r.energy_kwh for r in rows)
    always_on = sum(r.always_on_energy_kwh for r in rows)
    return EnergyFigures(
        intervals=len(rows), energy_kwh=energy, always_on_kwh=always_on,
        saved_kwh=always_on - energy,
        saved_pct=100.0 * (1.0 - energy / always_on) if always_on > 0 else None,
    )  # fmt: skip


def _loop_rows(
    session: SessionDep, tenant_id: int, network_id: int, first: int, stop: int
) -> list[LoopKpi]:
    rows = loops.intervals(
        session, tenant_id=tenant_id, network_id=network_id, first=first, stop=stop
    )
    return [_kpi(r) for r in rows if r.phase == "loop"]


@router.get("/{network_id}/loop")
def get_loop(
    network_id: IdPath,
    principal: Reader,
    session: SessionDep,
    services: ServicesDep,
    live: Annotated[
        bool, Query(description="false: leave out the newest interval (every cell's state)")
    ] = True,
) -> LoopSettings:
    """Return the network's loop settings, clock and achieved pace (``live``: newest interval)."""
    settings = _loop(session, principal.tenant_id, network_id)
    steps = loops.step_times(session, tenant_id=principal.tenant_id, network_id=network_id)
    pace = loops.pace_of(steps, services.settings.loop_tick_s)
    return settings.model_copy(update={"pace": pace, **({} if live else {"live": None})})


@router.put("/{network_id}/loop", responses=problem_responses(409))
def put_loop(
    network_id: IdPath, body: LoopIn, principal: Writer, session: SessionDep
) -> LoopSettings:
    """Create or change the network's closed loop (on its twin, or through O1 and counters)."""
    nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    through_o1 = (
        sb.get_southbound(session, tenant_id=principal.tenant_id, network_id=network_id).kind
        == "o1"
    )
    twin = runs.twin_binding(session, tenant_id=principal.tenant_id, network_id=network_id)
    if twin is None and not through_o1:
        raise ProblemError(
            409, f"network_id: network {network_id} has neither a twin nor an O1 southbound "
            "to run a loop on",
            field="network_id",
        )  # fmt: skip
    settings = loops.configure_loop(
        session, tenant_id=principal.tenant_id, network_id=network_id, now_s=now_s(),
        **body.model_dump(),
    )  # fmt: skip
    record(session, principal, action="loop.configure", target=f"network:{network_id}",
           detail=body.model_dump())  # fmt: skip
    return settings


@router.get("/{network_id}/live")
def live(network_id: IdPath, principal: Reader, session: SessionDep) -> dict[str, Any]:
    """Return the newest loop interval: per-cell PRB load and state, traffic, power.

    ``start_s`` is the interval's start in network time (epoch seconds).
    """
    settings = _loop(session, principal.tenant_id, network_id)
    if settings.live is None:
        msg = f"network {network_id}: the loop has not run an interval yet"
        raise NotFoundError(msg)
    live = dict(settings.live)
    if isinstance(live.get("interval"), int):  # network time of the interval, epoch s
        live["start_s"] = LOOP_EPOCH_S + live["interval"] * INTERVAL_MIN * 60
    return live


@router.get("/{network_id}/loop/kpis")
def loop_kpis(
    network_id: IdPath,
    principal: Reader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=7 * INTERVALS_PER_DAY)] = INTERVALS_PER_DAY,
) -> list[LoopKpi]:
    """Return the newest ``limit`` loop intervals, oldest first."""
    settings = _loop(session, principal.tenant_id, network_id)
    stop = settings.next_interval
    return _loop_rows(session, principal.tenant_id, network_id, stop - limit, stop)


@router.get("/{network_id}/loop/energy")
def loop_energy(network_id: IdPath, principal: Reader, session: SessionDep) -> EnergySummary:
    """Return energy with ranopt and always-on today and over the last 7 network days."""
    settings = _loop(session, principal.tenant_id, network_id)
    day = max(settings.next_interval - 1, 0) // INTERVALS_PER_DAY
    rows = _loop_rows(
        session, principal.tenant_id, network_id,
        (day - WEEK_DAYS + 1) * INTERVALS_PER_DAY, settings.next_interval,
    )  # fmt: skip
    return EnergySummary(
        day=day, today=_figures([r for r in rows if r.day == day]), week=_figures(rows)
    )


@router.get("/{network_id}/faults")
def list_faults(network_id: IdPath, principal: Reader, session: SessionDep) -> list[FaultOut]:
    """Return the network's cell faults with their detection and compensation times."""
    nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    return loops.faults(session, tenant_id=principal.tenant_id, network_id=network_id)


@router.post(
    "/{network_id}/faults", status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(409),
)  # fmt: skip
def inject_fault(
    network_id: IdPath, body: FaultIn, principal: Executor, session: SessionDep
) -> FaultOut:
    """Fail a cell in the network's twin from its next interval (a drill for the loop)."""
    _loop(session, principal.tenant_id, network_id)
    binding = runs.twin_binding(session, tenant_id=principal.tenant_id, network_id=network_id)
    if binding is None:
        raise ProblemError(409, f"network_id: network {network_id} has no twin", field="network_id")
    # the network was exported from its twin cell by cell, in the twin's order: a cell's
    # position among the network's cells is its index in the twin (no twin build here)
    stored = repo.network_cells(session, tenant_id=principal.tenant_id, network_id=network_id)
    cells = {cell.name: i for i, cell in enumerate(stored)}  # stored: by id, as created
    if body.cell not in cells:
        raise ProblemError(
            422, f"cell: no cell {body.cell!r} in network {network_id}", field="cell"
        )
    fault = loops.request_fault(
        session, tenant_id=principal.tenant_id, network_id=network_id,
        cell_index=cells[body.cell], cell_name=body.cell, by=principal.subject, at=time.time(),
    )  # fmt: skip
    record(session, principal, action="fault.inject", target=f"network:{network_id}",
           detail={"cell": body.cell})  # fmt: skip
    return fault


@router.delete("/{network_id}/faults/{fault_id}", responses=problem_responses(409))
def clear_fault(
    network_id: IdPath, fault_id: IdPath, principal: Executor, session: SessionDep
) -> FaultOut:
    """Repair a failed cell: the loop returns it to service at its next interval."""
    nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    fault = loops.update_fault(
        session, tenant_id=principal.tenant_id, network_id=network_id, fault_id=fault_id,
        status="cleared", cleared_at=time.time(),
    )  # fmt: skip
    if fault is None:
        raise ProblemError(409, f"fault_id: fault {fault_id} is already cleared", field="fault_id")
    record(session, principal, action="fault.clear", target=f"network:{network_id}",
           detail={"fault_id": fault_id})  # fmt: skip
    return fault


@router.get("/{network_id}/alerts")
def network_alerts(
    network_id: IdPath,
    principal: Reader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    status: Annotated[AlertStatus | None, Query(description="only alerts in this state")] = None,
) -> list[AlertOut]:
    """Return the network's operational alerts (outages, weak plans, loop errors), newest first."""
    nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    return runs.list_alerts(
        session, tenant_id=principal.tenant_id, limit=limit, network_id=network_id, status=status
    )


@router.post("/{network_id}/alerts/{alert_id}/acknowledge", responses=problem_responses(409))
def acknowledge_alert(
    network_id: IdPath, alert_id: IdPath, principal: Writer, session: SessionDep
) -> AlertOut:
    """Say that someone looks at an open alert (409 if it was acknowledged or resolved)."""
    nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    alert = runs.acknowledge_alert(
        session, tenant_id=principal.tenant_id, network_id=network_id, alert_id=alert_id,
        by=principal.subject, now_s=now_s(),
    )  # fmt: skip
    record(session, principal, action="alert.acknowledge", target=f"alert:{alert_id}",
           detail={"network_id": network_id, "kind": alert.kind})  # fmt: skip
    return alert


@router.post("/{network_id}/alerts/{alert_id}/resolve", responses=problem_responses(409))
def resolve_alert(
    network_id: IdPath, alert_id: IdPath, principal: Writer, session: SessionDep
) -> AlertOut:
    """Close an alert, acknowledged or not (409 if it is already resolved)."""
    nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    alert = runs.resolve_alert(
        session, tenant_id=principal.tenant_id, network_id=network_id, alert_id=alert_id,
        by=principal.subject, now_s=now_s(), resolution="resolved by hand",
    )  # fmt: skip
    record(session, principal, action="alert.resolve", target=f"alert:{alert_id}",
           detail={"network_id": network_id, "kind": alert.kind})  # fmt: skip
    return alert
