"""Demand forecasting with uncertainty: a pure numpy core (no I/O, seeded randomness).

History in, quantiles or correlated scenarios out::

    model = fit_forecaster(history, weekdays)  # [D, T, S], [D]
    forecast = predict(model, weekday=2)  # mean, median, quantiles [Q, T, S]
    scenarios = forecast.sample(rng, 100)  # [K, T, S] for a plan's confidence
    rest = nowcast(forecast, observed)  # today's intervals t0..T-1 given 0..t0-1 [t0, S]
    report = backtest(history_all, weekdays)  # WAPE vs seasonal naive, coverage
"""

from ranopt.forecast.backtest import BacktestReport, backtest
from ranopt.forecast.conditional import ConditionalResidual
from ranopt.forecast.config import ForecastConfig
from ranopt.forecast.distribution import Forecast, predict
from ranopt.forecast.metrics import interval_coverage, pinball_loss, wape
from ranopt.forecast.nowcast import nowcast
from ranopt.forecast.residual import ResidualModel, ResidualSampler
from ranopt.forecast.seasonal import SeasonalForecaster, fit_forecaster

__all__ = [
    "BacktestReport",
    "ConditionalResidual",
    "Forecast",
    "ForecastConfig",
    "ResidualModel",
    "ResidualSampler",
    "SeasonalForecaster",
    "backtest",
    "fit_forecaster",
    "interval_coverage",
    "nowcast",
    "pinball_loss",
    "predict",
    "wape",
]
