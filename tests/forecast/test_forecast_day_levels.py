"""The scenarios' day levels fitted to out-of-sample daily forecast errors (issue 17)."""

import numpy as np
import pytest
from forecast_synthetic import make_history

from ranopt.forecast import ForecastConfig, ResidualModel, fit_forecaster, predict
from ranopt.forecast.residual import STANDARD_GRID_LEVELS

NUM_DAYS, NUM_INTERVALS, NUM_SERIES = 400, 16, 24
COMMON, SERIES, INTRADAY = 0.12, 0.05, 0.15  # the given daily error distribution (latent sd)


def _error_days(rng: np.random.Generator) -> np.ndarray:
    """Latent daily forecast errors ``[D, T, S]``: network day level + series level + noise."""
    common = COMMON * rng.standard_normal((NUM_DAYS, 1, 1))
    series = SERIES * rng.standard_normal((NUM_DAYS, 1, NUM_SERIES))
    noise = INTRADAY * rng.standard_normal((NUM_DAYS, NUM_INTERVALS, NUM_SERIES))
    return np.asarray(common + series + noise)


def _narrow_model(standard_quantiles: np.ndarray | None) -> ResidualModel:
    """A model whose own (leave-one-day-out) network day level is a quarter of the errors'."""
    return ResidualModel(
        sigma_common_day=COMMON / 4,
        sigma_series_day=np.full(NUM_SERIES, SERIES),
        sigma_intraday=np.full(NUM_SERIES, INTRADAY),
        intraday_scale=np.ones(NUM_INTERVALS),
        ar_coefficient=0.0,
        ar_share=0.0,
        standard_quantiles=standard_quantiles,
    )


def test_day_levels_are_the_errors_method_of_moments_estimates() -> None:
    model = _narrow_model(None).with_day_levels(
        _error_days(np.random.default_rng(3)), ForecastConfig()
    )
    # 400 days: the sd of an sd estimate is about sd / sqrt(2 * 400) = 3.5 %; tolerance 12 %,
    # after the predictive factor sqrt(D / (D - 2)) for a variance estimated from D days
    predictive = np.sqrt(NUM_DAYS / (NUM_DAYS - 2))
    assert model.scenario_common_day == pytest.approx(COMMON * predictive, rel=0.12)
    # a series' day level is its day mean, which carries the noise's mean over T intervals
    series = np.sqrt(SERIES**2 + INTRADAY**2 / NUM_INTERVALS)
    np.testing.assert_allclose(model.scenario_series_day.mean(), series, rtol=0.06)
    # the fitted marginal spread is the model's own, untouched
    np.testing.assert_array_equal(model.sigma_total, _narrow_model(None).sigma_total)


def test_scenario_day_levels_spread_like_the_given_errors() -> None:
    # without calibrated quantiles the marginal stays log-normal with sd sigma_total and the
    # draw is rescaled from its own sd: a day's mean over all (t, s) then has the sd
    # (sigma_total / latent sd) * sqrt(c^2 + u^2 / S + i^2 / (T S)) with c, u fitted above
    model = _narrow_model(None).with_day_levels(
        _error_days(np.random.default_rng(3)), ForecastConfig()
    )
    common = float(model.scenario_common_day or 0.0)
    series = float(model.scenario_series_day.mean())  # all series were given the same sd
    latent_sd = np.sqrt(common**2 + series**2 + INTRADAY**2)
    scale = float(model.sigma_total[0, 0]) / latent_sd
    day_mean_sd = scale * np.sqrt(
        common**2 + series**2 / NUM_SERIES + INTRADAY**2 / (NUM_INTERVALS * NUM_SERIES)
    )
    # K = 5 000: the sd of the sample sd is 1 %; tolerance 4 %
    log_ratio = model.sample(np.random.default_rng(8), 5_000)  # [K, T, S]
    assert log_ratio.mean(axis=(1, 2)).std() == pytest.approx(day_mean_sd, rel=0.04)
    # the model's own day level would have given less than half that spread
    own = _narrow_model(None).sample(np.random.default_rng(8), 5_000)
    assert own.mean(axis=(1, 2)).std() < 0.5 * day_mean_sd
    # each interval keeps the marginal spread sigma_total
    np.testing.assert_allclose(log_ratio.std(axis=0), model.sigma_total, rtol=0.07)


def test_day_level_scenarios_keep_the_calibrated_quantiles_and_the_seed() -> None:
    skewed = -np.log1p(-STANDARD_GRID_LEVELS) - 1.0  # standardised exponential (mean 0, sd 1)
    model = _narrow_model(skewed).with_day_levels(
        _error_days(np.random.default_rng(4)), ForecastConfig()
    )
    num_scenarios = 10_000
    standardised = model.sample(np.random.default_rng(1), num_scenarios) / model.sigma_total
    for level in (0.05, 0.5, 0.9, 0.95):
        expected = float(model.standard_ppf(np.array([level]))[0])
        below = (standardised <= expected).mean(axis=0)  # [T, S]
        # binomial sd at K = 10 000 is at most 0.005: 0.025 is 5 sd for each of 384 elements
        np.testing.assert_allclose(below, level, atol=0.025)
        assert float(below.mean()) == pytest.approx(level, abs=0.005)
    first = model.sample(np.random.default_rng(7), 5)
    np.testing.assert_array_equal(first, model.sample(np.random.default_rng(7), 5))
    assert not np.array_equal(first, model.sample(np.random.default_rng(8), 5))


def test_fit_sets_day_levels_only_with_calibration_days() -> None:
    short = make_history(seed=11, num_days=14)
    assert fit_forecaster(short.demand, short.weekdays).residual.scenario_common_day is None
    history = make_history(seed=11, num_days=28)
    model = fit_forecaster(history.demand, history.weekdays)
    assert model.residual.scenario_common_day is not None
    assert model.residual.scenario_series_day is not None
    # the forecast's quantiles do not depend on them
    forecast = predict(model, 3, (0.05, 0.5, 0.95))
    levels = model.residual.standard_ppf(np.array([0.05, 0.5, 0.95]))
    expected = np.exp(
        model.log_baseline(3)[None] + levels[:, None, None] * model.residual.sigma_total
    )
    np.testing.assert_allclose(forecast.quantiles, np.where(forecast.quantiles > 0, expected, 0))


def test_network_day_level_worked_value() -> None:
    # four past days that ran 0.1, -0.2, 0.1, 0.2 above the forecast everywhere (latent
    # units): mean square 0.025, times the predictive factor 4 / (4 - 2): sd sqrt(0.05)
    levels = np.array([0.1, -0.2, 0.1, 0.2])
    latent = np.broadcast_to(levels[:, None, None], (4, NUM_INTERVALS, NUM_SERIES))
    model = _narrow_model(None).with_day_levels(np.array(latent), ForecastConfig())
    assert model.scenario_common_day == pytest.approx(np.sqrt(0.05), rel=1e-9)
    np.testing.assert_allclose(model.scenario_series_day, 0.0, atol=1e-12)


def test_a_day_counted_twice_is_one_day_of_the_predictive_factor() -> None:
    # the same four days given twice (leave-one-day-out and out-of-sample): mean square still
    # 0.025, but four distinct days, so the factor stays 4 / 2
    levels = np.array([0.1, -0.2, 0.1, 0.2, 0.1, -0.2, 0.1, 0.2])
    latent = np.broadcast_to(levels[:, None, None], (8, NUM_INTERVALS, NUM_SERIES))
    model = _narrow_model(None).with_day_levels(np.array(latent), ForecastConfig(), num_days=4)
    assert model.scenario_common_day == pytest.approx(np.sqrt(0.05), rel=1e-9)
