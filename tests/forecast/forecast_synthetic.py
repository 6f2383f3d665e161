"""Synthetic demand for the forecast tests: a known seasonal pattern times known noise."""

from dataclasses import dataclass

import numpy as np

from ranopt.forecast import Forecast, ResidualModel
from ranopt.forecast.arrays import FloatArray, IntArray


@dataclass(frozen=True)
class SyntheticNoise:
    """Log-ratio noise of the synthetic demand: day levels plus AR(1) (natural log)."""

    sigma_common_day: float = 0.05
    sigma_series_day: float = 0.10
    sigma_intraday: float = 0.08
    ar_coefficient: float = 0.7


def synthetic_log_median(num_intervals: int, num_series: int) -> FloatArray:
    """Known log-median demand ``[7, T, S]``: a daily curve per series, weekend dips for some.

    Series ``s`` peaks at hour ``8 + 2 s`` with a mean of ``50 (1 + s)`` Mbit/s; odd series are
    "business" areas whose Saturday and Sunday run at 40 % and 35 % of a working day, even series
    are "residential" with a 5 % weekend rise.
    """
    hour = (np.arange(num_intervals) + 0.5) * 24.0 / num_intervals  # [T]
    series = np.arange(num_series)  # [S]
    peak_h = 8.0 + 2.0 * series
    # [T, S]
    daily = 1.0 + 0.6 * np.cos(2.0 * np.pi * (hour[:, None] - peak_h[None, :]) / 24.0)
    level = 50.0 * (1.0 + series)
    weekday_factor = np.ones((7, num_series))
    business = series % 2 == 1
    weekday_factor[5, business], weekday_factor[6, business] = 0.40, 0.35
    weekday_factor[5, ~business], weekday_factor[6, ~business] = 1.05, 1.05
    # [7, T, S]
    return np.log(level[None, None, :] * daily[None] * weekday_factor[:, None, :])


def synthetic_demand(
    rng: np.random.Generator,
    weekdays: IntArray,
    num_intervals: int,
    num_series: int,
    noise: SyntheticNoise,
) -> FloatArray:
    """Draw days ``[D, T, S]`` = median pattern times log-normal noise, with an explicit loop."""
    log_median = synthetic_log_median(num_intervals, num_series)
    phi = noise.ar_coefficient
    days = []
    for weekday in weekdays:
        common = noise.sigma_common_day * rng.standard_normal()
        series = noise.sigma_series_day * rng.standard_normal(num_series)
        ar = np.empty((num_intervals, num_series))
        ar[0] = rng.standard_normal(num_series)
        for t in range(1, num_intervals):
            ar[t] = phi * ar[t - 1] + np.sqrt(1.0 - phi * phi) * rng.standard_normal(num_series)
        days.append(
            np.exp(log_median[weekday] + common + series[None, :] + noise.sigma_intraday * ar)
        )
    return np.stack(days)


@dataclass(frozen=True)
class SyntheticHistory:
    """Synthetic history with its generating parameters."""

    demand: FloatArray  # [D, T, S]
    weekdays: IntArray  # [D]
    noise: SyntheticNoise


def make_history(
    seed: int, num_days: int, num_intervals: int = 48, num_series: int = 6
) -> SyntheticHistory:
    """Return ``num_days`` consecutive synthetic days starting on a Monday."""
    noise = SyntheticNoise()
    weekdays = np.arange(num_days, dtype=np.int64) % 7
    rng = np.random.default_rng(seed)
    demand = synthetic_demand(rng, weekdays, num_intervals, num_series, noise)
    return SyntheticHistory(demand=demand, weekdays=weekdays, noise=noise)


def hand_forecast(residual: ResidualModel, log_baseline: FloatArray) -> Forecast:
    """A forecast with a hand-made residual model (no fitting), for closed-form checks."""
    num_series = log_baseline.shape[1]
    return Forecast(
        mean=np.exp(log_baseline),
        median=np.exp(log_baseline),
        quantile_levels=(0.5,),
        quantiles=np.exp(log_baseline)[None],
        log_baseline=log_baseline,
        residual=residual,
        floor=np.full(num_series, 1e-9),
        active=np.ones(log_baseline.shape, dtype=bool),
    )
