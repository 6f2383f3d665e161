"""The nowcast's conditional residual model: the Kalman filter of ``ranopt.forecast.nowcast``.

Kept apart from ``nowcast`` (which builds ``Forecast`` objects) so that fitting can score
nowcasts of its calibration days (``conditional_scores``) without an import cycle.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter
from scipy.special import ndtr

from ranopt.forecast.arrays import FloatArray
from ranopt.forecast.residual import ResidualModel

MIN_INNOVATION_VARIANCE = 1e-18  # an observation this certain is degenerate: treat it as missing
CALIBRATION_STEPS = 4  # nowcast steps scored for calibration: the loop's next hour


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

    def moments(self, num_intervals: int | None = None) -> tuple[FloatArray, FloatArray]:
        """Return the latent conditional mean and variance, each ``[T - start, S]``.

        Only the first ``num_intervals`` intervals ahead when given.
        """
        phi, share = self.model.ar_coefficient, self.model.ar_share
        scale = self._scale[:num_intervals]
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
        return model.from_gaussian(self.calibrate_latent(log_ratio), self.sigma_total)

    def calibrate_latent(self, latent: FloatArray) -> FloatArray:
        """Map Gaussian conditional latent residuals ``[..., T - start, S]`` to calibrated ones.

        Each interval's conditional marginal becomes ``ResidualModel.conditional_quantiles``
        (scaled by the conditional moments), ranks kept. The identity without conditional
        quantiles or with nothing observed (``start = 0``: the day-ahead marginal is already
        calibrated).
        """
        if self.start == 0 or self.model.conditional_quantiles is None:
            return latent
        mean, variance = self.moments()
        sd = np.sqrt(variance)
        safe_sd = np.where(sd > 0.0, sd, 1.0)
        level = ndtr((latent - mean) / safe_sd)
        calibrated: FloatArray = mean + sd * self.model.conditional_ppf(level)
        return calibrated


def condition_residual(
    model: ResidualModel, latent: FloatArray, known: npt.NDArray[np.bool_]
) -> ConditionalResidual:
    """Condition the residual model on latent residuals ``[t0, S]`` where ``known`` is True.

    The Kalman filter of the module docstring; ``latent`` is ignored where ``known`` is False.
    """
    return filter_residual(model, latent, known, (latent.shape[0],))[0]


def filter_residual(
    model: ResidualModel,
    latent: FloatArray,
    known: npt.NDArray[np.bool_],
    stops: tuple[int, ...],
) -> list[ConditionalResidual]:
    """Run the Kalman filter over ``latent`` ``[t, S]`` once; condition at each of ``stops``.

    ``stops`` are increasing interval counts ``t0 <= t``; one filter pass serves them all.
    """
    num_series = latent.shape[1]
    last = max(stops)
    phi, share = model.ar_coefficient, model.ar_share
    scale = model.intraday_scale[:last, None] * model.sigma_intraday[None, :]  # [t, S]
    loading = scale * np.sqrt(share)
    white_var = scale**2 * (1.0 - share)
    offset_u, offset_x = np.zeros(num_series), np.zeros(num_series)
    slope_u, slope_x = np.zeros(num_series), np.zeros(num_series)
    var_u, var_x, cov_ux = model.sigma_series_day**2, np.ones(num_series), np.zeros(num_series)
    information, score = 0.0, 0.0  # of C: sum of V^2 / F and of V v / F over innovations
    prior_var = model.sigma_common_day**2
    conditioned = []
    for t in range(last + 1):
        if t in stops:
            common_variance = prior_var / (1.0 + prior_var * information)
            conditioned.append(
                ConditionalResidual(
                    model=model,
                    start=t,
                    common_mean=common_variance * score,
                    common_variance=common_variance,
                    state_offset=np.stack([offset_u, offset_x]),
                    state_slope=np.stack([slope_u, slope_x]),
                    state_covariance=np.stack([var_u, var_x, cov_ux]),
                )
            )
        if t == last:
            break
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
    return conditioned


def conditional_scores(
    model: ResidualModel, latent: FloatArray, known: npt.NDArray[np.bool_], num_origins: int
) -> FloatArray:
    """Return standardised nowcast scores of held-out days, ``[n]``.

    ``latent`` ``[D, T, S]`` are the days' latent residuals (``ResidualModel.to_gaussian`` of
    their out-of-sample log ratios), ``known`` where they are informative. From ``num_origins``
    origins spread over each day, the day is conditioned on its intervals so far and the next
    ``CALIBRATION_STEPS`` known latent residuals are scored as ``(latent - mean) / sd`` with the
    conditional moments.
    """
    num_intervals = latent.shape[1]
    last = num_intervals - CALIBRATION_STEPS
    origins = tuple(int(o) for o in np.unique(np.linspace(1, last, num_origins).round()))
    scores = []
    for day in range(latent.shape[0]):
        for residual in filter_residual(model, latent[day], known[day], origins):
            mean, variance = residual.moments(CALIBRATION_STEPS)
            ahead = slice(residual.start, residual.start + CALIBRATION_STEPS)
            use = known[day, ahead] & (variance > 0.0)
            safe_variance = np.where(use, variance, 1.0)
            standard = (latent[day, ahead] - mean) / np.sqrt(safe_variance)
            scores.append(standard[use])
    return np.concatenate(scores)
