"""Rolling-origin backtest of the seasonal forecaster against naive forecasts.

For each target day after the first ``train_days`` the forecaster is fitted on the
``train_days`` days before it (and calibrated on up to ``config.calibration_days`` days before
those, as the product does) and scored on that day ("evaluation on a rolling forecasting
origin", Hyndman & Athanasopoulos, "Forecasting: Principles and Practice", 3rd ed., 2021,
sec. 5.10). Two naive forecasts from the same window are scored alongside it: the seasonal
naive (the last day of the same weekday) and the naive (yesterday) (ibid., sec. 5.2).
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from ranopt.errors import ValidationError
from ranopt.forecast.arrays import (
    NUM_WEEKDAYS,
    FloatArray,
    IntArray,
    as_history,
    as_quantile_levels,
    as_weekdays,
)
from ranopt.forecast.config import ForecastConfig
from ranopt.forecast.distribution import predict
from ranopt.forecast.metrics import interval_coverage, pinball_loss
from ranopt.forecast.seasonal import DEFAULT_CONFIG, fit_forecaster

DEFAULT_BACKTEST_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True, eq=False)
class BacktestReport:
    """Scores of a rolling-origin backtest; WAPE and coverage are fractions.

    Attributes
    ----------
    target_days
        ``[D]`` index (into the history) of each scored day.
    calibration_days
        ``[D]`` days that calibrated each day's quantiles (0: log-normal, uncalibrated).
    quantile_levels
        Levels whose pinball loss is reported.
    interval_levels
        Nominal coverage of each central interval ``[q, 1 - q]`` found among the levels.
    wape_per_day, naive_weekly_wape_per_day, naive_daily_wape_per_day
        ``[D]`` WAPE of the model's median, of the seasonal naive and of yesterday's demand.
    coverage_per_day
        ``[D, num_intervals]`` fraction of (interval, series) observations inside each interval.
    pinball_per_day
        ``[D, Q]`` mean pinball loss per quantile level, in the history's unit.
    wape, naive_weekly_wape, naive_daily_wape
        The same over all scored days (total absolute error over total demand).
    coverage
        ``[num_intervals]`` coverage over all scored days.
    pinball
        ``[Q]`` mean pinball loss over all scored days.
    """

    target_days: IntArray
    calibration_days: IntArray
    quantile_levels: tuple[float, ...]
    interval_levels: tuple[float, ...]
    wape_per_day: FloatArray
    naive_weekly_wape_per_day: FloatArray
    naive_daily_wape_per_day: FloatArray
    coverage_per_day: FloatArray
    pinball_per_day: FloatArray
    wape: float
    naive_weekly_wape: float
    naive_daily_wape: float
    coverage: FloatArray
    pinball: FloatArray


def central_intervals(levels: Sequence[float]) -> list[tuple[int, int, float]]:
    """Return ``(lower index, upper index, nominal coverage)`` of each pair ``q``, ``1 - q``."""
    pairs = []
    for i, low in enumerate(levels):
        for j, high in enumerate(levels):
            if low < 0.5 and abs(low + high - 1.0) < 1e-9:
                pairs.append((i, j, high - low))
    return sorted(pairs, key=lambda pair: pair[2])


def _seasonal_naive_day(weekdays: IntArray, window: range, target: int) -> int:
    """Return the last day in ``window`` with the target's weekday, else the window's last."""
    same = [day for day in window if weekdays[day] == weekdays[target]]
    return same[-1] if same else window[-1]


def backtest(
    history_all: npt.ArrayLike,
    weekdays: npt.ArrayLike,
    train_days: int = 14,
    quantiles: Sequence[float] = DEFAULT_BACKTEST_QUANTILES,
    config: ForecastConfig = DEFAULT_CONFIG,
) -> BacktestReport:
    """Score the forecaster on every day after the first ``train_days`` (rolling origin).

    Parameters
    ----------
    history_all
        ``[num_days_total, intervals_per_day, num_series]`` demand >= 0, days in time order.
    weekdays
        ``[num_days_total]`` weekday of each day, 0..6 with 0 = Monday.
    train_days
        Days in each fitting window, >= 7 so that the seasonal naive has a same weekday.
    quantiles
        Levels to score; symmetric pairs (e.g. 0.05 and 0.95) also give interval coverage.
    config
        Forecaster settings; its ``fit_days`` is replaced by ``train_days``.

    Returns
    -------
    BacktestReport
        Per-day and overall WAPE (model median, seasonal naive, naive), interval coverage and
        pinball loss.
    """
    values = as_history(history_all, name="history_all")
    num_days = values.shape[0]
    days_weekday = as_weekdays(weekdays, num_days)
    if isinstance(train_days, bool) or not isinstance(train_days, int | np.integer):
        msg = f"train_days must be an int, got {train_days!r}"
        raise ValidationError(msg)
    if not NUM_WEEKDAYS <= train_days < num_days:
        msg = f"train_days must be in [7, {num_days - 1}] for {num_days} days, got {train_days}"
        raise ValidationError(msg)
    levels = as_quantile_levels(quantiles)
    intervals = central_intervals(levels)

    targets = np.arange(train_days, num_days)
    fit_config = replace(config, fit_days=train_days)
    scores = []  # per target: abs errors (model, weekly, daily), total, coverage, pinball
    calibrated = []
    for target in targets:
        window = range(target - train_days, target)
        first = max(0, window.start - config.calibration_days)
        model = fit_forecaster(values[first:target], days_weekday[first:target], fit_config)
        calibrated.append(model.num_calibration_days)
        forecast = predict(model, int(days_weekday[target]), levels)
        actual = values[target]
        weekly = values[_seasonal_naive_day(days_weekday, window, int(target))]
        daily = values[target - 1]
        scores.append(
            (
                np.abs(actual - forecast.median).sum(),
                np.abs(actual - weekly).sum(),
                np.abs(actual - daily).sum(),
                actual.sum(),
                [
                    interval_coverage(actual, forecast.quantiles[i], forecast.quantiles[j])
                    for i, j, _ in intervals
                ],
                [
                    pinball_loss(actual, forecast.quantiles[k], level)
                    for k, level in enumerate(levels)
                ],
            )
        )
    errors = np.array([s[:4] for s in scores], dtype=np.float64)  # [D, 4]
    coverage_per_day = np.array([s[4] for s in scores], dtype=np.float64).reshape(len(scores), -1)
    pinball_per_day = np.array([s[5] for s in scores], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_day = errors[:, :3] / errors[:, 3:4]  # [D, 3]
    totals = errors.sum(axis=0)
    overall = totals[:3] / totals[3] if totals[3] > 0.0 else np.full(3, np.nan)
    return BacktestReport(
        target_days=targets.astype(np.int64),
        calibration_days=np.array(calibrated, dtype=np.int64),
        quantile_levels=levels,
        interval_levels=tuple(float(round(c, 12)) for _, _, c in intervals),
        wape_per_day=per_day[:, 0],
        naive_weekly_wape_per_day=per_day[:, 1],
        naive_daily_wape_per_day=per_day[:, 2],
        coverage_per_day=coverage_per_day,
        pinball_per_day=pinball_per_day,
        wape=float(overall[0]),
        naive_weekly_wape=float(overall[1]),
        naive_daily_wape=float(overall[2]),
        coverage=coverage_per_day.mean(axis=0),
        pinball=pinball_per_day.mean(axis=0),
    )
