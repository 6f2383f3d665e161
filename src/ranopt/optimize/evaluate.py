"""Measure a schedule in the twin: QoS constraints against the always-on counterfactual.

Every figure a plan reports comes from here: the plan and the always-on network are evaluated
on the same demand with the real association rule, and a constraint counts as broken only where
the plan does worse than both its limit and what the always-on network achieves (ranopt does
not blame a plan for congestion that exists with every cell on).
"""

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from ranopt.optimize.plan import PlanKpis
from ranopt.optimize.switching import SwitchingRules, count_rule_violations
from ranopt.twin.model import Twin
from ranopt.twin.simulate import IntervalKpis, collect_kpis
from ranopt.twin.snapshot import CellState, Snapshot, evaluate_snapshot, state_power_w

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CONSTRAINT_NAMES = ("served_traffic", "prb_load", "coverage", "ue_throughput")


@dataclass(frozen=True)
class EnergyConstraints:
    """QoS limits an energy plan must keep in every interval (all configurable)."""

    min_served_ratio: float = 0.995  # served / offered traffic
    max_prb_load: float = 0.85  # of any active cell
    ue_thp_floor_mbps: float = 5.0  # 5th-percentile UE throughput floor (or always-on, if lower)
    overload_tolerance: float = 0.005  # rise allowed on a cell already above max_prb_load always-on
    # numerical slack of the comparisons with always-on (the load fixed point stops at 1e-4)
    ratio_tolerance: float = 1e-4
    throughput_tolerance_mbps: float = 0.01
    rules: SwitchingRules = field(default_factory=SwitchingRules)

    def prb_load_limit(self, always_on_load: FloatArray) -> FloatArray:
        """Per-cell PRB load limit: ``max_prb_load``, or the always-on load plus a tolerance."""
        return np.maximum(self.max_prb_load, always_on_load + self.overload_tolerance)


@dataclass(frozen=True)
class IntervalCheck:
    """One interval of a plan measured against the always-on network on the same demand."""

    served_ratio: float
    max_prb_load: float
    ue_thp_p5_mbps: float
    violations: tuple[str, ...]


def check_snapshot(plan: Snapshot, reference: Snapshot, limits: EnergyConstraints) -> IntervalCheck:
    """Check one interval of a plan against its limits, relative to the always-on reference."""
    violations: list[str] = []
    served_floor = min(limits.min_served_ratio, reference.served_ratio) - limits.ratio_tolerance
    if plan.served_ratio < served_floor:
        violations.append("served_traffic")
    load_limit = limits.prb_load_limit(reference.prb_load)
    active_load = np.where(plan.active, plan.prb_load, 0.0)
    if (active_load > load_limit).any():
        violations.append("prb_load")
    if (reference.covered & ~plan.covered).any():
        violations.append("coverage")
    thp_p5 = plan.ue_thp_percentile_mbps(5)
    thp_floor = min(limits.ue_thp_floor_mbps, reference.ue_thp_percentile_mbps(5))
    if thp_p5 < thp_floor - limits.throughput_tolerance_mbps:
        violations.append("ue_throughput")
    return IntervalCheck(
        served_ratio=plan.served_ratio,
        max_prb_load=float(active_load.max()) if active_load.size else 0.0,
        ue_thp_p5_mbps=thp_p5,
        violations=tuple(violations),
    )


@dataclass(frozen=True, eq=False)
class ScheduleEvaluation:
    """A schedule replayed in the twin beside the always-on network on the same demand."""

    plan: IntervalKpis
    always_on: IntervalKpis
    checks: tuple[IntervalCheck, ...]
    rule_violations: int  # minimum-sleep and cycle-limit breaches of the schedule itself

    @property
    def violating_intervals(self) -> list[int]:
        """Intervals with at least one QoS violation."""
        return [t for t, c in enumerate(self.checks) if c.violations]

    def kpis(self) -> PlanKpis:
        """Return the plan's figures as the JSON and the README report them."""
        return PlanKpis(
            energy_kwh=self.plan.total_energy_kwh,
            always_on_energy_kwh=self.always_on.total_energy_kwh,
            served_ratio_min=min(c.served_ratio for c in self.checks),
            max_prb_load=max(c.max_prb_load for c in self.checks),
            ue_thp_p5_mbps_min=min(c.ue_thp_p5_mbps for c in self.checks),
            constraint_violations=sum(len(c.violations) for c in self.checks)
            + self.rule_violations,
        )


class SnapshotMemo:
    """Whole-network plan snapshots already solved, reused when the same interval comes again.

    A plan's intervals are evaluated several times with identical inputs: repair's last check,
    the round's replay with sleep depths, the final replay. The fixed point is deterministic,
    so a repeat returns the stored snapshot with only its power recomputed for the sleep
    depths (which change the power and nothing else): bit for bit what a new solve gives.
    The key is everything the solve reads (demand, on/sleep, chains, starting loads); at most
    ``size`` snapshots are kept, least recently used first out.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._snaps: OrderedDict[bytes, Snapshot] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(demand_mbps: FloatArray, state: CellState, initial_load: FloatArray) -> bytes:
        """Digest of what a whole-network solve of ``state`` on ``demand_mbps`` depends on."""
        digest = hashlib.blake2b(digest_size=20)
        for part in (demand_mbps, state.active, state.cio_db, initial_load):
            digest.update(np.ascontiguousarray(part).tobytes())
        for optional in (state.active_trx, state.slice_shares):
            digest.update(b"-" if optional is None else np.ascontiguousarray(optional).tobytes())
        return digest.digest()

    def evaluate(
        self, twin: Twin, state: CellState, demand_mbps: FloatArray, initial_load: FloatArray
    ) -> Snapshot:
        """``evaluate_snapshot(twin, state, demand_mbps, initial_load=...)``, solved once."""
        key = self.key(demand_mbps, state, initial_load)
        snap = self._snaps.get(key)
        if snap is None:
            self.misses += 1
            snap = evaluate_snapshot(twin, state, demand_mbps, initial_load=initial_load)
            self._snaps[key] = snap
            if len(self._snaps) > self._size:
                self._snaps.popitem(last=False)
            return snap
        self.hits += 1
        self._snaps.move_to_end(key)
        power = state_power_w(twin, snap.prb_load, state)
        return replace(snap, active=state.active.copy(), power_w=power)


def _muted(twin: Twin, trx: IntArray | None) -> bool:
    return trx is not None and bool((trx < twin.arrays.num_trx).any())


def evaluate_interval(
    twin: Twin,
    demand_mbps: FloatArray,
    active: BoolArray,
    limits: EnergyConstraints,
    reference: Snapshot | None = None,
    *,
    trx: IntArray | None = None,
    sleep_state: IntArray | None = None,
    memo: SnapshotMemo | None = None,
) -> tuple[Snapshot, Snapshot, IntervalCheck]:
    """Evaluate one interval of a plan and its always-on reference; return both and the check.

    ``trx`` ``[C]`` are the chains each cell runs (None: all), ``sleep_state`` ``[C]`` what each
    sleeping cell does (None: light sleep); ``memo`` reuses the plan snapshot of an identical
    earlier evaluation.
    """
    ref = reference or evaluate_snapshot(twin, CellState.all_on(twin.num_cells), demand_mbps)
    if active.all() and not _muted(twin, trx):
        return ref, ref, check_snapshot(ref, ref, limits)
    state = CellState(
        active=active,
        cio_db=np.zeros(twin.num_cells),
        active_trx=trx if _muted(twin, trx) else None,
        sleep_state=sleep_state,
    )
    if memo is None:
        snap = evaluate_snapshot(twin, state, demand_mbps, initial_load=ref.prb_load)
    else:
        snap = memo.evaluate(twin, state, demand_mbps, ref.prb_load)
    return snap, ref, check_snapshot(snap, ref, limits)


def evaluate_schedule(
    twin: Twin,
    demand_mbps: FloatArray,
    active: BoolArray,
    limits: EnergyConstraints,
    references: Sequence[Snapshot] | None = None,
    *,
    trx: IntArray | None = None,
    sleep_state: IntArray | None = None,
    memo: SnapshotMemo | None = None,
) -> ScheduleEvaluation:
    """Replay a schedule ``[T, C]`` on demand ``[T, U]`` and measure it against always-on.

    ``trx`` and ``sleep_state`` ``[T, C]`` (optional) are the chains in use and the sleep
    depths (``ranopt.optimize.actions``); ``memo`` reuses identical earlier evaluations.
    """
    plan_snaps: list[Snapshot] = []
    ref_snaps: list[Snapshot] = []
    checks: list[IntervalCheck] = []
    for t in range(active.shape[0]):
        ref = references[t] if references is not None else None
        snap, ref_snap, check = evaluate_interval(
            twin,
            demand_mbps[t],
            active[t],
            limits,
            ref,
            trx=None if trx is None else trx[t],
            sleep_state=None if sleep_state is None else sleep_state[t],
            memo=memo,
        )
        plan_snaps.append(snap)
        ref_snaps.append(ref_snap)
        checks.append(check)
    interval_min = twin.scenario.interval_min
    sleepable = twin.arrays.layer == 1
    return ScheduleEvaluation(
        plan=collect_kpis(plan_snaps, interval_min),
        always_on=collect_kpis(ref_snaps, interval_min),
        checks=tuple(checks),
        rule_violations=count_rule_violations(
            active, limits.rules, twin.scenario.intervals_per_day, sleepable
        ),
    )


def schedule_holds(
    twin: Twin,
    demand_mbps: FloatArray,
    active: BoolArray,
    limits: EnergyConstraints,
    trx: IntArray | None = None,
) -> bool:
    """Return whether a schedule keeps every QoS constraint on one demand scenario.

    Stops at the first broken interval; intervals where every cell is on with all its chains
    hold by definition.
    """
    changed = ~active.all(axis=1)
    if trx is not None:
        changed |= (trx < twin.arrays.num_trx[None, :]).any(axis=1)
    for t in np.flatnonzero(changed):
        row = None if trx is None else trx[t]
        _, _, check = evaluate_interval(twin, demand_mbps[t], active[t], limits, trx=row)
        if check.violations:
            return False
    return True
