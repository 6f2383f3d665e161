"""Day-ahead inputs: history, forecast and planning demand of day D, with day D kept apart."""

import numpy as np
import pytest

from ranopt.errors import ValidationError
from ranopt.forecast import ForecastConfig, fit_forecaster, predict
from ranopt.optimize.confidence import DemandDisaggregation, cell_demand, home_cells
from ranopt.optimize.day_ahead import DayAheadConfig, DayAheadInputs, prepare_day_ahead
from ranopt.twin import Twin
from ranopt.twin.traffic import day_rng, expected_demand_mbps, realised_demand_mbps

SEED = 1
DAY = 14


@pytest.fixture(scope="module")
def inputs(seven_site_twin: Twin) -> DayAheadInputs:
    return prepare_day_ahead(seven_site_twin, SEED, DAY, DayAheadConfig(history_days=14))


@pytest.fixture(scope="module")
def median_inputs(seven_site_twin: Twin) -> DayAheadInputs:
    config = DayAheadConfig(history_days=14, planning_quantile=0.5)
    return prepare_day_ahead(seven_site_twin, SEED, DAY, config)


def test_shapes(seven_site_twin: Twin, inputs: DayAheadInputs):
    num_t = seven_site_twin.scenario.intervals_per_day
    num_c, num_u = seven_site_twin.num_cells, seven_site_twin.num_ues
    assert inputs.day == DAY
    assert inputs.history_days == tuple(range(0, 14))
    assert inputs.history_cell_mbps.shape == (14, num_t, num_c)
    assert inputs.forecast.mean.shape == (num_t, num_c)
    assert inputs.forecast.quantiles.shape[1:] == (num_t, num_c)
    assert 0.9 in inputs.forecast.quantile_levels
    assert inputs.planning_demand_mbps.shape == (num_t, num_u)
    assert inputs.realised_demand_mbps.shape == (num_t, num_u)
    assert np.all(inputs.planning_demand_mbps >= 0.0)


@pytest.mark.parametrize(("day", "history_days"), [(13, 14), (0, 14), (3, 7)])
def test_day_without_full_history_is_rejected(seven_site_twin: Twin, day: int, history_days: int):
    with pytest.raises(ValidationError, match="day"):
        prepare_day_ahead(seven_site_twin, SEED, day, DayAheadConfig(history_days=history_days))


@pytest.mark.parametrize("quantile", [0.0, 1.0, 1.5, -0.1])
def test_planning_quantile_outside_zero_one_is_rejected(seven_site_twin: Twin, quantile: float):
    config = DayAheadConfig(history_days=7, planning_quantile=quantile)
    with pytest.raises(ValidationError, match="planning_quantile"):
        prepare_day_ahead(seven_site_twin, SEED, 7, config)


def test_higher_quantile_plans_for_more_demand(
    inputs: DayAheadInputs, median_inputs: DayAheadInputs
):
    high, median = inputs.planning_demand_mbps, median_inputs.planning_demand_mbps
    assert high.sum() > median.sum()
    assert np.all(high >= median - 1e-9)
    # the rest of the inputs does not depend on the planning quantile
    np.testing.assert_array_equal(inputs.history_cell_mbps, median_inputs.history_cell_mbps)
    np.testing.assert_array_equal(inputs.realised_demand_mbps, median_inputs.realised_demand_mbps)


def test_realised_day_is_the_twins_day(seven_site_twin: Twin, inputs: DayAheadInputs):
    expected = realised_demand_mbps(seven_site_twin.traffic, DAY, day_rng(SEED, DAY))
    np.testing.assert_array_equal(inputs.realised_demand_mbps, expected)


def test_planning_uses_only_the_days_before(seven_site_twin: Twin, inputs: DayAheadInputs):
    """Rebuild the planning demand from days 0-13 alone: day 14 never enters it."""
    twin = seven_site_twin
    home = home_cells(twin)
    history = np.stack(
        [
            cell_demand(
                realised_demand_mbps(twin.traffic, d, day_rng(SEED, d)), home, twin.num_cells
            )
            for d in range(DAY - 14, DAY)
        ]
    )
    np.testing.assert_array_equal(inputs.history_cell_mbps, history)
    # day 14's own counters are not in the history
    realised_cells = cell_demand(inputs.realised_demand_mbps, home, twin.num_cells)
    assert not any(np.array_equal(h, realised_cells) for h in inputs.history_cell_mbps)
    model = fit_forecaster(history, np.arange(DAY - 14, DAY) % 7, ForecastConfig())
    levels = inputs.forecast.quantile_levels
    forecast = predict(model, weekday=DAY % 7, quantiles=levels)
    np.testing.assert_allclose(inputs.forecast.quantiles, forecast.quantiles, rtol=1e-12)
    dis = DemandDisaggregation.from_expected(
        expected_demand_mbps(twin.traffic, DAY), home, twin.num_cells
    )
    planning = dis.ue_demand(forecast.quantiles[levels.index(0.9)])
    np.testing.assert_allclose(inputs.planning_demand_mbps, planning, rtol=1e-12)


def test_planning_demand_aggregates_to_the_forecast_quantile(
    seven_site_twin: Twin, inputs: DayAheadInputs
):
    home = home_cells(seven_site_twin)
    cells = cell_demand(inputs.planning_demand_mbps, home, seven_site_twin.num_cells)
    quantile = inputs.forecast.quantiles[inputs.forecast.quantile_levels.index(0.9)]
    # cells whose UEs have expected demand carry exactly the forecast quantile
    has_ues = (
        cell_demand(
            expected_demand_mbps(seven_site_twin.traffic, DAY), home, seven_site_twin.num_cells
        )
        > 0
    )
    np.testing.assert_allclose(cells[has_ues], quantile[has_ues], rtol=1e-9)


def test_short_history_for_the_cli(seven_site_twin: Twin):
    inputs = prepare_day_ahead(seven_site_twin, SEED, 7, DayAheadConfig(history_days=7))
    assert inputs.history_days == tuple(range(7))
    assert inputs.history_cell_mbps.shape[0] == 7
