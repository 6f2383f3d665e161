"""Home-cell demand from counters: what each cell would carry with every cell on.

With every cell on, a cell's served volume *is* its home-cell demand. While some cells sleep,
their UEs are carried by others, and the counters show only the sum. The estimate splits each
awake cell's carried volume between its own UEs and the sleeping cells' UEs it took over:

- the model says which cells take over which sleeping cell's UEs (``redistribution``: the
  share of home cell ``c``'s demand that cell ``j`` carries in the applied on/sleep state);
- a prior says how the network's demand divides among home cells at that time of day
  (``demand_share``, measured on intervals with every cell on);
- each awake cell's volume ``S_j`` is split between its own UEs and the sleeping cells' in
  proportion to their priors: its own demand is ``P_j S_j / S^_j`` with ``S^_j = sum_c A[j,c]
  P_c`` what the prior says it carries; a sleeping cell's demand is its prior scaled by how
  much more or less than their prior its absorbing cells carried
  (``P_c sum_j A[j,c] S_j / sum_j A[j,c] S^_j``).

When the prior split is right, the estimate is exact; a cell whose prior is zero (one that
carries no UEs of its own with every cell on) keeps zero demand, whatever it carries for
others.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.calibrate.history import PmHistory
from ranopt.calibrate.model import redistribution_of, serving_cells
from ranopt.errors import RanoptError
from ranopt.twin.model import Twin
from ranopt.twin.units import FloatArray

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
SHARE_SMOOTHING_INTERVALS = 5  # circular moving average of the time-of-day share profile
ALL_ON_MIN_REPORTING = 0.9  # share of cells reporting for an interval to count as all-on
OVERLOAD_PRB_LOAD = 0.95  # at or above, a cell served less than it was asked for

# how each estimate was made (``HomeDemand.method``)
OBSERVED = 0  # awake, carried only its own UEs: its served volume
SPLIT = 1  # awake while neighbours slept: its volume less what it carried for them
ASLEEP = 2  # asleep: prior scaled by its absorbing cells' volumes
IMPUTED = 3  # not reported: the prior (its time-of-day share of the network's volume)

# UE shares of their home cell's demand: fixed ``[U]``, or by (weekday, interval of day)
ShareSource = FloatArray | Callable[[int, int], FloatArray]


class NoAllOnIntervalsError(RanoptError):
    """No interval had every cell on, so the prior split of demand cannot be measured."""


@dataclass(frozen=True, eq=False)
class HomeDemand:
    """Estimated home-cell demand ``[N, C]`` (Mbit/s) and how each value was obtained."""

    mbps: FloatArray
    method: IntArray  # OBSERVED, SPLIT, ASLEEP or IMPUTED
    overloaded: BoolArray  # the carrying cell ran at its PRB limit: the value is a lower bound


def all_on_intervals(history: PmHistory) -> BoolArray:
    """Intervals with no cell asleep and most cells reporting, ``[N]``."""
    reporting = history.reported.mean(axis=1)
    return np.asarray(~history.asleep.any(axis=1) & (reporting >= ALL_ON_MIN_REPORTING), dtype=bool)


def demand_share_profile(history: PmHistory) -> FloatArray:
    """Each cell's share of the network's served demand per interval of day, ``[T, C]``.

    Measured on all-on intervals as a ratio of sums over days, smoothed over neighbouring
    intervals of the day; intervals of day without any all-on sample take the all-day share.
    Raises ``NoAllOnIntervalsError`` when no interval had every cell on.
    """
    ipd = history.intervals_per_day
    served = np.where(history.reported, history.served_mbps, 0.0)  # [N, C]
    usable = all_on_intervals(history)
    if not usable.any():
        msg = (
            "no interval with every cell on in the PM history: the split of demand between "
            "cells cannot be measured"
        )
        raise NoAllOnIntervalsError(msg)
    network = served.sum(axis=1)  # [N]
    weight = usable[:, None] & history.reported  # [N, C]
    cell_sum = np.where(weight, served, 0.0).reshape(-1, ipd, history.num_cells).sum(axis=0)
    net_sum = np.where(weight, network[:, None], 0.0).reshape(-1, ipd, history.num_cells)
    net_sum = net_sum.sum(axis=0)  # [T, C]
    # circular moving average over the day: sums first, then the ratio
    kernel = np.ones(SHARE_SMOOTHING_INTERVALS)
    half = SHARE_SMOOTHING_INTERVALS // 2

    def smooth(values: FloatArray) -> FloatArray:
        padded = np.concatenate((values[-half:], values, values[:half]))
        return np.stack(
            [np.convolve(padded[:, c], kernel, mode="valid") for c in range(values.shape[1])],
            axis=1,
        )

    cell_smooth, net_smooth = smooth(cell_sum), smooth(net_sum)
    all_day = cell_sum.sum(axis=0) / np.maximum(net_sum.sum(axis=0), 1e-12)  # [C]
    share = np.where(
        net_smooth > 0, cell_smooth / np.where(net_smooth > 0, net_smooth, 1.0), all_day
    )
    return np.asarray(share, dtype=np.float64)


def estimate_home_demand(
    twin: Twin,
    home: IntArray,
    share: ShareSource,
    demand_share: FloatArray,
    history: PmHistory,
) -> HomeDemand:
    """Estimate every interval's home-cell demand from counters and the applied states.

    ``twin``, ``home`` and ``share`` are a model's UEs (``CalibratedModel``, whose
    ``share_at`` gives the shares of the UEs present at an interval, or a candidate drop with
    fixed uniform shares); ``demand_share`` is ``demand_share_profile``'s ``[T, C]``.
    """
    ipd = history.intervals_per_day
    served = history.served_mbps
    reported = history.reported
    asleep = history.asleep
    load = history.prb_load
    weekdays = history.row_weekdays
    busy = np.where(np.isfinite(load), load, 0.0) >= OVERLOAD_PRB_LOAD
    mbps = np.zeros(served.shape)
    method = np.full(served.shape, OBSERVED, dtype=np.int64)
    overloaded = np.zeros(served.shape, dtype=bool)
    servers: dict[bytes, IntArray] = {}
    for t in range(history.num_intervals):
        rep = reported[t] & ~asleep[t]
        s_t = np.where(rep, served[t], 0.0)
        prior = demand_share[t % ipd] * s_t.sum()  # [C]
        sleeping = asleep[t]
        if not sleeping.any():
            mbps[t] = np.where(rep, s_t, prior)
            method[t] = np.where(rep, OBSERVED, IMPUTED)
            overloaded[t] = busy[t]
            continue
        key = sleeping.tobytes()
        if key not in servers:
            servers[key] = serving_cells(twin, ~sleeping)
        weights = share(int(weekdays[t]), t % ipd) if callable(share) else share
        a = redistribution_of(servers[key], home, weights, twin.num_cells)  # [C, C]
        expected = a @ prior  # [C] what each cell would carry under the prior
        absorbed = np.where(rep[:, None], a, 0.0)  # only reporting awake cells measure
        num = absorbed.T @ s_t  # [C] sum_j A[j,c] S_j
        den = absorbed.T @ expected
        scale = np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)
        estimate = np.where(sleeping, prior * scale, 0.0)
        foreign = a @ np.where(sleeping, prior, 0.0)  # [C] prior carried for sleeping cells
        # an awake cell's own share of its volume, in proportion to the priors
        kept = np.where(expected > 0, prior * s_t / np.where(expected > 0, expected, 1.0), s_t)
        mbps[t] = np.where(sleeping, estimate, np.where(rep, kept, prior))
        method[t] = np.where(
            sleeping, ASLEEP, np.where(rep, np.where(foreign > 0, SPLIT, OBSERVED), IMPUTED)
        )
        # a sleeping cell's estimate is a lower bound when a cell carrying it was saturated
        carried_by_busy = (a * busy[t][:, None]).sum(axis=0) > 0
        overloaded[t] = np.where(sleeping, carried_by_busy, busy[t])
    return HomeDemand(mbps=mbps, method=method, overloaded=overloaded)
