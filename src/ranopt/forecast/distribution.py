"""A day's probabilistic forecast: mean, quantiles, and correlated demand scenarios."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ranopt.errors import ValidationError
from ranopt.forecast.arrays import BoolArray, FloatArray, as_quantile_levels, check_weekday
from ranopt.forecast.residual import ResidualSampler
from ranopt.forecast.seasonal import SeasonalForecaster

DEFAULT_QUANTILES = (0.05, 0.5, 0.95)
FLOOR_TOLERANCE = 1e-9  # relative: exp(log(floor)) must count as "at the floor"


@dataclass(frozen=True, eq=False)
class Forecast:
    """Demand forecast of one day (or of its rest, see ``nowcast``), in the history's unit.

    Arrays span ``T`` intervals: the whole day from ``predict`` (e.g. Mbit/s per 15 min), the
    intervals still ahead from ``nowcast``.

    Attributes
    ----------
    mean
        ``[T, num_series]`` expected demand.
    median
        ``[T, num_series]`` median demand (the point forecast scored by WAPE).
    quantile_levels
        Levels of ``quantiles``, strictly increasing in (0, 1).
    quantiles
        ``[num_quantiles, T, num_series]`` marginal quantiles of demand.
    log_baseline
        ``[T, num_series]`` seasonal baseline, natural log of demand.
    residual
        The log-ratio residual model that ``sample`` draws from (a ``ResidualModel`` from
        ``predict``, a conditional one from ``nowcast``).
    floor
        ``[num_series]`` demand floor; the model describes ``max(demand, floor)``, so values
        at or below it are reported as 0.
    active
        ``[T, num_series]`` False where the history was zero on every day
        (forecast 0 there).
    """

    mean: FloatArray
    median: FloatArray
    quantile_levels: tuple[float, ...]
    quantiles: FloatArray
    log_baseline: FloatArray
    residual: ResidualSampler
    floor: FloatArray
    active: BoolArray

    def sample(self, rng: np.random.Generator, num_scenarios: int) -> FloatArray:
        """Draw demand scenarios for the day, ``[num_scenarios, T, num_series]``.

        Each scenario shares one network-wide day level, one day level per series and an
        autocorrelated intra-day path, so whole days run high or low together as they do in
        the history; every interval's marginal distribution matches ``quantiles``.

        Parameters
        ----------
        rng
            The only source of randomness; the same seed gives the same scenarios.
        num_scenarios
            Number of scenarios ``K`` >= 1.
        """
        if not isinstance(rng, np.random.Generator):
            msg = f"rng must be a numpy.random.Generator, got {type(rng).__name__}"
            raise ValidationError(msg)
        if isinstance(num_scenarios, bool) or not isinstance(num_scenarios, int | np.integer):
            msg = f"num_scenarios must be an int >= 1, got {num_scenarios!r}"
            raise ValidationError(msg)
        if num_scenarios < 1:
            msg = f"num_scenarios must be >= 1, got {num_scenarios}"
            raise ValidationError(msg)
        log_ratio = self.residual.sample(rng, int(num_scenarios))  # [K, T, S]
        return _censor(np.exp(self.log_baseline[None] + log_ratio), self.floor, self.active)


def _censor(demand: FloatArray, floor: FloatArray, active: BoolArray) -> FloatArray:
    """Set demand at or below the series floor, or where not active, to 0; ``[..., T, S]``."""
    keep = active & (demand > floor * (1.0 + FLOOR_TOLERANCE))
    return np.asarray(np.where(keep, demand, 0.0), dtype=np.float64)


def predict(
    model: SeasonalForecaster,
    weekday: int,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> Forecast:
    """Forecast one day of the given weekday from a fitted forecaster.

    Parameters
    ----------
    model
        The output of ``fit_forecaster``.
    weekday
        Weekday of the target day, 0..6 with 0 = Monday.
    quantiles
        Quantile levels to return, strictly increasing in (0, 1).

    Returns
    -------
    Forecast
        Mean, median and quantiles ``[Q, T, S]`` of demand, and a scenario sampler.

    Notes
    -----
    Quantile ``q`` is ``exp(log_baseline + sigma_total * z_q)`` where ``z_q`` is the standard
    normal quantile (log-normal demand, no calibration days) or the split-conformal quantile
    of the standardised out-of-sample residuals of the calibration days
    (``SeasonalForecaster.num_calibration_days``). Values at or below
    the series floor, and structural zeros (``active`` False), are reported as 0; the mean
    ignores the floor's censoring (an error smaller than the floor).
    """
    if not isinstance(model, SeasonalForecaster):
        msg = f"model must be a SeasonalForecaster, got {type(model).__name__}"
        raise ValidationError(msg)
    levels = as_quantile_levels(quantiles)
    day = check_weekday(weekday)
    log_baseline = model.log_baseline(day)  # [T, S]
    residual = model.residual
    sigma = residual.sigma_total  # [T, S]
    # [Q + 1, T, S]: the median first, then the requested levels
    standard = residual.standard_ppf(np.array((0.5, *levels)))
    values = np.exp(log_baseline[None] + standard[:, None, None] * sigma[None])
    values = _censor(values, model.floor, model.active)
    return Forecast(
        mean=np.exp(log_baseline) * residual.mean_factor() * model.active,
        median=values[0],
        quantile_levels=levels,
        quantiles=values[1:],
        log_baseline=log_baseline,
        residual=residual,
        floor=model.floor,
        active=model.active,
    )
