"""Nowcast: the rest of today given its first intervals, the exact Gaussian conditional."""

from dataclasses import replace

import numpy as np
import pytest
from forecast_synthetic import hand_forecast, make_history

from ranopt.errors import ValidationError
from ranopt.forecast import (
    ConditionalResidual,
    Forecast,
    ResidualModel,
    fit_forecaster,
    interval_coverage,
    nowcast,
    predict,
    wape,
)
from ranopt.optimize.confidence import cell_demand, home_cells
from ranopt.optimize.day_ahead import DayAheadConfig, prepare_day_ahead
from ranopt.twin import build_twin, scenario_preset

LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)


def _small_residual(num_intervals: int, num_series: int) -> ResidualModel:
    return ResidualModel(
        sigma_common_day=0.3,
        sigma_series_day=np.linspace(0.2, 0.4, num_series),
        sigma_intraday=np.linspace(0.25, 0.15, num_series),
        intraday_scale=np.linspace(0.7, 1.3, num_intervals),
        ar_coefficient=0.8,
        ar_share=0.6,
        standard_quantiles=None,
    )


def _covariance(model: ResidualModel) -> np.ndarray:
    """Covariance of r, ``[(T S), (T S)]`` in ``(t, s)`` row-major order, from the parameters."""
    num_intervals = model.intraday_scale.shape[0]
    num_series = model.sigma_series_day.shape[0]
    scale = model.intraday_scale[:, None] * model.sigma_intraday[None, :]  # [T, S]
    lag = np.abs(np.arange(num_intervals)[:, None] - np.arange(num_intervals)[None, :])
    intraday = model.ar_share * model.ar_coefficient**lag + (1.0 - model.ar_share) * (lag == 0)
    cov = np.full((num_intervals, num_series, num_intervals, num_series), 0.0)
    cov += model.sigma_common_day**2
    for s in range(num_series):
        cov[:, s, :, s] += model.sigma_series_day[s] ** 2
        cov[:, s, :, s] += np.outer(scale[:, s], scale[:, s]) * intraday
    return cov.reshape(num_intervals * num_series, num_intervals * num_series)


@pytest.fixture(scope="module")
def fitted_96() -> dict[str, Forecast]:
    """Day-ahead forecasts of a Wednesday, 96 intervals, 5 series: fitted on two synthetic
    weeks (log-normal quantiles), and on the same two weeks calibrated on two weeks before."""
    history = make_history(seed=7, num_days=28, num_intervals=96, num_series=5)
    forecasts = {}
    for name, first in (("lognormal", 14), ("calibrated", 0)):
        model = fit_forecaster(history.demand[first:], history.weekdays[first:])
        assert model.num_calibration_days == 14 - first
        forecasts[name] = predict(model, weekday=2, quantiles=LEVELS)
    return forecasts


@pytest.mark.parametrize("method", ["lognormal", "calibrated"])
def test_nothing_observed_is_the_day_ahead_forecast(
    fitted_96: dict[str, Forecast], method: str
) -> None:
    forecast = fitted_96[method]
    rest = nowcast(forecast, np.empty((0, 5)))
    assert isinstance(rest.residual, ConditionalResidual)
    assert rest.quantile_levels == forecast.quantile_levels
    np.testing.assert_allclose(rest.quantiles, forecast.quantiles, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(rest.median, forecast.median, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(rest.mean, forecast.mean, rtol=1e-9)
    # the conditional sampler consumes the generator as the unconditional one: same draws,
    # with the fitting window's day levels (its filter's prior); the day-ahead scenarios of a
    # calibrated model draw their day levels from past days' errors instead (docs/forecast.md)
    residual = forecast.residual
    assert isinstance(residual, ResidualModel)
    assert (residual.scenario_common_day is not None) == (method == "calibrated")
    window_levels = replace(residual, scenario_common_day=None, scenario_series_day=None)
    np.testing.assert_allclose(
        rest.sample(np.random.default_rng(3), 50),
        replace(forecast, residual=window_levels).sample(np.random.default_rng(3), 50),
        rtol=1e-9,
        atol=1e-12,
    )


@pytest.mark.parametrize("num_series", [1, 2])
def test_kalman_filter_matches_explicit_gaussian_conditioning(num_series: int) -> None:
    num_intervals, start = 7, 4
    model = _small_residual(num_intervals, num_series)
    rng = np.random.default_rng(num_series)
    log_baseline = rng.normal(3.0, 0.5, (num_intervals, num_series))
    truth = rng.normal(0.0, 0.5, (start, num_series))  # latent residuals of intervals 0..t0-1
    observed = np.exp(log_baseline[:start] + truth)
    observed[1, 0] = 0.0  # at the floor: no information
    rest = nowcast(hand_forecast(model, log_baseline), observed)
    assert isinstance(rest.residual, ConditionalResidual)
    mean, variance = rest.residual.moments()

    cov = _covariance(model)
    index = np.arange(num_intervals * num_series).reshape(num_intervals, num_series)
    seen = index[:start].ravel()
    seen = seen[seen != index[1, 0]]
    ahead = index[start:].ravel()
    gain = np.linalg.solve(cov[np.ix_(seen, seen)], cov[np.ix_(seen, ahead)]).T
    values = truth.ravel()[seen]  # index[:start] ravels as truth does
    exact_mean = gain @ values
    exact_cov = cov[np.ix_(ahead, ahead)] - gain @ cov[np.ix_(seen, ahead)]
    np.testing.assert_allclose(mean.ravel(), exact_mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(variance.ravel(), np.diag(exact_cov), rtol=1e-9)
    # median and quantile are the Gaussian's, through exp(log_baseline)
    np.testing.assert_allclose(np.log(rest.median) - log_baseline[start:], mean, atol=1e-12)
    # the sampler keeps the cross-interval and cross-series covariance
    draws = np.log(rest.sample(np.random.default_rng(9), 200_000)) - log_baseline[start:]
    flat = draws.reshape(draws.shape[0], -1)
    np.testing.assert_allclose(flat.mean(axis=0), exact_mean, atol=0.01)
    np.testing.assert_allclose(np.cov(flat.T), exact_cov, atol=0.01)


@pytest.mark.parametrize("method", ["lognormal", "calibrated"])
def test_calibrated_and_sharper_on_days_drawn_from_the_model(
    fitted_96: dict[str, Forecast], method: str
) -> None:
    # 400 days drawn from the forecast itself, each conditioned on its first 32 intervals
    # (8 a.m.). One day's coverage moves with its conditional day level, so pool over days.
    # Measured over 3 seeds x t0 in (16, 32, 64): coverage 0.898..0.902 (sd of the pooled mean
    # ~0.002), WAPE 0.066..0.072 against the day-ahead median's 0.131..0.142.
    forecast = fitted_96[method]
    start = 32
    days = forecast.sample(np.random.default_rng(21), 400)
    inside, nowcast_error, day_ahead_error, total = 0.0, 0.0, 0.0, 0.0
    for day in days:
        rest = nowcast(forecast, day[:start])
        truth = day[start:]
        inside += interval_coverage(truth, rest.quantiles[0], rest.quantiles[-1])
        nowcast_error += np.abs(truth - rest.median).sum()
        day_ahead_error += np.abs(truth - forecast.median[start:]).sum()
        total += truth.sum()
    assert inside / len(days) == pytest.approx(0.90, abs=0.015)
    assert nowcast_error / total < 0.7 * day_ahead_error / total


def test_a_high_morning_raises_the_rest_of_the_day_and_narrows_it(
    fitted_96: dict[str, Forecast],
) -> None:
    forecast = fitted_96["lognormal"]
    start = 32
    rest = nowcast(forecast, 1.3 * forecast.median[:start])
    assert (rest.median > forecast.median[start:]).all()
    width = rest.quantiles[-1] / rest.quantiles[0]
    assert (width < forecast.quantiles[-1, start:] / forecast.quantiles[0, start:]).all()
    # more of the day seen: the day level is better known, the intervals stay narrower
    later = nowcast(forecast, 1.3 * forecast.median[:64])
    assert (later.quantiles[-1] / later.quantiles[0] <= width[64 - start :] * (1 + 1e-12)).all()


def test_nowcast_of_the_twin_beats_the_day_ahead_median() -> None:
    # measured over days 14..20 (seed 1, 114 cells) at t0 = 40: day-ahead 0.118, nowcast 0.081
    twin = build_twin(scenario_preset("default", seed=1))
    inputs = prepare_day_ahead(twin, seed=1, day=15, config=DayAheadConfig())
    truth = cell_demand(inputs.realised_demand_mbps, home_cells(twin), twin.num_cells)
    start = 40
    rest = nowcast(inputs.forecast, truth[:start])
    assert rest.median.shape == (96 - start, twin.num_cells)
    assert rest.quantiles.shape == (len(inputs.forecast.quantile_levels), 96 - start, 114)
    assert rest.sample(np.random.default_rng(0), 3).shape == (3, 96 - start, 114)
    day_ahead = wape(truth[start:], inputs.forecast.median[start:])
    assert wape(truth[start:], rest.median) < 0.85 * day_ahead


def test_nowcast_rejects_bad_inputs(fitted_96: dict[str, Forecast]) -> None:
    forecast = fitted_96["lognormal"]
    ok = forecast.median[:10]
    with pytest.raises(ValidationError, match="observed must have shape"):
        nowcast(forecast, ok[:, :3])
    with pytest.raises(ValidationError, match="observed must have shape"):
        nowcast(forecast, ok[0])
    with pytest.raises(ValidationError, match="observed must cover fewer"):
        nowcast(forecast, np.ones((96, 5)))
    bad = ok.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValidationError, match="observed must be finite"):
        nowcast(forecast, bad)
    bad[2, 1] = -1.0
    with pytest.raises(ValidationError, match="observed must be >= 0"):
        nowcast(forecast, bad)
    with pytest.raises(ValidationError, match="forecast must be"):
        nowcast("forecast", ok)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="forecast must span the whole day"):
        nowcast(nowcast(forecast, ok), ok)
