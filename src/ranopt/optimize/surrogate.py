"""Linear load model of the energy decision: UE demand bins with their preference lists.

Association in the twin is "best reselection ranking (layer priority, SSB RSRP) + CIO among
active suitable cells". With the CIO fixed, each UE has an ordered list of sleepable cells it
prefers to its best never-sleeping cell; when cells sleep, it lands on the first active one
(closest assignment, Espejo, Marin & Rodriguez-Chia 2012, "Closest assignment constraints in
discrete location problems", EJOR).
UEs with the same list form one demand bin. With interference frozen at reference loads, a
bin's PRB cost on each cell of its list is linear in its demand: the model the MILP, the QUBO
and the greedy heuristic share. The twin then checks every plan with the full load coupling.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.twin.mimo import cell_rates_mbps
from ranopt.twin.model import Twin
from ranopt.twin.units import FloatArray, group_sum

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MAX_LIST_LENGTH = 10  # sleepable cells kept ahead of the fallback in a preference list
UNSERVABLE_COST = 1e3  # PRB cost of a UE a cell cannot serve (SINR below SINR_MIN)


@dataclass(frozen=True, eq=False)
class PreferenceBins:
    """Demand bins: UEs sharing one preference list ``[num_bins, length]``, ``-1`` padded.

    The last entry of a list is a never-sleeping fallback cell, or ``-1`` in ``fallback`` when
    the UE has no suitable never-sleeping cell (then it must keep one of its listed cells).
    """

    lists: IntArray  # [B, L] cell index per position
    fallback: IntArray  # [B] fallback cell (last valid entry) or -1
    ue_bin: IntArray  # [U] bin of each UE, -1 for UEs without any suitable cell
    ue_columns: IntArray  # [U, L] link-budget column of each list entry, -1 padded
    bins_of_cell: tuple[IntArray, ...]  # [C] bins whose list contains each cell

    @property
    def num_bins(self) -> int:
        """Number of bins."""
        return int(self.lists.shape[0])


def preference_bins(
    twin: Twin,
    sleepable: BoolArray,
    cio_db: FloatArray | None = None,
    max_list_length: int = MAX_LIST_LENGTH,
) -> PreferenceBins:
    """Group UEs by their ordered list of sleepable cells up to their best fixed cell.

    ``sleepable`` is ``[num_cells]``: the cells the optimizer may put to sleep.
    """
    link = twin.link
    cio = np.zeros(twin.num_cells) if cio_db is None else cio_db
    suitable = link.suitable(twin.scenario.rsrp_min_dbm)  # [U, K]
    metric = np.where(suitable, link.rank_db + cio[link.cell_idx], -np.inf)
    order = np.argsort(-metric, axis=1, kind="stable")  # [U, K] best first
    sorted_cells = np.take_along_axis(link.cell_idx, order, axis=1)
    sorted_ok = np.isfinite(np.take_along_axis(metric, order, axis=1))
    is_fixed = sorted_ok & ~sleepable[sorted_cells]
    has_fallback = is_fixed.any(axis=1)
    fallback_pos = np.where(has_fallback, np.argmax(is_fixed, axis=1), sorted_ok.sum(axis=1))
    # entries ahead of the fallback, at most MAX_LIST_LENGTH of them
    num_ues, k = order.shape
    pos = np.arange(k)[None, :]
    ahead = sorted_ok & (pos < fallback_pos[:, None]) & (pos < max_list_length)
    # a list cut short keeps its fallback: with its first max_list_length cells asleep the
    # model sends the UE to its best never-sleeping cell, where the twin (layer priorities)
    # would find a further n78 cell above threshold; the twin check sees the difference
    length = ahead.sum(axis=1) + has_fallback
    width = int(length.max()) if num_ues else 1
    lists = np.full((num_ues, max(width, 1)), -1, dtype=np.int64)
    columns = np.full_like(lists, -1)
    rows = np.arange(num_ues)
    for j in range(min(max_list_length, k, lists.shape[1])):
        take = ahead[:, j]
        lists[take, j] = sorted_cells[take, j]
        columns[take, j] = order[take, j]
    n_ahead = ahead.sum(axis=1)
    fb = has_fallback
    lists[rows[fb], n_ahead[fb]] = sorted_cells[rows[fb], fallback_pos[fb]]
    columns[rows[fb], n_ahead[fb]] = order[rows[fb], fallback_pos[fb]]

    any_cell = length > 0
    unique_lists, inverse = np.unique(lists[any_cell], axis=0, return_inverse=True)
    ue_bin = np.full(num_ues, -1, dtype=np.int64)
    ue_bin[any_cell] = inverse.ravel()
    # the fallback of a bin is its last entry when that entry is a fixed cell
    last = np.where(unique_lists >= 0, np.arange(unique_lists.shape[1])[None, :], -1).max(axis=1)
    last_cell = unique_lists[np.arange(unique_lists.shape[0]), last]
    bin_fallback = np.where(~sleepable[last_cell], last_cell, -1)
    return PreferenceBins(
        lists=unique_lists,
        fallback=bin_fallback,
        ue_bin=ue_bin,
        ue_columns=columns,
        bins_of_cell=_bins_of_cell(unique_lists, twin.num_cells),
    )


def _bins_of_cell(lists: IntArray, num_cells: int) -> tuple[IntArray, ...]:
    """For each cell, the bins whose preference list contains it."""
    b_idx, _ = np.nonzero(lists >= 0)
    cells = lists[lists >= 0]
    order = np.lexsort((b_idx, cells))
    splits = np.searchsorted(cells[order], np.arange(num_cells + 1))
    return tuple(np.unique(b_idx[order[splits[c] : splits[c + 1]]]) for c in range(num_cells))


def reference_rates_mbps(
    twin: Twin,
    bins: PreferenceBins,
    reference_load: FloatArray,
    pairing_load: FloatArray | None = None,
    trx_fraction: float | FloatArray = 1.0,
) -> FloatArray:
    """Rate of each UE on each cell of its list, with interference at ``reference_load``.

    Returns ``[num_ues, L]`` in Mbit/s (0 where the entry is padding or the SINR too low).
    ``pairing_load`` ``[C]`` sets how many UEs each cell pairs (MU-MIMO; None: the reference
    load, zeros: none, which never overstates a rate); ``trx_fraction`` is the share of
    chains the listed cells run, one for all or ``[C]`` per cell (a muted cell's rates,
    ``ranopt.twin.mimo``).
    """
    link = twin.link
    carrier = twin.arrays.carrier
    num_carriers = int(carrier.max()) + 1
    rows = np.arange(twin.num_ues)
    # [U, K] load-weighted interference power, summed per carrier: [U, num_carriers]
    weighted = link.interference_w * reference_load[link.cell_idx]
    per_carrier = np.stack(
        [
            np.where(carrier[link.cell_idx] == c, weighted, 0.0).sum(axis=1)
            for c in range(num_carriers)
        ],
        axis=1,
    )
    cols = np.maximum(bins.ue_columns, 0)  # [U, L]
    cells = link.cell_idx[rows[:, None], cols]
    own = weighted[rows[:, None], cols]
    interference = per_carrier[rows[:, None], carrier[cells]] - own
    # a muted cell keeps X / Y of its power and of its beam gain toward the UE
    fraction = np.broadcast_to(np.asarray(trx_fraction, dtype=np.float64), (twin.num_cells,))
    share = fraction[cells]
    sinr = (link.signal_w[rows[:, None], cols] * share * share) / (
        np.maximum(interference, 0.0) + twin.noise_w[cells]
    )
    pairing = reference_load if pairing_load is None else pairing_load
    rate, _ = cell_rates_mbps(twin.arrays, cells, sinr, share, pairing[cells])
    return np.where(bins.ue_columns >= 0, rate, 0.0)


def bin_costs(bins: PreferenceBins, rates_mbps: FloatArray, demand_mbps: FloatArray) -> FloatArray:
    """PRB share each bin needs on each cell of its list, ``[num_bins, L]`` (linear in demand)."""
    in_bin = bins.ue_bin >= 0
    per_ue = np.where(
        rates_mbps > 0,
        demand_mbps[:, None] / np.where(rates_mbps > 0, rates_mbps, 1.0),
        np.where(demand_mbps[:, None] > 0, UNSERVABLE_COST, 0.0),
    )
    width = bins.lists.shape[1]
    costs = np.zeros((bins.num_bins, width))
    for j in range(width):
        costs[:, j] = group_sum(bins.ue_bin[in_bin], per_ue[in_bin, j], bins.num_bins)
    return np.where(bins.lists >= 0, costs, 0.0)


def first_active_position(bins: PreferenceBins, active: BoolArray) -> IntArray:
    """Position in each bin's list of the cell that serves it, ``[num_bins]`` (-1 if none)."""
    valid = bins.lists >= 0
    on = valid & active[np.maximum(bins.lists, 0)]
    return np.where(on.any(axis=1), np.argmax(on, axis=1), -1)


def surrogate_loads(
    bins: PreferenceBins, costs: FloatArray, active: BoolArray, num_cells: int
) -> tuple[FloatArray, float]:
    """Cell loads ``[num_cells]`` under closest assignment, and the cost of bins left unserved."""
    pos = first_active_position(bins, active)
    served = pos >= 0
    rows = np.flatnonzero(served)
    cells = bins.lists[rows, pos[served]]
    loads = group_sum(cells, costs[rows, pos[served]], num_cells)
    stranded = float(costs[~served].max(axis=1).sum()) if (~served).any() else 0.0
    return loads, stranded


@dataclass(eq=False)
class AssignmentState:
    """Closest assignment of bins under an on/sleep state, updated incrementally.

    Sleeping a cell only moves the bins that sit on it to their next active entry; this keeps
    greedy and repair steps proportional to the bins a cell touches, not to the whole network.
    """

    bins: PreferenceBins
    costs: FloatArray  # [B, L]
    active: BoolArray  # [C]
    position: IntArray  # [B] current list position (-1: stranded)
    loads: FloatArray  # [C]
    stranded_cost: float

    @classmethod
    def start(cls, bins: PreferenceBins, costs: FloatArray, active: BoolArray) -> "AssignmentState":
        """Assign every bin to its first active entry."""
        position = first_active_position(bins, active)
        loads, stranded = surrogate_loads(bins, costs, active, active.shape[0])
        return cls(bins, costs, active.copy(), position, loads, stranded)

    def _moves(self, cell: int) -> tuple[IntArray, IntArray, FloatArray, FloatArray, IntArray]:
        """Bins on ``cell`` and where they go if it sleeps.

        Returns (bins, new position, old cost, new cost, new cell).
        """
        touching = self.bins.bins_of_cell[cell]
        pos = self.position[touching]
        on_cell = (pos >= 0) & (self.bins.lists[touching, np.maximum(pos, 0)] == cell)
        moving = touching[on_cell]
        old_pos = self.position[moving]
        lists = self.bins.lists[moving]
        width = lists.shape[1]
        later = (np.arange(width)[None, :] > old_pos[:, None]) & (lists >= 0)
        later &= self.active[np.maximum(lists, 0)] & (lists != cell)
        has_next = later.any(axis=1)
        new_pos = np.where(has_next, np.argmax(later, axis=1), -1)
        rows = np.arange(moving.size)
        old_cost = self.costs[moving, old_pos]
        new_cost = np.where(has_next, self.costs[moving, np.maximum(new_pos, 0)], 0.0)
        new_cell = np.where(has_next, lists[rows, np.maximum(new_pos, 0)], -1)
        return moving, new_pos, old_cost, new_cost, new_cell

    def loads_if_asleep(self, cell: int) -> tuple[FloatArray, float]:
        """Return loads ``[C]`` and extra stranded cost if ``cell`` slept now (nothing changes)."""
        _, new_pos, old_cost, new_cost, new_cell = self._moves(cell)
        loads = self.loads.copy()
        loads[cell] -= float(old_cost.sum())
        moved = new_pos >= 0
        np.add.at(loads, new_cell[moved], new_cost[moved])
        return loads, float(old_cost[~moved].sum())

    def sleep(self, cell: int) -> None:
        """Put ``cell`` to sleep and move its bins."""
        moving, new_pos, _, _, _ = self._moves(cell)
        loads, extra = self.loads_if_asleep(cell)
        self.loads = loads
        self.loads[cell] = 0.0
        self.stranded_cost += extra
        self.position[moving] = new_pos
        self.active[cell] = False
