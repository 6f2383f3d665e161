"""The closed loop of a network reached through O1 / A1: counters in, O1 transactions out.

Each ``step`` accounts every interval whose counters arrived since the last step (observe,
detect, account: ``ranopt.service.stages``), then makes sure the interval after the one the
network is running now has its state sent: it plans a window on the calibrated model when no
plan covers that interval (recalibrated once a day, on the whole days before today), applies
it when auto-apply is on and its confidence reaches the threshold, and sends the cells'
changes over O1: sleep with its depth, wake, MIMO muting, and an outage's compensation
(wake-ups and CIO, planned on the calibrated model when a cell has a raised VES fault alarm,
or is silent and its ``operationalState`` is not ENABLED; reverted when it reports again with
no alarm raised). A compensation's CIO goes on top of the network's own offsets, read over
O1 before they are raised, and its revert restores them; one a person approves is held and
sent by the loop as its own are; on start the loop reconciles the open faults (a cell that
came back while it was down has its fault cleared and its compensation reverted). The
network runs interval ``k`` with the
configuration committed when ``k`` began; counters of ``k`` arrive after it ended, when
``k + 1`` runs already, so the state sent after accounting ``k`` is the one of ``k + 2``.

Loop interval ``j`` starts at ``LoopSettings.epoch_s + j * interval_s``, on the network's
own clock (the timestamps of its counters). Nothing here reads the network's internals:
topology and stored counters in, O1 replies back.
"""

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ranopt.calibrate import InsufficientTelemetryError
from ranopt.calibrate.history import SECONDS_PER_DAY, weekday_at
from ranopt.errors import ValidationError
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.service import stages
from ranopt.service.calibration import NetworkCalibrationConfig, NetworkModel
from ranopt.service.loop import StepReport
from ranopt.service.plan_network import NetworkPlanRequest
from ranopt.store import loops, runs
from ranopt.store import repository as repo
from ranopt.store.engine import Store
from ranopt.store.kpi_watch import utc
from ranopt.store.loops import LoopSettings
from ranopt.store.networks import network_by_id
from ranopt.store.secrets import Keyring
from ranopt.twin.power import LIGHT_SLEEP, SLEEP_STATES
from ranopt.twin.snapshot import CellState, evaluate_snapshot

logger = logging.getLogger("ranopt.service.southbound_loop")
PLAN_HISTORY_DAYS = 14  # latest days the forecast of a window is fitted on
CONFIDENCE_SCENARIOS = 24


def plan_in_force(
    store: Store, *, tenant_id: int, network_id: int, interval: int, after: int | None = None
) -> tuple[int, stages.CellsState] | None:
    """Return the newest applied loop plan covering ``interval``: run id, its cell state then.

    The state: cells asleep with their depth, awake cells muted with their chains. A plan
    whose window opens at or before ``after`` is void (made before an outage began or ended).
    """
    with store.transaction() as session:
        applied = loops.loop_runs(session, tenant_id=tenant_id, network_id=network_id,
                                  status="applied", limit=4)  # fmt: skip
        for run in applied:
            window = (run.plan or {}).get("window") or {}
            first, asleep = window.get("first_interval"), window.get("asleep")
            if first is None or asleep is None or (run.plan or {}).get("compensation"):
                continue
            if after is not None and first <= after:
                continue
            if first <= interval < first + len(asleep):
                return run.id, stages.CellsState.from_window(window, interval - first)
    return None


def modelled_always_on(
    model: NetworkModel | None, row: loops.LoopIntervalRow, start_s: int,
    sent: stages.CellsState | None = None,
) -> loops.LoopIntervalRow:  # fmt: skip
    """Fill an accounted row's always-on power and served traffic from ranopt's own model.

    A network never reports its always-on counterfactual. The estimate is what was observed
    plus what the calibrated model says the sleeping cells changed: the model with every cell
    on minus the model with the row's cells asleep, at the interval's estimated home-cell
    demand (``with_recent_counters``, sleeping cells included). With nothing asleep always-on
    is what was observed (no model needed); a row the model does not cover (or, with cells
    asleep, no model yet) is returned unchanged. ``sent`` is the state the loop committed
    for the row's interval, when it knows it: the counters show neither muting nor sleep
    depth, so the model runs its muted awake cells muted and its sleeping cells at their
    depth.
    """
    if row.power_w is None or row.served_mbps is None:
        return row
    muted = {} if sent is None else {c: n for c, n in sent.chains.items() if c not in row.asleep}
    if not row.asleep and not muted:
        return row.model_copy(update={"always_on_power_w": row.power_w,
                                      "always_on_served_mbps": row.served_mbps})  # fmt: skip
    if model is None:
        return row
    history = model.history
    index = (start_s - history.start_s) // history.interval_s
    home = model.calibration.home_demand.mbps
    if not 0 <= index < home.shape[0]:
        return row
    cal = model.calibration.model
    weekday = weekday_at(start_s)
    demand = cal.ue_demand(home[index], weekday, (start_s % SECONDS_PER_DAY) // history.interval_s)
    twin = cal.twin
    on = evaluate_snapshot(twin, CellState.all_on(twin.num_cells), demand)
    state = CellState.all_on(twin.num_cells)
    state.active[row.asleep] = False
    if muted:
        trx = twin.arrays.num_trx.astype(np.int64)
        for c, n in muted.items():
            trx[c] = min(n, int(trx[c]))
        state = replace(state, active_trx=trx)
    if sent is not None and sent.asleep:
        depth = np.full(twin.num_cells, LIGHT_SLEEP, dtype=np.int64)
        for c, name in sent.asleep.items():
            depth[c] = SLEEP_STATES.index(name)
        state = replace(state, sleep_state=depth)
    slept = evaluate_snapshot(twin, state, demand)
    return row.model_copy(update={
        "always_on_power_w": row.power_w + float(on.power_w.sum() - slept.power_w.sum()),
        "always_on_served_mbps": row.served_mbps
        + float(on.served_mbps.sum() - slept.served_mbps.sum()),
    })  # fmt: skip


class DayModels:
    """Models calibrated in this process, by database, network, its cells and day.

    A loop that starts again in the same process (a failed step, its lease taken back, the
    loop switched off and on) reuses its day's model instead of calibrating again (minutes
    on a large network), as a running loop keeps it all day: a day's model is fitted on the
    whole days before it. A new process calibrates again; beyond ``size`` the least recently
    stored goes.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._models: OrderedDict[tuple[object, ...], NetworkModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> NetworkModel | None:
        """Return the model stored under ``key`` (None: none)."""
        with self._lock:
            return self._models.get(key)

    def put(self, key: tuple[object, ...], model: NetworkModel) -> None:
        """Keep ``model``; the oldest goes beyond ``size``."""
        with self._lock:
            self._models[key] = model
            self._models.move_to_end(key)
            while len(self._models) > self.size:
                self._models.popitem(last=False)


DAY_MODELS = DayModels(size=8)


class SouthboundLoop:
    """One network's closed loop through its interfaces; ``step`` catches up and acts."""

    def __init__(
        self,
        store: Store,
        *,
        tenant_id: int,
        network_id: int,
        keyring: Keyring,
        clock: Callable[[], float],
        limits: EnergyConstraints | None = None,
        calibration: NetworkCalibrationConfig | None = None,
        seed: int = 0,
    ) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.network_id = network_id
        self.keyring = keyring
        self.clock = clock
        self.limits = limits or EnergyConstraints()
        self.calibration = calibration or NetworkCalibrationConfig()
        self.seed = seed  # the planner's own randomness, never the network's
        with store.transaction() as session:
            network = network_by_id(session, tenant_id=tenant_id, network_id=network_id)
            cells = repo.network_cells(session, tenant_id=tenant_id, network_id=network_id)
        self.interval_s = network.interval_s
        self.ids = stages.cell_ids(store, tenant_id=tenant_id, network_id=network_id)
        by_id = {c.id: c.name for c in cells}
        self.names = [by_id[i] for i in self.ids]
        self._model: NetworkModel | None = None
        self._model_end_s: int | None = None
        self._recent: NetworkModel | None = None  # the model with the newest counters' demand
        self._insufficient: str | None = None  # the last "too little history" message alerted
        # last interval the newest plan covers (None: none yet; loop intervals before the
        # loop epoch are negative, so no number can stand for "none")
        self._planned_until: int | None = None
        self._sent: stages.CellsState | None = None  # as last committed (None: unknown)
        self._chains: list[int] | None = None  # cells' chains where O1 can mute them
        self._steerable: set[int] | None = None  # cells whose CIO O1 can set
        self._committed: dict[int, stages.CellsState] = {}  # loop interval -> state sent
        self._silent: set[int] = set()  # cells silent in the newest accounted interval
        # outages (silent cells O1 does not show in service): failed cell -> its applied
        # compensation (None: none applied); plans whose window opens at or before
        # _void_through were made before the newest outage began or ended
        self._outages: dict[int, stages.Compensation | None] = {}
        self._fault_ids: dict[int, int] = {}  # failed cell -> its fault record
        self._void_through: int | None = None
        self._cut_off: set[int] = set()  # silent cells O1 shows in service: counters missing
        # the network's own CIO of each cell ranopt raises or must restore (relation local DN
        # -> dB, read over O1 before raising it; empty: unknown, 0 dB assumed)
        self._baselines: dict[int, dict[str, int]] = {}
        self._taken: set[int] = set()  # compensation runs held (or found held at start)
        self._acting_for: int | None = None  # the compensation run this step's O1 sends
        self._reconciled = False  # open faults taken up from the store (after a start)

    def settings(self) -> LoopSettings:
        """Return the network's loop settings as stored now."""
        with self.store.transaction() as session:
            return loops.loop_settings(session, tenant_id=self.tenant_id,
                                       network_id=self.network_id)  # fmt: skip

    def start_s(self, settings: LoopSettings, interval: int) -> int:
        """Epoch seconds at which loop interval ``interval`` starts."""
        return settings.epoch_s + interval * self.interval_s

    def interval_at(self, settings: LoopSettings, start_s: int) -> int:
        """Return the loop interval starting at ``start_s``."""
        return (start_s - settings.epoch_s) // self.interval_s

    def step(self) -> StepReport:
        """Account the intervals whose counters arrived, then plan and act for the next one."""
        settings = self.settings()
        newest = stages.newest_sample_s(self.store, tenant_id=self.tenant_id,
                                        network_id=self.network_id)  # fmt: skip
        if newest is None:
            return StepReport(interval=settings.next_interval, phase="waiting")
        act_now = False
        if not self._reconciled:  # a start: open faults from the store, ended ones reverted
            act_now = self._reconcile(settings, newest)
        k = settings.next_interval
        if k == 0 or self.start_s(settings, k) < newest - SECONDS_PER_DAY:
            # a new loop (or one stopped for over a day) starts after the newest counters
            k = self.interval_at(settings, newest) + 1
            with self.store.transaction() as session:
                settings = loops.set_clock(session, tenant_id=self.tenant_id,
                                           network_id=self.network_id, next_interval=k,
                                           now_s=int(self.clock()))  # fmt: skip
        rows: list[tuple[loops.LoopIntervalRow, dict[str, object] | None, set[int]]] = []
        while self.start_s(settings, k) <= newest:
            rows.append(self._account(settings, k))
            k += 1
        if not rows:  # no new counters: act only on an approval or what a start found
            if self._take_approvals(k) or act_now:
                self._plan_and_act(settings, k)
            return StepReport(interval=k, phase="waiting")
        if rows[-1][1] is not None:  # a gap row (nothing reported) says nothing of cells
            self._silent = rows[-1][2]
            self._track_outages(settings, rows[-1][0].interval, k)
        self._take_approvals(k)
        run_id, confidence, applied = self._plan_and_act(settings, k)
        rows = [(self._always_on(settings, row), live, silent) for row, live, silent in rows]
        for row, live, _ in rows:
            if live is not None:
                live["always_on_power_w"] = row.always_on_power_w
        self._record(rows)  # last: the clock moves once the next state is sent
        power = sum(r.power_w or 0.0 for r, _, _ in rows)
        return StepReport(
            interval=k - 1, phase="loop", energy_kwh=power * self.interval_s / 3.6e6,
            violations=sum(r.violations for r, _, _ in rows),
            served_mbit=sum(r.served_mbps or 0.0 for r, _, _ in rows) * self.interval_s,
            plan_run_id=run_id, plan_confidence=confidence, plan_applied=applied,
        )  # fmt: skip

    # -- observe, detect, account ------------------------------------------------------------

    def _account(
        self, settings: LoopSettings, k: int
    ) -> tuple[loops.LoopIntervalRow, dict[str, object] | None, set[int]]:
        """Observe interval ``k``, detect silent cells, and make its row (stored later)."""
        start_s = self.start_s(settings, k)
        observation = stages.observe(self.store, tenant_id=self.tenant_id,
                                     network_id=self.network_id, ids=self.ids,
                                     start_s=start_s, interval_s=self.interval_s)  # fmt: skip
        if observation is None:  # the network reported nothing for it (later ones arrived)
            row = loops.LoopIntervalRow(
                interval=k, phase="gap", offered_mbps=0.0, served_mbps=None, power_w=None,
                always_on_served_mbps=None, always_on_power_w=None, violations=0,
                switching_breaks=0, home_demand_mbps=[], asleep=[], failed=[], tick_s=None,
            )  # fmt: skip
            return row, None, set()
        live: dict[str, object] = dict(stages.live_view(observation, k, self.names, self.ids))
        return (stages.account(observation, k, self.limits, None), live,
                set(stages.detect_silent(observation)))  # fmt: skip

    def _always_on(
        self, settings: LoopSettings, row: loops.LoopIntervalRow
    ) -> loops.LoopIntervalRow:
        """Return the row with ranopt's always-on estimate (``modelled_always_on``) once calibrated.

        The model is brought up to the row's counters when it does not cover them yet.
        """
        start_s = self.start_s(settings, row.interval)
        sent = self._committed.get(row.interval)
        if row.power_w is None or self._model is None:
            return modelled_always_on(None, row, start_s, sent)
        stale = self._recent is None or self._recent.last_sample_s < start_s
        if (row.asleep or (sent is not None and sent.chains)) and stale:
            self._recent = stages.with_recent_counters(self.store, self._model,
                                                       tenant_id=self.tenant_id,
                                                       max_days=PLAN_HISTORY_DAYS)  # fmt: skip
        return modelled_always_on(self._recent or self._model, row, start_s, sent)

    def _record(
        self, rows: list[tuple[loops.LoopIntervalRow, dict[str, object] | None, set[int]]]
    ) -> None:
        """Store the accounted rows in one transaction."""
        now = int(self.clock())
        with self.store.transaction() as session:
            for row, live, _ in rows:
                loops.record_interval(session, tenant_id=self.tenant_id,
                                      network_id=self.network_id, row=row, live=live,
                                      now_s=now)  # fmt: skip

    # -- detect and compensate outages -------------------------------------------------------

    def _alert(self, severity: str, message: str) -> None:
        with self.store.transaction() as session:
            runs.add_alert(session, tenant_id=self.tenant_id, network_id=self.network_id,
                           severity=severity, kind="cell_outage", now_s=int(self.clock()),
                           message=message)  # fmt: skip

    def _track_outages(self, settings: LoopSettings, j: int, k: int) -> None:
        """Judge interval ``j``'s silent cells; compensate new outages, revert ended ones.

        A cell that sent no counters is out of service when a VES fault alarm is raised on it
        (``ranopt.store.ves_faults``), or O1 shows it so (``operationalState`` DISABLED) or
        cannot say (its element does not answer); one O1 shows ENABLED only lost its
        counters: every cell is kept awake while it is silent, with no compensation. A raised
        VES alarm on a cell that still reports is an outage too, compensated at once, without
        waiting for a silent interval. An outage ends when the cell reports again and no VES
        alarm is raised on it.
        """
        alarms = stages.ves_alarms(self.store, tenant_id=self.tenant_id, ids=self.ids,
                                   network_id=self.network_id)  # fmt: skip
        for cell in sorted(set(self._outages) - self._silent - set(alarms)):
            comp = self._outages.pop(cell)
            self._void_through, self._planned_until = j, None  # re-plan with the cell back
            fault_id = self._fault_ids.pop(cell, None)
            if fault_id is not None:  # resolves its outage alerts
                stages.close_outage(self.store, tenant_id=self.tenant_id,
                                    network_id=self.network_id, fault_id=fault_id,
                                    at=self.clock())  # fmt: skip
            self._alert("info", f"{self.names[cell]}: reports again in loop interval {j}; "
                        + ("its compensation is reverted" if comp else "outage over"))  # fmt: skip
        for cell in sorted(self._cut_off - self._silent):
            self._cut_off.discard(cell)
        silent = self._silent - set(self._outages)
        new = sorted((silent - self._cut_off) | (set(alarms) - set(self._outages)))
        if not new:
            return
        ask = [c for c in new if c not in alarms]  # a raised alarm needs no O1 read
        states: dict[int, str | None] = {}
        if ask:
            states = stages.operational_states(self.store, tenant_id=self.tenant_id,
                                               network_id=self.network_id,
                                               keyring=self.keyring, cells=ask)  # fmt: skip
        for cell in new:
            name = self.names[cell]
            if cell not in alarms and states[cell] == "ENABLED":
                self._cut_off.add(cell)
                self._alert("warning", f"{name}: sent no counters in loop interval {j} but O1 "
                            "shows it in service (operationalState ENABLED): its counters are "
                            "missing; every cell is kept awake while it is silent")  # fmt: skip
                continue
            self._cut_off.discard(cell)
            self._outages[cell] = None
            self._void_through, self._planned_until = j, None  # plans made before it are void
            if cell in alarms:
                raised = f"VES fault raised {utc(alarms[cell])}"
                seen = f"silent, {raised}" if cell in silent else f"{raised}, still reporting"
            elif states[cell]:
                seen = f"silent, operationalState {states[cell]}"
            else:
                seen = "silent, its element did not answer over O1"
            since = j if cell in silent else j + 1  # reporting: out from the next interval
            self._fault_ids[cell] = stages.open_outage(
                self.store, tenant_id=self.tenant_id, network_id=self.network_id, cell=cell,
                name=name, interval=since, at=self.clock(),
                by=stages.VES_DETECTOR if cell in alarms else stages.OUTAGE_DETECTOR,
            )  # fmt: skip
            self._compensate(settings, cell, f"{name}: out of service since loop interval "
                             f"{since} ({seen})", j, k)  # fmt: skip

    def _compensate(self, settings: LoopSettings, cell: int, what: str, j: int, k: int) -> None:
        """Plan the outage's compensation on the model, record it, hold it if applied; alert.

        ``what`` says which cell is out since when and on what evidence. The network's own
        offsets of the cells it raises are read over O1 first (kept in the run), whether it
        is applied now or waits for a person's approval.
        """
        model = self._model_for(settings, k)
        if model is None:
            self._alert("critical", f"{what}; no calibrated model yet: every cell is kept awake, "
                        "no compensation")  # fmt: skip
            return
        committed = self._committed.get(j)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, j % 2**64, 1]))
        comp = stages.plan_outage_compensation(
            model, cell, start_s=self.start_s(settings, j),
            asleep=set() if committed is None else set(committed.asleep),
            other_failed=frozenset(self._outages), rng=rng,
        )  # fmt: skip
        # the network's own offsets of the cells it raises, read before anything is raised
        comp = comp.with_baseline({} if not comp.cio_db else stages.cio_baselines(
                self.store, tenant_id=self.tenant_id, network_id=self.network_id,
                keyring=self.keyring, names=self.names, cells=set(comp.cio_db),
                known=self._baselines,
            ))  # fmt: skip
        apply = settings.auto_apply and comp.confidence >= settings.confidence_threshold
        run_id = stages.record_compensation(
            self.store, tenant_id=self.tenant_id, network_id=self.network_id, comp=comp,
            fault_id=self._fault_ids[cell], first_interval=k + 1, apply=apply,
            now_s=self.clock(),
        )  # fmt: skip
        if apply:
            self._hold(cell, comp, run_id)
        self._alert("critical", (
            f"{what}; compensation (run {run_id}) wakes {len(comp.woken)} cells and raises the "
            f"CIO of {len(comp.cio_db)}, recovering {comp.recovered_ratio:.0%} of its "
            f"traffic in the model (unaided {comp.unaided_ratio:.0%}), confidence "
            f"{comp.confidence:.2f}: " + ("applied" if apply else "awaiting approval")
        ))  # fmt: skip

    def _hold(self, cell: int, comp: stages.Compensation, run_id: int) -> None:
        """Hold an applied compensation from the next O1 send on: its wakes and its CIO."""
        self._outages[cell] = comp
        self._taken.add(run_id)
        self._acting_for = run_id
        for c, own in comp.cio_baseline.items():  # a cell raised already keeps its first
            self._baselines.setdefault(c, own)

    def _take_approvals(self, k: int) -> bool:
        """Hold the compensations a person approved since the last step; True if any.

        Only one whose fault is still open and not compensated yet: it is sent over O1 from
        interval ``k + 1`` by the same act stage as the loop's own, and its fault is marked
        ``compensated`` (a rejected one is never taken up: it stays unapplied).
        """
        waiting = {f: c for c, f in self._fault_ids.items() if self._outages.get(c) is None}
        if not waiting:
            return False
        with self.store.transaction() as session:
            rows = loops.loop_runs(session, tenant_id=self.tenant_id, network_id=self.network_id,
                                   status="applied", human_only=True, limit=50)  # fmt: skip
            approved = [(r.id, dict(r.plan or {}), r.confidence, r.decided_by)
                        for r in reversed(rows)
                        if r.objective == "compensation" and r.id not in self._taken]  # fmt: skip
        taken = False
        for run_id, plan, confidence, by in approved:
            self._taken.add(run_id)
            fault_id = (plan.get("compensation") or {}).get("fault_id")
            cell = waiting.get(fault_id) if isinstance(fault_id, int) else None
            if cell is None or not isinstance(fault_id, int) or self._outages.get(cell):
                continue
            with self.store.transaction() as session:
                done = loops.update_fault(
                    session, tenant_id=self.tenant_id, network_id=self.network_id,
                    fault_id=fault_id, status="compensated", compensated_at=self.clock(),
                    compensated_interval=k + 1, compensation_run_id=run_id,
                )  # fmt: skip
            if done is None:  # the fault moved on (repaired) meanwhile
                continue
            comp = stages.Compensation.from_plan(plan, cell, confidence or 0.0)
            self._hold(cell, comp, run_id)
            self._alert("info", (
                f"{self.names[cell]}: compensation (run {run_id}) approved by {by}: sent over "
                f"O1 for loop interval {k + 1} on, waking {len(comp.woken)} cells, raising the "
                f"CIO of {len(comp.cio_db)}"
            ))  # fmt: skip
            taken = True
        return taken

    def _reconcile(self, settings: LoopSettings, newest_s: int) -> bool:
        """On start, take up the network's open faults; end those whose cell is back.

        A loop that starts (a restart, a new leader, a failed step) knows nothing of the
        outages before it: each open fault's cell is judged as detection judges it, from the
        newest counters, the raised VES alarms and, for a silent cell, ``operationalState``
        over O1. A cell still out keeps its fault and its applied compensation (held again,
        nothing re-planned); one that reports with no alarm raised, or that O1 shows
        ENABLED, came back while the loop was down: its compensation's offsets go back to
        the network's own at once (``_restore_offsets``), then its fault is cleared; its
        wakes end with the first plan's state. True when there was an open fault.
        """
        self._reconciled = True
        with self.store.transaction() as session:
            open_faults = loops.faults(session, tenant_id=self.tenant_id,
                                       network_id=self.network_id, open_only=True)  # fmt: skip
            held = {f.id: runs.get_run(session, tenant_id=self.tenant_id,
                                       run_id=f.compensation_run_id)
                    for f in open_faults
                    if f.status == "compensated" and f.compensation_run_id is not None}  # fmt: skip
        if not open_faults:
            return False
        observation = stages.observe(self.store, tenant_id=self.tenant_id,
                                     network_id=self.network_id, ids=self.ids,
                                     start_s=newest_s, interval_s=self.interval_s)  # fmt: skip
        reporting = set() if observation is None else {
            int(c) for c in np.flatnonzero(observation.reported)}  # fmt: skip
        alarms = stages.ves_alarms(self.store, tenant_id=self.tenant_id, ids=self.ids,
                                   network_id=self.network_id)  # fmt: skip
        ask = sorted({f.cell_index for f in open_faults} - reporting - set(alarms))
        states = stages.operational_states(self.store, tenant_id=self.tenant_id,
                                           network_id=self.network_id, keyring=self.keyring,
                                           cells=ask) if ask else {}  # fmt: skip
        j = self.interval_at(settings, newest_s)
        self._void_through, self._planned_until = j, None  # plan again, knowing the faults
        ended: list[tuple[int, stages.Compensation]] = []  # compensations of cells back
        back_faults: list[tuple[loops.FaultOut, bool]] = []  # cell back, had a compensation
        for fault in open_faults:
            cell, run = fault.cell_index, held.get(fault.id)
            comp = None
            if run is not None and (run.plan or {}).get("compensation"):
                comp = stages.Compensation.from_plan(dict(run.plan or {}), cell,
                                                     run.confidence or 0.0)  # fmt: skip
            if run is not None:
                self._taken.add(run.id)
            for c, own in ({} if comp is None else comp.cio_baseline).items():
                self._baselines.setdefault(c, own)  # held again, or restored at the first send
            back = cell not in alarms and (cell in reporting or states.get(cell) == "ENABLED")
            if not back:
                self._outages[cell], self._fault_ids[cell] = comp, fault.id
                continue
            if comp is not None and run is not None:
                ended.append((run.id, comp))
            back_faults.append((fault, comp is not None))
        # offsets first: a failure here leaves the faults open for the next start to retry
        self._restore_offsets(ended)
        for fault, compensated in back_faults:
            stages.close_outage(self.store, tenant_id=self.tenant_id,
                                network_id=self.network_id, fault_id=fault.id,
                                at=self.clock())  # fmt: skip
            why = ("it reports" if fault.cell_index in reporting
                   else "O1 shows it in service, operationalState ENABLED")  # fmt: skip
            self._alert("info", (
                f"{self.names[fault.cell_index]}: back in service when the loop started ({why} "
                f"in loop interval {j}); "
                + ("its compensation is reverted" if compensated else "outage over")
            ))  # fmt: skip
        return True

    def _restore_offsets(self, ended: list[tuple[int, stages.Compensation]]) -> None:
        """Send the network's own offsets back now for compensations whose cell is back.

        At once, not after the first plan (a restart recalibrates first: minutes on a large
        network); a cell a compensation still held raises stays raised. Restored cells leave
        ``_baselines``; any not restored (an element failed) are sent again with every
        cell's state at the first act.
        """
        held = {c for comp in self._outages.values() if comp is not None for c in comp.cio_db}
        for run_id, comp in ended:
            own = self._baselines
            cells = sorted(c for c in comp.cio_db if c not in held and c in own)
            actions = [a for c in cells for a in stages.cio_actions(self.names[c], 0.0, own[c])]
            if actions and stages.act(self.store, tenant_id=self.tenant_id,
                                      network_id=self.network_id, actions=actions,
                                      keyring=self.keyring, run_id=run_id,
                                      now_s=int(self.clock())):  # fmt: skip
                for c in cells:
                    self._baselines.pop(c, None)

    def _with_outages(self, state: stages.CellsState) -> stages.CellsState:
        """Return ``state`` with the compensations held and the failed cells left as sent."""
        woken: set[int] = set()
        cio: dict[int, float] = {}
        for comp in self._outages.values():
            if comp is not None:
                woken |= comp.woken
                for c, v in comp.cio_db.items():
                    cio[c] = max(cio.get(c, 0.0), v)
        if self._steerable is None:
            self._steerable = stages.steerable_cells(self.store, tenant_id=self.tenant_id,
                                                     network_id=self.network_id,
                                                     names=self.names)  # fmt: skip
        # only cells whose own offsets are known: ranopt never sets one it cannot restore
        cio = {c: v for c, v in cio.items() if c in self._steerable and c in self._baselines}
        hold = woken | set(self._outages)
        asleep = {c: d for c, d in state.asleep.items() if c not in hold}
        chains = {c: n for c, n in state.chains.items() if c not in hold}
        if self._sent is not None:  # a failed cell gets no action: left as last committed
            for c in self._outages:
                if c in self._sent.asleep:
                    asleep[c] = self._sent.asleep[c]
                if c in self._sent.chains:
                    chains[c] = self._sent.chains[c]
        return stages.CellsState(asleep=asleep, chains=chains, cio_db=cio)

    # -- plan, decide, act -------------------------------------------------------------------

    def _waiting_for_history(self, exc: InsufficientTelemetryError) -> None:
        """Say once (an alert) what history the loop waits for."""
        if str(exc) != self._insufficient:
            self._insufficient = str(exc)
            with self.store.transaction() as session:
                runs.add_alert(session, tenant_id=self.tenant_id, network_id=self.network_id,
                               severity="info", kind="loop_waiting", now_s=int(self.clock()),
                               message=f"closed loop waits for history: {exc}")  # fmt: skip

    def _model_for(self, settings: LoopSettings, k: int) -> NetworkModel | None:
        """Return the model calibrated on the whole days before interval ``k``'s day (daily)."""
        day_end = self.start_s(settings, k) // SECONDS_PER_DAY * SECONDS_PER_DAY
        if self._model is None or self._model_end_s != day_end:
            # the engine itself (kept alive by the key): the same database, never a reused id
            key = (self.store.engine, self.tenant_id, self.network_id, day_end,
                   tuple(self.ids), repr(self.calibration))  # fmt: skip
            model = DAY_MODELS.get(key)
            if model is None:
                try:
                    model = stages.calibrate_until(
                        self.store, tenant_id=self.tenant_id, network_id=self.network_id,
                        end_s=day_end, config=self.calibration, now_s=int(self.clock()),
                    )  # fmt: skip
                except InsufficientTelemetryError as exc:
                    self._waiting_for_history(exc)
                    return None
                DAY_MODELS.put(key, model)
            self._model, self._model_end_s = model, day_end
        self._recent = stages.with_recent_counters(self.store, self._model,
                                                   tenant_id=self.tenant_id,
                                                   max_days=PLAN_HISTORY_DAYS)  # fmt: skip
        return self._recent

    def _plan_and_act(
        self, settings: LoopSettings, k: int
    ) -> tuple[int | None, float | None, bool]:
        """Plan when no plan covers ``k + 1``; send ``k + 1``'s state; return the new run."""
        target = k + 1  # k runs already, with the configuration committed when it began
        run_id, confidence, applied = None, None, False
        covered = self._planned_until is not None and target <= self._planned_until
        if not covered and settings.solver in ("greedy", "exact", "anneal"):
            model = self._model_for(settings, k)
            if model is not None:
                horizon = settings.horizon_intervals + 1  # k itself is planned, not sent
                request = NetworkPlanRequest(
                    tenant_id=self.tenant_id, network_id=self.network_id,
                    solver=settings.solver, horizon_min=horizon * self.interval_s // 60,
                    history_days=PLAN_HISTORY_DAYS, confidence_scenarios=CONFIDENCE_SCENARIOS,
                    limits=self.limits, calibration=self.calibration,
                )  # fmt: skip
                # intervals before the loop epoch are negative; SeedSequence takes none
                rng = np.random.default_rng(np.random.SeedSequence([self.seed, k % 2**64]))
                try:
                    plan = stages.plan_window(model, request, k, rng,
                                              failed=frozenset(self._outages))  # fmt: skip
                except ValidationError as exc:  # e.g. too few forecast days: all on, say so
                    logger.warning("network %s: no plan (%s)", self.network_id, exc)
                else:
                    applied = stages.decide(plan, auto_apply=settings.auto_apply,
                                            threshold=settings.confidence_threshold)  # fmt: skip
                    run_id = stages.record_plan(
                        self.store, tenant_id=self.tenant_id, network_id=self.network_id,
                        plan=plan, solver=settings.solver,
                        horizon_min=horizon * self.interval_s // 60, apply=applied,
                        now_s=int(self.clock()),
                    )  # fmt: skip
                    confidence = plan.confidence
                    self._planned_until = k + len(plan.asleep) - 1
        in_force = plan_in_force(self.store, tenant_id=self.tenant_id,
                                 network_id=self.network_id, interval=target,
                                 after=self._void_through)  # fmt: skip
        state = stages.CellsState() if in_force is None or self._cut_off else in_force[1]
        state = self._with_outages(state)
        if self._chains is None or self._sent is None:
            self._chains = stages.mutable_chains(self.store, tenant_id=self.tenant_id,
                                                 network_id=self.network_id,
                                                 names=self.names)  # fmt: skip
        actions, committed = stages.state_actions(self.names, state, self._sent, self._chains,
                                                  self._baselines)  # fmt: skip
        # recorded with the compensation applied this step, else with the plan in force
        acting_for = self._acting_for if self._acting_for is not None else (
            None if in_force is None else in_force[0])  # fmt: skip
        done = stages.act(
            self.store, tenant_id=self.tenant_id, network_id=self.network_id, actions=actions,
            keyring=self.keyring, run_id=acting_for, now_s=int(self.clock()),
        )  # fmt: skip
        self._sent = committed if done else None
        self._acting_for = None
        if done:  # offsets restored: their baselines are read again when next raised
            self._baselines = {c: b for c, b in self._baselines.items() if c in committed.cio_db}
            self._committed = {j: s for j, s in self._committed.items() if j >= k - 8}
            self._committed[target] = committed
        return run_id, confidence, applied
