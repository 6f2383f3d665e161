"""Split-conformal calibration: the finite-sample rule, coverage on known distributions and on
the twin's per-cell demand, and the planners' forecast calibrated once history allows it."""

import numpy as np
import pytest
from forecast_synthetic import make_history, synthetic_log_median

from ranopt.errors import ValidationError
from ranopt.forecast import fit_forecaster, nowcast, predict
from ranopt.forecast.conformal import conformal_quantiles
from ranopt.optimize.confidence import cell_demand, home_cells
from ranopt.optimize.day_ahead import DayAheadConfig, prepare_day_ahead
from ranopt.twin import build_twin, scenario_preset
from ranopt.twin.traffic import day_rng, realised_demand_mbps

LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)


def test_rank_rule_on_a_worked_example() -> None:
    # n = 9 scores 1..9: level q takes rank ceil(10 q) (q >= 0.5) or floor(10 q), clipped to 1..9
    scores = np.arange(9.0, 0.0, -1.0)  # unsorted on purpose
    levels = np.array([0.05, 0.1, 0.25, 0.5, 0.9, 0.99])
    np.testing.assert_array_equal(conformal_quantiles(scores, levels), [1, 1, 2, 5, 9, 9])


@pytest.mark.parametrize("draw", ["normal", "exponential"])
def test_central_interval_covers_exactly_its_rank_share(draw: str) -> None:
    # With n = 39 exchangeable continuous scores, [rank 2, rank 38] holds a new score with
    # probability (38 - 2) / (n + 1) = 0.9 exactly, whatever the distribution (Lei et al. 2018,
    # Thm 2.2). 4 000 replications: binomial sd 0.0047, tolerance 3 sd.
    rng = np.random.default_rng(0)
    replications, num_scores = 4_000, 39
    sample = rng.standard_normal if draw == "normal" else rng.standard_exponential
    scores = sample((replications, num_scores))
    fresh = sample(replications)
    inside = 0
    for row, new in zip(scores, fresh, strict=True):
        low, high = conformal_quantiles(row, np.array([0.05, 0.95]))
        inside += int(low <= new <= high)
    assert inside / replications == pytest.approx(0.9, abs=0.014)


def test_bad_scores_are_refused() -> None:
    with pytest.raises(ValidationError, match="at least one"):
        conformal_quantiles(np.array([]), np.array([0.5]))
    with pytest.raises(ValidationError, match="finite"):
        conformal_quantiles(np.array([1.0, np.nan]), np.array([0.5]))


def _heavy_tailed_days(rng: np.random.Generator, num_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic days whose intra-day noise is Student-t (3 degrees of freedom), not normal."""
    weekdays = np.arange(num_days, dtype=np.int64) % 7
    log_median = synthetic_log_median(48, 6)  # [7, T, S]
    common = 0.05 * rng.standard_normal((num_days, 1, 1))
    series = 0.10 * rng.standard_normal((num_days, 1, 6))
    intraday = 0.06 * rng.standard_t(3, (num_days, 48, 6))
    return np.exp(log_median[weekdays] + common + series + intraday), weekdays


def _heavy_tailed_coverage() -> dict[str, np.ndarray]:
    """Mean 90 % / 50 % coverage, ``[horizon, 2]``, of log-normal and calibrated forecasts.

    10 replicates: 14 fitting days (and 14 calibration days before them), scored on 14 fresh
    days, day ahead and from origins 12 and 30 over the next 4 intervals.
    """
    coverage: dict[str, list[list[tuple[float, float]]]] = {"lognormal": [], "calibrated": []}
    for replicate in range(10):
        rng = np.random.default_rng(300 + replicate)
        demand, weekdays = _heavy_tailed_days(rng, 42)
        history, fresh = demand[:28], demand[28:]
        for name, first in (("lognormal", 14), ("calibrated", 0)):
            model = fit_forecaster(history[first:], weekdays[first:28])
            for offset, actual in enumerate(fresh):
                forecast = predict(model, int(weekdays[28 + offset]), LEVELS)
                scores = [_coverage(actual, forecast.quantiles)]
                for origin in (12, 30):
                    rest = nowcast(forecast, actual[:origin])
                    truth = actual[origin : origin + 4]
                    scores.append(_coverage(truth, rest.quantiles[:, :4]))
                coverage[name].append(
                    [scores[0], tuple(np.mean(scores[1:], axis=0))]  # type: ignore[list-item]
                )
    return {name: np.mean(values, axis=0) for name, values in coverage.items()}


def test_calibration_corrects_a_wrong_distribution() -> None:
    # Student-t intra-day noise: a log-normal fitted by its variance misplaces the quantiles
    # (measured: 90 % / 50 % intervals cover 0.923 / 0.549 day ahead, 0.930 / 0.635 next
    # hour); conformal quantiles from 14 held-out days follow the data's own shape (0.887 /
    # 0.480 and 0.905 / 0.511). 10 replicates of 14 fresh days: the day ahead's means move
    # by about 0.015 with the day levels, the next hour's by less.
    coverage = _heavy_tailed_coverage()
    lognormal, calibrated = coverage["lognormal"], coverage["calibrated"]
    for horizon, margin in ((0, 0.0), (1, 0.05)):
        assert calibrated[horizon, 0] == pytest.approx(0.90, abs=0.03)
        assert calibrated[horizon, 1] == pytest.approx(0.50, abs=0.04)
        error = np.abs(calibrated[horizon] - (0.9, 0.5)).max()
        assert np.abs(lognormal[horizon] - (0.9, 0.5)).max() > error + margin


def test_twin_intervals_are_calibrated() -> None:
    # Per-cell home demand of a 7-site twin (21 cells carry traffic), as the loop fits it, over
    # 10 weeks: targets 28..69 have 14 calibration days each. Measured over seeds 1-4: 90 %
    # interval 0.887-0.898 day ahead and 0.896-0.901 for the nowcast's next hour (8 origins),
    # 50 % 0.482-0.499. Seed 1 with 4 origins: 0.892 / 0.494 day ahead, 0.901 / 0.506 next
    # hour. Across seeds the mean of 42 days moves by about 0.005: tolerances are generous.
    twin = build_twin(scenario_preset("default", seed=1, num_sites=7, num_ues=300))
    home = home_cells(twin)
    demand = np.stack(
        [
            cell_demand(realised_demand_mbps(twin.traffic, d, day_rng(1, d)), home, twin.num_cells)
            for d in range(70)
        ]
    )
    demand = demand[:, :, demand.max(axis=(0, 1)) > 0.0]  # a cell never home to a UE scores 1
    weekdays = np.arange(70, dtype=np.int64) % 7
    day_ahead, next_hour = [], []
    for day in range(28, 70):
        model = fit_forecaster(demand[day - 28 : day], weekdays[day - 28 : day])
        assert model.num_calibration_days == 14
        forecast = predict(model, int(weekdays[day]), LEVELS)
        day_ahead.append(_coverage(demand[day], forecast.quantiles))
        for origin in (12, 36, 60, 84):
            rest = nowcast(forecast, demand[day, :origin])
            truth = demand[day, origin : origin + 4]
            next_hour.append(_coverage(truth, rest.quantiles[:, :4]))
    coverage_90, coverage_50 = np.mean(day_ahead, axis=0)
    assert coverage_90 == pytest.approx(0.90, abs=0.025)
    assert coverage_50 == pytest.approx(0.50, abs=0.03)
    coverage_90, coverage_50 = np.mean(next_hour, axis=0)
    assert coverage_90 == pytest.approx(0.90, abs=0.025)
    assert coverage_50 == pytest.approx(0.50, abs=0.03)


def _coverage(actual: np.ndarray, quantiles: np.ndarray) -> tuple[float, float]:
    """Coverage of the 90 % and 50 % central intervals of ``LEVELS`` quantiles."""
    inside_90 = (actual >= quantiles[0]) & (actual <= quantiles[4])
    inside_50 = (actual >= quantiles[1]) & (actual <= quantiles[3])
    return float(inside_90.mean()), float(inside_50.mean())


def test_calibration_needs_a_week_beyond_the_fitting_window() -> None:
    history = make_history(seed=3, num_days=30)
    for num_days, expected in ((14, 0), (20, 0), (21, 7), (27, 13), (28, 14), (30, 14)):
        model = fit_forecaster(history.demand[-num_days:], history.weekdays[-num_days:])
        assert model.num_calibration_days == expected
        assert model.num_train_days == 14
        assert (model.residual.conditional_quantiles is None) == (expected == 0)


def test_day_ahead_planner_forecast_is_calibrated() -> None:
    # the planner passes the 14 fitting days and up to 14 before them; day 21 has 7 of those
    twin = build_twin(scenario_preset("default", seed=1, num_sites=7, num_ues=300))
    inputs = prepare_day_ahead(twin, seed=1, day=21, config=DayAheadConfig())
    assert inputs.history_days == tuple(range(21))
    forecast = inputs.forecast
    assert forecast.residual.standard_quantiles is not None  # type: ignore[attr-defined]
    # the scenarios the planner draws keep the calibrated marginal: share below the 0.9 quantile
    level = forecast.quantile_levels.index(0.9)
    scenarios = forecast.sample(np.random.default_rng(0), 2_000)
    busy = forecast.median > 0.0
    below = (scenarios <= forecast.quantiles[level][None]).mean(axis=0)[busy]
    assert below.mean() == pytest.approx(0.9, abs=0.01)
