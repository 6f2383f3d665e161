"""Neighbourhood evaluation: re-solve one interval only where a change of a few cells reaches.

After a change at some cells (sleep, wake, mute, unmute) the association moves only for UEs
that have a changed cell among their link-budget candidates, and the loads move only where
interference couples to the cells that gain or lose UEs. ``evaluate_change`` solves the load
fixed point (Siomina & Yuan 2012, as ``evaluate_snapshot``) on that neighbourhood with every
other cell held at its load in the previous snapshot of the same interval and demand; a held
cell joins the neighbourhood, and the fixed point is solved again, when the solved change could
move its load by ``COUPLING_THRESHOLD`` or more (first order, see ``_coupled``).
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_array

from ranopt.errors import ValidationError
from ranopt.twin.mimo import link_config
from ranopt.twin.model import Twin
from ranopt.twin.snapshot import (
    LOAD_TOLERANCE,
    MAX_ITERATIONS,
    CellState,
    Snapshot,
    evaluate_snapshot,
    fair_served_fraction,
    state_power_w,
)
from ranopt.twin.units import FloatArray, group_sum, lin_to_db

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# PRB load a change may move a held cell by (first-order bound) before the cell joins the
# neighbourhood: 10x the fixed point's own stopping tolerance (LOAD_TOLERANCE, 1e-4)
COUPLING_THRESHOLD = 1e-3
MAX_ROUNDS = 8  # solves of a growing neighbourhood before the last one is kept
WHOLE_NETWORK_SHARE = 0.5  # a neighbourhood with more of the UEs is solved as the whole


@dataclass(frozen=True, eq=False)
class Neighbourhood:
    """The part of the network a change can affect: its cells are re-solved, the rest held."""

    changed: IntArray  # the changed cells
    cells: BoolArray  # [num_cells] re-solved cells
    ues: IntArray  # UEs re-solved: served by a re-solved cell, or re-homed by the change
    rehomed: IntArray  # UEs whose serving cell the change moves (or that lose coverage)
    rounds: int  # fixed-point solves, one per growth of the neighbourhood

    @property
    def num_cells(self) -> int:
        """Cells re-solved."""
        return int(self.cells.sum())


def _weights(twin: Twin, state: CellState, rows: "_Rows", covered: BoolArray) -> FloatArray:
    """Interference weights ``[n, k]`` of some UEs (co-channel active cells but the server), W.

    The same rule as the whole-network evaluation: a muted cell radiates its chains' share.
    """
    carrier = twin.arrays.carrier
    co_channel = carrier[rows.cell_idx] == carrier[np.maximum(rows.server, 0)][:, None]
    active_k = state.active[rows.cell_idx]
    share = state.trx_fraction(twin.arrays.num_trx)[rows.cell_idx]
    weights = np.where(co_channel & active_k & covered[:, None], rows.interference_w * share, 0.0)
    weights[np.arange(weights.shape[0]), rows.k_star] = 0.0
    return np.asarray(weights, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class _Rows:
    """Link-budget rows of some UEs and their serving entry."""

    cell_idx: IntArray  # [n, k]
    interference_w: FloatArray  # [n, k]
    server: IntArray  # [n], -1 without coverage
    k_star: IntArray  # [n]
    covered: BoolArray  # [n]


def _rows(twin: Twin, state: CellState, ues: IntArray) -> _Rows:
    """Link-budget rows of ``ues`` and their serving entry under ``state``.

    The association rule of ``ranopt.twin.snapshot.associate`` on these UEs only: suitable
    active cells (TS 38.304 S-criterion), highest reselection ranking plus CIO.
    """
    link = twin.link
    if link.dense:
        cell_idx = np.broadcast_to(np.arange(twin.num_cells), (ues.size, twin.num_cells))
    else:
        cell_idx = link.cell_idx[ues]
    # TS 38.304 cl. 5.2.3.2 S-criterion: Srxlev = RSRP - Q_rxlevmin > 0
    suitable = (
        state.active[cell_idx]
        & link.supported[ues]
        & (link.rsrp_dbm[ues] >= twin.scenario.rsrp_min_dbm)
    )
    metric = np.where(suitable, link.rank_db[ues] + state.cio_db[cell_idx], -np.inf)
    k_star = np.argmax(metric, axis=1) if ues.size else np.zeros(0, dtype=np.int64)
    covered = suitable[np.arange(ues.size), k_star]
    return _Rows(
        cell_idx=np.asarray(cell_idx, dtype=np.int64),
        interference_w=link.interference_w[ues],
        server=np.where(covered, cell_idx[np.arange(ues.size), k_star], -1).astype(np.int64),
        k_star=k_star.astype(np.int64),
        covered=covered,
    )


def _held_rows(twin: Twin, ues: IntArray, server: IntArray) -> _Rows:
    """Link-budget rows of covered ``ues`` whose serving cells ``server`` are known."""
    link = twin.link
    if link.dense:
        cell_idx = np.broadcast_to(np.arange(twin.num_cells), (ues.size, twin.num_cells))
        k_star = server
    else:
        cell_idx = link.cell_idx[ues]
        k_star = np.argmax(cell_idx == server[:, None], axis=1)
    return _Rows(
        cell_idx=np.asarray(cell_idx, dtype=np.int64),
        interference_w=link.interference_w[ues],
        server=server,
        k_star=np.asarray(k_star, dtype=np.int64),
        covered=np.ones(ues.size, dtype=bool),
    )


@dataclass(frozen=True, eq=False)
class CandidateIndex:
    """For each cell, the UEs that have it among their link-budget cells (an inverted index).

    Built once per twin (``candidate_index``) and passed to every ``evaluate_change``, so a
    change finds the UEs it can reach without scanning every UE's K cells.
    """

    dense: bool
    start: IntArray  # [num_cells + 1]
    ues: IntArray  # UEs, cell by cell

    def ues_of(self, cells: IntArray, num_ues: int) -> IntArray:
        """UEs that have one of ``cells`` among their candidates, ascending."""
        if self.dense:
            return np.arange(num_ues) if cells.size else np.zeros(0, dtype=np.int64)
        mask = np.zeros(num_ues, dtype=bool)
        for c in cells:
            mask[self.ues[self.start[c] : self.start[c + 1]]] = True
        return np.flatnonzero(mask)


def candidate_index(twin: Twin) -> CandidateIndex:
    """Invert the link budget: per cell, the UEs whose K cells include it."""
    link = twin.link
    if link.dense:
        return CandidateIndex(
            dense=True, start=np.zeros(0, dtype=np.int64), ues=np.zeros(0, dtype=np.int64)
        )
    flat = link.cell_idx.ravel()
    order = np.argsort(flat, kind="stable")
    counts = np.bincount(flat, minlength=twin.num_cells)
    return CandidateIndex(
        dense=False,
        start=np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        ues=(order // link.k).astype(np.int64),
    )


def _operator(rows: _Rows, weights: FloatArray, num_cells: int) -> csr_array:
    """Linear map from cell loads ``[num_cells]`` to these UEs' interference ``[n]``, W."""
    n, k = weights.shape
    return csr_array(
        (weights.ravel(), rows.cell_idx.ravel(), np.arange(0, n * k + 1, k)), shape=(n, num_cells)
    )


@dataclass(frozen=True, eq=False)
class _Solution:
    """The fixed point on some UEs ``[n]`` with the loads of every cell ``[num_cells]``."""

    load: FloatArray
    raw: FloatArray
    sinr: FloatArray
    rate_mbps: FloatArray
    su_rate_mbps: FloatArray
    iterations: int
    converged: bool


def _solve(
    twin: Twin,
    state: CellState,
    rows: _Rows,
    ues: IntArray,
    demand_mbps: FloatArray,
    free: BoolArray,
    load: FloatArray,
    tolerance: float,
    max_iterations: int,
) -> _Solution:
    """Solve the load fixed point of the ``free`` cells, the others held at ``load``.

    Siomina & Yuan 2012 as in ``ranopt.twin.snapshot.solve_load``, on the UEs ``ues`` (all
    UEs of the free cells) with the held cells' loads as fixed interference.
    """
    arrays = twin.arrays
    num_cells = twin.num_cells
    server = np.maximum(rows.server, 0)
    interference_op = _operator(rows, _weights(twin, state, rows, rows.covered), num_cells)
    trx_share = state.trx_fraction(arrays.num_trx)[server]
    # a muted cell keeps X / Y of its power and X / Y of its beam gain toward the UE
    signal_w = twin.link.signal_w[ues, rows.k_star] * trx_share * trx_share
    noise_w = twin.noise_w[server]
    links = link_config(arrays, server, trx_share)
    demand = np.where(rows.covered, demand_mbps[ues], 0.0)
    for iteration in range(1, max_iterations + 1):
        # Siomina & Yuan 2012: SINR_u = S_u / (sum_j rho_j I_uj + N_u)
        sinr = signal_w / (interference_op @ load + noise_w)
        rate_mbps, su_rate = links.rates_mbps(sinr, load[server])
        ue_load = np.divide(demand, rate_mbps, out=np.zeros_like(demand), where=rate_mbps > 0)
        raw = group_sum(server, ue_load, num_cells)
        new_load = np.where(free, np.minimum(raw, 1.0), load)
        step = float(np.max(np.abs(new_load - load), initial=0.0))
        load = new_load
        if step < tolerance:
            return _Solution(load, raw, sinr, rate_mbps, su_rate, iteration, True)
    return _Solution(load, raw, sinr, rate_mbps, su_rate, max_iterations, False)


def _coupled(
    twin: Twin,
    state: CellState,
    previous: Snapshot,
    core: BoolArray,
    changed: BoolArray,
    load: FloatArray,
    serving: IntArray,
    index: CandidateIndex,
    threshold: float,
    tolerance: float,
) -> BoolArray:
    """Held cells whose load the solved change could move by ``threshold`` or more, ``[C]``.

    Toward a held UE, a core cell's interference moves by its weight times its load change
    (beyond the fixed point's own ``tolerance``); a changed cell's (its power or chains
    changed) by at most its full weight times the larger of its loads before and after. First
    order, a held cell's load moves by at most its PRB demand times the largest relative
    change of its UEs' interference plus noise (a rate grows no faster than the SINR).
    """
    before_all = np.where(previous.active, previous.prb_load, 0.0)
    moving = changed | (core & (np.abs(load - before_all) > tolerance))
    reached = index.ues_of(np.flatnonzero(moving), twin.num_ues)
    server = serving[reached]
    keep = (server >= 0) & (previous.demand_mbps[reached] > 0)
    keep[keep] = ~core[server[keep]]
    if not keep.any():
        return np.zeros_like(core)
    ues, server = reached[keep], server[keep]
    # a held UE keeps its serving cell: its entry in the link budget
    rows = _held_rows(twin, ues, server)
    weights = _weights(twin, state, rows, rows.covered)
    before = previous.prb_load[rows.cell_idx]
    after = load[rows.cell_idx]
    co = twin.arrays.carrier[rows.cell_idx] == twin.arrays.carrier[rows.server][:, None]
    not_server = rows.cell_idx != rows.server[:, None]
    moved = np.where(
        changed[rows.cell_idx],
        np.where(co & not_server, rows.interference_w, 0.0) * np.maximum(before, after),
        weights * np.maximum(np.abs(after - before) - tolerance, 0.0) * core[rows.cell_idx],
    )
    base = (weights * before).sum(axis=1) + twin.noise_w[rows.server]
    share = np.zeros(twin.num_cells)
    np.maximum.at(share, rows.server, moved.sum(axis=1) / base)
    return np.asarray((share * previous.demand_load >= threshold) & ~core, dtype=bool)


def evaluate_change(
    twin: Twin,
    state: CellState,
    demand_mbps: FloatArray,
    previous: Snapshot,
    changed: npt.ArrayLike,
    *,
    index: CandidateIndex | None = None,
    threshold: float = COUPLING_THRESHOLD,
    max_rounds: int = MAX_ROUNDS,
    tolerance: float = LOAD_TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
) -> tuple[Snapshot, Neighbourhood]:
    """Evaluate ``state`` from ``previous`` by re-solving only the neighbourhood of a change.

    ``previous`` is the snapshot of the same interval and demand under a state that equals
    ``state`` but at the ``changed`` cells (on/sleep, chains, sleep state, CIO). The
    neighbourhood starts as the changed cells and the cells that gain or lose a re-homed UE
    (only UEs with a changed cell among their K cells can re-home); its load fixed point is
    solved with every other cell held at its previous load. A held cell joins when the solved
    change could move its load by ``threshold`` or more (``_coupled``), and the fixed point
    is solved again, up to ``max_rounds`` times. Cells outside keep their previous load, their
    UEs their previous figures; every cell's power is recomputed. ``index`` is the twin's
    ``candidate_index`` (built here when None). One shared PRB pool only.
    """
    if state.slice_shares is not None:
        msg = "evaluate_change: slice shares are not supported; use evaluate_snapshot"
        raise ValidationError(msg)
    num_cells = twin.num_cells
    if twin.link.dense:
        # every UE has every cell as a candidate: a change reaches every UE, so one warm-started
        # whole-network solve costs less than finding its neighbourhood
        whole = evaluate_snapshot(
            twin, state, demand_mbps, initial_load=np.where(state.active, previous.prb_load, 0.0),
            tolerance=tolerance, max_iterations=max_iterations,
        )  # fmt: skip
        area = Neighbourhood(
            changed=np.unique(np.asarray(changed, dtype=np.int64)),
            cells=np.ones(num_cells, dtype=bool), ues=np.arange(twin.num_ues),
            rehomed=np.flatnonzero(whole.serving_cell != previous.serving_cell), rounds=1,
        )  # fmt: skip
        return whole, area
    index = index or candidate_index(twin)
    changed_cells = np.unique(np.asarray(changed, dtype=np.int64))
    is_changed = np.zeros(num_cells, dtype=bool)
    is_changed[changed_cells] = True
    # only UEs with a changed cell among their candidates can change serving cell
    reached = index.ues_of(changed_cells, twin.num_ues)
    serving = previous.serving_cell.copy()
    serving[reached] = _rows(twin, state, reached).server
    rehomed = reached[serving[reached] != previous.serving_cell[reached]]
    core = is_changed.copy()
    for cells in (previous.serving_cell[rehomed], serving[rehomed]):
        core[cells[cells >= 0]] = True
    load = np.where(state.active, previous.prb_load, 0.0)
    rounds = 0
    while True:
        rounds += 1
        ues = np.union1d(np.flatnonzero(core[np.maximum(serving, 0)] & (serving >= 0)), rehomed)
        if ues.size > WHOLE_NETWORK_SHARE * twin.num_ues:
            # most of the network: one whole-network solve costs less than the bookkeeping
            whole = evaluate_snapshot(
                twin, state, demand_mbps, initial_load=load, tolerance=tolerance,
                max_iterations=max_iterations,
            )  # fmt: skip
            area = Neighbourhood(
                changed=changed_cells, cells=np.ones(num_cells, dtype=bool),
                ues=np.arange(twin.num_ues), rehomed=rehomed, rounds=rounds,
            )  # fmt: skip
            return whole, area
        served = serving[ues] >= 0
        rows = _held_rows(twin, ues[served], serving[ues[served]])
        if not served.all():  # re-homed UEs that lost coverage: no link entry to serve them
            lost = ues[~served]
            rows = _Rows(
                cell_idx=np.concatenate(
                    [
                        rows.cell_idx,
                        _held_rows(twin, lost, np.zeros(lost.size, dtype=np.int64)).cell_idx,
                    ]
                ),
                interference_w=np.concatenate(
                    [rows.interference_w, twin.link.interference_w[lost]]
                ),
                server=np.concatenate([rows.server, np.full(lost.size, -1, dtype=np.int64)]),
                k_star=np.concatenate([rows.k_star, np.zeros(lost.size, dtype=np.int64)]),
                covered=np.concatenate([rows.covered, np.zeros(lost.size, dtype=bool)]),
            )
            ues = np.concatenate([ues[served], lost])
        sol = _solve(
            twin, state, rows, ues, demand_mbps, core & state.active, load, tolerance,
            max_iterations,
        )  # fmt: skip
        load = sol.load
        if rounds >= max_rounds:
            break
        joined = _coupled(
            twin,
            state,
            previous,
            core,
            is_changed,
            load,
            serving,
            index,
            threshold,
            tolerance,
        )
        if not joined.any():
            break
        core |= joined
    area = Neighbourhood(
        changed=changed_cells, cells=core, ues=ues.astype(np.int64), rehomed=rehomed,
        rounds=rounds,
    )  # fmt: skip
    return _snapshot(twin, state, previous, area, rows, demand_mbps, sol), area


def _snapshot(
    twin: Twin,
    state: CellState,
    previous: Snapshot,
    area: Neighbourhood,
    rows: _Rows,
    demand_mbps: FloatArray,
    sol: _Solution,
) -> Snapshot:
    """Return the previous snapshot with the neighbourhood's UEs and cells from ``sol``."""
    num_cells = twin.num_cells
    ues = area.ues
    serving, covered = rows.server, rows.covered
    server = np.maximum(serving, 0)
    demand = np.where(covered, demand_mbps[ues], 0.0)
    servable = covered & (sol.rate_mbps > 0)
    ue_load = np.divide(demand, sol.rate_mbps, out=np.zeros_like(demand), where=servable)
    served_fraction = fair_served_fraction(ue_load, server, np.ones(num_cells))
    served = np.where(servable, demand * served_fraction, 0.0)
    headroom = np.maximum(1.0 - sol.raw[server], 0.0)
    # Bonald & Proutiere 2003, processor sharing, as in evaluate_snapshot
    ue_thp = np.where(servable, np.maximum(sol.su_rate_mbps * headroom, served), 0.0)

    def merged(before: FloatArray, inside: FloatArray) -> FloatArray:
        out = before.copy()
        out[ues] = inside
        return out

    cells = area.cells
    has_demand = covered & (demand_mbps[ues] > 0)
    num_ues = group_sum(server, has_demand, num_cells)
    thp_sum = group_sum(server, np.where(has_demand, ue_thp, 0.0), num_cells)

    def per_cell(before: FloatArray, inside: FloatArray) -> FloatArray:
        return np.asarray(np.where(cells, inside, before), dtype=np.float64)

    serving_cell = previous.serving_cell.copy()
    serving_cell[ues] = serving
    return Snapshot(
        serving_cell=serving_cell,
        sinr_db=merged(previous.sinr_db, np.where(covered, lin_to_db(sol.sinr), -np.inf)),
        demand_mbps=previous.demand_mbps,
        served_mbps=merged(previous.served_mbps, served),
        ue_thp_mbps=merged(previous.ue_thp_mbps, ue_thp),
        active=state.active.copy(),
        prb_load=sol.load,
        demand_load=per_cell(previous.demand_load, sol.raw),
        cell_offered_mbps=per_cell(
            previous.cell_offered_mbps, group_sum(server, demand, num_cells)
        ),
        cell_served_mbps=per_cell(previous.cell_served_mbps, group_sum(server, served, num_cells)),
        cell_num_ues=np.where(cells, num_ues, previous.cell_num_ues).astype(np.int64),
        cell_ue_thp_mbps=per_cell(
            previous.cell_ue_thp_mbps,
            np.divide(thp_sum, num_ues, out=np.zeros(num_cells), where=num_ues > 0),
        ),
        power_w=state_power_w(twin, sol.load, state),
        iterations=sol.iterations,
        converged=sol.converged,
    )
