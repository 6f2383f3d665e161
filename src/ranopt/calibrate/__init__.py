"""Calibration: a model of a network from its topology and counters (pure core, no I/O).

::

    layout = topology_layout(site_records, cell_records)  # ranopt.twin.topology
    result = calibrate(layout, history)  # history: PmHistory from the store
    result.model  # CalibratedModel: the twin the planner plans on
    result.report  # FitReport: WAPE on held-out days, layer shares
    result.home_demand  # HomeDemand [N, C]: what the forecaster is fitted on
"""

from ranopt.calibrate.calibration import Calibration, CalibrationConfig, calibrate, split_days
from ranopt.calibrate.fit import FitConfig, fit_model
from ranopt.calibrate.history import InsufficientTelemetryError, PmHistory, require_history
from ranopt.calibrate.home_demand import (
    HomeDemand,
    NoAllOnIntervalsError,
    demand_share_profile,
    estimate_home_demand,
)
from ranopt.calibrate.model import CalibratedModel, CellFit, redistribution, select_ues
from ranopt.calibrate.report import FitFigures, FitReport, LayerShare, evaluate_fit, wape

__all__ = [
    "CalibratedModel",
    "Calibration",
    "CalibrationConfig",
    "CellFit",
    "FitConfig",
    "FitFigures",
    "FitReport",
    "HomeDemand",
    "InsufficientTelemetryError",
    "LayerShare",
    "NoAllOnIntervalsError",
    "PmHistory",
    "calibrate",
    "demand_share_profile",
    "estimate_home_demand",
    "evaluate_fit",
    "fit_model",
    "redistribution",
    "require_history",
    "select_ues",
    "split_days",
    "wape",
]
