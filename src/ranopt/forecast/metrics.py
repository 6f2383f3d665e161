"""Forecast accuracy measures: WAPE, pinball loss, interval coverage.

After Hyndman & Athanasopoulos, "Forecasting: Principles and Practice", 3rd ed., 2021, ch. 5.
"""

import numpy as np
import numpy.typing as npt


def wape(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> float:
    """Return the weighted absolute percentage error ``sum|y - f| / sum|y|`` (a fraction).

    Also called the MAD/mean ratio (Kolassa & Schütz, Foresight 2007); unlike MAPE it stays
    finite at zero demand. ``nan`` if the actual demand is all zero.
    """
    y = np.asarray(actual, dtype=np.float64)
    f = np.asarray(forecast, dtype=np.float64)
    total = float(np.abs(y).sum())
    return float(np.abs(y - f).sum()) / total if total > 0.0 else float("nan")


def pinball_loss(actual: npt.ArrayLike, quantile: npt.ArrayLike, level: float) -> float:
    """Return the mean pinball (quantile) loss of a quantile forecast at ``level``.

    ``max(level (y - q), (level - 1)(y - q))`` averaged over elements, in the demand's unit
    (Hyndman & Athanasopoulos 2021, sec. 5.9); lower is better and it is minimised in
    expectation by the true quantile.
    """
    diff = np.asarray(actual, dtype=np.float64) - np.asarray(quantile, dtype=np.float64)
    return float(np.maximum(level * diff, (level - 1.0) * diff).mean())


def interval_coverage(actual: npt.ArrayLike, lower: npt.ArrayLike, upper: npt.ArrayLike) -> float:
    """Return the fraction of observations inside ``[lower, upper]`` (bounds included)."""
    y = np.asarray(actual, dtype=np.float64)
    inside = (y >= np.asarray(lower, dtype=np.float64)) & (y <= np.asarray(upper, dtype=np.float64))
    return float(inside.mean())
