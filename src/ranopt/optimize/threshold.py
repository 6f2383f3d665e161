"""The vendor baseline: a reactive threshold rule per capacity cell, tuned fairly on history.

A capacity cell goes to sleep when its own PRB load has stayed below X and its co-sited
coverage cell's below Y for ``hold_intervals``; it wakes when the busiest cell that took over
its UEs (the co-sited coverage cell or a neighbour) exceeds Z (after the minimum sleep time).
Decisions use the last measured interval only, as a RAN vendor's cell switch-off feature
does; the thresholds are chosen by grid search on past days for the largest saving with zero
constraint violations there.
"""

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.optimize.energy import CAPACITY_LAYER, always_on_snapshots
from ranopt.optimize.evaluate import EnergyConstraints, check_snapshot
from ranopt.twin.model import Twin
from ranopt.twin.snapshot import CellState, Snapshot, evaluate_snapshot
from ranopt.twin.units import FloatArray

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ThresholdRule:
    """Thresholds of the rule, PRB load 0-1."""

    sleep_below: float  # X: the capacity cell's own load
    coverage_below: float  # Y: the co-sited coverage cell's load, to allow sleep
    wake_above: float  # Z: load of the busiest cell serving its UEs that wakes the cell
    hold_intervals: int = 2  # how long the sleep condition must hold


# the n78 layer of the dimensioned twin runs at a few percent, the 20 MHz coverage layer that
# takes a sleeping cell's users at tens of percent: the grid spans both
DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "sleep_below": (0.005, 0.01, 0.02, 0.04),
    "coverage_below": (0.1, 0.2, 0.3),
    "wake_above": (0.6, 0.85),
}


def co_sited_coverage(twin: Twin) -> IntArray:
    """For each cell, the coverage-layer cell of the same site and sector (itself if coverage)."""
    lookup = {(c.site, c.sector): i for i, c in enumerate(twin.cells) if c.layer == "coverage"}
    return np.array([lookup[(c.site, c.sector)] for c in twin.cells], dtype=np.int64)


@dataclass(frozen=True, eq=False)
class ThresholdRun:
    """A closed-loop day of the rule: the schedule it produced and its snapshots."""

    schedule: BoolArray  # [T, C]
    snapshots: list[Snapshot]


def run_threshold(
    twin: Twin,
    demand_mbps: FloatArray,
    rule: ThresholdRule,
    limits: EnergyConstraints,
    references: list[Snapshot],
) -> ThresholdRun:
    """Run the rule in closed loop over ``demand_mbps`` ``[T, U]``; cells start the day on."""
    num_t = demand_mbps.shape[0]
    capacity = np.flatnonzero(twin.arrays.layer == CAPACITY_LAYER)
    coverage_of = co_sited_coverage(twin)
    home = references[0].serving_cell  # all-on association does not depend on load
    active = np.ones(twin.num_cells, dtype=bool)
    below_for = np.zeros(twin.num_cells, dtype=np.int64)
    asleep_for = np.zeros(twin.num_cells, dtype=np.int64)
    cycles = np.zeros(twin.num_cells, dtype=np.int64)
    schedule = np.ones((num_t, twin.num_cells), dtype=bool)
    snapshots: list[Snapshot] = []
    for t in range(num_t):
        schedule[t] = active
        if active.all():
            snap = references[t]
        else:
            snap = evaluate_snapshot(
                twin,
                CellState.all_on(twin.num_cells).with_active(active.copy()),
                demand_mbps[t],
                initial_load=references[t].prb_load,
            )
        snapshots.append(snap)
        load = snap.prb_load
        cov_load = load[coverage_of]
        # where a sleeping cell's UEs went (neighbour relations / handover statistics)
        moved = (home >= 0) & (snap.serving_cell >= 0)
        absorbing = np.zeros(twin.num_cells)
        np.maximum.at(absorbing, home[moved], load[snap.serving_cell[moved]])
        quiet = active & (load < rule.sleep_below) & (cov_load < rule.coverage_below)
        below_for = np.where(quiet, below_for + 1, 0)
        asleep_for = np.where(active, 0, asleep_for + 1)
        go_sleep = np.zeros_like(active)
        go_sleep[capacity] = (
            (below_for[capacity] >= rule.hold_intervals)
            & (cycles[capacity] < limits.rules.max_cycles_per_day)
            & (t + 1 + limits.rules.min_sleep_intervals <= num_t)
        )
        wake = (
            ~active
            & (np.maximum(cov_load, absorbing) > rule.wake_above)
            & (asleep_for >= limits.rules.min_sleep_intervals)
        )
        cycles += go_sleep
        active = (active & ~go_sleep) | wake
    return ThresholdRun(schedule=schedule, snapshots=snapshots)


def _violations(run: ThresholdRun, references: list[Snapshot], limits: EnergyConstraints) -> int:
    return sum(
        len(check_snapshot(s, r, limits).violations)
        for s, r in zip(run.snapshots, references, strict=True)
        if s is not r
    )


def tune_threshold(
    twin: Twin,
    history_demand: list[FloatArray],
    limits: EnergyConstraints,
    grid: dict[str, tuple[float, ...]] | None = None,
) -> tuple[ThresholdRule, dict[str, float]]:
    """Pick the thresholds with the lowest energy and zero violations on the given past days.

    If no combination is violation-free, the one with the fewest violations wins (then the
    lowest energy). Returns the rule and what it achieved on the tuning days.
    """
    grid = grid or DEFAULT_GRID
    refs = [always_on_snapshots(twin, d) for d in history_demand]
    best: tuple[int, float, ThresholdRule] | None = None
    for x, y, z in itertools.product(
        grid["sleep_below"], grid["coverage_below"], grid["wake_above"]
    ):
        rule = ThresholdRule(sleep_below=x, coverage_below=y, wake_above=z)
        violations = 0
        energy = 0.0
        for demand, ref in zip(history_demand, refs, strict=True):
            run = run_threshold(twin, demand, rule, limits, ref)
            violations += _violations(run, ref, limits)
            energy += float(sum(s.power_total_w for s in run.snapshots))
        key = (violations, energy, rule)
        if best is None or key[:2] < best[:2]:
            best = key
    assert best is not None  # noqa: S101 (the grid is never empty)
    violations, energy, rule = best
    ao_energy = float(sum(s.power_total_w for ref in refs for s in ref))
    return rule, {
        "tuning_days": float(len(history_demand)),
        "tuning_violations": float(violations),
        "tuning_saving_pct": 100.0 * (1.0 - energy / ao_energy) if ao_energy else 0.0,
    }
