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
3. the state at ``t0`` propagated forward: latent quantiles per future interval (Gaussian, or
   the split-conformal quantiles of the calibration days' own nowcasts where the model has
   them, ``ResidualModel.conditional_quantiles``), and sample paths that keep the AR
   correlation and the series' shared ``C``, mapped the same way, then through the copula's
   marginal transform and ``exp(log_baseline)``.

The filter itself lives in ``ranopt.forecast.conditional``.
"""

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from ranopt.errors import ValidationError
from ranopt.forecast.arrays import FloatArray, check_demand
from ranopt.forecast.conditional import condition_residual
from ranopt.forecast.distribution import FLOOR_TOLERANCE, Forecast, _censor
from ranopt.forecast.residual import (
    MEAN_QUADRATURE_LEVELS,
    MEAN_QUADRATURE_SIZE,
    ResidualModel,
)


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
    levels = np.array((0.5, *forecast.quantile_levels))
    standard = model.conditional_ppf(levels) if start > 0 else ndtri(levels)
    latent_quantiles = mean[None] + standard[:, None, None] * sd[None]
    values_ahead = np.exp(log_baseline[None] + model.from_gaussian(latent_quantiles, sigma))
    values_ahead = _censor(values_ahead, forecast.floor, active_ahead)
    return Forecast(
        mean=_mean_demand(model, log_baseline, mean, sd, sigma, start > 0) * active_ahead,
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
    observed: bool,
) -> FloatArray:
    """Return ``E[demand]`` ignoring the floor, ``[T', S]`` (closed form or grid midpoints).

    ``mean`` and ``sd`` are the latent conditional moments, ``sigma`` the unconditional
    ``sigma_total`` of the same intervals (the marginal transform's scale); ``observed`` says
    whether any interval was seen (then the calibrated conditional marginal applies).
    """
    conditional = observed and model.conditional_quantiles is not None
    if model.standard_quantiles is None and not conditional:
        return np.asarray(np.exp(log_baseline + mean + 0.5 * sd**2), dtype=np.float64)
    # midpoint rule over equal-probability bins of the latent conditional, one [T', S] at a time
    levels = MEAN_QUADRATURE_LEVELS
    standard = model.conditional_ppf(levels) if observed else ndtri(levels)
    total = np.zeros_like(mean)
    for z in standard:
        total += np.exp(log_baseline + model.from_gaussian(mean + z * sd, sigma))
    return np.asarray(total / MEAN_QUADRATURE_SIZE, dtype=np.float64)
