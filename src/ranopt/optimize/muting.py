"""MIMO muting in the bin model: a cell's chain levels, their PRB costs and their power.

Muting a 64T64R cell to 32 or 16 transceiver chains (TR 38.864 spatial-domain adaptation)
cuts its power by TR 38.864's spatial scaling and costs capacity: the served beam loses power
and gain, the cell fewer layers and pairs. In the bin model a muted cell's bins cost more
PRBs (rates at the muted configuration, ``surrogate.reference_rates_mbps``); the interference
it causes is kept at the full-power reference, which over-states it (safe).
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.optimize.surrogate import (
    AssignmentState,
    PreferenceBins,
    bin_costs,
    reference_rates_mbps,
)
from ranopt.twin.model import Twin
from ranopt.twin.power import spatial_scale
from ranopt.twin.units import FloatArray

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class MuteLevels:
    """The muted levels each cell may run, ``[C, M]`` (0 where a cell has fewer levels)."""

    trx: IntArray  # [C, M] chains in use at each level, fewest last
    power_scale: FloatArray  # [C, M] share of the active power drawn at each level

    @property
    def num_levels(self) -> int:
        """Muted levels (M); 0 when no cell can mute."""
        return int(self.trx.shape[1])

    @property
    def mutable(self) -> BoolArray:
        """Cells with at least one muted level, ``[C]``."""
        return np.asarray((self.trx > 0).any(axis=1), dtype=bool)


def mute_levels(twin: Twin) -> MuteLevels:
    """Return the muted levels of every cell: its chain options below all of its chains."""
    arrays = twin.arrays
    options = [opts[1:] for opts in arrays.trx_options]  # full first, then fewer
    width = max((len(o) for o in options), default=0)
    trx = np.zeros((twin.num_cells, width), dtype=np.int64)
    for cell, opts in enumerate(options):
        trx[cell, : len(opts)] = opts
    fraction = trx / arrays.num_trx[:, None]
    scale = spatial_scale(arrays.spatial_static_share[:, None], fraction)
    return MuteLevels(trx=trx, power_scale=np.where(trx > 0, scale, 1.0))


def mute_costs(
    twin: Twin,
    bins: PreferenceBins,
    levels: MuteLevels,
    reference_load: FloatArray,
    pairing_load: FloatArray | None,
    demand_mbps: FloatArray,
) -> FloatArray:
    """PRB share of each bin on each cell of its list at each muted level, ``[B, L, M]``.

    Infinite where the entry's cell has no such level (or the entry is padding).
    """
    num_levels = levels.num_levels
    costs = np.full((bins.num_bins, bins.lists.shape[1], num_levels), np.inf)
    cells = np.maximum(bins.lists, 0)
    for m in range(num_levels):
        fraction = np.where(levels.trx[:, m] > 0, levels.trx[:, m] / twin.arrays.num_trx, 1.0)
        rates = reference_rates_mbps(twin, bins, reference_load, pairing_load, fraction)
        level_costs = bin_costs(bins, rates, demand_mbps)
        available = (bins.lists >= 0) & (levels.trx[cells, m] > 0)
        costs[:, :, m] = np.where(available, level_costs, np.inf)
    return costs


def cell_level_loads(state: AssignmentState, costs_m: FloatArray, cell: int) -> FloatArray:
    """Load ``[M]`` the bins now on ``cell`` would put on it at each of its muted levels.

    ``costs_m`` ``[B, L, M]`` are the interval's ``mute_costs``.
    """
    touching = state.bins.bins_of_cell[cell]
    pos = state.position[touching]
    here = (pos >= 0) & (state.bins.lists[touching, np.maximum(pos, 0)] == cell)
    on = touching[here]
    if on.size == 0:
        return np.zeros(costs_m.shape[2])
    return np.asarray(costs_m[on, state.position[on], :].sum(axis=0), dtype=np.float64)


def fit_mute_levels(
    state: AssignmentState,
    costs_m: FloatArray,
    levels: MuteLevels,
    caps: FloatArray,
    cells: IntArray,
) -> IntArray:
    """Chains each cell runs, ``[C]``: the fewest whose load stays within its cap.

    Only ``cells`` that are active may mute; every other cell keeps all its chains (0 means
    "all" here; the caller fills in the cell's count). Muting a cell changes only its own
    load in the bin model (its bins stay; interference is frozen), so cells are independent.
    """
    trx = np.zeros(caps.shape[0], dtype=np.int64)
    for cell in cells:
        c = int(cell)
        if not state.active[c] or levels.trx[c, 0] == 0:
            continue
        loads = cell_level_loads(state, costs_m, c)
        fits = (levels.trx[c] > 0) & (loads <= caps[c])
        if fits.any():
            trx[c] = int(levels.trx[c, np.flatnonzero(fits)[-1]])
    return trx
