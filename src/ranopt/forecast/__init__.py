"""Demand forecasting with uncertainty: a pure numpy core (no I/O, seeded randomness).

History in, quantiles or correlated scenarios out::

    model = fit_forecaster(history, weekdays)  # [D, T, S], [D]
    forecast = predict(model, weekday=2)  # mean, median, quantiles [Q, T, S]
    scenarios = forecast.sample(rng, 100)  # [K, T, S] for a plan's confidence
    report = backtest(history_all, weekdays)  # WAPE vs seasonal naive, coverage
"""

from ranopt.forecast.backtest import BacktestReport, backtest
from ranopt.forecast.config import ForecastConfig
from ranopt.forecast.distribution import Forecast, predict
from ranopt.forecast.metrics import interval_coverage, pinball_loss, wape
from ranopt.forecast.residual import ResidualModel
from ranopt.forecast.seasonal import SeasonalForecaster, fit_forecaster

__all__ = [
    "BacktestReport",
    "Forecast",
    "ForecastConfig",
    "ResidualModel",
    "SeasonalForecaster",
    "backtest",
    "fit_forecaster",
    "interval_coverage",
    "pinball_loss",
    "predict",
    "wape",
]
