"""Residual model: how a day's demand deviates from its seasonal baseline, in log-ratio terms.

The log-ratio residual ``r = log(actual / baseline)`` of series ``s`` at interval ``t`` of a day
is split into three independent parts,

``r[t, s] = C + U[s] + E[t, s]``,

a network-wide day level ``C`` (shared by every series), a per-series day level ``U[s]`` and an
intra-day part ``E`` that is an AR(1) process plus white noise (an ARMA(1,1) process; Box,
Jenkins, Reinsel & Ljung, "Time Series Analysis", 5th ed., 2015, ch. 3). The day levels make a
whole day run high or low for one series and for the network, which is what decides whether an
energy-saving plan holds; iid noise per interval would average away and understate that risk.
"""

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from scipy.signal import lfilter
from scipy.special import ndtr, ndtri

from ranopt.forecast.arrays import BoolArray, FloatArray
from ranopt.forecast.config import ForecastConfig

# Levels at which the calibrated quantile function of the standardised residual is stored.
STANDARD_GRID_SIZE = 400
STANDARD_GRID_LEVELS = (np.arange(STANDARD_GRID_SIZE) + 0.5) / STANDARD_GRID_SIZE
MAX_AR_COEFFICIENT = 0.99
# Means under a calibrated marginal: midpoint rule over equal-probability bins, one [T, S]
# array at a time (the whole grid at once would hold 400 copies of the forecast).
MEAN_QUADRATURE_SIZE = 50
MEAN_QUADRATURE_LEVELS = (np.arange(MEAN_QUADRATURE_SIZE) + 0.5) / MEAN_QUADRATURE_SIZE


class ResidualSampler(Protocol):
    """Anything that draws log-ratio residual paths, ``[num_scenarios, T, S]``, for a forecast."""

    def sample(self, rng: np.random.Generator, num_scenarios: int) -> FloatArray:
        """Draw ``num_scenarios`` residual paths from ``rng``."""
        ...


@dataclass(frozen=True, eq=False)
class ResidualModel:
    """Fitted spread and correlation of the log-ratio residuals (dimensionless, natural log).

    Attributes
    ----------
    sigma_common_day
        Standard deviation of the network-wide day level ``C``.
    sigma_series_day
        ``[num_series]`` standard deviation of each series' own day level ``U``.
    sigma_intraday
        ``[num_series]`` standard deviation of the intra-day part ``E`` (RMS over the day).
    intraday_scale
        ``[intervals_per_day]`` relative spread of ``E`` by time of day (RMS 1).
    ar_coefficient
        Lag-1 coefficient (per interval) of the AR(1) part of ``E``.
    ar_share
        Share of the variance of ``E`` in its AR(1) part; the rest is white noise.
    standard_quantiles
        ``[STANDARD_GRID_SIZE]`` quantiles of the standardised residual at
        ``STANDARD_GRID_LEVELS`` (split-conformal, ``ranopt.forecast.conformal``), or ``None``
        for a standard normal (log-normal demand).
    conditional_quantiles
        ``[STANDARD_GRID_SIZE]`` quantiles, at ``STANDARD_GRID_LEVELS``, of a nowcast's latent
        residual standardised by its conditional moments (split-conformal on the calibration
        days' nowcasts), or ``None`` for the Gaussian conditional.
    scenario_common_day, scenario_series_day
        Standard deviations (scalar, ``[num_series]``) of the network-wide and per-series day
        levels that ``sample`` draws in the copula's latent space, estimated from the fitting
        window's and the calibration days' daily forecast errors (``with_day_levels``), or
        ``None`` for ``sigma_common_day`` / ``sigma_series_day``. They set how much of each
        interval's spread a whole day shares (what a plan's confidence depends on), never the
        marginal quantiles.
    """

    sigma_common_day: float
    sigma_series_day: FloatArray
    sigma_intraday: FloatArray
    intraday_scale: FloatArray
    ar_coefficient: float
    ar_share: float
    standard_quantiles: FloatArray | None
    conditional_quantiles: FloatArray | None = None
    scenario_common_day: float | None = None
    scenario_series_day: FloatArray | None = None

    @property
    def sigma_total(self) -> FloatArray:
        """Return the standard deviation of ``r``, ``[intervals_per_day, num_series]``."""
        # [T, S]
        intraday = self.intraday_scale[:, None] * self.sigma_intraday[None, :]
        day_var = self.sigma_common_day**2 + self.sigma_series_day**2
        return np.asarray(np.sqrt(day_var[None, :] + intraday**2), dtype=np.float64)

    def standard_ppf(self, levels: FloatArray) -> FloatArray:
        """Return quantiles of the standardised residual ``r / sigma_total`` at ``levels``."""
        if self.standard_quantiles is None:
            return np.asarray(ndtri(levels), dtype=np.float64)
        return np.asarray(
            np.interp(levels, STANDARD_GRID_LEVELS, self.standard_quantiles), dtype=np.float64
        )

    def conditional_ppf(self, levels: FloatArray) -> FloatArray:
        """Return quantiles of a nowcast's standardised latent residual at ``levels``."""
        if self.conditional_quantiles is None:
            return np.asarray(ndtri(levels), dtype=np.float64)
        return np.asarray(
            np.interp(levels, STANDARD_GRID_LEVELS, self.conditional_quantiles), dtype=np.float64
        )

    def mean_factor(self) -> FloatArray:
        """Return ``E[exp(r)]``, the mean over the median-free baseline, ``[T, S]``."""
        sigma = self.sigma_total
        if self.standard_quantiles is None:
            return np.asarray(np.exp(0.5 * sigma**2), dtype=np.float64)
        total = np.zeros_like(sigma)
        for z in self.standard_ppf(MEAN_QUADRATURE_LEVELS):
            total += np.exp(z * sigma)
        return np.asarray(total / MEAN_QUADRATURE_SIZE, dtype=np.float64)

    def sample(self, rng: np.random.Generator, num_scenarios: int) -> FloatArray:
        """Draw log-ratio residual days ``r``, ``[num_scenarios, T, S]``.

        The draw is Gaussian with the day levels (``scenario_common_day`` and
        ``scenario_series_day`` where set) and the ARMA correlation; it is mapped through the
        marginal quantiles by its own standard deviation (a Gaussian copula), so every
        interval's marginal matches ``standard_ppf`` times ``sigma_total`` exactly while the
        correlation is kept.
        """
        num_intervals = self.intraday_scale.shape[0]
        num_series = self.sigma_series_day.shape[0]
        shape = (num_scenarios, num_intervals, num_series)
        common_sd = (
            self.sigma_common_day if self.scenario_common_day is None else self.scenario_common_day
        )
        series_sd = (
            self.sigma_series_day if self.scenario_series_day is None else self.scenario_series_day
        )
        common = common_sd * rng.standard_normal((num_scenarios, 1, 1))
        series = series_sd[None, None, :] * rng.standard_normal((num_scenarios, 1, num_series))
        # stationary AR(1) with unit variance along the interval axis: x[t] = phi x[t-1] + ...
        phi = self.ar_coefficient
        innovation = rng.standard_normal(shape)
        innovation[:, 0] /= np.sqrt(1.0 - phi * phi)
        ar = np.asarray(
            lfilter([np.sqrt(1.0 - phi * phi)], [1.0, -phi], innovation, axis=1), dtype=np.float64
        )
        white = rng.standard_normal(shape)
        unit = np.sqrt(self.ar_share) * ar + np.sqrt(1.0 - self.ar_share) * white
        # [T, S]
        intraday_sigma = self.intraday_scale[:, None] * self.sigma_intraday[None, :]
        log_ratio: FloatArray = common + series + intraday_sigma[None] * unit  # [K, T, S]
        latent_sigma = np.sqrt(common_sd**2 + series_sd[None, :] ** 2 + intraday_sigma**2)
        return self.from_gaussian(log_ratio, self.sigma_total, latent_sigma)

    def with_day_levels(
        self, latent: FloatArray, config: ForecastConfig, num_days: int | None = None
    ) -> "ResidualModel":
        """Return the model with its scenarios' day levels fitted to past days' errors.

        ``latent`` ``[E, T, S]`` are past days' forecast errors in the copula's latent space
        (``to_gaussian``), ``num_days`` how many distinct days they cover (default ``E``; an
        error of the same day counted twice, e.g. its leave-one-day-out and its out-of-sample
        residual, is one day). The network-wide and per-series day levels of ``sample``
        become their method-of-moments estimates (``fit_residual_model``). The network day
        level is one number per day, so its variance, estimated from ``D = num_days`` days,
        is scaled by ``D / (D - 2)``: the second moment of a new day's error over the
        estimated spread (Student's t with ``D`` degrees of freedom), so that over many fits
        the realised day level is as often outside the scenarios as one of them.
        """
        active = self.sigma_total.max(axis=0) > 0.0  # [S]
        fitted = fit_residual_model(latent, config, active)
        distinct = latent.shape[0] if num_days is None else num_days
        predictive = distinct / (distinct - 2) if distinct > 2 else 1.0
        return replace(
            self,
            scenario_common_day=fitted.sigma_common_day * float(np.sqrt(predictive)),
            scenario_series_day=fitted.sigma_series_day,
        )

    def from_gaussian(
        self, gaussian: FloatArray, sigma: FloatArray, latent_sigma: FloatArray | None = None
    ) -> FloatArray:
        """Map Gaussian-space residuals to the fitted marginal (the copula's forward transform).

        ``sigma`` is ``sigma_total`` of the same intervals (broadcast against ``gaussian``),
        ``latent_sigma`` the standard deviation of ``gaussian`` where it differs from ``sigma``
        (scenarios with out-of-sample day levels); the map is the identity without calibrated
        quantiles and a different ``latent_sigma``.
        """
        latent = sigma if latent_sigma is None else latent_sigma
        safe_latent = np.where(latent > 0.0, latent, 1.0)
        if self.standard_quantiles is None:
            if latent_sigma is None:
                return gaussian
            rescaled: FloatArray = gaussian * (sigma / safe_latent)
            return rescaled
        marginal: FloatArray = sigma * self.standard_ppf(ndtr(gaussian / safe_latent))
        return marginal

    def to_gaussian(self, residual: FloatArray, sigma: FloatArray) -> FloatArray:
        """Map residuals back to Gaussian space (inverse of ``from_gaussian``).

        Values beyond the stored quantile grid are clamped to its ends (about +-3 sd), where the
        forward map is flat too.
        """
        if self.standard_quantiles is None:
            return residual
        safe_sigma = np.where(sigma > 0.0, sigma, 1.0)
        level = np.interp(residual / safe_sigma, self.standard_quantiles, STANDARD_GRID_LEVELS)
        gaussian: FloatArray = sigma * ndtri(level)
        return gaussian


def _moderated_variance(per_series: FloatArray, num_days: int, prior_days: float) -> FloatArray:
    """Shrink per-series variances towards their mean (Smyth 2004, Stat. Appl. Genet. Mol. Biol.).

    A weighted mean of the pooled and the own estimate, weights ``prior_days`` and ``num_days``.
    """
    pooled = float(per_series.mean())
    return (prior_days * pooled + num_days * per_series) / (prior_days + num_days)


def _circular_moving_average(values: FloatArray, window: int) -> FloatArray:
    """Average ``values`` over a centred window that wraps around the day, ``[T]``."""
    window = min(window, values.shape[0])
    offsets = np.arange(window) - window // 2
    return np.asarray(np.mean([np.roll(values, k) for k in offsets], axis=0), dtype=np.float64)


def _arma_from_autocorrelation(rho1: float, rho2: float) -> tuple[float, float]:
    """Return ``(ar_coefficient, ar_share)`` of AR(1) + white noise matching lag-1 and lag-2.

    For that process ``rho_k = share * phi**k`` (k >= 1), so ``phi = rho2 / rho1`` and
    ``share = rho1**2 / rho2``; where the data do not fit it (``rho2 <= 0`` or a share above 1)
    it falls back to a pure AR(1) with ``phi = rho1``, and to white noise if ``rho1 <= 0``.
    """
    if rho1 <= 0.0:
        return 0.0, 0.0
    if rho2 <= 0.0 or rho1 * rho1 > rho2:
        return min(rho1, MAX_AR_COEFFICIENT), 1.0
    return min(rho2 / rho1, MAX_AR_COEFFICIENT), rho1 * rho1 / rho2


def fit_residual_model(
    log_ratio: FloatArray, config: ForecastConfig, active: BoolArray | None = None
) -> ResidualModel:
    """Fit the residual model to out-of-sample log-ratio residuals ``[num_days, T, S]``.

    Only the ``active`` series (``[S]``, default all) are fitted; the others get zero spread.

    Day levels are the day means (over series, then over intervals); variances are means of
    squares about zero, so a bias of the baseline widens the intervals instead of hiding.
    Each series' day-level and intra-day variances are moderated towards the all-series mean.
    """
    num_days, num_intervals, num_series = log_ratio.shape
    active = np.ones(num_series, dtype=bool) if active is None else active
    if not active.any():
        zeros = np.zeros(num_series)
        return ResidualModel(0.0, zeros, zeros, np.ones(num_intervals), 0.0, 0.0, None)
    if not active.all():
        fitted = fit_residual_model(log_ratio[:, :, active], config)
        series_day = np.zeros(num_series)
        series_day[active] = fitted.sigma_series_day
        intraday_sigma = np.zeros(num_series)
        intraday_sigma[active] = fitted.sigma_intraday
        return replace(fitted, sigma_series_day=series_day, sigma_intraday=intraday_sigma)
    # [D]: network-wide day level; [D, S]: per-series day level; [D, T, S]: intra-day part
    common = log_ratio.mean(axis=(1, 2))
    series = log_ratio.mean(axis=1) - common[:, None]
    intraday = log_ratio - common[:, None, None] - series[:, None, :]

    # the day mean over S series carries 1/S of their own day-level variance, and the deviations
    # from it lose that much (method of moments); undo both so cross-series correlation is right
    var_series_raw = (series**2).mean(axis=0)  # [S]
    var_common = float((common**2).mean())
    if num_series > 1:
        var_series_raw = var_series_raw * num_series / (num_series - 1)
        var_common = max(0.0, var_common - float(var_series_raw.mean()) / num_series)
    prior = config.variance_prior_days
    var_series = _moderated_variance(var_series_raw, num_days, prior)
    var_intraday = _moderated_variance((intraday**2).mean(axis=(0, 1)), num_days, prior)
    sigma_intraday = np.sqrt(var_intraday)

    # time-of-day spread, pooled over days and series, smoothed, normalised to RMS 1: [T]
    safe_sigma = np.where(sigma_intraday > 0.0, sigma_intraday, 1.0)
    relative_sq = ((intraday / safe_sigma) ** 2).mean(axis=(0, 2))
    relative_sq = _circular_moving_average(relative_sq, config.intraday_scale_window)
    mean_sq = float(relative_sq.mean())
    intraday_scale = np.sqrt(relative_sq / mean_sq) if mean_sq > 0.0 else np.ones_like(relative_sq)

    # pooled lag-1 and lag-2 autocorrelation of the standardised intra-day part
    safe_scale = np.where(intraday_scale > 0.0, intraday_scale, 1.0)
    unit = intraday / (safe_scale[:, None] * safe_sigma[None, :])  # [D, T, S]
    power = float((unit**2).mean())
    if power > 0.0:
        rho1 = float((unit[:, 1:] * unit[:, :-1]).mean()) / power
        rho2 = float((unit[:, 2:] * unit[:, :-2]).mean()) / power
    else:
        rho1 = rho2 = 0.0
    ar_coefficient, ar_share = _arma_from_autocorrelation(rho1, rho2)

    return ResidualModel(
        sigma_common_day=float(np.sqrt(var_common)),
        sigma_series_day=np.sqrt(var_series),
        sigma_intraday=sigma_intraday,
        intraday_scale=intraday_scale,
        ar_coefficient=ar_coefficient,
        ar_share=ar_share,
        standard_quantiles=None,
    )
