"""Fitting: the baseline recovers a known pattern, the residual model its known noise."""

import numpy as np
import pytest
from forecast_synthetic import (
    SyntheticHistory,
    make_history,
    synthetic_demand,
    synthetic_log_median,
)

from ranopt.forecast import ForecastConfig, fit_forecaster, predict
from ranopt.forecast.seasonal import daily_fourier_basis

NUM_INTERVALS, NUM_SERIES = 48, 6


def _all_days(history: SyntheticHistory) -> ForecastConfig:
    """Fit on every day of the history (no calibration days)."""
    return ForecastConfig(fit_days=history.demand.shape[0], calibration_days=0)


def _median_log_error(history: SyntheticHistory) -> float:
    """RMS over weekdays, intervals and series of log(forecast median / true median)."""
    model = fit_forecaster(history.demand, history.weekdays, _all_days(history))
    truth = synthetic_log_median(NUM_INTERVALS, NUM_SERIES)  # [7, T, S]
    errors = [np.log(predict(model, w).median) - truth[w] for w in range(7)]
    return float(np.sqrt(np.mean(np.square(errors))))


def test_median_recovers_pattern_from_two_weeks(two_weeks: SyntheticHistory) -> None:
    # The all-days profile averages 14 days whose day levels have sd sqrt(0.05^2 + 0.1^2)
    # = 0.11, so its own error is about 0.11 / sqrt(14) = 0.03; a weekday effect from two
    # samples adds about as much again. Measured over 20 seeds: mean 0.062, max 0.087.
    assert _median_log_error(two_weeks) < 0.10


def test_median_error_shrinks_with_more_history() -> None:
    # Eight samples per weekday: about half the two-week error (measured: mean 0.030).
    long = make_history(seed=5, num_days=56)
    assert _median_log_error(long) < 0.05


@pytest.mark.parametrize(("num_days", "tolerance"), [(14, 0.35), (56, 0.15)])
def test_weekend_pattern_is_kept(num_days: int, tolerance: float) -> None:
    history = make_history(seed=11, num_days=num_days)
    model = fit_forecaster(history.demand, history.weekdays, _all_days(history))
    # the first pattern (business weekends at 35-40 %) stands far above the noise
    assert model.weekday_shrinkage[0] > 0.9
    # Saturday over Wednesday, per series: 0.40 in business (odd) series, 1.05 in residential.
    # With 2 days of each the log ratio has sd ~0.10 (measured over 30 seeds: 0.06-0.11,
    # bias up to +0.06 from shrinkage), with 8 days of each ~0.04: tolerances are > 3 sd.
    ratio = predict(model, 5).median.sum(axis=0) / predict(model, 2).median.sum(axis=0)
    expected = np.where(np.arange(NUM_SERIES) % 2 == 1, 0.40, 1.05)
    np.testing.assert_array_less(np.abs(np.log(ratio / expected)), tolerance)


def test_no_weekly_pattern_means_little_weekday_effect() -> None:
    # every weekday drawn from the Monday pattern: any fitted effect is noise and is shrunk
    rng = np.random.default_rng(3)
    weekdays = np.arange(14, dtype=np.int64) % 7
    demand = synthetic_demand(
        rng, np.zeros(14, dtype=np.int64), NUM_INTERVALS, NUM_SERIES, make_history(1, 1).noise
    )
    model = fit_forecaster(demand, weekdays)
    effect = model.log_weekday_effect
    raw = np.stack([np.log(demand[weekdays == w]).mean(axis=0) for w in range(7)])
    raw_effect = raw - raw.mean(axis=0)
    assert np.sqrt(np.mean(effect**2)) < 0.5 * np.sqrt(np.mean(raw_effect**2))


def test_residual_model_recovers_known_noise() -> None:
    history = make_history(seed=7, num_days=112)
    noise = history.noise
    residual = fit_forecaster(history.demand, history.weekdays, _all_days(history)).residual
    # 112 days: a day-level sd is known to about 1/sqrt(2 * 112) = 7 %, i.e. +-0.004 / 0.007
    # (1 sd) for the common / series level; leave-one-out baselines add a little spread.
    assert residual.sigma_common_day == pytest.approx(noise.sigma_common_day, abs=0.02)
    np.testing.assert_allclose(residual.sigma_series_day, noise.sigma_series_day, atol=0.025)
    np.testing.assert_allclose(residual.sigma_intraday, noise.sigma_intraday, atol=0.01)
    assert residual.ar_coefficient == pytest.approx(noise.ar_coefficient, abs=0.06)
    assert residual.ar_share > 0.9  # pure AR(1), no white noise in this data
    np.testing.assert_allclose(residual.intraday_scale, 1.0, atol=0.1)  # homoscedastic


def test_fit_is_deterministic(two_weeks: SyntheticHistory) -> None:
    first = fit_forecaster(two_weeks.demand, two_weeks.weekdays)
    second = fit_forecaster(two_weeks.demand, two_weeks.weekdays)
    np.testing.assert_array_equal(first.log_profile, second.log_profile)
    np.testing.assert_array_equal(first.log_weekday_effect, second.log_weekday_effect)
    assert first.residual.sigma_common_day == second.residual.sigma_common_day


def test_zeros_and_an_all_zero_series(two_weeks: SyntheticHistory) -> None:
    demand = two_weeks.demand.copy()
    demand[:, :8, 0] = 0.0  # series 0 is silent every night
    demand[:, :, 1] = 0.0  # series 1 never carried traffic
    model = fit_forecaster(demand, two_weeks.weekdays)
    assert not model.active[:, 1].any()
    assert not model.active[:8, 0].any()
    assert model.active[8:, 0].all()
    assert model.active[:, 2:].all()
    forecast = predict(model, 2)
    assert np.isfinite(forecast.quantiles).all()
    assert np.isfinite(forecast.mean).all()
    # an interval silent on every day is a structural zero; so is a dead series
    np.testing.assert_array_equal(forecast.quantiles[:, :8, 0], 0.0)
    np.testing.assert_array_equal(forecast.quantiles[:, :, 1], 0.0)
    np.testing.assert_array_equal(forecast.mean[:, 1], 0.0)
    scenarios = forecast.sample(np.random.default_rng(0), 10)
    np.testing.assert_array_equal(scenarios[:, :, 1], 0.0)
    assert (scenarios[:, 8:, 0] > 0.0).all()


def test_single_weekday_history_has_no_weekday_effect(two_weeks: SyntheticHistory) -> None:
    mondays = two_weeks.demand[two_weeks.weekdays == 0]
    model = fit_forecaster(mondays, np.zeros(2, dtype=np.int64))
    np.testing.assert_array_equal(model.log_weekday_effect, 0.0)
    assert predict(model, 6).median.shape == (NUM_INTERVALS, NUM_SERIES)


def test_fourier_basis_is_orthogonal() -> None:
    basis = daily_fourier_basis(96, 3)  # [T, 7]
    gram = basis.T @ basis
    np.testing.assert_allclose(gram, np.diag(np.diag(gram)), atol=1e-9)
    np.testing.assert_allclose(np.diag(gram), [96.0] + [48.0] * 6)


def test_config_harmonics_clamped_to_short_days() -> None:
    history = make_history(seed=2, num_days=14, num_intervals=4)
    model = fit_forecaster(history.demand, history.weekdays, ForecastConfig(num_harmonics=10))
    assert np.isfinite(model.log_weekday_effect).all()


def test_network_silent_for_hours(two_weeks: SyntheticHistory) -> None:
    # every series is zero for 6 h each night: no division by a zero spread, forecast 0 there
    four_weeks = make_history(seed=11, num_days=28)
    for history in (two_weeks, four_weeks):  # log-normal, then split-conformal quantiles
        demand = history.demand.copy()
        demand[:, :12] = 0.0
        forecast = predict(fit_forecaster(demand, history.weekdays), 3)
        np.testing.assert_array_equal(forecast.median[:12], 0.0)
        assert (forecast.median[12:] > 0.0).all()
        assert np.isfinite(forecast.sample(np.random.default_rng(0), 3)).all()
