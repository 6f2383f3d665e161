"""Calibrate a model of a network from its topology and stored counters, and report the fit.

``calibrate`` is the one entry point the service calls: it checks there is enough history,
holds out the latest days, fits the model on the others (``ranopt.calibrate.fit``), measures
it on the held-out days (``ranopt.calibrate.report``) and estimates home-cell demand over the
whole history (``ranopt.calibrate.home_demand``) for the forecaster.
"""

from dataclasses import dataclass, field

import numpy as np

from ranopt.calibrate.fit import FitConfig, fit_model
from ranopt.calibrate.history import InsufficientTelemetryError, PmHistory, require_history
from ranopt.calibrate.home_demand import HomeDemand, demand_share_profile, estimate_home_demand
from ranopt.calibrate.model import CalibratedModel, IntArray
from ranopt.calibrate.report import FitReport, evaluate_fit
from ranopt.errors import ValidationError
from ranopt.twin.topology import TopologyLayout

MIN_DAY_COVERAGE = 0.5  # a day with fewer of its samples reported is neither fitted nor scored
MIN_TRAIN_DAYS = 2  # the forecaster of the demand pattern needs two days


@dataclass(frozen=True)
class CalibrationConfig:
    """How much history is required and how much of it is held out."""

    min_days: float = 7.0  # days of PM history (reported samples / cells / intervals a day)
    heldout_days: int = 0  # 0: one held-out day below 9 usable days, two from 9
    fit: FitConfig = field(default_factory=FitConfig)

    def __post_init__(self) -> None:
        """Check ranges."""
        if self.min_days < MIN_TRAIN_DAYS + 1 or self.heldout_days < 0:
            msg = f"min_days must be >= {MIN_TRAIN_DAYS + 1} and heldout_days >= 0"
            raise ValidationError(msg)


@dataclass(frozen=True, eq=False)
class Calibration:
    """A calibrated model, its measured fit, and the history's home-cell demand."""

    model: CalibratedModel
    report: FitReport
    home_demand: HomeDemand  # [N, C] over the whole history
    days_found: float
    train_days: IntArray  # day indices of the history the model was fitted on
    heldout_days: IntArray  # day indices it was scored on


def split_days(history: PmHistory, config: CalibrationConfig) -> tuple[IntArray, IntArray]:
    """Return (training, held-out) day indices: the latest usable days are held out."""
    usable = np.flatnonzero(history.day_coverage() >= MIN_DAY_COVERAGE).astype(np.int64)
    held = config.heldout_days or (1 if usable.size < 9 else 2)
    if usable.size < MIN_TRAIN_DAYS + held:
        found = history.days_found()
        msg = (
            f"{config.min_days:g} days of PM history needed, {found:.1f} found "
            f"({usable.size} days at least half reported)"
        )
        raise InsufficientTelemetryError(msg, needed_days=config.min_days, found_days=found)
    return usable[:-held], usable[-held:]


def calibrate(
    layout: TopologyLayout, history: PmHistory, config: CalibrationConfig | None = None
) -> Calibration:
    """Fit a model to ``history`` on the topology ``layout`` and measure it on held-out days."""
    config = config or CalibrationConfig()
    require_history(history, config.min_days)
    train_days, heldout_days = split_days(history, config)
    train = history.take_days(train_days)
    heldout = history.take_days(heldout_days)
    model = fit_model(layout, train, config.fit)
    report = evaluate_fit(model, train, heldout, history.weekdays[heldout_days])
    share = demand_share_profile(history)
    demand = estimate_home_demand(model.twin, model.home, model.share_at, share, history)
    return Calibration(
        model=model,
        report=report,
        home_demand=demand,
        days_found=history.days_found(),
        train_days=train_days,
        heldout_days=heldout_days,
    )
