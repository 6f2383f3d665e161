"""Confidence: home cells, demand aggregation and disaggregation, and replays over scenarios."""

import numpy as np
import pytest

from ranopt.optimize.confidence import (
    DemandDisaggregation,
    cell_demand,
    home_cells,
    plan_confidence,
)
from ranopt.optimize.energy import plan_energy
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.twin import CellState, Twin, evaluate_snapshot
from ranopt.twin.elements import LAYERS
from ranopt.twin.traffic import expected_demand_mbps
from ranopt.twin.units import FloatArray

CAPACITY = LAYERS.index("capacity")


@pytest.fixture(scope="module")
def home(seven_site_twin: Twin):
    return home_cells(seven_site_twin)


@pytest.fixture(scope="module")
def expected_day(seven_site_twin: Twin) -> FloatArray:
    return expected_demand_mbps(seven_site_twin.traffic, 0)


@pytest.fixture(scope="module")
def disaggregation(
    seven_site_twin: Twin, home: np.ndarray, expected_day: FloatArray
) -> DemandDisaggregation:
    return DemandDisaggregation.from_expected(expected_day, home, seven_site_twin.num_cells)


def test_home_cell_is_the_always_on_serving_cell(
    seven_site_twin: Twin, home: np.ndarray, day_demand: FloatArray
):
    snap = evaluate_snapshot(
        seven_site_twin, CellState.all_on(seven_site_twin.num_cells), day_demand[0]
    )
    np.testing.assert_array_equal(home, snap.serving_cell)
    assert home.shape == (seven_site_twin.num_ues,)


def test_home_cell_uncovered_ue_is_minus_one(patchy_coverage_twin: Twin):
    home = home_cells(patchy_coverage_twin)
    ok = patchy_coverage_twin.link.suitable(patchy_coverage_twin.scenario.rsrp_min_dbm)
    np.testing.assert_array_equal(home < 0, ~ok.any(axis=1))
    assert (home < 0).any()


def test_cell_demand_sums_ue_demand_per_home_cell():
    home = np.array([2, 0, 2, -1, 1])
    demand = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 1.0, 0.5, 9.0, 0.0]])
    np.testing.assert_allclose(
        cell_demand(demand, home, num_cells=4),
        [[2.0, 5.0, 4.0, 0.0], [1.0, 0.0, 0.5, 0.0]],  # the UE without a home drops out
    )


def test_cell_demand_matches_a_loop(
    seven_site_twin: Twin, home: np.ndarray, day_demand: FloatArray
):
    totals = cell_demand(day_demand, home, seven_site_twin.num_cells)
    assert totals.shape == (day_demand.shape[0], seven_site_twin.num_cells)
    loop = np.zeros_like(totals)
    for ue, cell in enumerate(home):
        if cell >= 0:
            loop[:, cell] += day_demand[:, ue]
    np.testing.assert_allclose(totals, loop, rtol=1e-12)
    np.testing.assert_allclose(totals.sum(axis=1), day_demand[:, home >= 0].sum(axis=1))


def test_disaggregation_round_trips_the_expected_demand(
    seven_site_twin: Twin,
    home: np.ndarray,
    expected_day: FloatArray,
    disaggregation: DemandDisaggregation,
):
    rebuilt = disaggregation.ue_demand(cell_demand(expected_day, home, seven_site_twin.num_cells))
    covered = home >= 0
    np.testing.assert_allclose(rebuilt[:, covered], expected_day[:, covered], rtol=1e-12)
    # shares of a cell's UEs sum to one wherever the cell has demand
    totals = cell_demand(disaggregation.share, home, seven_site_twin.num_cells)
    has_demand = cell_demand(expected_day, home, seven_site_twin.num_cells) > 0
    np.testing.assert_allclose(totals[has_demand], 1.0, rtol=1e-12)


def test_disaggregation_scales_with_cell_demand(
    seven_site_twin: Twin,
    home: np.ndarray,
    expected_day: FloatArray,
    disaggregation: DemandDisaggregation,
):
    cells = cell_demand(expected_day, home, seven_site_twin.num_cells)
    doubled = disaggregation.ue_demand(2.0 * cells)
    np.testing.assert_allclose(doubled, 2.0 * expected_day, rtol=1e-12)
    # UEs keep their own cell's scenario: doubling one cell doubles only its UEs
    one = int(home[0])
    bumped = cells.copy()
    bumped[:, one] *= 2.0
    ue = disaggregation.ue_demand(bumped)
    mine = home == one
    np.testing.assert_allclose(ue[:, mine], 2.0 * expected_day[:, mine], rtol=1e-12)
    np.testing.assert_allclose(ue[:, ~mine], expected_day[:, ~mine], rtol=1e-12)


def test_disaggregation_keeps_uncovered_demand(patchy_coverage_twin: Twin):
    twin = patchy_coverage_twin
    home = home_cells(twin)
    expected = expected_demand_mbps(twin.traffic, 0)[:4]
    dis = DemandDisaggregation.from_expected(expected, home, twin.num_cells)
    rebuilt = dis.ue_demand(np.zeros((4, twin.num_cells)))
    np.testing.assert_allclose(rebuilt[:, home < 0], expected[:, home < 0])
    np.testing.assert_allclose(rebuilt[:, home >= 0], 0.0)


# --- plan_confidence ---------------------------------------------------------------------------


def scenarios_around(cells: FloatArray, factors: list[float]) -> FloatArray:
    """Scenarios ``[K, T, C]``: the expected cell demand scaled by each factor."""
    return np.stack([f * cells for f in factors])


def test_always_on_schedule_has_full_confidence(
    seven_site_twin: Twin, home: np.ndarray, expected_day: FloatArray
):
    cells = cell_demand(expected_day, home, seven_site_twin.num_cells)[76:80]
    dis = DemandDisaggregation.from_expected(expected_day[76:80], home, seven_site_twin.num_cells)
    schedule = np.ones((4, seven_site_twin.num_cells), dtype=bool)
    scenarios = scenarios_around(cells, [0.5, 1.0, 3.0])
    confidence, held = plan_confidence(
        seven_site_twin, schedule, scenarios, dis, EnergyConstraints()
    )
    assert confidence == 1.0
    np.testing.assert_array_equal(held, [True, True, True])


def test_capacity_layer_asleep_at_busy_hour_has_zero_confidence(
    seven_site_twin: Twin, home: np.ndarray, expected_day: FloatArray
):
    busy = slice(76, 80)  # 19:00-20:00
    cells = cell_demand(expected_day, home, seven_site_twin.num_cells)[busy]
    dis = DemandDisaggregation.from_expected(expected_day[busy], home, seven_site_twin.num_cells)
    schedule = np.tile(seven_site_twin.arrays.layer != CAPACITY, (4, 1))
    scenarios = scenarios_around(cells, [0.8, 1.0, 1.2])
    confidence, held = plan_confidence(
        seven_site_twin, schedule, scenarios, dis, EnergyConstraints()
    )
    assert confidence == 0.0
    np.testing.assert_array_equal(held, [False, False, False])


def test_confidence_is_the_share_of_scenarios_that_held(
    seven_site_twin: Twin, home: np.ndarray, expected_day: FloatArray
):
    """A plan made for the expected night holds on it and fails on 8 times the demand."""
    twin = seven_site_twin
    night = expected_day[0:12]
    plan = plan_energy(twin, night, "greedy")
    assert plan.expected is not None
    assert plan.expected.constraint_violations == 0
    assert (~plan.active).any()
    cells = cell_demand(night, home, twin.num_cells)
    dis = DemandDisaggregation.from_expected(night, home, twin.num_cells)
    confidence, held = plan_confidence(
        twin, plan.active, scenarios_around(cells, [1.0, 8.0, 1.0]), dis, EnergyConstraints()
    )
    np.testing.assert_array_equal(held, [True, False, True])
    assert confidence == pytest.approx(2.0 / 3.0)


def test_no_scenarios_give_zero_confidence(
    seven_site_twin: Twin, disaggregation: DemandDisaggregation
):
    num_t = seven_site_twin.scenario.intervals_per_day
    schedule = np.ones((num_t, seven_site_twin.num_cells), dtype=bool)
    empty = np.zeros((0, num_t, seven_site_twin.num_cells))
    confidence, held = plan_confidence(
        seven_site_twin, schedule, empty, disaggregation, EnergyConstraints()
    )
    assert confidence == 0.0
    assert held.shape == (0,)
