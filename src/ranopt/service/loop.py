"""The closed loop of one network, one interval per ``step``: observe, detect, plan, apply.

Each step runs interval ``k`` of the network's twin (the telemetry source and actuator of the
embedded default) with the cell state the applied plans give it, beside the always-on
counterfactual on the same demand; stores the cells' counters and the interval's figures;
judges from the counters whether a cell failed and, if so, compensates it; then re-plans the
next window ``[k+1, k+H]`` on the forecast conditioned on today's observations, measures the
plan's confidence in the twin, and applies it when auto-apply is on and the confidence reaches
the network's threshold. A plan below it waits for a ``network_admin``.

Forecasts are fitted from the store (the home-cell demand of the previous 14 days), so the
loop resumes after a restart from what it stored. Before its first day the loop writes 14
days of always-on history, the network as it ran before ranopt.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from ranopt.errors import ValidationError
from ranopt.forecast import (
    Forecast,
    ForecastConfig,
    SeasonalForecaster,
    fit_forecaster,
    nowcast,
    predict,
)
from ranopt.optimize.compensate import CompensationResult, plan_compensation, recovered_ratio
from ranopt.optimize.confidence import (
    DemandDisaggregation,
    cell_demand,
    home_cells,
    perturbed_demands,
    plan_confidence,
)
from ranopt.optimize.energy import EnergyConfig
from ranopt.optimize.evaluate import EnergyConstraints, check_snapshot, evaluate_schedule
from ranopt.optimize.outage import OutageFinding, detect_outages, neighbour_lists
from ranopt.optimize.plan import Plan
from ranopt.optimize.rolling import (
    count_switching_breaks,
    plan_window,
    trailing_sleep,
    window_pins,
)
from ranopt.service.executor import configured_executor
from ranopt.service.optimize import plan_json
from ranopt.store import loops, runs
from ranopt.store import repository as repo
from ranopt.store.engine import Store
from ranopt.store.loops import LOOP_ACTOR, LOOP_EPOCH, LoopIntervalRow, LoopSettings
from ranopt.store.samples import SampleBatch
from ranopt.twin.fault import with_failed_cells
from ranopt.twin.model import Twin
from ranopt.twin.simulate import collect_kpis
from ranopt.twin.snapshot import CellState, Snapshot, evaluate_snapshot
from ranopt.twin.traffic import day_rng, expected_demand_mbps, realised_demand_mbps
from ranopt.twin.units import FloatArray, group_sum

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
logger = logging.getLogger("ranopt.service.loop")


@dataclass(frozen=True)
class LoopConfig:
    """How the loop forecasts and measures (the network's own settings are in the store)."""

    history_days: int = 14
    # per-cell forecast quantile a window plan must carry: high, because a window that
    # breaks is applied at once (0.9 and 0.95 each let a PRB-limit violation through on one
    # of two measured days, 0.975 none, for under 1 point of saving)
    planning_quantile: float = 0.975
    robust_scenarios: int = 6  # forecast scenarios each window plan is repaired on
    confidence_scenarios: int = 24  # other scenarios its confidence is measured on
    ue_dispersion_sigma: float = 0.3  # per-UE spread inside a cell (DayAheadConfig's)
    compensation_scenarios: int = 16  # demand perturbations a compensation is checked on
    compensation_sigma: float = 0.1  # their per-cell spread within the next interval
    limits: EnergyConstraints = field(default_factory=EnergyConstraints)
    # plans are made (and their confidence measured) against a stricter served-traffic check
    # than they are scored on: with margin 0 a plan may not serve less than the always-on
    # network at all in a congested interval, where scoring allows 0.01 % of numerical slack
    planning_served_margin: float = 0.0
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    epoch: datetime = LOOP_EPOCH  # wall-clock start of loop interval 0 (a Monday)


@dataclass(frozen=True)
class StepReport:
    """What one step did (for the runner's metrics and the tests)."""

    interval: int
    phase: str
    energy_kwh: float = 0.0
    always_on_energy_kwh: float = 0.0
    violations: int = 0
    switching_breaks: int = 0
    offered_mbit: float = 0.0  # traffic volumes over the interval
    served_mbit: float = 0.0
    always_on_served_mbit: float = 0.0
    plan_run_id: int | None = None
    plan_confidence: float | None = None
    plan_applied: bool = False
    compensations: tuple[int, ...] = ()  # fault ids compensated in this step


@dataclass
class _Compensation:
    fault_id: int
    cell: int
    woken: BoolArray  # [C] cells the compensation woke and holds awake
    cio_db: FloatArray  # [C]


@dataclass(frozen=True, eq=False)
class WindowForecast:
    """Demand forecast of a planning window, possibly across midnight (home cells)."""

    parts: list[tuple[Forecast, slice]]  # each day's forecast and the window's intervals of it
    planning_cells: FloatArray  # [H, C] the planning quantile
    disaggregation: DemandDisaggregation  # UE shares over the window's intervals

    def sample(self, rng: np.random.Generator, num_scenarios: int) -> FloatArray:
        """Draw window scenarios ``[K, H, C]`` (each day's part drawn from its forecast)."""
        return np.concatenate(
            [f.sample(rng, num_scenarios)[:, part] for f, part in self.parts], axis=1
        )


class NetworkLoop:
    """One network's closed loop over its twin; ``step`` runs one interval."""

    def __init__(
        self,
        store: Store,
        *,
        tenant_id: int,
        network_id: int,
        twin: Twin,
        seed: int,
        config: LoopConfig | None = None,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.network_id = network_id
        self.twin = twin
        self.seed = seed
        self.config = config or LoopConfig()
        self.clock = clock
        self.ipd = twin.scenario.intervals_per_day
        self.interval_s = twin.scenario.interval_min * 60
        self.home = home_cells(twin)
        self.neighbours = neighbour_lists(twin)
        self._cell_ids = self._load_cell_ids()
        self._day_demand: dict[int, FloatArray] = {}
        self._disaggregation: dict[int, DemandDisaggregation] = {}
        self._forecasts: dict[int, Forecast] = {}
        self._models: dict[int, SeasonalForecaster] = {}
        self._levels = tuple(sorted({0.05, 0.5, self.config.planning_quantile, 0.95}))
        self._applied: dict[int, BoolArray] = {}  # interval -> on/sleep mask in force
        self._applied_trx: dict[int, IntArray] = {}  # interval -> chains in use (muting)
        self._executed: dict[int, list[BoolArray]] = {}  # day -> masks run so far
        self._observed: dict[int, list[FloatArray]] = {}  # day -> home-cell demand so far
        self._known_failed: dict[int, int] = {}  # cell -> fault id, once detected
        self._compensations: dict[int, _Compensation] = {}  # fault id -> its held state
        self._previous_served: FloatArray | None = None
        self._resumed = False  # set once the first step has reloaded what memory lost
        self._approved_now: list[int] = []  # compensations a person approved in this step
        self._open_faults: list[loops.FaultOut] = []  # the open faults as this step read them
        self._decided: set[int] = set()  # approved runs already handed to the actuator

    # -- set-up ------------------------------------------------------------------------------

    def _load_cell_ids(self) -> npt.NDArray[np.int64]:
        with self.store.transaction() as session:
            by_name = loops.cell_ids_by_name(
                session, tenant_id=self.tenant_id, network_id=self.network_id
            )
        missing = [n for n in self.twin.cell_names if n not in by_name]
        if missing:
            msg = f"network {self.network_id} lacks the twin's cells {missing[:3]}"
            raise ValidationError(msg)
        return np.array([by_name[n] for n in self.twin.cell_names], dtype=np.int64)

    @property
    def history_intervals(self) -> int:
        """Intervals of always-on history written before the loop's first day."""
        return self.config.history_days * self.ipd

    def settings(self) -> LoopSettings:
        """Return the network's loop settings as stored now."""
        with self.store.transaction() as session:
            return loops.loop_settings(
                session, tenant_id=self.tenant_id, network_id=self.network_id
            )

    # -- the twin as telemetry source --------------------------------------------------------

    def day_demand(self, day: int) -> FloatArray:
        """Realised UE demand of a day ``[T, U]`` (the twin's truth; kept for two days)."""
        if day not in self._day_demand:
            self._day_demand = {d: v for d, v in self._day_demand.items() if d >= day - 1}
            self._day_demand[day] = realised_demand_mbps(
                self.twin.traffic, day, day_rng(self.seed, day)
            )
        return self._day_demand[day]

    def disaggregation(self, day: int) -> DemandDisaggregation:
        """UE shares of home-cell demand on ``day`` (from the seasonal mean, not the truth)."""
        if day not in self._disaggregation:
            self._disaggregation = {d: v for d, v in self._disaggregation.items() if d >= day - 1}
            self._disaggregation[day] = DemandDisaggregation.from_expected(
                expected_demand_mbps(self.twin.traffic, day), self.home, self.twin.num_cells
            )
        return self._disaggregation[day]

    def _home_demand(self, ue_demand: FloatArray) -> FloatArray:
        return np.asarray(
            cell_demand(ue_demand[None, :], self.home, self.twin.num_cells)[0], dtype=np.float64
        )

    # -- history -----------------------------------------------------------------------------

    def _write_history(self, session: Session, first: int) -> int:
        """Write the always-on history intervals from ``first``; return the next interval."""
        for k in range(first, self.history_intervals):
            day, t = divmod(k, self.ipd)
            home = self._home_demand(self.day_demand(day)[t])
            row = LoopIntervalRow(
                interval=k, phase="history", offered_mbps=float(home.sum()), served_mbps=None,
                power_w=None, always_on_served_mbps=None, always_on_power_w=None, violations=0,
                switching_breaks=0, home_demand_mbps=[round(float(v), 6) for v in home],
                asleep=[], failed=[], tick_s=None,
            )  # fmt: skip
            loops.record_interval(
                session, tenant_id=self.tenant_id, network_id=self.network_id, row=row,
                live=None, now_s=int(self.clock()),
            )  # fmt: skip
        return self.history_intervals

    def forecast(self, day: int) -> Forecast:
        """Day ``day``'s forecast, fitted on the stored home-cell demand of the days before."""
        if day not in self._forecasts:
            # fitted on history_days days; up to calibration_days before them calibrate it
            config = ForecastConfig(fit_days=self.config.history_days)
            first = max(0, day - config.fit_days - config.calibration_days)
            days = day - first
            with self.store.transaction() as session:
                rows = loops.intervals(
                    session, tenant_id=self.tenant_id, network_id=self.network_id,
                    first=first * self.ipd, stop=day * self.ipd,
                )  # fmt: skip
            if len(rows) != days * self.ipd:
                msg = f"day {day}: {len(rows)} stored intervals, need {days * self.ipd}"
                raise ValidationError(msg)
            history = np.array([r.home_demand_mbps for r in rows]).reshape(days, self.ipd, -1)
            model = fit_forecaster(history, np.arange(first, day) % 7, config)
            self._forecasts = {d: f for d, f in self._forecasts.items() if d >= day - 1}
            self._models = {d: m for d, m in self._models.items() if d >= day - 1}
            self._models[day] = model
            self._forecasts[day] = predict(model, weekday=day % 7, quantiles=self._levels)
        return self._forecasts[day]

    def next_day_forecast(self, day: int) -> Forecast:
        """Day ``day + 1``'s forecast from day ``day``'s model (tomorrow is not yet history)."""
        self.forecast(day)
        return predict(self._models[day], weekday=(day + 1) % 7, quantiles=self._levels)

    def _restore_day(self, day: int, upto: int) -> None:
        """Reload yesterday's and today's executed masks and today's observations."""
        if day in self._executed:
            self._executed = {d: m for d, m in self._executed.items() if d >= day - 1}
            return
        with self.store.transaction() as session:
            rows = loops.intervals(
                session, tenant_id=self.tenant_id, network_id=self.network_id,
                first=(day - 1) * self.ipd, stop=upto,
            )  # fmt: skip
        executed: dict[int, list[BoolArray]] = {day - 1: [], day: []}
        observed: list[FloatArray] = []
        for r in rows:
            if r.phase != "loop":
                continue
            mask = np.ones(self.twin.num_cells, dtype=bool)
            mask[r.asleep] = False
            executed[r.interval // self.ipd].append(mask)
            if r.interval // self.ipd == day:
                observed.append(np.array(r.home_demand_mbps))
        self._executed = executed
        self._observed = {day: observed}

    def _day_rows(self, day: int) -> BoolArray:
        """Return the executed on/sleep masks of ``day`` so far, ``[k, C]``."""
        rows = self._executed.get(day, [])
        return np.array(rows, dtype=bool).reshape(-1, self.twin.num_cells)

    def _carried(self, day: int) -> IntArray | None:
        """Return the sleep run each cell was in at the start of ``day`` (None: unknown)."""
        yesterday = self._day_rows(day - 1)
        return trailing_sleep(yesterday) if yesterday.shape[0] else None

    # -- faults and decisions from the store -------------------------------------------------

    def _sync_faults(self, session: Session) -> tuple[frozenset[int], list[int]]:
        """Return the failed cells and the faults that start now (requested ones)."""
        open_faults = loops.faults(
            session, tenant_id=self.tenant_id, network_id=self.network_id, open_only=True
        )
        self._open_faults = open_faults  # this step's view, for approvals and compensations
        open_ids = {f.id for f in open_faults}
        self._restore_compensations(session, open_faults)
        for f in open_faults:  # detected before a restart: still known
            if f.detected_at is not None:
                self._known_failed.setdefault(f.cell_index, f.id)
        # repaired cells: forget their detection and release the cells held for them
        for fault_id in [i for i in self._compensations if i not in open_ids]:
            del self._compensations[fault_id]
        self._known_failed = {c: i for c, i in self._known_failed.items() if i in open_ids}
        failed = frozenset(f.cell_index for f in open_faults)
        return failed, [f.id for f in open_faults if f.status == "requested"]

    def _resume(self, session: Session, k: int) -> None:
        """After a restart: the plans in force from ``k`` and the last interval's traffic."""
        applied = loops.loop_runs(
            session, tenant_id=self.tenant_id, network_id=self.network_id, status="applied",
            limit=4 * self.ipd,
        )  # fmt: skip
        for row in reversed(applied):  # oldest first: newer windows win
            self._decided.add(row.id)
            window = (row.plan or {}).get("window")
            if row.objective == "energy" and window:
                self._apply_window(window, k)
        start_s = int(self.config.epoch.timestamp()) + (k - 1) * self.interval_s
        volumes = loops.served_by_cell(
            session, tenant_id=self.tenant_id, network_id=self.network_id,
            interval_start_s=start_s,
        )  # fmt: skip
        if volumes:
            served = np.zeros(self.twin.num_cells)
            index = {int(cell_id): i for i, cell_id in enumerate(self._cell_ids)}
            for cell_id, volume in volumes.items():
                served[index[cell_id]] = volume / self.interval_s
            self._previous_served = served

    def _apply_window(self, window: dict[str, Any], k: int) -> None:
        """Hand a stored window's on/sleep masks and muting from interval ``k`` on to the actuator.

        ``window["muted"]`` holds, per interval, the ``[cell, chains]`` pairs of muted cells.
        """
        muted_rows = window.get("muted") or [[] for _ in window["asleep"]]
        for i, (asleep, muted) in enumerate(zip(window["asleep"], muted_rows, strict=True)):
            interval = int(window["first_interval"]) + i
            if interval >= k:
                mask = np.ones(self.twin.num_cells, dtype=bool)
                mask[asleep] = False
                self._applied[interval] = mask
                trx = self.twin.arrays.num_trx.astype(np.int64)
                for cell, chains in muted:
                    trx[int(cell)] = int(chains)
                self._applied_trx[interval] = trx

    def _load_decisions(self, session: Session, k: int) -> None:
        """Apply plans a person approved since the last step (their intervals from ``k``)."""
        rows = loops.loop_runs(
            session, tenant_id=self.tenant_id, network_id=self.network_id, status="applied",
            human_only=True,
        )  # fmt: skip
        for row in sorted(rows, key=lambda r: (r.decided_s or 0, r.id)):
            window = (row.plan or {}).get("window")
            if row.id in self._decided or not window:
                continue
            self._decided.add(row.id)
            if row.objective == "compensation":
                self._approve_compensation(session, row.id, row.plan or {}, k)
            else:
                self._apply_window(window, k)

    def _hold(self, fault_id: int, plan: dict[str, Any]) -> None:
        """Hold a compensation's wakes and CIO for as long as its fault stays open."""
        comp = plan["compensation"]
        woken = self._mask(set(comp["woken"]))
        cio = np.zeros(self.twin.num_cells)
        for cell, value in comp["cio_db"].items():
            cio[int(cell)] = value
        cell = self.twin.cell_names.index(comp["failed_cell"])
        self._compensations[fault_id] = _Compensation(fault_id, cell, woken, cio)

    def _approve_compensation(
        self, session: Session, run_id: int, plan: dict[str, Any], k: int
    ) -> None:
        """Apply a compensation a person approved, if its fault is still open."""
        fault_id = int(plan["compensation"]["fault_id"])
        fault = next((f for f in self._open_faults if f.id == fault_id), None)
        if fault is None:
            return
        self._hold(fault_id, plan)
        if fault.status == "compensated" and fault.compensation_run_id == run_id:
            return  # recorded before a restart
        done = loops.update_fault(
            session, tenant_id=self.tenant_id, network_id=self.network_id, fault_id=fault_id,
            status="compensated", compensated_at=self.clock(), compensated_interval=k,
            compensation_run_id=run_id,
        )  # fmt: skip
        if done is not None:
            self._approved_now.append(fault_id)

    def _restore_compensations(self, session: Session, faults: list[loops.FaultOut]) -> None:
        """After a restart, hold again what applied compensations of open faults hold."""
        for fault in faults:
            if (
                fault.status == "compensated"
                and fault.compensation_run_id is not None
                and fault.id not in self._compensations
            ):
                run = runs.get_run(
                    session, tenant_id=self.tenant_id, run_id=fault.compensation_run_id
                )
                if run.plan is not None and "compensation" in run.plan:
                    self._hold(fault.id, run.plan)
                    self._known_failed[fault.cell_index] = fault.id

    def _held_awake(self) -> BoolArray:
        """Return the cells the applied compensations hold awake, ``[C]`` (a new array)."""
        held = np.zeros(self.twin.num_cells, dtype=bool)
        for comp in self._compensations.values():
            held |= comp.woken
        return held

    def _state_in_force(self, k: int, failed: frozenset[int]) -> CellState:
        """Return the on/sleep mask, chains in use and CIO the actuator runs in interval ``k``.

        Cells a compensation holds awake run all their chains; sleeping cells sleep lightly
        (a window cannot know a sleep will be long enough for deep sleep).
        """
        active = self._applied.get(k, np.ones(self.twin.num_cells, dtype=bool)).copy()
        held = self._held_awake()
        active |= held
        full = self.twin.arrays.num_trx.astype(np.int64)
        trx = self._applied_trx.get(k, full).copy()
        trx[held] = full[held]
        cio = np.zeros(self.twin.num_cells)
        for comp in self._compensations.values():
            cio = np.maximum(cio, comp.cio_db)
        active[list(failed)] = False
        muted = bool((trx < full).any())
        return CellState(active=active, cio_db=cio, active_trx=trx if muted else None)

    # -- one interval ------------------------------------------------------------------------

    def step(self) -> StepReport:
        """Run the next interval (or, on a new network, write the history first)."""
        started = self.clock()
        settings = self.settings()
        k = settings.next_interval
        if k < self.history_intervals:
            with self.store.transaction() as session:
                self._write_history(session, k)
            return StepReport(interval=self.history_intervals - 1, phase="history")
        day, t = divmod(k, self.ipd)
        self._restore_day(day, k)
        self._approved_now = []
        with self.store.transaction() as session:
            if not self._resumed:
                self._resume(session, k)
                self._resumed = True
            failed, started_faults = self._sync_faults(session)
            self._load_decisions(session, k)
        phys = with_failed_cells(self.twin, failed)
        planned = self._state_in_force(k, frozenset()).active  # as if nothing had failed
        state = self._state_in_force(k, failed)
        demand = self.day_demand(day)[t]
        snap = evaluate_snapshot(phys, state, demand)
        reference_state = CellState.all_on(self.twin.num_cells)
        reference_state.active[list(failed)] = False
        reference = evaluate_snapshot(phys, reference_state, demand)
        check = check_snapshot(snap, reference, self.config.limits)
        executed = self._executed.setdefault(day, [])
        # a failed cell is neither asleep nor woken by a plan: its schedule entry stays "on"
        scheduled = state.active | self._mask(failed)
        breaks = count_switching_breaks(
            self._day_rows(day), scheduled, self.config.limits.rules, self._carried(day)
        )
        home = self._home_demand(demand)
        served_cell = group_sum(
            snap.serving_cell[snap.serving_cell >= 0],
            snap.served_mbps[snap.serving_cell >= 0],
            self.twin.num_cells,
        )
        reported = np.ones(self.twin.num_cells, dtype=bool)
        reported[list(failed)] = False
        live = self._live(k, snap, reference, state, failed)
        row = LoopIntervalRow(
            interval=k, phase="loop", offered_mbps=float(demand.sum()),
            served_mbps=float(snap.served_mbps.sum()), power_w=float(snap.power_w.sum()),
            always_on_served_mbps=float(reference.served_mbps.sum()),
            always_on_power_w=float(reference.power_w.sum()),
            violations=len(check.violations), switching_breaks=breaks,
            home_demand_mbps=[round(float(v), 6) for v in home],
            asleep=[int(c) for c in np.flatnonzero(~state.active) if c not in failed],
            failed=sorted(failed), tick_s=None,
        )  # fmt: skip
        with self.store.transaction() as session:
            self._write_counters(session, k, snap, reported)
            loops.record_interval(
                session, tenant_id=self.tenant_id, network_id=self.network_id, row=row,
                live=live, now_s=int(self.clock()),
            )  # fmt: skip
            # faults start with this interval's telemetry, in its transaction (a failed step
            # leaves them requested, so the retry records them)
            telemetry_at = self.clock()
            for fault_id in started_faults:
                loops.update_fault(
                    session, tenant_id=self.tenant_id, network_id=self.network_id,
                    fault_id=fault_id, expected=("requested",), status="active",
                    fault_interval=k, first_telemetry_at=telemetry_at,
                )  # fmt: skip
        executed.append(scheduled)
        self._observed.setdefault(day, []).append(home)
        previous = self._previous_served
        self._previous_served = served_cell
        compensated = (
            []
            if previous is None
            else self._detect(k, reported, served_cell, previous, failed, state, snap, demand,
                              planned)
        ) + self._approved_now  # fmt: skip
        plan_run, confidence, applied = self._plan_next(settings, k, failed)
        energy_h = self.interval_s / 3600.0 / 1000.0
        report = StepReport(
            interval=k, phase="loop", energy_kwh=row.power_w * energy_h if row.power_w else 0.0,
            always_on_energy_kwh=(row.always_on_power_w or 0.0) * energy_h,
            violations=row.violations, switching_breaks=breaks,
            offered_mbit=row.offered_mbps * self.interval_s,
            served_mbit=(row.served_mbps or 0.0) * self.interval_s,
            always_on_served_mbit=(row.always_on_served_mbps or 0.0) * self.interval_s,
            plan_run_id=plan_run,
            plan_confidence=confidence, plan_applied=applied, compensations=tuple(compensated),
        )  # fmt: skip
        with self.store.transaction() as session:
            loops.set_tick_seconds(
                session, tenant_id=self.tenant_id, network_id=self.network_id, interval=k,
                seconds=self.clock() - started,
            )  # fmt: skip
        self._forget_before(k)
        return report

    def _detect(
        self,
        k: int,
        reported: BoolArray,
        served_cell: FloatArray,
        previous: FloatArray,
        failed: frozenset[int],
        state: CellState,
        snap: Snapshot,
        demand: FloatArray,
        planned: BoolArray,
    ) -> list[int]:
        """Judge outages from interval ``k``'s counters; compensate new ones; return fault ids.

        ``planned`` is the on/sleep state the plans gave interval ``k`` (failed cells as
        planned, not as they ended up).
        """
        compensated: list[int] = []
        # the on/sleep state of interval k-1 (today's rows already hold interval k)
        day = k // self.ipd
        rows = self._day_rows(day)
        earlier = rows[:-1] if rows.shape[0] >= 2 else self._day_rows(day - 1)
        previous_active = earlier[-1] if earlier.shape[0] else state.active
        findings = detect_outages(
            reported, state.active, served_cell, previous, self.neighbours,
            previous_active=previous_active,
        )  # fmt: skip
        if any(f.cell not in self._known_failed for f in findings):
            # plans made before the failure are void: until a new plan that knows of it is
            # applied, the network runs with every cell on (and the compensation's holds);
            # those still waiting for approval can no longer be approved
            self._applied = {}
            self._applied_trx = {}
            with self.store.transaction() as session:
                loops.supersede_waiting(
                    session, tenant_id=self.tenant_id, network_id=self.network_id
                )
        for finding in findings:
            if finding.cell not in self._known_failed:
                done = self._compensate(k, finding, failed, state, snap, demand, planned)
                if done is not None:
                    compensated.append(done)
        return compensated

    def _mask(self, cells: frozenset[int] | set[int]) -> BoolArray:
        mask = np.zeros(self.twin.num_cells, dtype=bool)
        mask[sorted(cells)] = True
        return mask

    def _forget_before(self, k: int) -> None:
        self._applied = {i: m for i, m in self._applied.items() if i > k}
        self._applied_trx = {i: m for i, m in self._applied_trx.items() if i > k}

    def _live(
        self,
        k: int,
        snap: Snapshot,
        reference: Snapshot,
        state: CellState,
        failed: frozenset[int],
    ) -> dict[str, Any]:
        day, t = divmod(k, self.ipd)
        cells = []
        for c, name in enumerate(self.twin.cell_names):
            status = "failed" if c in failed else ("active" if state.active[c] else "asleep")
            cells.append(
                {
                    "id": int(self._cell_ids[c]),
                    "name": name,
                    "prb_load": round(float(snap.prb_load[c]) if status == "active" else 0.0, 4),
                    "state": status,
                    "cio_db": float(state.cio_db[c]),
                }
            )
        return {
            "network_id": self.network_id,
            "interval": k,
            "sim_min": k * self.twin.scenario.interval_min,
            "day": day,
            "minute_of_day": t * self.twin.scenario.interval_min,
            "interval_min": self.twin.scenario.interval_min,
            "offered_mbps": float(snap.demand_mbps.sum()),
            "served_mbps": float(snap.served_mbps.sum()),
            "power_w": float(snap.power_w.sum()),
            "always_on_power_w": float(reference.power_w.sum()),
            "cells": cells,
        }

    def _write_counters(
        self, session: Session, k: int, snap: Snapshot, reported: BoolArray
    ) -> None:
        """Store the reporting cells' TS 28.552 counters of interval ``k``."""
        kpis = collect_kpis([snap], self.twin.scenario.interval_min)
        num_prb = self.twin.arrays.num_prb.astype(np.float64)
        cells = np.flatnonzero(reported)
        values = {
            "prb_used_dl": kpis.prb_load[0] * num_prb,
            "prb_avail_dl": kpis.active[0].astype(np.float64) * num_prb,
            "prb_tot_dl_pct": 100.0 * kpis.prb_load[0],
            "ue_thp_dl_mbps": kpis.ue_thp_mbps[0],
            "rrc_conn_mean": kpis.num_ues[0].astype(np.float64),
            "pee_avg_power_w": kpis.power_w[0],
            "pee_energy_kwh": kpis.energy_kwh[0],
            "dl_volume_mbit": kpis.served_mbps[0] * self.interval_s,
            "offered_dl_volume_mbit": kpis.offered_mbps[0] * self.interval_s,
        }
        start_s = int(self.config.epoch.timestamp()) + k * self.interval_s
        batch = SampleBatch(
            cell_id=self._cell_ids[cells],
            interval_start_s=np.full(cells.size, start_s, dtype=np.int64),
            values={name: np.asarray(v, dtype=np.float64)[cells] for name, v in values.items()},
            suspect=np.zeros(cells.size, dtype=bool),
        )
        repo.upsert_samples(
            session, tenant_id=self.tenant_id, network_id=self.network_id, batch=batch
        )

    # -- compensation ------------------------------------------------------------------------

    def _compensate(
        self,
        k: int,
        finding: OutageFinding,
        failed: frozenset[int],
        state: CellState,
        snap: Snapshot,
        demand: FloatArray,
        planned: BoolArray,
    ) -> int | None:
        """Plan, verify and (above the threshold) apply a compensation; return the fault id."""
        detected_at = self.clock()
        settings = self.settings()
        fault = next((f for f in self._open_faults if f.cell_index == finding.cell), None)
        if fault is None:  # a cell went quiet with no fault injected: alert only
            with self.store.transaction() as session:
                runs.add_alert(
                    session, tenant_id=self.tenant_id, network_id=self.network_id,
                    severity="critical", kind="cell_outage",
                    message=f"{self.twin.cell_names[finding.cell]}: {finding.reason}, "
                    "no fault record", now_s=int(detected_at),
                )  # fmt: skip
            self._known_failed[finding.cell] = 0
            return None
        self._known_failed[finding.cell] = fault.id
        others = with_failed_cells(self.twin, failed - {finding.cell})
        day, t = divmod(k, self.ipd)
        # the demand the loop sees: this interval's home-cell demand spread over its UEs
        split = self.disaggregation(day)
        interval_split = replace(
            split, share=split.share[t : t + 1], uncovered_mbps=split.uncovered_mbps[t : t + 1]
        )
        estimate = interval_split.ue_demand(self._observed[day][-1][None, :])[0]
        # the state before the failure: the failed cell as planned (a sleeping cell that fails
        # orphans no one)
        with_cell = state.active | (planned & self._mask({finding.cell}))
        result = plan_compensation(
            others, estimate, finding.cell, active=with_cell, cio_db=state.cio_db
        )
        prior = CellState(active=with_cell, cio_db=state.cio_db)
        confidence = self._compensation_confidence(others, result, estimate, prior, k)
        # traffic lost in the fault's interval: the same state without the failure, minus it
        unfailed = evaluate_snapshot(others, state.with_active(with_cell), demand)
        lost = float(unfailed.served_mbps.sum() - snap.served_mbps.sum()) * self.interval_s
        woken = result.state.active & ~state.active
        woken[finding.cell] = False
        stored = _plan_json(result.plan, confidence, k + 1)
        stored["compensation"] = {
            "fault_id": fault.id,
            "failed_cell": self.twin.cell_names[finding.cell],
            "reason": finding.reason,
            "recovered_ratio": result.recovered_ratio(result.after),
            "unaided_ratio": result.recovered_ratio(result.unaided),
            "woken": [int(c) for c in np.flatnonzero(woken)],
            "cio_db": {str(c): float(result.state.cio_db[c])
                       for c in np.flatnonzero(result.state.cio_db)},
        }  # fmt: skip
        apply = settings.auto_apply and confidence >= settings.confidence_threshold
        with self.store.transaction() as session:
            runs.add_alert(
                session, tenant_id=self.tenant_id, network_id=self.network_id,
                severity="critical", kind="cell_outage",
                message=(
                    f"{fault.cell_name} failed ({finding.reason}) in interval {k}; "
                    f"compensation recovers {result.recovered_ratio(result.after):.0%} of its "
                    f"traffic (unaided {result.recovered_ratio(result.unaided):.0%})"
                ),
                now_s=int(detected_at),
            )  # fmt: skip
            run_id = self._record_run(
                session, "compensation", "greedy", stored, confidence, 0.0, apply
            )
            applied_at = self.clock()
            recorded = loops.update_fault(
                session, tenant_id=self.tenant_id, network_id=self.network_id,
                fault_id=fault.id, expected=("active",),
                status="compensated" if apply else "active", detected_at=detected_at,
                compensated_at=applied_at if apply else None,
                compensated_interval=k + 1 if apply else None, compensation_run_id=run_id,
                lost_mbit=max(lost, 0.0), recovered_ratio=result.recovered_ratio(result.after),
            )  # fmt: skip
        if apply and recorded is not None:  # None: repaired meanwhile, nothing to hold
            self._hold(fault.id, stored)
        return fault.id if apply and recorded is not None else None

    def _compensation_confidence(
        self,
        twin: Twin,
        result: CompensationResult,
        estimate: FloatArray,
        prior: CellState,
        k: int,
    ) -> float:
        """Share of perturbed demands on which the compensation serves the orphans no worse.

        ``prior`` is the state before the failure; no action is that state without the cell.
        """
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, k, 1]))
        scenarios = perturbed_demands(
            estimate, self.home, self.twin.num_cells, rng,
            self.config.compensation_scenarios, self.config.compensation_sigma,
        )  # fmt: skip
        unaided_state = prior.with_active(prior.active & ~self._mask({result.failed_cell}))
        held = 0
        for demand in scenarios:
            before = evaluate_snapshot(twin, prior, demand)
            after = evaluate_snapshot(twin, result.state, demand)
            unaided = evaluate_snapshot(twin, unaided_state, demand)
            gain = recovered_ratio(before, after, result.orphans)
            held += int(gain >= recovered_ratio(before, unaided, result.orphans) - 1e-6)
        return held / len(scenarios)

    # -- energy planning ---------------------------------------------------------------------

    def _window_forecast(self, day: int, t1: int, horizon: int) -> "WindowForecast":
        """Return the window's forecast: today's rest conditioned on today, then tomorrow's.

        Today's part is the nowcast (the day's forecast conditioned on its observed intervals,
        the exact Gaussian update); a window crossing midnight continues with tomorrow's
        day-ahead forecast, sampled independently of today's.
        """
        today_n = min(horizon, self.ipd - t1)
        observed = self._observed.get(day, [])[:t1]
        day_ahead = self.forecast(day)
        today = nowcast(day_ahead, np.array(observed)) if observed else day_ahead
        offset = 0 if observed else t1
        parts = [(today, slice(offset, offset + today_n), self.disaggregation(day), t1)]
        if horizon > today_n:
            parts.append(
                (self.next_day_forecast(day), slice(0, horizon - today_n),
                 self.disaggregation(day + 1), 0)
            )  # fmt: skip
        level = self._levels.index(self.config.planning_quantile)
        shares, uncovered = [], []
        for _, part, disaggregation, start in parts:
            stop = start + part.stop - part.start
            shares.append(disaggregation.share[start:stop])
            uncovered.append(disaggregation.uncovered_mbps[start:stop])
        return WindowForecast(
            parts=[(f, p) for f, p, _, _ in parts],
            planning_cells=np.vstack([f.quantiles[level][p] for f, p, _, _ in parts]),
            disaggregation=DemandDisaggregation(
                home=self.home, share=np.vstack(shares), uncovered_mbps=np.vstack(uncovered)
            ),
        )

    def _plan_next(
        self, settings: LoopSettings, k: int, failed: frozenset[int]
    ) -> tuple[int | None, float | None, bool]:
        """Plan the window after ``k``, measure it, and apply it if allowed; return the run."""
        first = k + 1
        day, t1 = divmod(first, self.ipd)
        horizon = settings.horizon_intervals
        if settings.solver not in {"greedy", "exact", "anneal"}:
            return None, None, False
        window = self._window_forecast(day, t1, horizon)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, first]))
        sigma = self.config.ue_dispersion_sigma
        window_disagg = window.disaggregation
        planning = window_disagg.ue_demand(window.planning_cells)
        paths = window.sample(rng, self.config.robust_scenarios)
        robust = [window_disagg.ue_demand(p, rng, sigma) for p in paths]
        executed_arr = self._day_rows(day)  # empty when the window opens a new day
        carried = self._carried(day)
        previous = self._day_rows(k // self.ipd)[-1]  # the state run in interval k
        previous_trx = self._applied_trx.get(k)
        held = self._held_awake()
        held[list(self._known_failed)] = True
        held[list(failed)] = True  # a failed cell cannot be put to sleep (nor woken)
        pins = window_pins(executed_arr, horizon, self.config.limits.rules, held, carried)
        planner_twin = with_failed_cells(self.twin, frozenset(self._known_failed))
        limits = replace(self.config.limits, ratio_tolerance=-self.config.planning_served_margin)
        plan = plan_window(
            planner_twin, planning, robust, settings.solver, executed_arr, pins,
            limits=limits, config=self.config.energy, rng=rng,
            t0_min=(first % self.ipd) * self.twin.scenario.interval_min, carried_run=carried,
            previous=previous, previous_trx=previous_trx,
        )  # fmt: skip
        scenarios = window.sample(rng, self.config.confidence_scenarios)
        confidence, _ = plan_confidence(
            planner_twin, plan.active, scenarios, window_disagg, limits, rng, sigma,
            trx=plan.active_trx, map_tasks=configured_executor().map,
        )  # fmt: skip
        # the expected figures are scored as the loop's intervals are, on the scoring limits
        scored = evaluate_schedule(
            planner_twin, planning, plan.active, self.config.limits, trx=plan.active_trx
        )
        expected = replace(scored, rule_violations=0).kpis()
        plan = replace(plan, confidence=confidence, expected=expected)
        apply = settings.auto_apply and confidence >= settings.confidence_threshold
        saving = plan.expected.saving_pct if plan.expected is not None else 0.0
        with self.store.transaction() as session:
            run_id = self._record_run(
                session, "energy", settings.solver,
                _plan_json(plan, confidence, first, self.twin.arrays.num_trx.astype(np.int64)),
                confidence, saving, apply,
            )  # fmt: skip
        if apply:
            full = self.twin.arrays.num_trx.astype(np.int64)
            for i in range(horizon):
                self._applied[first + i] = plan.active[i]
                trx = full if plan.active_trx is None else plan.active_trx[i]
                self._applied_trx[first + i] = trx.copy()
        return run_id, confidence, apply

    def _record_run(
        self,
        session: Session,
        objective: str,
        solver: str,
        stored: dict[str, Any],
        confidence: float,
        saving_pct: float,
        apply: bool,
    ) -> int:
        now = int(self.clock())
        run = runs.create_run(
            session, tenant_id=self.tenant_id, network_id=self.network_id, objective=objective,
            solver=solver, horizon_min=stored["num_intervals"] * stored["interval_min"],
            request={"source": "closed_loop", "window": stored["window"]["first_interval"]},
            created_by=LOOP_ACTOR, now_s=now,
        )  # fmt: skip
        runs.finish_run(
            session, tenant_id=self.tenant_id, run_id=run.id, now_s=now, plan=stored,
            confidence=confidence, saving_pct=saving_pct,
        )  # fmt: skip
        if apply:
            runs.decide_run(
                session, tenant_id=self.tenant_id, run_id=run.id, decision="applied",
                by=LOOP_ACTOR, now_s=now,
            )  # fmt: skip
        return run.id


def _plan_json(
    plan: Plan, confidence: float, first_interval: int, num_trx: IntArray | None = None
) -> dict[str, Any]:
    """Return the plan as a run stores it, with the window's masks and muting for the actuator.

    ``muted`` lists, per interval, ``[cell, chains]`` of the active cells below ``num_trx``.
    """
    stored = plan_json(plan, confidence, num_trx)
    stored["solve"]["detail"] = plan.solve.detail
    muted: list[list[list[int]]] = [[] for _ in range(plan.num_intervals)]
    if plan.active_trx is not None and num_trx is not None:
        for i, (on, row) in enumerate(zip(plan.active, plan.active_trx, strict=True)):
            muted[i] = [[int(c), int(row[c])] for c in np.flatnonzero(on & (row < num_trx))]
    stored["window"] = {
        "first_interval": first_interval,
        "asleep": [[int(c) for c in np.flatnonzero(~row)] for row in plan.active],
        "muted": muted,
    }
    return stored
