"""Nowcasting: the forecast of the rest of today, conditioned on today's intervals so far.

The residual model (``ranopt.forecast.residual``) is Gaussian in its latent space,

``r[t, s] = C + U[s] + a[t, s] (sqrt(rho) X[t, s] + sqrt(1 - rho) W[t, s])``,

with ``a[t, s] = intraday_scale[t] * sigma_intraday[s]``, ``X`` a unit-variance AR(1) and ``W``
white. Having seen intervals ``0..t0-1``, the day levels and the AR state are largely known; this
module computes the exact Gaussian conditional of the rest of the day, in three steps:

1. observed demand -> log-ratio residual -> latent space (inverse copula transform); values at
   or below the floor, or where the series is not active, carry no information (missing);
2. a Kalman filter per series over state ``[U[s], X[t, s]]`` (``W`` is its observation noise),
   vectorised over series, with the shared level ``C`` handled jointly and exactly: given ``C``
   every series' filter is linear in ``C``, so each filter carries its mean's slope in ``C``
   and the innovations' likelihood in ``C`` is summed over all series (the augmented Kalman
   filter, de Jong, "The likelihood for a state space model", Biometrika 1988);
3. the state at ``t0`` propagated forward: Gaussian latent quantiles per future interval, and
   sample paths that keep the AR correlation and the series' shared ``C``, both mapped through
   the copula's marginal transform and ``exp(log_baseline)``.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter
from scipy.special import ndtri

from ranopt.errors import ValidationError
from ranopt.forecast.arrays import FloatArray, check_demand
from ranopt.forecast.distribution import FLOOR_TOLERANCE, Forecast, _censor
from ranopt.forecast.residual import STANDARD_GRID_LEVELS, ResidualModel

MIN_INNOVATION_VARIANCE = 1e-18  # an observation this certain is degenerate: treat it as missing


@dataclass(frozen=True, eq=False)
class ConditionalResidual:
    """Latent log-ratio residual of intervals ``start..T-1`` given today's first ``start``.

    The latent state at ``start`` is ``[U[s], X[start, s]] ~ N(offset + slope * C, covariance)``
    given the network level ``C ~ N(common_mean, common_variance)``.

    Attributes
    ----------
    model
        The unconditional residual model (parameters and marginal transform).
    start
        First interval ahead, ``t0``.
    common_mean
        Conditional mean of the network-wide day level ``C``.
    common_variance
        Conditional variance of ``C``.
    state_offset
        ``[2, S]`` mean of ``[U, X[start]]`` at ``C = 0``.
    state_slope
        ``[2, S]`` change of that mean per unit of ``C``.
    state_covariance
        ``[3, S]`` covariance of ``[U, X[start]]`` given ``C``: variances of ``U`` and ``X``,
        then their covariance.
    """

    model: ResidualModel
    start: int
    common_mean: float
    common_variance: float
    state_offset: FloatArray
    state_slope: FloatArray
    state_covariance: FloatArray

    @property
    def _scale(self) -> FloatArray:
        """Return ``a[t, s]`` of the intervals ahead, ``[T - start, S]``."""
        model = self.model
        return np.asarray(
            model.intraday_scale[self.start :, None] * model.sigma_intraday[None, :],
            dtype=np.float64,
        )

    @property
    def sigma_total(self) -> FloatArray:
        """Return the unconditional ``sigma_total`` of the intervals ahead, ``[T - start, S]``."""
        return self.model.sigma_total[self.start :]

    def moments(self) -> tuple[FloatArray, FloatArray]:
        """Return the latent conditional mean and variance, each ``[T - start, S]``."""
        phi, share = self.model.ar_coefficient, self.model.ar_share
        scale = self._scale
        loading = scale * np.sqrt(share)  # X's weight in r
        white_var = scale**2 * (1.0 - share)
        offset_u, offset_x = self.state_offset
        slope_u, slope_x = self.state_slope
        var_u, var_x, cov_ux = self.state_covariance.copy()
        mean = np.empty_like(scale)
        variance = np.empty_like(scale)
        for j in range(scale.shape[0]):
            z = loading[j]
            coefficient = 1.0 + slope_u + z * slope_x  # of C in r
            mean[j] = offset_u + z * offset_x + coefficient * self.common_mean
            variance[j] = (
                coefficient**2 * self.common_variance
                + var_u
                + 2.0 * z * cov_ux
                + z * z * var_x
                + white_var[j]
            )
            offset_x, slope_x = phi * offset_x, phi * slope_x
            cov_ux, var_x = phi * cov_ux, phi * phi * var_x + (1.0 - phi * phi)
        return mean, variance

    def sample(self, rng: np.random.Generator, num_scenarios: int) -> FloatArray:
        """Draw log-ratio residual paths of the intervals ahead, ``[K, T - start, S]``.

        One ``C`` per scenario, then each series' state at ``start``, then its AR path forward;
        at ``start = 0`` the draws consume ``rng`` exactly as ``ResidualModel.sample`` does.
        """
        model = self.model
        scale = self._scale
        num_intervals, num_series = scale.shape
        shape = (num_scenarios, num_intervals, num_series)
        common = self.common_mean + np.sqrt(self.common_variance) * rng.standard_normal(
            (num_scenarios, 1, 1)
        )
        noise_u = rng.standard_normal((num_scenarios, 1, num_series))
        innovation = rng.standard_normal(shape)
        white = rng.standard_normal(shape)
        # 2x2 Cholesky factor of the state covariance, per series
        var_u, var_x, cov_ux = self.state_covariance
        chol_uu = np.sqrt(np.maximum(var_u, 0.0))
        chol_xu = np.divide(cov_ux, chol_uu, out=np.zeros_like(cov_ux), where=chol_uu > 0.0)
        chol_xx = np.sqrt(np.maximum(var_x - chol_xu**2, 0.0))
        # [2, K, 1, S]: mean of [U, X[start]] given each scenario's C
        mean_state = (
            self.state_offset[:, None, None, :] + self.state_slope[:, None, None, :] * common
        )
        series = mean_state[0] + chol_uu * noise_u  # [K, 1, S]
        first_x = mean_state[1] + chol_xu * noise_u + chol_xx * innovation[:, :1]
        # stationary unit-variance AR(1) started at first_x (as ResidualModel.sample does)
        phi = model.ar_coefficient
        innovation[:, :1] = first_x / np.sqrt(1.0 - phi * phi)
        ar = np.asarray(
            lfilter([np.sqrt(1.0 - phi * phi)], [1.0, -phi], innovation, axis=1), dtype=np.float64
        )
        unit = np.sqrt(model.ar_share) * ar + np.sqrt(1.0 - model.ar_share) * white
        log_ratio: FloatArray = common + series + scale[None] * unit
        return model.from_gaussian(log_ratio, self.sigma_total)


def _as_observed(observed: npt.ArrayLike, num_intervals: int, num_series: int) -> FloatArray:
    """Check today's observed demand, ``[t0, S]`` with ``0 <= t0 < T``, finite and >= 0."""
    values = np.asarray(observed, dtype=np.float64)
    if values.ndim == 1 and values.size == 0:
        values = values.reshape(0, num_series)
    if values.ndim != 2 or values.shape[1] != num_series:
        msg = f"observed must have shape [t0, {num_series}] (intervals so far, series), got "
        msg += f"{values.shape}"
        raise ValidationError(msg)
    if values.shape[0] >= num_intervals:
        msg = f"observed must cover fewer than the day's {num_intervals} intervals, got "
        msg += f"t0 = {values.shape[0]}"
        raise ValidationError(msg)
    return check_demand(values, name="observed")


def condition_residual(
    model: ResidualModel, latent: FloatArray, known: npt.NDArray[np.bool_]
) -> ConditionalResidual:
    """Condition the residual model on latent residuals ``[t0, S]`` where ``known`` is True.

    The Kalman filter of the module docstring; ``latent`` is ignored where ``known`` is False.
    """
    start, num_series = latent.shape
    phi, share = model.ar_coefficient, model.ar_share
    scale = model.intraday_scale[:start, None] * model.sigma_intraday[None, :]  # [t0, S]
    loading = scale * np.sqrt(share)
    white_var = scale**2 * (1.0 - share)
    offset_u, offset_x = np.zeros(num_series), np.zeros(num_series)
    slope_u, slope_x = np.zeros(num_series), np.zeros(num_series)
    var_u, var_x, cov_ux = model.sigma_series_day**2, np.ones(num_series), np.zeros(num_series)
    information, score = 0.0, 0.0  # of C: sum of V^2 / F and of V v / F over innovations
    for t in range(start):
        z = loading[t]
        gain_u, gain_x = var_u + z * cov_ux, cov_ux + z * var_x  # P Z'
        innovation_var = gain_u + z * gain_x + white_var[t]  # F
        use = known[t] & (innovation_var > MIN_INNOVATION_VARIANCE)
        safe_var = np.where(use, innovation_var, 1.0)
        residual = np.where(use, latent[t] - offset_u - z * offset_x, 0.0)  # v at C = 0
        loading_c = np.where(use, 1.0 + slope_u + z * slope_x, 0.0)  # V: v = v0 - V C
        information += float((loading_c**2 / safe_var).sum())
        score += float((loading_c * residual / safe_var).sum())
        k_u, k_x = np.where(use, gain_u / safe_var, 0.0), np.where(use, gain_x / safe_var, 0.0)
        offset_u, offset_x = offset_u + k_u * residual, offset_x + k_x * residual
        slope_u, slope_x = slope_u - k_u * loading_c, slope_x - k_x * loading_c
        var_u, cov_ux, var_x = (
            var_u - k_u * gain_u,
            cov_ux - k_u * gain_x,
            var_x - k_x * gain_x,
        )
        # one step ahead: U stays, X is AR(1) with unit stationary variance
        offset_x, slope_x = phi * offset_x, phi * slope_x
        cov_ux, var_x = phi * cov_ux, phi * phi * var_x + (1.0 - phi * phi)
    prior_var = model.sigma_common_day**2
    common_variance = prior_var / (1.0 + prior_var * information)
    return ConditionalResidual(
        model=model,
        start=start,
        common_mean=common_variance * score,
        common_variance=common_variance,
        state_offset=np.stack([offset_u, offset_x]),
        state_slope=np.stack([slope_u, slope_x]),
        state_covariance=np.stack([var_u, var_x, cov_ux]),
    )


def nowcast(forecast: Forecast, observed: npt.ArrayLike) -> Forecast:
    """Forecast the rest of today given its first ``t0`` intervals of demand.

    Parameters
    ----------
    forecast
        Today's day-ahead forecast from ``predict`` (``T`` intervals).
    observed
        ``[t0, S]`` demand of today's intervals ``0..t0-1``, in the forecast's unit, with
        ``0 <= t0 < T``. Values at or below the series floor, or where ``active`` is False,
        carry no information (the model censors them).

    Returns
    -------
    Forecast
        Mean, median, quantiles at ``forecast.quantile_levels`` and a sampler, all over the
        intervals ``t0..T-1`` (``[T - t0, S]``, quantiles ``[Q, T - t0, S]``). With ``t0 = 0``
        it equals ``forecast``.

    Raises
    ------
    ValidationError
        If ``forecast`` is not a day-ahead forecast, or ``observed`` has a wrong shape, a NaN,
        a negative value or ``t0 >= T``.
    """
    if not isinstance(forecast, Forecast):
        msg = f"forecast must be a Forecast from predict, got {type(forecast).__name__}"
        raise ValidationError(msg)
    model = forecast.residual
    num_intervals, num_series = forecast.log_baseline.shape
    if not isinstance(model, ResidualModel) or model.intraday_scale.shape[0] != num_intervals:
        msg = (
            "forecast must span the whole day (the day-ahead forecast from predict); to update "
            "a nowcast, nowcast the day-ahead forecast with all intervals observed so far"
        )
        raise ValidationError(msg)
    values = _as_observed(observed, num_intervals, num_series)
    start = values.shape[0]
    active = np.broadcast_to(forecast.active, (num_intervals, num_series))
    known = active[:start] & (values > forecast.floor * (1.0 + FLOOR_TOLERANCE))
    log_ratio = np.log(np.where(known, values, 1.0)) - forecast.log_baseline[:start]
    latent = model.to_gaussian(np.where(known, log_ratio, 0.0), model.sigma_total[:start])
    residual = condition_residual(model, latent, known)

    log_baseline = forecast.log_baseline[start:]
    active_ahead = active[start:]
    mean, variance = residual.moments()
    sd = np.sqrt(variance)
    sigma = residual.sigma_total
    # [Q + 1, T', S]: the median first, then the requested levels
    standard = ndtri(np.array((0.5, *forecast.quantile_levels)))
    latent_quantiles = mean[None] + standard[:, None, None] * sd[None]
    values_ahead = np.exp(log_baseline[None] + model.from_gaussian(latent_quantiles, sigma))
    values_ahead = _censor(values_ahead, forecast.floor, active_ahead)
    return Forecast(
        mean=_mean_demand(model, log_baseline, mean, sd, sigma) * active_ahead,
        median=values_ahead[0],
        quantile_levels=forecast.quantile_levels,
        quantiles=values_ahead[1:],
        log_baseline=log_baseline,
        residual=residual,
        floor=forecast.floor,
        active=np.array(active_ahead),
    )


def _mean_demand(
    model: ResidualModel,
    log_baseline: FloatArray,
    mean: FloatArray,
    sd: FloatArray,
    sigma: FloatArray,
) -> FloatArray:
    """Return ``E[demand]`` ignoring the floor, ``[T', S]`` (closed form or grid midpoints).

    ``mean`` and ``sd`` are the latent conditional moments, ``sigma`` the unconditional
    ``sigma_total`` of the same intervals (the marginal transform's scale).
    """
    if model.standard_quantiles is None:
        return np.asarray(np.exp(log_baseline + mean + 0.5 * sd**2), dtype=np.float64)
    grid = ndtri(STANDARD_GRID_LEVELS)[:, None, None]
    marginal = model.from_gaussian(mean[None] + grid * sd[None], sigma[None])
    return np.asarray(np.exp(log_baseline[None] + marginal).mean(axis=0), dtype=np.float64)
