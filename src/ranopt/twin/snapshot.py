"""Snapshot: the twin evaluated for one interval and one cell state.

Association by reselection ranking + CIO among suitable active cells, load-coupled
interference solved as a fixed point, MIMO link rates, PRB load, served traffic, UE
throughput and cell power (with sleep states, muting and the site's share).
"""

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_array

from ranopt.errors import ValidationError
from ranopt.twin.elements import SLICES
from ranopt.twin.mimo import link_config
from ranopt.twin.model import Twin
from ranopt.twin.power import LIGHT_SLEEP, SLEEP_STATES, cell_power_w
from ranopt.twin.units import FloatArray, group_sum, lin_to_db

IntArray = npt.NDArray[np.int64]
T = TypeVar("T", bound=np.generic)
BoolArray = npt.NDArray[np.bool_]

LOAD_TOLERANCE = 1e-4  # fixed point stops when no cell's PRB load moves by more than this
MAX_ITERATIONS = 200
MIN_STEP = 1.0 / 16.0  # smallest relaxation step of a cell whose load update keeps reversing


@dataclass(frozen=True, eq=False)
class CellState:
    """What an optimizer controls, arrays of shape ``[num_cells]``.

    ``slice_shares`` (``[num_cells, 3]``, eMBB/URLLC/mMTC) are PRB fractions dedicated to each
    slice; ``None`` means one pool shared by all slices. ``active_trx`` is the number of
    transceiver chains each active cell runs (MIMO muting; ``None``: all of them);
    ``sleep_state`` what each inactive cell is doing, an index into
    ``ranopt.twin.power.SLEEP_STATES`` (light sleep, deep sleep, waking from deep sleep;
    ``None``: light sleep).
    """

    active: BoolArray
    cio_db: FloatArray
    slice_shares: FloatArray | None = None
    active_trx: IntArray | None = None
    sleep_state: IntArray | None = None

    def __post_init__(self) -> None:
        """Check shapes and ranges."""
        num_cells = self.active.shape[0]
        if self.cio_db.shape != (num_cells,):
            msg = f"cio_db must have shape ({num_cells},), got {self.cio_db.shape}"
            raise ValidationError(msg)
        if self.active_trx is not None:
            if self.active_trx.shape != (num_cells,):
                msg = f"active_trx must have shape ({num_cells},), got {self.active_trx.shape}"
                raise ValidationError(msg)
            if (self.active_trx < 1).any():
                msg = "active_trx must be >= 1 for every cell"
                raise ValidationError(msg)
        if self.sleep_state is not None:
            if self.sleep_state.shape != (num_cells,):
                msg = f"sleep_state must have shape ({num_cells},), got {self.sleep_state.shape}"
                raise ValidationError(msg)
            if ((self.sleep_state < 0) | (self.sleep_state >= len(SLEEP_STATES))).any():
                msg = f"sleep_state must index {SLEEP_STATES}"
                raise ValidationError(msg)
        if self.slice_shares is not None:
            shares = self.slice_shares
            if shares.shape != (num_cells, len(SLICES)):
                msg = (
                    f"slice_shares must have shape ({num_cells}, {len(SLICES)}), got {shares.shape}"
                )
                raise ValidationError(msg)
            if (shares < 0).any() or (shares.sum(axis=1) > 1.0 + 1e-9).any():
                msg = "slice_shares must be >= 0 and sum to at most 1 per cell"
                raise ValidationError(msg)

    @classmethod
    def all_on(cls, num_cells: int) -> "CellState":
        """Every cell active, CIO 0 dB, one shared PRB pool: the always-on reference."""
        return cls(active=np.ones(num_cells, dtype=bool), cio_db=np.zeros(num_cells))

    def with_active(self, active: BoolArray) -> "CellState":
        """Return the same state with another on/sleep mask."""
        return CellState(
            active=active,
            cio_db=self.cio_db,
            slice_shares=self.slice_shares,
            active_trx=self.active_trx,
            sleep_state=self.sleep_state,
        )

    def trx_fraction(self, num_trx: FloatArray) -> FloatArray:
        """Share of each cell's chains in use, ``[num_cells]`` (1 without muting)."""
        if self.active_trx is None:
            return np.ones(self.active.shape[0])
        return np.minimum(self.active_trx / num_trx, 1.0)

    def sleep_states(self) -> IntArray:
        """Sleep state of every cell, ``[num_cells]`` (light sleep where none is set)."""
        if self.sleep_state is None:
            return np.full(self.active.shape[0], LIGHT_SLEEP, dtype=np.int64)
        return self.sleep_state


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Per-UE (``[num_ues]``) and per-cell (``[num_cells]``) results of one interval."""

    serving_cell: IntArray  # -1 where no suitable active cell covers the UE
    sinr_db: FloatArray
    demand_mbps: FloatArray
    served_mbps: FloatArray
    ue_thp_mbps: FloatArray  # throughput while the UE has data (DRB.UEThpDl sense)
    active: BoolArray
    prb_load: FloatArray  # used share of DL PRBs, 0-1 (RRU.PrbUsedDl / RRU.PrbAvailDl)
    demand_load: FloatArray  # PRB demand, may exceed 1 when the cell is overloaded
    cell_offered_mbps: FloatArray
    cell_served_mbps: FloatArray
    cell_num_ues: IntArray  # connected UEs with demand (RRC.ConnMean)
    cell_ue_thp_mbps: FloatArray  # mean UE throughput of the cell (DRB.UEThpDl), 0 if no UE
    power_w: FloatArray  # supply power (PEE.AvgPower)
    iterations: int
    converged: bool

    @property
    def covered(self) -> BoolArray:
        """UEs with a serving cell."""
        return self.serving_cell >= 0

    @property
    def offered_mbps(self) -> float:
        """Total offered DL traffic, including UEs without coverage."""
        return float(self.demand_mbps.sum())

    @property
    def served_mbps_total(self) -> float:
        """Total served DL traffic."""
        return float(self.served_mbps.sum())

    @property
    def served_ratio(self) -> float:
        """Served over offered traffic (1 when nothing is offered)."""
        offered = self.offered_mbps
        return self.served_mbps_total / offered if offered > 0 else 1.0

    @property
    def power_total_w(self) -> float:
        """Network supply power, W."""
        return float(self.power_w.sum())

    def ue_thp_percentile_mbps(self, q: float) -> float:
        """Percentile ``q`` (0-100) of the throughput of UEs with demand."""
        thp = self.ue_thp_mbps[self.demand_mbps > 0]
        return float(np.percentile(thp, q)) if thp.size else 0.0


def _interference_operator(twin: Twin, weights: FloatArray) -> FloatArray | csr_array:
    """Linear map from cell loads ``[num_cells]`` to UE interference ``[num_ues]``, W."""
    if twin.link.dense:
        return weights  # [U, C] with column c = cell c
    num_ues, k = weights.shape
    indptr = np.arange(0, num_ues * k + 1, k)
    return csr_array(
        (weights.ravel(), twin.link.cell_idx.ravel(), indptr), shape=(num_ues, twin.num_cells)
    )


def apply_interference(operator: FloatArray | csr_array, load: FloatArray) -> FloatArray:
    """Interference ``[U]`` that cell loads ``[C]`` cause through ``operator``, W.

    A dense operator is applied with ``einsum`` rather than BLAS: an OpenBLAS matrix-vector
    product wakes its threads on each call, which on a shared two-core machine cost 10 ms a
    call for 0.1 ms of work, and its result's last bits depend on the thread count.
    ``einsum`` runs in this thread and gives the same bits on any machine.
    """
    if isinstance(operator, np.ndarray):
        return np.asarray(np.einsum("uc,c->u", operator, load), dtype=np.float64)
    return np.asarray(operator @ load, dtype=np.float64)


def _used_load(raw: FloatArray, shares: FloatArray | None) -> tuple[FloatArray, FloatArray]:
    """Return (cell PRB load used 0-1 ``[C]``, per-UE-group served fraction table).

    ``raw`` is ``[C]`` (one pool) or ``[C, 3]`` (slices). In a pool an overloaded cell serves
    every UE the same fraction ``1 / load``; a slice gets at most its share.
    """
    if shares is None:
        used = np.minimum(raw, 1.0)
        served_fraction = np.minimum(1.0, 1.0 / np.maximum(raw, 1e-12))
        return used, served_fraction
    used_per_slice = np.minimum(raw, shares)
    served_fraction = np.where(raw > shares, shares / np.maximum(raw, 1e-12), 1.0)
    return np.minimum(used_per_slice.sum(axis=1), 1.0), served_fraction


def fair_served_fraction(ue_load: FloatArray, group: IntArray, capacity: FloatArray) -> FloatArray:
    """Return the served share of each UE's demand, its group's PRBs shared max-min fairly.

    ``ue_load`` ``[U]`` is the PRB share each UE needs, ``group`` ``[U]`` its cell (or cell and
    slice), ``capacity`` ``[G]`` the share the group has. In a group that needs more than it
    has, processor sharing (Bonald & Proutiere 2003) gives every active UE an equal share of
    the time: UEs needing less than the fair level ``lambda`` get all they need, the others
    ``lambda``, with ``sum(min(need, lambda)) = capacity`` (water-filling). Returns ``[U]``.
    """
    need = np.maximum(ue_load, 0.0)
    fraction = np.ones_like(need)
    totals = group_sum(group, need, capacity.shape[0])
    over = totals > capacity + 1e-12
    rows = np.flatnonzero(over[group] & (need > 0))
    if rows.size == 0:
        return fraction
    order = rows[np.lexsort((need[rows], group[rows]))]  # by group, then need ascending
    g = group[order]
    x = need[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    counts = np.diff(np.r_[starts, g.size])
    first = np.repeat(starts, counts)
    position = np.arange(g.size) - first
    before = np.cumsum(x) - x
    before -= before[first]  # demand of the smaller needs in the same group
    remaining = np.repeat(counts, counts) - position
    # the level if this and every larger need get lambda, the smaller ones all they need
    level = (capacity[g] - before) / remaining
    binding = x >= level
    # the first binding position of each group fixes its level
    first_binding = np.minimum.reduceat(np.where(binding, position, g.size), starts)
    group_level = level[starts + np.minimum(first_binding, counts - 1)]
    fraction[order] = np.minimum(1.0, np.repeat(group_level, counts) / x)
    return fraction


@dataclass(frozen=True, eq=False)
class _Association:
    """Serving cell of each UE and the link quantities toward it, ``[num_ues]``."""

    k_star: IntArray  # column of the serving cell in the link budget
    serving: IntArray  # -1 without coverage
    serving_safe: IntArray  # serving with -1 replaced by 0, for indexing
    covered: BoolArray


def per_entry(twin: Twin, values: npt.NDArray[T]) -> npt.NDArray[T]:
    """Return a per-cell array ``[C]`` at each link-budget entry: ``[U, k]`` (``[1, C]`` dense).

    A dense budget's entry ``k`` is cell ``k`` for every UE, so broadcasting the row gives the
    same values as the ``[U, C]`` gather without building it.
    """
    if twin.link.dense:
        return values[None, :]
    return values[twin.link.cell_idx]


def associate(twin: Twin, state: CellState) -> _Association:
    """Pick serving cells: suitable active cells, max reselection ranking + CIO.

    Suitable: band supported and TS 38.304 S-criterion met; ranking: the layer priority tier
    and SSB RSRP of ``ranopt.twin.selection``, plus the cell individual offset.
    """
    link = twin.link
    rows = np.arange(twin.num_ues)
    # TS 38.304 cl. 5.2.3.2 S-criterion: Srxlev = RSRP - Q_rxlevmin > 0
    suitable = per_entry(twin, state.active) & link.suitable(twin.scenario.rsrp_min_dbm)
    # TS 38.304 cl. 5.2.4.5-6 ranking (priority tiers, RSRP) + TS 38.331 cell individual offset
    ranking = link.rank_db + per_entry(twin, state.cio_db) if state.cio_db.any() else link.rank_db
    metric = np.where(suitable, ranking, -np.inf)
    k_star = np.argmax(metric, axis=1)
    covered = suitable[rows, k_star]
    serving = np.where(covered, link.cell_idx[rows, k_star], -1)
    return _Association(
        k_star=k_star, serving=serving, serving_safe=np.maximum(serving, 0), covered=covered
    )


def _interference_weights(twin: Twin, state: CellState, assoc: _Association) -> FloatArray:
    """Received power ``[num_ues, k]`` from co-channel active cells other than the server, W.

    A muted cell radiates its chains' share of the power (``CellState.trx_fraction``).
    """
    link = twin.link
    carrier = twin.arrays.carrier
    co_channel = per_entry(twin, carrier) == carrier[assoc.serving_safe][:, None]
    active_k = per_entry(twin, state.active)
    radiated = link.interference_w
    if state.active_trx is not None:
        radiated = radiated * per_entry(twin, state.trx_fraction(twin.arrays.num_trx))
    weights = np.where(co_channel & active_k & assoc.covered[:, None], radiated, 0.0)
    weights[np.arange(twin.num_ues), assoc.k_star] = 0.0
    return weights


@dataclass(frozen=True, eq=False)
class _LoadSolution:
    sinr: FloatArray  # [U] linear
    rate_mbps: FloatArray  # [U] rate per PRB share with all of the cell's DL resources (MU)
    su_rate_mbps: FloatArray  # [U] the UE's own rate when scheduled alone (SU-MIMO)
    raw_load: FloatArray  # [C] or [C, 3]: PRB demand
    load: FloatArray  # [C] used PRB share, 0-1
    served_fraction: FloatArray  # [C] or [C, 3]
    iterations: int
    converged: bool


def solve_load(
    twin: Twin,
    state: CellState,
    assoc: _Association,
    demand_mbps: FloatArray,
    initial_load: FloatArray | None,
    tolerance: float,
    max_iterations: int,
) -> _LoadSolution:
    """Solve the load-coupling fixed point (Siomina & Yuan 2012) by iteration.

    Each cell's PRB load is the sum over its UEs of demand / rate, where the rate depends on the
    SINR, and the SINR on the neighbours' loads; the map is a standard interference function
    (Yates 1995), so the iteration converges; it stops when no load moves by ``tolerance``.
    """
    interference_op = _interference_operator(twin, _interference_weights(twin, state, assoc))
    rows = np.arange(twin.num_ues)
    arrays = twin.arrays
    server = assoc.serving_safe
    # a muted cell keeps X / Y of its power and X / Y of its beam gain toward the UE
    trx_share = state.trx_fraction(arrays.num_trx)[server]
    signal_w = twin.link.signal_w[rows, assoc.k_star] * trx_share * trx_share
    noise_w = twin.noise_w[server]
    links = link_config(arrays, server, trx_share)
    demand = np.where(assoc.covered, demand_mbps, 0.0)
    shares = state.slice_shares
    num_slices = len(SLICES)
    group = (
        assoc.serving_safe
        if shares is None
        else assoc.serving_safe * num_slices + twin.ues.slice_idx
    )
    shape = (twin.num_cells,) if shares is None else (twin.num_cells, num_slices)

    start = np.ones(twin.num_cells) if initial_load is None else np.clip(initial_load, 0.0, 1.0)
    load = np.where(state.active, start, 0.0)
    # MU-MIMO pairing raises a cell's rate with its own load, so its load map can fall
    # steeply in it (not a standard interference function) and plain iteration can cycle
    # between two loads: a cell whose update reverses direction takes halved steps from then
    # on (Krasnoselskii-Mann averaging, same fixed points); cells that never reverse keep
    # full steps, so a monotone (Yates) iteration is unchanged
    step_size = np.ones(twin.num_cells)
    previous = np.zeros(twin.num_cells)
    for iteration in range(1, max_iterations + 1):
        # Siomina & Yuan 2012: SINR_u = S_u / (sum_j rho_j I_uj + N_u)
        sinr = signal_w / (apply_interference(interference_op, load) + noise_w)
        # MU-MIMO pairs the UEs that are active at once, which the cell's load sets
        rate_mbps, su_rate = links.rates_mbps(sinr, load[server])
        ue_load = np.divide(demand, rate_mbps, out=np.zeros_like(demand), where=rate_mbps > 0)
        raw = group_sum(group, ue_load, int(np.prod(shape))).reshape(shape)
        new_load, served_fraction = _used_load(raw, shares)
        update = new_load - load
        step = float(np.max(np.abs(update)))
        if step < tolerance:
            return _LoadSolution(
                sinr, rate_mbps, su_rate, raw, new_load, served_fraction, iteration, True
            )
        reversed_ = update * previous < 0.0
        step_size = np.where(reversed_, np.maximum(step_size * 0.5, MIN_STEP), step_size)
        previous = update
        load = load + step_size * update
    # the budget ran out: report the last map output (loads consistent with its PRB demand)
    return _LoadSolution(
        sinr, rate_mbps, su_rate, raw, new_load, served_fraction, max_iterations, False
    )


def state_power_w(twin: Twin, load: FloatArray, state: CellState) -> FloatArray:
    """Each cell's power at PRB ``load`` in ``state`` (on, chains in use, sleep depth)."""
    arrays = twin.arrays
    return cell_power_w(
        arrays.power, load, state.active, state.trx_fraction(arrays.num_trx), state.sleep_states()
    )


def evaluate_snapshot(
    twin: Twin,
    state: CellState,
    demand_mbps: FloatArray,
    *,
    initial_load: FloatArray | None = None,
    tolerance: float = LOAD_TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
) -> Snapshot:
    """Evaluate one interval: association, load-coupled SINR, load, throughput and power.

    Parameters
    ----------
    twin
        The built twin.
    state
        Cell on/sleep mask, CIO and slice shares, ``[num_cells]``.
    demand_mbps
        DL demand of each UE in the interval, ``[num_ues]``, Mbit/s.
    initial_load
        Starting point of the load fixed point (e.g. the previous interval's ``prb_load``).
    tolerance, max_iterations
        Stopping rule of the fixed point (largest load change, iteration budget).
    """
    assoc = associate(twin, state)
    sol = solve_load(twin, state, assoc, demand_mbps, initial_load, tolerance, max_iterations)
    shares = state.slice_shares
    group = (
        assoc.serving_safe
        if shares is None
        else assoc.serving_safe * len(SLICES) + twin.ues.slice_idx
    )
    servable = assoc.covered & (sol.rate_mbps > 0)
    demand = np.where(assoc.covered, demand_mbps, 0.0)
    ue_load = np.divide(demand, sol.rate_mbps, out=np.zeros_like(demand), where=servable)
    num_groups = twin.num_cells if shares is None else twin.num_cells * len(SLICES)
    capacity = np.ones(num_groups) if shares is None else shares.ravel()
    served_fraction = fair_served_fraction(ue_load, group, capacity)
    served = np.where(servable, demand * served_fraction, 0.0)
    raw_ue = sol.raw_load.ravel()[group]
    capacity_share = 1.0 if shares is None else shares.ravel()[group]
    headroom = np.maximum(capacity_share - raw_ue, 0.0)
    # Bonald & Proutiere 2003, processor sharing: a flow's throughput is C (1 - rho); an
    # overloaded UE still gets at least its served rate
    ue_thp = np.where(servable, np.maximum(sol.su_rate_mbps * headroom, served), 0.0)

    num_cells = twin.num_cells
    cell = assoc.serving_safe
    has_demand = assoc.covered & (np.asarray(demand_mbps) > 0)
    cell_num_ues = group_sum(cell, has_demand, num_cells)
    cell_thp_sum = group_sum(cell, np.where(has_demand, ue_thp, 0.0), num_cells)
    return Snapshot(
        serving_cell=assoc.serving,
        sinr_db=np.where(assoc.covered, lin_to_db(sol.sinr), -np.inf),
        demand_mbps=np.asarray(demand_mbps, dtype=np.float64),
        served_mbps=served,
        ue_thp_mbps=ue_thp,
        active=state.active.copy(),
        prb_load=sol.load,
        demand_load=sol.raw_load.sum(axis=1) if sol.raw_load.ndim == 2 else sol.raw_load,
        cell_offered_mbps=group_sum(cell, demand, num_cells),
        cell_served_mbps=group_sum(cell, served, num_cells),
        cell_num_ues=cell_num_ues.astype(np.int64),
        cell_ue_thp_mbps=np.divide(
            cell_thp_sum, cell_num_ues, out=np.zeros(num_cells), where=cell_num_ues > 0
        ),
        power_w=state_power_w(twin, sol.load, state),
        iterations=sol.iterations,
        converged=sol.converged,
    )
