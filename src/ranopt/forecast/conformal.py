"""Split-conformal calibration of the forecast's quantiles from out-of-sample scores.

A score is a held-out day's log-ratio residual divided by the forecaster's own spread,
``z = log(actual / baseline) / sigma_total`` (a normalised nonconformity score, Lei, G'Sell,
Rinaldo, Tibshirani & Wasserman, "Distribution-free predictive inference for regression",
JASA 2018, sec. 5.2). The quantile at level ``q`` is the order statistic of rank
``ceil((n + 1) q)`` (upper levels) or ``floor((n + 1) q)`` (lower levels) of the ``n`` scores,
which covers at least ``q`` of an exchangeable new score (ibid., Theorem 2.2).
"""

import numpy as np

from ranopt.errors import ValidationError
from ranopt.forecast.arrays import FloatArray

MIN_CALIBRATION_DAYS = 7  # one of each weekday: fewer leaves the quantiles log-normal


def conformal_quantiles(scores: FloatArray, levels: FloatArray) -> FloatArray:
    """Return split-conformal quantiles of ``scores`` ``[n]`` at ``levels`` ``[L]`` in (0, 1).

    Levels of 0.5 and above take the ``ceil((n + 1) q)``-th smallest score, lower levels the
    ``floor((n + 1) q)``-th, clipped to the sample: a central interval between levels ``q`` and
    ``1 - q`` then covers at least ``1 - 2 q`` of a new exchangeable score (up to the clip).

    Raises
    ------
    ValidationError
        If there is no score or a score is not finite.
    """
    ordered = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    num_scores = ordered.shape[0]
    if num_scores == 0:
        msg = "scores must hold at least one calibration score"
        raise ValidationError(msg)
    if not np.isfinite(ordered).all():
        msg = "scores must be finite"
        raise ValidationError(msg)
    q = np.asarray(levels, dtype=np.float64)
    rank = np.where(q >= 0.5, np.ceil((num_scores + 1) * q), np.floor((num_scores + 1) * q))
    index = np.clip(rank, 1, num_scores).astype(np.int64) - 1
    return np.asarray(ordered[index], dtype=np.float64)
