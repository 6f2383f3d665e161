"""Seasonal baseline: a daily profile per series with shrunk weekday patterns, fitted in logs.

The log demand of day ``d`` (weekday ``w``) is modelled as
``log y[d, t, s] = a[t, s] + g[w, t, s] + r[d, t, s]``: an all-days profile ``a``, a weekday
effect ``g`` and the residual ``r`` (``ranopt.forecast.residual``). With 14 days of history
each weekday has only two samples, so ``g`` is estimated with three kinds of pooling:

- **over the day**: a weekday's deviation from ``a`` is projected onto a few daily Fourier
  harmonics (harmonic regression, Hyndman & Athanasopoulos, "Forecasting: Principles and
  Practice", 3rd ed., 2021, sec. 7.4), so per-interval noise does not enter ``g``;
- **over weekdays and series**: the weekday-by-(harmonic, series) matrix of deviations is
  reduced to its leading singular components (a low-rank weekly pattern: "weekend vs working
  day" with each series' own strength and shape, Shen & Huang, "Interday forecasting and
  intraday updating of call center arrivals", M&SOM 2008);
- **towards zero**: each component's singular value ``s`` is shrunk by
  ``max(0, 1 - s_noise**2 / s**2)`` where ``s_noise`` is the matching singular value of a
  noise replica built from differences of same-weekday days (an empirical-Bayes factor, as in
  Horn's parallel analysis, Psychometrika 1965), so a pattern that stands no higher than the
  day-to-day noise is dropped.

Series are weighted by their replicate noise so that a noisy series cannot dominate the pattern.
"""

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from ranopt.errors import ValidationError
from ranopt.forecast.arrays import (
    NUM_WEEKDAYS,
    BoolArray,
    FloatArray,
    IntArray,
    as_history,
    as_weekdays,
)
from ranopt.forecast.conditional import conditional_scores
from ranopt.forecast.config import ForecastConfig
from ranopt.forecast.conformal import MIN_CALIBRATION_DAYS, conformal_quantiles
from ranopt.forecast.residual import STANDARD_GRID_LEVELS, ResidualModel, fit_residual_model

MIN_TRAIN_DAYS = 2  # the residual model is fitted on leave-one-day-out residuals
CALIBRATION_ORIGINS = 12  # nowcast origins per calibration day (every 2 h at 15 min)
DEFAULT_CONFIG = ForecastConfig()


@dataclass(frozen=True, eq=False)
class SeasonalForecaster:
    """A fitted forecaster; all log values are natural logs of demand in the history's unit.

    Attributes
    ----------
    config
        The settings it was fitted with.
    floor
        ``[num_series]`` demand floor applied before the log (history's unit); forecast values
        below it are reported as 0.
    active
        ``[intervals_per_day, num_series]`` False where the history was zero on every day (a
        structural zero, e.g. a series that never carried traffic): the forecast is 0 there.
    log_profile
        ``[intervals_per_day, num_series]`` all-days profile ``a`` (mean log demand, each
        weekday weighted equally).
    log_weekday_effect
        ``[7, intervals_per_day, num_series]`` shrunk weekday effect ``g`` (0 for a weekday
        absent from the history).
    weekday_shrinkage
        ``[weekday_rank]`` factor in [0, 1] applied to each weekday pattern (1 = kept whole).
    residual
        Spread and correlation of the log-ratio residuals, from leave-one-day-out fits; its
        marginal quantiles are split-conformal when ``num_calibration_days`` > 0.
    num_train_days
        Days of history it was fitted on.
    num_calibration_days
        Held-out days whose out-of-sample forecasts calibrated the quantiles (0: log-normal).
    """

    config: ForecastConfig
    floor: FloatArray
    active: BoolArray
    log_profile: FloatArray
    log_weekday_effect: FloatArray
    weekday_shrinkage: FloatArray
    residual: ResidualModel
    num_train_days: int
    num_calibration_days: int

    @property
    def intervals_per_day(self) -> int:
        """Number of intervals in a forecast day."""
        return int(self.log_profile.shape[0])

    @property
    def num_series(self) -> int:
        """Number of series (cells, sectors or areas) forecast."""
        return int(self.log_profile.shape[1])

    def log_baseline(self, weekday: int) -> FloatArray:
        """Return ``a + g[weekday]``, the log baseline of a day, ``[T, S]``."""
        return np.asarray(self.log_profile + self.log_weekday_effect[weekday], dtype=np.float64)


@dataclass(frozen=True, eq=False)
class _Baseline:
    log_profile: FloatArray  # [T, S]
    log_weekday_effect: FloatArray  # [7, T, S]
    shrinkage: FloatArray  # [rank]


def daily_fourier_basis(intervals_per_day: int, num_harmonics: int) -> FloatArray:
    """Return the columns 1, cos and sin of harmonics 1..K over one day, ``[T, 2K + 1]``."""
    phase = 2.0 * np.pi * (np.arange(intervals_per_day) + 0.5) / intervals_per_day
    columns = [np.ones(intervals_per_day)]
    for k in range(1, num_harmonics + 1):
        columns += [np.cos(k * phase), np.sin(k * phase)]
    return np.stack(columns, axis=1)


def _fit_baseline(log_demand: FloatArray, weekdays: IntArray, config: ForecastConfig) -> _Baseline:
    """Fit the all-days profile and the shrunk weekday effects to ``[D, T, S]`` log demand."""
    _, num_intervals, num_series = log_demand.shape
    present = np.unique(weekdays)  # [W]
    num_present = present.shape[0]
    # [W, T, S] weekday means; the all-days profile weighs each weekday equally
    weekday_mean = np.stack([log_demand[weekdays == w].mean(axis=0) for w in present])
    log_profile = weekday_mean.mean(axis=0)
    effect = np.zeros((NUM_WEEKDAYS, num_intervals, num_series))
    rank = min(config.weekday_rank, num_present - 1)
    if rank <= 0:
        return _Baseline(log_profile, effect, np.zeros(config.weekday_rank))

    num_harmonics = min(config.num_harmonics, (num_intervals - 1) // 2)
    basis = daily_fourier_basis(num_intervals, num_harmonics)  # [T, J]
    projection = np.linalg.pinv(basis)  # [J, T]
    # [D, J, S]: each day's deviation from the profile in harmonic coefficients
    day_coef = np.einsum("jt,dts->djs", projection, log_demand - log_profile[None])
    signal = np.stack([day_coef[weekdays == w].mean(axis=0) for w in present])  # [W, J, S]

    # noise replica: a same-weekday half-difference scaled like the mean's noise, [R, J, S]
    replicas = []
    for w in present:
        days = np.flatnonzero(weekdays == w)
        if days.shape[0] >= 2:
            diff = day_coef[days[0]] - day_coef[days[1]]
            replicas.append(diff / np.sqrt(2.0 * days.shape[0]))
    if replicas:
        noise = np.stack(replicas)
        noise_rms = np.sqrt((noise**2).mean(axis=(0, 1)))  # [S]
        positive = noise_rms[noise_rms > 0.0]
        weight = 1.0 / np.where(noise_rms > 0.0, noise_rms, positive.min() if positive.size else 1)
    else:
        noise = None
        weight = np.ones(num_series)

    # [W, J * S] weighted deviations and their singular components
    matrix = (signal * weight[None, None, :]).reshape(num_present, -1)
    left, singular, right = np.linalg.svd(matrix, full_matrices=False)
    if noise is None:
        shrinkage = np.ones(rank)  # no replicate weekday: nothing to measure noise against
    else:
        noise_matrix = (noise * weight[None, None, :]).reshape(noise.shape[0], -1)
        found = np.linalg.svd(noise_matrix, compute_uv=False)
        # with many more columns than rows, a noise matrix's singular values are all close to
        # sqrt(columns) * sd whatever its row count: a short replica stands in for the rest
        noise_singular = found[np.minimum(np.arange(rank), found.shape[0] - 1)]
        ratio = noise_singular[:rank] ** 2 / np.maximum(singular[:rank] ** 2, np.finfo(float).tiny)
        shrinkage = np.clip(1.0 - ratio, 0.0, 1.0)
    # [W, J, S]
    kept = (left[:, :rank] * (singular[:rank] * shrinkage)) @ right[:rank]
    kept_coef = kept.reshape(signal.shape) / weight[None, None, :]
    effect[present] = np.einsum("tj,wjs->wts", basis, kept_coef)
    padded = np.zeros(config.weekday_rank)
    padded[:rank] = shrinkage
    return _Baseline(log_profile, effect, padded)


def _series_floor(history: FloatArray, floor_fraction: float) -> FloatArray:
    """Return the demand floor of each series, ``[S]``, > 0.

    A fraction of the series' mean; an all-zero series borrows the mean of the others (or 1
    where every series is zero), so its log stays finite.
    """
    mean = history.mean(axis=(0, 1))  # [S]
    positive = mean[mean > 0.0]
    fallback = float(positive.mean()) if positive.size else 1.0
    return np.asarray(floor_fraction * np.where(mean > 0.0, mean, fallback), dtype=np.float64)


def calibration_residuals(
    log_demand: FloatArray, weekdays: IntArray, config: ForecastConfig, num_days: int
) -> FloatArray:
    """Return the out-of-sample log-ratio residuals of the last ``num_days`` days, ``[C, T, S]``.

    Each day ``c`` is forecast by a baseline fitted on the ``config.fit_days`` days before it,
    as the product forecasts.
    """
    total_days = log_demand.shape[0]
    residuals = []
    for day in range(total_days - num_days, total_days):
        window = slice(day - config.fit_days, day)
        fold = _fit_baseline(log_demand[window], weekdays[window], config)
        residuals.append(
            log_demand[day] - fold.log_profile - fold.log_weekday_effect[weekdays[day]]
        )
    return np.stack(residuals)


def calibrate(
    residual: ResidualModel,
    held_out: FloatArray,
    informative: BoolArray,
    config: ForecastConfig = DEFAULT_CONFIG,
    in_window: FloatArray | None = None,
) -> ResidualModel:
    """Return ``residual`` with split-conformal quantiles and out-of-sample day levels.

    ``held_out`` ``[C, T, S]`` are out-of-sample log-ratio residuals, ``informative`` where
    they count. Day ahead: the scores are ``held_out / sigma_total``. The held-out days,
    mapped to the latent space through the calibrated marginal, give the scenarios' day
    levels (``ResidualModel.with_day_levels``), together with the fitting window's
    leave-one-day-out residuals ``in_window`` ``[W, T, S]`` where given (the last ``W`` days,
    which the calibration days, the last ``C``, overlap), and are nowcast
    from ``CALIBRATION_ORIGINS`` origins and scored by their conditional moments.
    """
    sigma = residual.sigma_total  # [T, S]
    usable = informative & (sigma > 0.0)[None]
    scores = (held_out / np.where(sigma > 0.0, sigma, 1.0)[None])[usable]
    if scores.size == 0:  # nothing above the floor on the held-out days: nothing to calibrate
        return residual
    calibrated = replace(
        residual, standard_quantiles=conformal_quantiles(scores, STANDARD_GRID_LEVELS)
    )
    latent = calibrated.to_gaussian(np.where(usable, held_out, 0.0), sigma[None])
    days, num_days = latent, latent.shape[0]
    if in_window is not None:
        # the window's days end on the same day as the calibration days: they overlap
        window_latent = calibrated.to_gaussian(in_window, sigma[None])
        days = np.concatenate([window_latent, latent])
        num_days = max(in_window.shape[0], latent.shape[0])
    calibrated = calibrated.with_day_levels(days, config, num_days)
    conditional = conditional_scores(calibrated, latent, usable, CALIBRATION_ORIGINS)
    if conditional.size == 0:
        return calibrated
    return replace(
        calibrated, conditional_quantiles=conformal_quantiles(conditional, STANDARD_GRID_LEVELS)
    )


def fit_forecaster(
    history: npt.ArrayLike,
    weekdays: npt.ArrayLike,
    config: ForecastConfig = DEFAULT_CONFIG,
) -> SeasonalForecaster:
    """Fit the seasonal baseline and the residual model to demand history, and calibrate it.

    Parameters
    ----------
    history
        ``[num_days, intervals_per_day, num_series]`` demand, >= 0 (e.g. Mbit/s), days in time
        order. At least 2 days; the model is fitted on the last ``config.fit_days`` of them (14,
        two of each weekday, is the intended minimum) and calibrated on up to
        ``config.calibration_days`` more (Notes).
    weekdays
        ``[num_days]`` weekday of each day, integers 0..6 with 0 = Monday.
    config
        Settings (frozen; the default is ``ForecastConfig()``).

    Returns
    -------
    SeasonalForecaster
        Fitted parameters; ``predict`` turns them into a forecast for one weekday.

    Notes
    -----
    The residual model is fitted to leave-one-day-out residuals (each day against a baseline
    fitted without it), so the forecast's spread includes the baseline's own estimation error
    (time-series cross-validation, Hyndman & Athanasopoulos 2021, sec. 5.10). Those folds hold
    one day fewer than the model, and half the samples of the left-out weekday, so the
    log-normal quantiles are too wide (benchmarks/forecast.py: the 90 % interval covered
    0.918 and the 80 % one 0.829 of held-out days, docs/benchmarks.md). Where the history
    reaches ``fit_days + MIN_CALIBRATION_DAYS`` days or more, the last
    ``min(calibration_days, num_days - fit_days)`` days are forecast out of sample, each from
    its own ``fit_days`` days before, and the standardised residual's quantiles become the
    split-conformal quantiles of those scores (``ranopt.forecast.conformal``); scenarios keep
    the model's correlation and map through them (a Gaussian copula), so they match the
    calibrated quantiles. The same days' nowcasts calibrate the nowcast's conditional
    quantiles (``calibrate``). Zeros enter the log as the series floor; an interval that is
    zero on every day of the fitting window is a structural zero and is forecast as 0.

    Raises
    ------
    ValidationError
        If ``history`` or ``weekdays`` has a wrong shape, a NaN or a negative value.
    """
    if not isinstance(config, ForecastConfig):
        msg = f"config must be a ForecastConfig, got {type(config).__name__}"
        raise ValidationError(msg)
    values = as_history(history, min_days=MIN_TRAIN_DAYS)
    days_weekday = as_weekdays(weekdays, values.shape[0])
    fit_days = min(values.shape[0], config.fit_days)
    window = values[-fit_days:]  # [W, T, S]
    window_weekday = days_weekday[-fit_days:]
    floor = _series_floor(window, config.floor_fraction)
    log_all = np.log(np.maximum(values, floor[None, None, :]))  # [D, T, S]
    log_demand = log_all[-fit_days:]

    baseline = _fit_baseline(log_demand, window_weekday, config)
    # [W, T, S] leave-one-day-out residuals
    log_ratio = np.empty_like(log_demand)
    for day in range(fit_days):
        keep = np.arange(fit_days) != day
        fold = _fit_baseline(log_demand[keep], window_weekday[keep], config)
        weekday = window_weekday[day]
        log_ratio[day] = log_demand[day] - fold.log_profile - fold.log_weekday_effect[weekday]
    active = window.max(axis=0) > 0.0  # [T, S]
    residual = fit_residual_model(log_ratio, config, active.any(axis=0))

    num_calibration = min(config.calibration_days, values.shape[0] - fit_days)
    if num_calibration >= MIN_CALIBRATION_DAYS:
        informative = active[None] & (values[-num_calibration:] > floor[None, None, :])
        held_out = calibration_residuals(log_all, days_weekday, config, num_calibration)
        residual = calibrate(residual, held_out, informative, config, log_ratio)
    if residual.standard_quantiles is None:
        num_calibration = 0
    return SeasonalForecaster(
        config=config,
        floor=floor,
        active=active,
        log_profile=baseline.log_profile,
        log_weekday_effect=baseline.log_weekday_effect,
        weekday_shrinkage=baseline.shrinkage,
        residual=residual,
        num_train_days=fit_days,
        num_calibration_days=num_calibration,
    )
