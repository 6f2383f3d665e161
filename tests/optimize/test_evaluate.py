"""Measuring a schedule: each QoS constraint on hand-built snapshots, then in the twin.

``check_snapshot`` compares a plan's interval with the always-on reference on the same demand;
a constraint counts as broken only where the plan is worse than both its limit and the
reference, so the hand-built cases test each side of each comparison.
"""

import dataclasses

import numpy as np
import pytest

from ranopt.optimize.evaluate import (
    CONSTRAINT_NAMES,
    EnergyConstraints,
    check_snapshot,
    evaluate_interval,
    evaluate_schedule,
    schedule_holds,
)
from ranopt.optimize.plan import Plan
from ranopt.twin import Snapshot, Twin
from ranopt.twin.elements import LAYERS
from ranopt.twin.traffic import day_rng, realised_demand_mbps
from ranopt.twin.units import FloatArray

CAPACITY = LAYERS.index("capacity")
LIMITS = EnergyConstraints()


def snapshot(
    *,
    serving: list[int],
    demand: list[float],
    served: list[float] | None = None,
    thp: list[float] | None = None,
    active: list[bool] | None = None,
    prb_load: list[float] | None = None,
) -> Snapshot:
    """A snapshot of ``len(serving)`` UEs on 3 cells; only the checked fields matter."""
    num_cells = 3
    serving_a = np.array(serving, dtype=np.int64)
    demand_a = np.array(demand, dtype=np.float64)
    served_a = demand_a.copy() if served is None else np.array(served, dtype=np.float64)
    thp_a = np.full(demand_a.shape, 20.0) if thp is None else np.array(thp, dtype=np.float64)
    load = np.full(num_cells, 0.3) if prb_load is None else np.array(prb_load)
    return Snapshot(
        serving_cell=serving_a,
        sinr_db=np.zeros(demand_a.shape),
        demand_mbps=demand_a,
        served_mbps=served_a,
        ue_thp_mbps=thp_a,
        active=np.ones(num_cells, dtype=bool) if active is None else np.array(active),
        prb_load=load,
        demand_load=load,
        cell_offered_mbps=np.zeros(num_cells),
        cell_served_mbps=np.zeros(num_cells),
        cell_num_ues=np.zeros(num_cells, dtype=np.int64),
        cell_ue_thp_mbps=np.zeros(num_cells),
        power_w=np.zeros(num_cells),
        iterations=1,
        converged=True,
    )


# 20 UEs with 1 Mbit/s each on cells 0 and 1
BASE = snapshot(serving=[0] * 10 + [1] * 10, demand=[1.0] * 20)


def served(ratio: float) -> list[float]:
    """Per-UE served traffic giving the whole network ``ratio`` of 20 Mbit/s offered."""
    return [1.0] * 19 + [1.0 - 20.0 * (1.0 - ratio)]


# --- check_snapshot on hand-built snapshots ----------------------------------------------------


def test_reference_against_itself_keeps_every_constraint():
    check = check_snapshot(BASE, BASE, LIMITS)
    assert check.violations == ()
    assert check.served_ratio == pytest.approx(1.0)
    assert check.max_prb_load == pytest.approx(0.3)
    assert check.ue_thp_p5_mbps == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("reference_ratio", "plan_ratio", "broken"),
    [
        (1.0, 0.999, False),  # above the 0.995 floor
        (1.0, 0.99, True),  # below the floor
        (0.98, 0.98, False),  # no worse than always-on, which is below the floor itself
        (0.98, 0.97, True),  # worse than both
        (1.0, 0.995 - 0.5e-4, False),  # within the ratio tolerance
        (1.0, 0.995 - 2e-4, True),
    ],
)
def test_served_traffic(reference_ratio: float, plan_ratio: float, broken: bool):
    ref = dataclasses.replace(BASE, served_mbps=np.array(served(reference_ratio)))
    plan = dataclasses.replace(BASE, served_mbps=np.array(served(plan_ratio)))
    check = check_snapshot(plan, ref, LIMITS)
    assert check.served_ratio == pytest.approx(plan_ratio)
    assert ("served_traffic" in check.violations) == broken


@pytest.mark.parametrize(
    ("reference_load", "plan_load", "broken"),
    [
        (0.3, 0.85, False),  # at the limit
        (0.3, 0.86, True),
        (0.9, 0.904, False),  # already above the limit always-on: may rise by 0.005
        (0.9, 0.906, True),
    ],
)
def test_prb_load(reference_load: float, plan_load: float, broken: bool):
    ref = dataclasses.replace(BASE, prb_load=np.array([0.3, reference_load, 0.3]))
    plan = dataclasses.replace(BASE, prb_load=np.array([0.3, plan_load, 0.3]))
    check = check_snapshot(plan, ref, LIMITS)
    assert ("prb_load" in check.violations) == broken
    assert check.max_prb_load == pytest.approx(max(0.3, plan_load))


def test_prb_load_of_a_sleeping_cell_is_ignored():
    plan = dataclasses.replace(
        BASE, active=np.array([True, True, False]), prb_load=np.array([0.3, 0.3, 0.99])
    )
    check = check_snapshot(plan, BASE, LIMITS)
    assert check.violations == ()
    assert check.max_prb_load == pytest.approx(0.3)


def test_coverage_lost_only_where_always_on_covers():
    ref = dataclasses.replace(BASE, serving_cell=np.array([0] * 10 + [1] * 9 + [-1]))
    # the UE always-on leaves uncovered does not count; one that loses its cell does
    same = dataclasses.replace(ref, served_mbps=np.array(served(1.0)))
    assert "coverage" not in check_snapshot(same, ref, LIMITS).violations
    lost = dataclasses.replace(ref, serving_cell=np.array([-1] + [0] * 9 + [1] * 9 + [-1]))
    assert "coverage" in check_snapshot(lost, ref, LIMITS).violations


@pytest.mark.parametrize(
    ("reference_thp", "plan_thp", "broken"),
    [
        (20.0, 6.0, False),  # above the 5 Mbit/s floor
        (20.0, 4.0, True),
        (3.0, 3.0, False),  # always-on is below the floor itself: no worse is fine
        (3.0, 2.0, True),
        (20.0, 5.0 - 0.005, False),  # within the throughput tolerance
    ],
)
def test_ue_throughput(reference_thp: float, plan_thp: float, broken: bool):
    ref = dataclasses.replace(BASE, ue_thp_mbps=np.full(20, reference_thp))
    plan = dataclasses.replace(BASE, ue_thp_mbps=np.full(20, plan_thp))
    check = check_snapshot(plan, ref, LIMITS)
    assert check.ue_thp_p5_mbps == pytest.approx(plan_thp)
    assert ("ue_throughput" in check.violations) == broken


def test_throughput_percentile_counts_only_ues_with_demand():
    demand = np.array([0.0] * 5 + [1.0] * 15)
    thp = np.array([0.0] * 5 + [20.0] * 15)  # idle UEs have no throughput
    plan = dataclasses.replace(BASE, demand_mbps=demand, served_mbps=demand, ue_thp_mbps=thp)
    assert check_snapshot(plan, plan, LIMITS).violations == ()


def test_all_constraints_broken_at_once_in_declared_order():
    plan = dataclasses.replace(
        BASE,
        serving_cell=np.array([-1] + [0] * 9 + [1] * 10),
        served_mbps=np.array(served(0.9)),
        prb_load=np.array([1.0, 0.3, 0.3]),
        ue_thp_mbps=np.full(20, 1.0),
    )
    check = check_snapshot(plan, BASE, LIMITS)
    assert check.violations == CONSTRAINT_NAMES


def test_prb_load_limit():
    limit = LIMITS.prb_load_limit(np.array([0.0, 0.84, 0.9, 1.0]))
    np.testing.assert_allclose(limit, [0.85, 0.85, 0.905, 1.005])


# --- in the twin -------------------------------------------------------------------------------


def capacity_asleep(twin: Twin) -> np.ndarray:
    return twin.arrays.layer != CAPACITY


def test_busy_hour_without_capacity_layer_overloads_coverage(
    seven_site_twin: Twin, day_demand: FloatArray, busy_interval: int
):
    plan, ref, check = evaluate_interval(
        seven_site_twin, day_demand[busy_interval], capacity_asleep(seven_site_twin), LIMITS
    )
    assert "served_traffic" in check.violations
    assert "prb_load" in check.violations
    assert "coverage" not in check.violations  # every UE hears a coverage cell
    assert check.served_ratio < ref.served_ratio
    assert not plan.active[seven_site_twin.arrays.layer == CAPACITY].any()


def test_sleeping_the_only_cell_a_ue_hears_loses_coverage(patchy_coverage_twin: Twin):
    twin = patchy_coverage_twin
    demand = realised_demand_mbps(twin.traffic, 0, day_rng(1, 0))[8]  # 02:00, light
    _, ref, check = evaluate_interval(twin, demand, capacity_asleep(twin), LIMITS)
    assert "coverage" in check.violations
    ok = twin.link.suitable(twin.scenario.rsrp_min_dbm)
    only_capacity = ~ok[:, twin.arrays.layer != CAPACITY].any(axis=1)
    assert (ref.covered & only_capacity).any()


def test_evaluate_interval_all_on_is_its_own_reference(
    seven_site_twin: Twin, day_demand: FloatArray
):
    all_on = np.ones(seven_site_twin.num_cells, dtype=bool)
    plan, ref, check = evaluate_interval(seven_site_twin, day_demand[50], all_on, LIMITS)
    assert plan is ref
    assert check.violations == ()


def test_always_on_day_never_violates(seven_site_twin: Twin, day_demand: FloatArray):
    all_on = np.ones((day_demand.shape[0], seven_site_twin.num_cells), dtype=bool)
    evaluation = evaluate_schedule(seven_site_twin, day_demand, all_on, LIMITS)
    kpis = evaluation.kpis()
    assert evaluation.violating_intervals == []
    assert evaluation.rule_violations == 0
    assert kpis.constraint_violations == 0
    assert kpis.energy_kwh == pytest.approx(kpis.always_on_energy_kwh, rel=1e-12)
    assert kpis.saving_pct == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_array_equal(evaluation.plan.power_w, evaluation.always_on.power_w)
    assert schedule_holds(seven_site_twin, day_demand, all_on, LIMITS)


def test_schedule_figures_and_rule_violations(seven_site_twin: Twin, night_demand: FloatArray):
    twin = seven_site_twin
    schedule = np.ones((night_demand.shape[0], twin.num_cells), dtype=bool)
    cell = int(np.flatnonzero(twin.arrays.layer == CAPACITY)[0])
    schedule[2, cell] = False  # a one-interval nap: breaks the minimum sleep time
    evaluation = evaluate_schedule(twin, night_demand, schedule, LIMITS)
    assert evaluation.rule_violations == 1
    qos = sum(len(c.violations) for c in evaluation.checks)
    assert evaluation.kpis().constraint_violations == qos + 1
    # sleeping saves power in that interval only
    saved_w = evaluation.always_on.network_power_w - evaluation.plan.network_power_w
    assert saved_w[2] > 0.0
    np.testing.assert_allclose(np.delete(saved_w, 2), 0.0, atol=1e-9)
    assert evaluation.kpis().energy_kwh < evaluation.kpis().always_on_energy_kwh


def test_schedule_holds_agrees_with_evaluate_schedule(
    seven_site_twin: Twin,
    day_demand: FloatArray,
    busy_interval: int,
    night_plans: dict[str, Plan],
):
    twin = seven_site_twin
    window = day_demand[busy_interval - 2 : busy_interval + 2]
    absurd = np.tile(capacity_asleep(twin), (window.shape[0], 1))
    assert not schedule_holds(twin, window, absurd, LIMITS)
    assert evaluate_schedule(twin, window, absurd, LIMITS).violating_intervals == [0, 1, 2, 3]
    plan = night_plans["greedy"]
    assert schedule_holds(twin, day_demand[:12], plan.active, LIMITS)
