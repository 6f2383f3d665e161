"""The closed loop's stages for a network reached through its interfaces (O1 / A1, VES, PM).

observe -> detect -> plan -> decide -> act -> account, each a small function with plain data
between them. Nothing here reads an emulator's (or a RAN's) internal state: the inputs are
the network's topology and the counters it reported into the store, and the O1 replies of
the transactions that act. ``ranopt.service.southbound_loop.SouthboundLoop`` strings them
together one interval at a time.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select

from ranopt.calibrate import (
    InsufficientTelemetryError,
    calibrate,
    demand_share_profile,
    estimate_home_demand,
)
from ranopt.calibrate.history import SECONDS_PER_DAY, weekday_at
from ranopt.optimize.compensate import plan_compensation, recovered_ratio
from ranopt.optimize.confidence import perturbed_demands
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.service.calibration import NetworkCalibrationConfig, NetworkModel, report_json
from ranopt.service.plan_network import NetworkPlanRequest, model_summary, plan_on_model
from ranopt.service.southbound import (
    apply_actions,
    cell_targets,
    o1_endpoints,
    read_relation_offsets,
)
from ranopt.southbound.actions import CellAction, nearest_q_offset_db
from ranopt.southbound.nrm import parse_dn
from ranopt.southbound.o1 import O1Endpoint, O1Error, O1Session
from ranopt.store import calibration as store_cal
from ranopt.store import loops, runs, ves_faults
from ranopt.store import repository as repo
from ranopt.store.engine import Store
from ranopt.store.loops import LOOP_ACTOR, LoopIntervalRow
from ranopt.store.networks import network_by_id
from ranopt.store.secrets import Keyring
from ranopt.store.tables import Cell, KpiSample
from ranopt.twin.fault import with_failed_cells
from ranopt.twin.snapshot import CellState, evaluate_snapshot
from ranopt.twin.topology import topology_layout

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
logger = logging.getLogger("ranopt.service.stages")


# -- observe ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Observation:
    """One interval's counters of every cell (NaN where a cell sent none), in stored units."""

    start_s: int
    interval_s: int
    reported: BoolArray  # [C] the cell sent counters for the interval
    energy_kwh: FloatArray  # PEE.Energy
    power_w: FloatArray  # PEE.AvgPower
    served_mbit: FloatArray  # DRB.PdcpSduVolumeDL
    offered_mbit: FloatArray  # VS.OfferedVolumeDl (vendor counter; NaN when absent)
    prb_used: FloatArray  # RRU.PrbUsedDl
    prb_avail: FloatArray  # RRU.PrbAvailDl (0: the cell's radio slept)
    ue_thp_mbps: FloatArray  # DRB.UEThpDl

    @property
    def asleep(self) -> BoolArray:
        """Cells that reported no PRB available: their radio slept through the interval."""
        return self.reported & (np.nan_to_num(self.prb_avail, nan=1.0) <= 0.0)

    @property
    def prb_load(self) -> FloatArray:
        """PRB load of each awake reporting cell (0 elsewhere)."""
        avail = np.where(self.asleep | ~self.reported, 1.0, self.prb_avail)
        load = np.where(self.reported & ~self.asleep, self.prb_used / avail, 0.0)
        return np.nan_to_num(load)


OBSERVED_COLUMNS = (
    "pee_energy_kwh", "pee_avg_power_w", "dl_volume_mbit", "offered_dl_volume_mbit",
    "prb_used_dl", "prb_avail_dl", "ue_thp_dl_mbps",
)  # fmt: skip


def cell_ids(store: Store, *, tenant_id: int, network_id: int) -> list[int]:
    """Return the cell ids in id order: the cell index of plans, loop rows and the model."""
    with store.transaction() as session:
        rows = session.scalars(
            select(Cell.id)
            .where(Cell.tenant_id == tenant_id, Cell.network_id == network_id)
            .order_by(Cell.id)
        )
        return [int(r) for r in rows]


def newest_sample_s(store: Store, *, tenant_id: int, network_id: int) -> int | None:
    """Start of the newest interval the network reported, or None before any counters."""
    with store.transaction() as session:
        extent = store_cal.pm_extent(session, tenant_id=tenant_id, network_id=network_id)
    return None if extent is None else extent[1]


def observe(
    store: Store, *, tenant_id: int, network_id: int, ids: list[int], start_s: int,
    interval_s: int,
) -> Observation | None:  # fmt: skip
    """Read the counters the network reported for the interval at ``start_s``; None if none."""
    column = {cid: i for i, cid in enumerate(ids)}
    values = {name: np.full(len(ids), np.nan) for name in OBSERVED_COLUMNS}
    table = KpiSample.__table__
    with store.transaction() as session:
        rows = session.execute(
            select(KpiSample.cell_id, *(table.c[c] for c in OBSERVED_COLUMNS)).where(
                KpiSample.tenant_id == tenant_id,
                KpiSample.network_id == network_id,
                KpiSample.interval_start_s == start_s,
                KpiSample.suspect.is_(False),
            )
        ).all()
    if not rows:
        return None
    reported = np.zeros(len(ids), dtype=bool)
    for row in rows:
        c = column.get(int(row[0]))
        if c is None:
            continue
        reported[c] = True
        for j, name in enumerate(OBSERVED_COLUMNS):
            values[name][c] = np.nan if row[1 + j] is None else float(row[1 + j])
    return Observation(
        start_s=start_s, interval_s=interval_s, reported=reported,
        energy_kwh=values["pee_energy_kwh"], power_w=values["pee_avg_power_w"],
        served_mbit=values["dl_volume_mbit"], offered_mbit=values["offered_dl_volume_mbit"],
        prb_used=values["prb_used_dl"], prb_avail=values["prb_avail_dl"],
        ue_thp_mbps=values["ue_thp_dl_mbps"],
    )  # fmt: skip


# -- detect ----------------------------------------------------------------------------------


def detect_silent(observation: Observation) -> list[int]:
    """Cells that sent no counters for an interval the others reported (down, or cut off)."""
    return [int(c) for c in np.flatnonzero(~observation.reported)]


def operational_states(
    store: Store, *, tenant_id: int, network_id: int, keyring: Keyring, cells: list[int]
) -> dict[int, str | None]:
    """Read the cells' ``operationalState`` over O1 now (``get``): cell index -> state.

    ``cells`` are indices into the network's cells in id order (``cell_ids``). A cell whose
    element did not answer (endpoint unreachable) maps to None: down or cut off, O1 cannot
    tell which.
    """
    ids = cell_ids(store, tenant_id=tenant_id, network_id=network_id)
    with store.transaction() as session:
        rows = {c.id: c for c in repo.network_cells(session, tenant_id=tenant_id,
                                                     network_id=network_id)}  # fmt: skip
    wanted = {parse_dn(rows[ids[c]].dn)[1].local_dn: c for c in cells}
    _, endpoints = o1_endpoints(store, tenant_id=tenant_id, network_id=network_id,
                                keyring=keyring)  # fmt: skip

    def read(endpoint: O1Endpoint) -> dict[int, str | None]:
        try:
            with O1Session(endpoint) as session:
                elements = session.read_cell_states()
        except O1Error as exc:
            logger.warning("network %s: operationalState not read: %s", network_id, exc)
            return {}
        return {
            wanted[cell.du_path.local_dn]: cell.operational_state
            for element in elements
            for cell in element.cells
            if cell.du_path.local_dn in wanted
        }

    found: dict[int, str | None] = {}
    for part in map(read, endpoints):
        found.update(part)
    return {c: found.get(c) for c in cells}


def ves_alarms(store: Store, *, tenant_id: int, ids: list[int], network_id: int) -> dict[int, int]:
    """Return the cells with a raised VES fault alarm: cell index -> epoch s it was raised.

    ``ids`` are the network's cell ids in id order (``cell_ids``). A raised alarm is outage
    evidence as strong as an ``operationalState`` DISABLED read (``ranopt.store.ves_faults``).
    """
    with store.transaction() as session:
        raised = ves_faults.raised_cells(session, tenant_id=tenant_id, network_id=network_id)
    index = {cell_id: i for i, cell_id in enumerate(ids)}
    return {index[c]: t for c, t in raised.items() if c in index}


@dataclass(frozen=True)
class Compensation:
    """An outage's compensation planned on the calibrated model: cells woken, CIO raised."""

    cell: int  # the failed cell
    woken: frozenset[int]  # sleeping cells it wakes and holds awake
    cio_db: dict[int, float]  # neighbours' CIO toward the hole (cell -> dB)
    confidence: float  # share of perturbed demands on which it serves the orphans no worse
    recovered_ratio: float  # the failed cell's pre-failure traffic its UEs get back (model)
    unaided_ratio: float  # the same with no action
    plan: dict[str, Any]  # as the run stores it
    # the network's own CIO of each raised cell's incoming relations before ranopt raised it
    # (relation local DN -> dB), read over O1: what the compensation's revert restores
    cio_baseline: dict[int, dict[str, int]] = field(default_factory=dict)

    def with_baseline(self, baseline: dict[int, dict[str, int]]) -> "Compensation":
        """Return it with the network's own offsets of its raised cells (kept in its plan).

        A raised cell without a read baseline is left out of its CIO: ranopt never sets an
        offset it could not restore.
        """
        cio = {c: v for c, v in self.cio_db.items() if c in baseline}
        kept = {c: dict(baseline[c]) for c in cio}
        comp = {**self.plan["compensation"], "cio_db": {str(c): v for c, v in cio.items()},
                "cio_baseline_db": {str(c): b for c, b in kept.items()}}  # fmt: skip
        return replace(self, cio_db=cio, cio_baseline=kept,
                       plan={**self.plan, "compensation": comp})  # fmt: skip

    @classmethod
    def from_plan(cls, plan: dict[str, Any], cell: int, confidence: float) -> "Compensation":
        """Rebuild an applied compensation from its stored run (an approval, a restart).

        A run stored before baselines were read (no ``cio_baseline_db``) gets an empty
        baseline per raised cell: its offsets go back to 0 dB, as they were set then.
        """
        comp = plan["compensation"]
        cio = {int(c): float(v) for c, v in (comp.get("cio_db") or {}).items()}
        stored = comp.get("cio_baseline_db")
        baseline = ({int(c): {str(r): int(v) for r, v in b.items()} for c, b in stored.items()}
                    if isinstance(stored, dict) else {c: {} for c in cio})  # fmt: skip
        return cls(cell=cell, woken=frozenset(int(c) for c in comp.get("woken") or []),
                   cio_db=cio, confidence=confidence,
                   recovered_ratio=float(comp.get("recovered_ratio") or 0.0),
                   unaided_ratio=float(comp.get("unaided_ratio") or 0.0), plan=plan,
                   cio_baseline=baseline)  # fmt: skip


def cio_baselines(
    store: Store, *, tenant_id: int, network_id: int, keyring: Keyring, names: list[str],
    cells: set[int], known: dict[int, dict[str, int]],
) -> dict[int, dict[str, int]]:  # fmt: skip
    """Return the network's own CIO toward each of ``cells``: cell -> {relation DN: dB}.

    Read over O1 before ranopt raises them (``read_relation_offsets``); a cell ranopt holds
    raised already keeps the baseline it had (``known``: reading would find ranopt's value).
    A cell whose element did not answer is left out.
    """
    out = {c: known[c] for c in cells if c in known}
    ask = sorted(cells - set(out))
    if ask:
        read = read_relation_offsets(store, tenant_id=tenant_id, network_id=network_id,
                                     keyring=keyring, cells=[names[c] for c in ask])  # fmt: skip
        out |= {c: read[names[c]] for c in ask if names[c] in read}
    return out


COMPENSATION_SCENARIOS = 16  # perturbed demands a compensation is checked on (NetworkLoop's)
COMPENSATION_SIGMA = 0.1  # their per-cell spread within the next interval


def plan_outage_compensation(
    model: NetworkModel, cell: int, *, start_s: int, asleep: set[int],
    other_failed: frozenset[int], rng: np.random.Generator,
) -> Compensation:  # fmt: skip
    """Plan the compensation of ``cell``'s outage on the calibrated model (never the network).

    The demand is the model's estimate of the interval before ``start_s`` (the first silent
    one: the last in which the cell's traffic was measured) spread over the model's UEs; the
    state before the failure is ``asleep`` asleep, every other cell on, ``other_failed``
    down. ``ranopt.optimize.compensate.plan_compensation`` wakes
    sleeping cells near the hole and raises neighbours' CIO; its confidence is measured as
    the twin-internal loop's is (perturbed demands, orphans served no worse than unaided).
    """
    cal = model.calibration.model
    twin = with_failed_cells(cal.twin, other_failed - {cell})
    history = model.history
    home = model.calibration.home_demand.mbps
    before_s = start_s - history.interval_s
    index = min(max((before_s - history.start_s) // history.interval_s, 0), home.shape[0] - 1)
    at_s = history.start_s + index * history.interval_s
    demand = cal.ue_demand(home[index], weekday_at(at_s),
                           (at_s % SECONDS_PER_DAY) // history.interval_s)  # fmt: skip
    before = np.ones(twin.num_cells, dtype=bool)
    before[sorted(asleep - {cell})] = False
    logger.info("compensating cell %s: its home-cell demand %.3f Mbit/s before it failed",
                cell, float(home[index, cell]))  # fmt: skip
    result = plan_compensation(twin, demand, cell, active=before)
    prior = CellState(active=before, cio_db=np.zeros(twin.num_cells))
    unaided_state = prior.with_active(before & (np.arange(twin.num_cells) != cell))
    scenarios = perturbed_demands(demand, cal.home, twin.num_cells, rng,
                                  COMPENSATION_SCENARIOS, COMPENSATION_SIGMA)  # fmt: skip
    held = 0
    for scenario in scenarios:
        base = evaluate_snapshot(twin, prior, scenario)
        gain = recovered_ratio(base, evaluate_snapshot(twin, result.state, scenario),
                               result.orphans)  # fmt: skip
        unaided = recovered_ratio(base, evaluate_snapshot(twin, unaided_state, scenario),
                                  result.orphans)  # fmt: skip
        held += int(gain >= unaided - 1e-6)
    confidence = held / len(scenarios)
    woken = result.state.active & ~before
    woken[cell] = False
    cio = {int(c): float(result.state.cio_db[c]) for c in np.flatnonzero(result.state.cio_db)}
    names = cal.twin.cell_names
    recovered = result.recovered_ratio(result.after)
    unaided_ratio = result.recovered_ratio(result.unaided)
    plan = {
        "objective": "compensation", "solver": "greedy", "interval_min": history.interval_s // 60,
        "num_intervals": 1, "confidence": confidence,
        "actions": [{"cell": a.cell, "t_min": a.t_min, "action": a.action, "value": a.value}
                    for a in result.plan.actions],
        "compensation": {
            "failed_cell": names[cell], "reason": "silent", "recovered_ratio": recovered,
            "unaided_ratio": unaided_ratio, "woken": [int(c) for c in np.flatnonzero(woken)],
            "cio_db": {str(c): v for c, v in cio.items()},
            "not_expressible": "tilt (no antenna tilt in the TS 28.541 NRM); power above "
            "configuredMaxTxPower's rated maximum",
        },
        "model": model_summary(model),
    }  # fmt: skip
    return Compensation(cell=cell, woken=frozenset(int(c) for c in np.flatnonzero(woken)),
                        cio_db=cio, confidence=confidence, recovered_ratio=recovered,
                        unaided_ratio=unaided_ratio, plan=plan)  # fmt: skip


# -- account ---------------------------------------------------------------------------------


def qos_breaks(
    observation: Observation, limits: EnergyConstraints, *, cells_asleep: bool
) -> tuple[str, ...]:
    """Return the QoS checks an interval broke, judged from its counters alone.

    Without the always-on counterfactual (a real network has none), a check can only blame
    the plan when the plan put cells to sleep: then an awake cell above ``max_prb_load``
    breaks ``prb_load``, and an awake cell whose mean UE throughput fell under
    ``ue_thp_floor_mbps`` breaks ``ue_throughput``. With every cell on nothing is the plan's.
    """
    if not cells_asleep:
        return ()
    awake = observation.reported & ~observation.asleep
    broken = []
    if (observation.prb_load[awake] > limits.max_prb_load).any():
        broken.append("prb_load")
    thp = np.nan_to_num(observation.ue_thp_mbps, nan=np.inf)
    carrying = awake & (np.nan_to_num(observation.served_mbit) > 0)
    if (thp[carrying] < limits.ue_thp_floor_mbps).any():
        broken.append("ue_throughput")
    return tuple(broken)


def account(
    observation: Observation, interval: int, limits: EnergyConstraints, tick_s: float | None
) -> LoopIntervalRow:
    """Return the loop row of an observed interval: energy, traffic, QoS, cells asleep."""
    seconds = float(observation.interval_s)
    served = np.nan_to_num(observation.served_mbit)
    offered = np.where(np.isfinite(observation.offered_mbit), observation.offered_mbit, served)
    asleep = observation.asleep
    silent = ~observation.reported
    broken = qos_breaks(observation, limits, cells_asleep=bool(asleep.any()))
    return LoopIntervalRow(
        interval=interval, phase="loop", offered_mbps=float(offered.sum()) / seconds,
        served_mbps=float(served.sum()) / seconds,
        power_w=float(np.nan_to_num(observation.power_w).sum()),
        always_on_served_mbps=None, always_on_power_w=None, violations=len(broken),
        switching_breaks=0, home_demand_mbps=[],
        asleep=[int(c) for c in np.flatnonzero(asleep)],
        failed=[int(c) for c in np.flatnonzero(silent)], tick_s=tick_s,
    )  # fmt: skip


def live_view(
    observation: Observation, interval: int, names: list[str], ids: list[int]
) -> dict[str, Any]:
    """Return the ``live`` state of the newest accounted interval (from its counters)."""
    load = observation.prb_load
    cells = [
        {
            "id": ids[c], "name": names[c], "prb_load": round(float(load[c]), 4),
            "state": "failed" if not observation.reported[c]
            else ("asleep" if observation.asleep[c] else "active"),
            "cio_db": 0.0,
        }
        for c in range(len(ids))
    ]  # fmt: skip
    seconds = float(observation.interval_s)
    return {
        "interval": interval,
        "interval_min": observation.interval_s // 60,
        "minute_of_day": (observation.start_s % SECONDS_PER_DAY) // 60,
        "offered_mbps": float(np.nansum(observation.offered_mbit)) / seconds,
        "served_mbps": float(np.nansum(observation.served_mbit)) / seconds,
        "power_w": float(np.nansum(observation.power_w)),
        "always_on_power_w": None,
        "source": "counters",
        "cells": cells,
    }


# -- plan ------------------------------------------------------------------------------------


def calibrate_until(
    store: Store, *, tenant_id: int, network_id: int, end_s: int,
    config: NetworkCalibrationConfig, now_s: int,
) -> NetworkModel:  # fmt: skip
    """Calibrate the network's model on the whole days before ``end_s`` and store the report.

    Raises ``InsufficientTelemetryError`` (naming what is missing) on too little history.
    """
    start_s = end_s - config.max_days * SECONDS_PER_DAY
    with store.transaction() as session:
        network = network_by_id(session, tenant_id=tenant_id, network_id=network_id)
        sites, cells = store_cal.topology_records(session, tenant_id=tenant_id,
                                                  network_id=network_id)  # fmt: skip
        extent = store_cal.pm_extent(session, tenant_id=tenant_id, network_id=network_id)
        if extent is None:
            needed = config.calibration.min_days
            msg = f"{needed:g} days of PM history needed, 0.0 found: no counters stored"
            raise InsufficientTelemetryError(msg, needed_days=needed, found_days=0.0)
        start_s = max(start_s, extent[0] // SECONDS_PER_DAY * SECONDS_PER_DAY)
        history = store_cal.pm_history(session, tenant_id=tenant_id, network_id=network_id,
                                       start_s=start_s, end_s=end_s)  # fmt: skip
    layout = topology_layout(sites, cells)
    result = calibrate(layout, history, config.calibration)
    model = NetworkModel(
        network_id=network_id, network_name=network.name, layout=layout, history=history,
        calibration=result, last_sample_s=end_s - history.interval_s, fit_s=0.0,
    )  # fmt: skip
    report = report_json(model, config.calibration.min_days)
    with store.transaction() as session:
        store_cal.save_report(
            session, tenant_id=tenant_id, network_id=network_id, report=report, data_end_s=end_s,
            days_found=result.days_found,
            prb_load_wape=report["heldout"]["observed_demand"]["prb_load_wape"], now_s=now_s,
        )  # fmt: skip
    return model


def with_recent_counters(
    store: Store, model: NetworkModel, *, tenant_id: int, max_days: int
) -> NetworkModel:
    """Return the model with the home-cell demand of every stored interval up to now.

    The calibration is kept (fitted daily); the newer counters' home-cell demand is estimated
    with it, sleeping cells included (``estimate_home_demand``, the applied cell states).
    """
    with store.transaction() as session:
        network = network_by_id(session, tenant_id=tenant_id, network_id=model.network_id)
        start_s, end_s = store_cal.history_window(
            session, tenant_id=tenant_id, network_id=model.network_id,
            interval_s=network.interval_s, max_days=max_days,
        )  # fmt: skip
        extent = store_cal.pm_extent(session, tenant_id=tenant_id, network_id=model.network_id)
        history = store_cal.pm_history(session, tenant_id=tenant_id,
                                       network_id=model.network_id, start_s=start_s,
                                       end_s=end_s)  # fmt: skip
    cal = model.calibration
    fitted = cal.model
    demand = estimate_home_demand(fitted.twin, fitted.home, fitted.share_at,
                                  demand_share_profile(history), history)  # fmt: skip
    last_s = end_s - history.interval_s if extent is None else extent[1]
    return replace(model, history=history, calibration=replace(cal, home_demand=demand),
                   last_sample_s=last_s)  # fmt: skip


@dataclass(frozen=True)
class WindowPlan:
    """A plan for the intervals after the newest counters: cells asleep per interval."""

    first_interval: int  # loop interval of the window's first interval
    asleep: list[list[int]]  # per window interval, the cells (indices) the plan puts to sleep
    confidence: float
    saving_pct: float
    plan: dict[str, Any]  # as the run stores it


def plan_window(
    model: NetworkModel, request: NetworkPlanRequest, first_interval: int,
    rng: np.random.Generator, failed: frozenset[int] = frozenset(),
) -> WindowPlan:  # fmt: skip
    """Plan the window after the model's newest sample on the calibrated model.

    ``failed`` cells (outages the loop knows of) are down in the model the plan is made on.
    """
    outcome = plan_on_model(model, request, rng, failed=failed)
    window = outcome.plan["window"]
    window["first_interval"] = first_interval
    return WindowPlan(first_interval=first_interval, asleep=window["asleep"],
                      confidence=outcome.confidence, saving_pct=outcome.saving_pct,
                      plan=outcome.plan)  # fmt: skip


# -- decide ----------------------------------------------------------------------------------


def decide(plan: WindowPlan, *, auto_apply: bool, threshold: float) -> bool:
    """Apply the plan now (auto-apply on, confidence at or above the threshold) or ask."""
    return auto_apply and plan.confidence >= threshold


def record_plan(
    store: Store, *, tenant_id: int, network_id: int, plan: WindowPlan, solver: str,
    horizon_min: int, apply: bool, now_s: int,
) -> int:  # fmt: skip
    """Record the plan as the loop's run (applied, or awaiting approval); return its id."""
    with store.transaction() as session:
        run = runs.create_run(
            session, tenant_id=tenant_id, network_id=network_id, objective="energy",
            solver=solver, horizon_min=horizon_min,
            request={"source": "closed_loop", "southbound": "o1",
                     "window": plan.first_interval},
            created_by=LOOP_ACTOR, now_s=now_s,
        )  # fmt: skip
        runs.finish_run(session, tenant_id=tenant_id, run_id=run.id, now_s=now_s, plan=plan.plan,
                        confidence=plan.confidence, saving_pct=plan.saving_pct)  # fmt: skip
        if apply:
            runs.decide_run(session, tenant_id=tenant_id, run_id=run.id, decision="applied",
                            by=LOOP_ACTOR, now_s=now_s)  # fmt: skip
        return run.id


OUTAGE_DETECTOR = "ranopt:loop (counters, O1)"  # a fault record's requested_by: detected
VES_DETECTOR = "ranopt:loop (VES fault)"  # ... detected from a raised VES fault alarm


def open_outage(
    store: Store, *, tenant_id: int, network_id: int, cell: int, name: str, interval: int,
    at: float, by: str = OUTAGE_DETECTOR,
) -> int:  # fmt: skip
    """Record a detected outage as the network's fault (``cell_faults``); return its id.

    The fault happened outside ranopt: it is recorded when detected, active from its first
    silent interval. A fault already open for the cell (a restart) is reused.
    """
    with store.transaction() as session:
        for fault in loops.faults(session, tenant_id=tenant_id, network_id=network_id,
                                  open_only=True):  # fmt: skip
            if fault.cell_index == cell:
                return fault.id
        fault = loops.request_fault(session, tenant_id=tenant_id, network_id=network_id,
                                    cell_index=cell, cell_name=name, by=by,
                                    at=at)  # fmt: skip
        loops.update_fault(session, tenant_id=tenant_id, network_id=network_id,
                           fault_id=fault.id, status="active", fault_interval=interval,
                           first_telemetry_at=at, detected_at=at)  # fmt: skip
        return fault.id


def close_outage(
    store: Store, *, tenant_id: int, network_id: int, fault_id: int, at: float
) -> None:
    """Clear a detected outage's fault (the cell reports again); its outage alerts resolve."""
    with store.transaction() as session:
        loops.update_fault(session, tenant_id=tenant_id, network_id=network_id,
                           fault_id=fault_id, status="cleared", cleared_at=at)  # fmt: skip


def record_compensation(
    store: Store, *, tenant_id: int, network_id: int, comp: Compensation, fault_id: int,
    first_interval: int, apply: bool, now_s: float,
) -> int:  # fmt: skip
    """Record an outage's compensation as a loop run (applied, or awaiting approval).

    An applied one marks its fault ``compensated`` from ``first_interval``.
    """
    plan = {**comp.plan, "compensation": {**comp.plan["compensation"], "fault_id": fault_id}}
    with store.transaction() as session:
        run = runs.create_run(
            session, tenant_id=tenant_id, network_id=network_id, objective="compensation",
            solver="greedy", horizon_min=int(comp.plan["interval_min"]),
            request={"source": "closed_loop", "southbound": "o1", "window": first_interval},
            created_by=LOOP_ACTOR, now_s=int(now_s),
        )  # fmt: skip
        runs.finish_run(session, tenant_id=tenant_id, run_id=run.id, now_s=int(now_s),
                        plan=plan, confidence=comp.confidence, saving_pct=0.0)  # fmt: skip
        if apply:
            runs.decide_run(session, tenant_id=tenant_id, run_id=run.id, decision="applied",
                            by=LOOP_ACTOR, now_s=int(now_s))  # fmt: skip
        loops.update_fault(
            session, tenant_id=tenant_id, network_id=network_id, fault_id=fault_id,
            status="compensated" if apply else "active", compensation_run_id=run.id,
            compensated_at=now_s if apply else None,
            compensated_interval=first_interval if apply else None,
            recovered_ratio=comp.recovered_ratio,
        )  # fmt: skip
        return run.id


# -- act -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellsState:
    """The cell state the loop commits for one interval, as O1 expresses it.

    ``asleep`` maps each sleeping cell to its depth (``"light"``, ``"deep"``, ``"waking"``;
    ``ranopt.southbound.actions.ACTION_RULES``); ``chains`` maps each cell whose
    ``configuredMaxTxPower`` is set below all its chains to the chains it runs (a sleeping
    cell keeps the power last committed). Cells in neither are on with every chain.
    ``cio_db`` maps each cell given a cell individual offset (an outage's compensation) to it;
    other cells are at 0 dB.
    """

    asleep: dict[int, str] = field(default_factory=dict)
    chains: dict[int, int] = field(default_factory=dict)
    cio_db: dict[int, float] = field(default_factory=dict)

    @classmethod
    def from_window(cls, window: dict[str, Any], index: int) -> "CellsState":
        """Return a stored plan window's state in interval ``index`` (``window_states``).

        A window stored before muting and depths were planned has light sleeps and no muting.
        """
        asleep = [int(c) for c in window["asleep"][index]]
        depths = (window.get("sleep_depth") or [None] * len(window["asleep"]))[index]
        muted = (window.get("muted") or [[]] * len(window["asleep"]))[index]
        return cls(
            asleep={c: "light" if depths is None else str(depths[i]) for i, c in enumerate(asleep)},
            chains={int(c): int(n) for c, n in muted},
        )


def mutable_chains(store: Store, *, tenant_id: int, network_id: int, names: list[str]) -> list[int]:
    """Return each cell's chains with all on where O1 can mute it, else 0 (never muted).

    O1 can mute a cell whose NRSectorCarrier and power are known from discovery.
    """
    with store.transaction() as session:
        targets = cell_targets(session, tenant_id=tenant_id, network_id=network_id)
    out = []
    for name in names:
        t = targets.get(name)
        ok = t is not None and t.carrier_path is not None and t.max_tx_power_mw and t.num_trx
        out.append(int(t.num_trx or 0) if ok and t is not None else 0)
    return out


def steerable_cells(store: Store, *, tenant_id: int, network_id: int, names: list[str]) -> set[int]:
    """Return the cells whose CIO O1 can set: some discovered NRCellRelation points at them."""
    with store.transaction() as session:
        targets = cell_targets(session, tenant_id=tenant_id, network_id=network_id)
    return {c for c, n in enumerate(names) if n in targets and targets[n].incoming_relations}


def cio_actions(
    name: str, offset_db: float, baseline: Mapping[str, int] | None
) -> list[CellAction]:
    """Return the O1 actions that give cell ``name`` the offset ``offset_db`` on top of its own.

    ``baseline`` holds the network's own ``cellIndividualOffset`` of each relation pointing at
    the cell (relation local DN -> dB, read before ranopt raised it): each relation is set
    to its own value plus the offset (the nearest QOffsetRange value), so 0 dB restores it.
    Without one (None or empty: a run stored before baselines were read) every relation gets
    the offset itself, 0 dB the assumed baseline.
    """
    if not baseline:
        return [CellAction(cell=name, action="cio", value=offset_db)]
    return [CellAction(cell=name, action="cio", value=nearest_q_offset_db(own + offset_db),
                       relation=dn) for dn, own in sorted(baseline.items())]  # fmt: skip


def state_actions(
    names: list[str], target: CellsState, sent: CellsState | None, num_trx: list[int],
    baselines: Mapping[int, Mapping[str, int]] | None = None,
) -> tuple[list[CellAction], CellsState]:  # fmt: skip
    """Return the O1 actions that take the network from ``sent`` to ``target``, and the result.

    Sleep (with its depth) and wake where a cell's sleep changes; ``mimo`` (chains in use)
    where an awake cell's chains change, a cell that wakes getting its chains in the same
    transaction. A sleeping cell's power is left as it was (it radiates nothing). ``cio``
    where a cell's offset changes, on top of the network's own offsets (``baselines``: cell
    -> its incoming relations' own values, ``cio_actions``), which 0 dB restores. ``sent``
    None (nothing sent yet, or an element's outcome unknown): every cell's state is sent,
    chains included (all chains for a sleeping cell), every non-zero offset, and the own
    offsets of every cell in ``baselines`` (a revert the loop may not have sent). ``num_trx``
    is each cell's chains with all on (``mutable_chains``; 0: not mutable over O1, its chains
    are never sent).
    """
    actions: list[CellAction] = []
    chains: dict[int, int] = {}
    own = baselines or {}
    for c, name in enumerate(names):
        offset = target.cio_db.get(c, 0.0)
        before = None if sent is None else sent.cio_db.get(c, 0.0)
        if offset != before and (before is not None or offset != 0.0 or c in own):
            actions += cio_actions(name, offset, own.get(c))
        depth = target.asleep.get(c)
        if sent is None or sent.asleep.get(c) != depth:
            actions.append(CellAction(cell=name, action="wake") if depth is None
                           else CellAction(cell=name, action="sleep", value=depth))  # fmt: skip
        if not num_trx[c]:
            continue
        had = None if sent is None else sent.chains.get(c, num_trx[c])
        want = target.chains.get(c, num_trx[c])
        if depth is not None and had is not None:  # asleep: its power stays as committed
            if had < num_trx[c]:
                chains[c] = had
            continue
        if want != had:
            actions.append(CellAction(cell=name, action="mimo", value=want))
        if want < num_trx[c]:
            chains[c] = want
    cio = {c: v for c, v in target.cio_db.items() if v != 0.0}
    return actions, CellsState(asleep=dict(target.asleep), chains=chains, cio_db=cio)


def act(
    store: Store, *, tenant_id: int, network_id: int, actions: list[CellAction],
    keyring: Keyring, run_id: int | None, now_s: int,
) -> bool:  # fmt: skip
    """Send the actions as O1 transactions (one per element, recorded); True if all applied."""
    if not actions:
        return True
    outcomes = apply_actions(store, tenant_id=tenant_id, network_id=network_id, actions=actions,
                             keyring=keyring, actor=LOOP_ACTOR, now_s=now_s,
                             run_id=run_id)  # fmt: skip
    return all(o.outcome == "applied" for o in outcomes)
