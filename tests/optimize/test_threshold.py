"""The vendor threshold rule: co-sited coverage cells and the closed loop's switching rules."""

import numpy as np
import pytest

from ranopt.optimize.energy import always_on_snapshots
from ranopt.optimize.evaluate import EnergyConstraints, check_snapshot
from ranopt.optimize.switching import SwitchingRules, count_rule_violations, sleep_runs
from ranopt.optimize.threshold import (
    ThresholdRule,
    co_sited_coverage,
    run_threshold,
    tune_threshold,
)
from ranopt.twin import Snapshot, Twin
from ranopt.twin.elements import LAYERS
from ranopt.twin.units import FloatArray

CAPACITY = LAYERS.index("capacity")
COVERAGE = LAYERS.index("coverage")


@pytest.fixture(scope="module")
def day_references(seven_site_twin: Twin, day_demand: FloatArray) -> list[Snapshot]:
    return always_on_snapshots(seven_site_twin, day_demand)


def test_co_sited_coverage(seven_site_twin: Twin):
    twin = seven_site_twin
    coverage_of = co_sited_coverage(twin)
    assert coverage_of.shape == (twin.num_cells,)
    for i, cell in enumerate(twin.cells):
        partner = twin.cells[coverage_of[i]]
        assert partner.layer == "coverage"
        assert (partner.site, partner.sector) == (cell.site, cell.sector)
        if cell.layer == "coverage":
            assert coverage_of[i] == i
    # each coverage cell is the partner of exactly one capacity cell
    capacity = twin.arrays.layer == CAPACITY
    assert sorted(coverage_of[capacity].tolist()) == np.flatnonzero(~capacity).tolist()


def check_run(
    twin: Twin, schedule: np.ndarray, rules: SwitchingRules, num_t: int
) -> list[list[tuple[int, int]]]:
    """Common invariants of a closed-loop day; returns each capacity cell's sleep runs."""
    assert schedule.shape == (num_t, twin.num_cells)
    assert schedule[0].all()  # the day starts with every cell on
    assert schedule[:, twin.arrays.layer == COVERAGE].all()
    sleepable = twin.arrays.layer == CAPACITY
    assert count_rule_violations(schedule, rules, num_t, sleepable) == 0
    return [sleep_runs(schedule[:, c]) for c in np.flatnonzero(sleepable)]


def test_never_sleeps_with_zero_threshold(
    seven_site_twin: Twin, day_demand: FloatArray, day_references: list[Snapshot]
):
    rule = ThresholdRule(sleep_below=0.0, coverage_below=1.0, wake_above=1.0)
    run = run_threshold(seven_site_twin, day_demand, rule, EnergyConstraints(), day_references)
    assert run.schedule.all()
    assert all(s is r for s, r in zip(run.snapshots, day_references, strict=True))


def test_sleeps_at_night_and_keeps_the_rules(
    seven_site_twin: Twin, day_demand: FloatArray, day_references: list[Snapshot]
):
    limits = EnergyConstraints()
    rule = ThresholdRule(sleep_below=0.1, coverage_below=0.5, wake_above=0.6)
    run = run_threshold(seven_site_twin, day_demand, rule, limits, day_references)
    runs = check_run(seven_site_twin, run.schedule, limits.rules, day_demand.shape[0])
    assert any(runs)
    # the rule reacts: a cell goes to sleep only after `hold_intervals` quiet intervals
    first_sleep = min(a for cell_runs in runs for a, _ in cell_runs)
    assert first_sleep >= rule.hold_intervals
    assert len(run.snapshots) == day_demand.shape[0]
    # each snapshot is the twin in the state the schedule says
    for t, snap in enumerate(run.snapshots):
        np.testing.assert_array_equal(snap.active, run.schedule[t])


def test_sleep_decisions_follow_measured_loads(
    seven_site_twin: Twin, day_demand: FloatArray, day_references: list[Snapshot]
):
    """Every sleep starts after `hold` intervals in which the cell and its partner were quiet."""
    twin = seven_site_twin
    rule = ThresholdRule(sleep_below=0.1, coverage_below=0.5, wake_above=0.6)
    run = run_threshold(twin, day_demand, rule, EnergyConstraints(), day_references)
    partner = co_sited_coverage(twin)
    for cell in np.flatnonzero(twin.arrays.layer == CAPACITY):
        for start, _ in sleep_runs(run.schedule[:, cell]):
            for t in range(start - rule.hold_intervals, start):
                load = run.snapshots[t].prb_load
                assert load[cell] < rule.sleep_below
                assert load[partner[cell]] < rule.coverage_below


@pytest.mark.parametrize(
    "rules",
    [
        SwitchingRules(min_sleep_intervals=4, max_cycles_per_day=4),
        SwitchingRules(min_sleep_intervals=6, max_cycles_per_day=1),
        SwitchingRules(min_sleep_intervals=2, max_cycles_per_day=2),
    ],
)
def test_a_restless_rule_is_held_to_min_sleep_and_max_cycles(
    seven_site_twin: Twin,
    day_demand: FloatArray,
    day_references: list[Snapshot],
    rules: SwitchingRules,
):
    """Sleep whenever possible and wake at once: only the switching rules limit the cycling."""
    limits = EnergyConstraints(rules=rules)
    rule = ThresholdRule(sleep_below=1.1, coverage_below=1.1, wake_above=-1.0, hold_intervals=1)
    demand = day_demand[:40]
    run = run_threshold(seven_site_twin, demand, rule, limits, day_references[:40])
    runs = check_run(seven_site_twin, run.schedule, rules, demand.shape[0])
    for cell_runs in runs:
        # every capacity cell cycles as often as allowed, each sleep exactly the minimum
        assert len(cell_runs) == rules.max_cycles_per_day
        assert all(b - a == rules.min_sleep_intervals for a, b in cell_runs)


def test_no_sleep_that_cannot_last_the_minimum_before_the_horizon_ends(
    seven_site_twin: Twin, day_demand: FloatArray, day_references: list[Snapshot]
):
    rules = SwitchingRules(min_sleep_intervals=4, max_cycles_per_day=10)
    rule = ThresholdRule(sleep_below=1.1, coverage_below=1.1, wake_above=-1.0, hold_intervals=1)
    for num_t in (5, 6, 7):
        run = run_threshold(
            seven_site_twin,
            day_demand[:num_t],
            rule,
            EnergyConstraints(rules=rules),
            day_references[:num_t],
        )
        check_run(seven_site_twin, run.schedule, rules, num_t)


def test_tuned_rule_keeps_the_tuning_days(seven_site_twin: Twin, day_demand: FloatArray):
    limits = EnergyConstraints()
    grid = {"sleep_below": (0.0, 0.02, 0.05), "coverage_below": (0.5,), "wake_above": (0.6,)}
    rule, report = tune_threshold(seven_site_twin, [day_demand[:24]], limits, grid)
    assert report["tuning_days"] == 1.0
    assert report["tuning_violations"] == 0.0
    assert rule.sleep_below in grid["sleep_below"]
    # the reported figures are the rule's own on the tuning day
    refs = always_on_snapshots(seven_site_twin, day_demand[:24])
    run = run_threshold(seven_site_twin, day_demand[:24], rule, limits, refs)
    violations = sum(
        len(check_snapshot(s, r, limits).violations)
        for s, r in zip(run.snapshots, refs, strict=True)
    )
    assert violations == 0
    energy = sum(s.power_total_w for s in run.snapshots)
    always_on = sum(s.power_total_w for s in refs)
    assert report["tuning_saving_pct"] == pytest.approx(100.0 * (1.0 - energy / always_on))
    assert report["tuning_saving_pct"] > 0.0
