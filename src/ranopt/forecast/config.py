"""Settings of the seasonal forecaster (a typed frozen dataclass, checked on creation)."""

from dataclasses import dataclass

from ranopt.errors import ValidationError


@dataclass(frozen=True)
class ForecastConfig:
    """How ``fit_forecaster`` estimates the baseline, the residual model and its calibration.

    Attributes
    ----------
    num_harmonics
        Daily Fourier harmonics that describe a weekday's deviation from the all-days profile
        (3 resolves features of about 8 h; clamped to ``(intervals_per_day - 1) // 2``).
    weekday_rank
        At most this many weekday patterns (1 is "weekend vs working day"); each is shrunk
        towards zero by how far it stands above the noise of replicate weekdays.
    floor_fraction
        Demand below ``floor_fraction * mean(series)`` counts as that floor before the log
        (zeros have no log).
    variance_prior_days
        Weight, in days, of the all-series variance when it moderates each series' own
        variance estimate (Smyth 2004); 0 keeps per-series variances as estimated.
    intraday_scale_window
        Width, in intervals, of the circular moving average that smooths the time-of-day
        profile of residual spread.
    fit_days
        The baseline and the residual model are fitted on the most recent ``fit_days`` days of
        the history (all of it when shorter).
    calibration_days
        At most this many of the most recent days calibrate the quantiles (split conformal):
        each is forecast out of sample from the ``fit_days`` days before it. Needs history
        beyond ``fit_days``; with fewer than ``MIN_CALIBRATION_DAYS`` such days the quantiles
        stay log-normal (wide: see docs/forecast.md).
    """

    num_harmonics: int = 3
    weekday_rank: int = 2
    floor_fraction: float = 1e-3
    variance_prior_days: float = 14.0
    intraday_scale_window: int = 9
    fit_days: int = 14
    calibration_days: int = 14

    def __post_init__(self) -> None:
        """Check every field's range."""
        if self.num_harmonics < 0:
            msg = f"num_harmonics must be >= 0, got {self.num_harmonics}"
            raise ValidationError(msg)
        if self.weekday_rank < 0:
            msg = f"weekday_rank must be >= 0, got {self.weekday_rank}"
            raise ValidationError(msg)
        if not 0.0 < self.floor_fraction < 1.0:
            msg = f"floor_fraction must be in (0, 1), got {self.floor_fraction}"
            raise ValidationError(msg)
        if not self.variance_prior_days >= 0.0:
            msg = f"variance_prior_days must be >= 0, got {self.variance_prior_days}"
            raise ValidationError(msg)
        if self.intraday_scale_window < 1:
            msg = f"intraday_scale_window must be >= 1, got {self.intraday_scale_window}"
            raise ValidationError(msg)
        if self.fit_days < 2:
            msg = f"fit_days must be >= 2, got {self.fit_days}"
            raise ValidationError(msg)
        if self.calibration_days < 0:
            msg = f"calibration_days must be >= 0, got {self.calibration_days}"
            raise ValidationError(msg)
