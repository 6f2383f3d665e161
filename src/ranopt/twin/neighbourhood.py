"""Neighbourhood evaluation: re-solve one interval only where a change of a few cells reaches.

After a change at some cells (sleep, wake, mute, unmute) the association moves only for UEs
that have a changed cell among their link-budget candidates, and the loads move only where
interference couples to the cells that gain or lose UEs. ``evaluate_change`` solves the load
fixed point (Siomina & Yuan 2012, as ``evaluate_snapshot``) on that neighbourhood with every
other cell held at its load in the previous snapshot of the same interval and demand; a cell
joins the neighbourhood when the interference its UEs could see change exceeds
``COUPLING_THRESHOLD`` of their interference plus noise (see ``neighbourhood``).
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_array

from ranopt.errors import ValidationError
from ranopt.twin.mimo import link_config
from ranopt.twin.model import Twin
from ranopt.twin.power import cell_power_w
from ranopt.twin.snapshot import (
    LOAD_TOLERANCE,
    MAX_ITERATIONS,
    CellState,
    Snapshot,
    associate,
    fair_served_fraction,
)
from ranopt.twin.units import FloatArray, group_sum, lin_to_db

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# a held cell joins the neighbourhood when, for one of its UEs with demand, the interference
# the neighbourhood's cells would add at full load is at least this share of the UE's present
# interference plus noise (1e-3: an SINR change of at most 0.004 dB from what is held)
COUPLING_THRESHOLD = 1e-3
COUPLING_RINGS = 2  # coupling rings added around the cells that gain or lose UEs


@dataclass(frozen=True, eq=False)
class Neighbourhood:
    """The part of the network a change can affect: its cells are re-solved, the rest held."""

    changed: IntArray  # the changed cells
    cells: BoolArray  # [num_cells] re-solved cells
    ues: IntArray  # UEs re-solved: served by a re-solved cell, or re-homed by the change
    rehomed: IntArray  # UEs whose serving cell the change moves (or that lose coverage)

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


def _rows(twin: Twin, ues: IntArray, server: IntArray, k_star: IntArray) -> _Rows:
    link = twin.link
    if link.dense:
        cell_idx = np.broadcast_to(np.arange(twin.num_cells), (ues.size, twin.num_cells))
    else:
        cell_idx = link.cell_idx[ues]
    return _Rows(
        cell_idx=np.asarray(cell_idx, dtype=np.int64),
        interference_w=link.interference_w[ues],
        server=server[ues],
        k_star=k_star[ues],
    )


def _operator(rows: _Rows, weights: FloatArray, num_cells: int) -> csr_array:
    """Linear map from cell loads ``[num_cells]`` to these UEs' interference ``[n]``, W."""
    n, k = weights.shape
    return csr_array(
        (weights.ravel(), rows.cell_idx.ravel(), np.arange(0, n * k + 1, k)), shape=(n, num_cells)
    )


def neighbourhood(
    twin: Twin,
    state: CellState,
    previous: Snapshot,
    changed: IntArray,
    serving: IntArray,
    k_star: IntArray,
    covered: BoolArray,
    threshold: float = COUPLING_THRESHOLD,
    rings: int = COUPLING_RINGS,
) -> Neighbourhood:
    """Return the cells a change at ``changed`` can affect beyond ``threshold``, and their UEs.

    The core is the changed cells and the cells that gain or lose a re-homed UE (``serving``
    ``[U]`` is the association under ``state``, ``previous.serving_cell`` the one before).
    Each ring adds every cell one of whose UEs with demand could see the core's interference
    change (each core cell at full load, radiating in ``state`` or before) by at least
    ``threshold`` of its interference plus noise at the previous loads.
    """
    num_cells = twin.num_cells
    rehomed = np.flatnonzero(serving != previous.serving_cell)
    core = np.zeros(num_cells, dtype=bool)
    core[changed] = True
    core[previous.serving_cell[rehomed][previous.serving_cell[rehomed] >= 0]] = True
    core[serving[rehomed][serving[rehomed] >= 0]] = True
    demanding = np.flatnonzero(covered & (previous.demand_mbps > 0) & ~core[np.maximum(serving, 0)])
    if demanding.size and rings > 0:
        rows = _rows(twin, demanding, serving, k_star)
        now = _weights(twin, state, rows, covered[demanding])
        # what each entry could radiate before or after the change (full chains, active)
        reach = np.where(now > 0, now, 0.0)
        was_on = previous.active[rows.cell_idx] & (rows.cell_idx != rows.server[:, None])
        co = twin.arrays.carrier[rows.cell_idx] == twin.arrays.carrier[rows.server][:, None]
        reach = np.maximum(reach, np.where(was_on & co, rows.interference_w, 0.0))
        base = (now * previous.prb_load[rows.cell_idx]).sum(axis=1) + twin.noise_w[rows.server]
        for _ in range(rings):
            share = (reach * core[rows.cell_idx]).sum(axis=1) / base
            joined = rows.server[share >= threshold]
            if not joined.size or core[joined].all():
                break
            core[joined] = True
    ues = np.flatnonzero(core[np.maximum(serving, 0)] & covered)
    return Neighbourhood(
        changed=np.asarray(changed, dtype=np.int64),
        cells=core,
        ues=np.union1d(ues, rehomed).astype(np.int64),
        rehomed=rehomed.astype(np.int64),
    )


def evaluate_change(
    twin: Twin,
    state: CellState,
    demand_mbps: FloatArray,
    previous: Snapshot,
    changed: npt.ArrayLike,
    *,
    threshold: float = COUPLING_THRESHOLD,
    rings: int = COUPLING_RINGS,
    tolerance: float = LOAD_TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
) -> tuple[Snapshot, Neighbourhood]:
    """Evaluate ``state`` from ``previous`` by re-solving only the neighbourhood of a change.

    ``previous`` is the snapshot of the same interval and demand under a state that equals
    ``state`` but at the ``changed`` cells (on/sleep, chains, sleep state). Cells outside the
    neighbourhood keep their previous load, their UEs their previous figures; inside, the
    load-coupled fixed point is solved as in ``evaluate_snapshot`` with the held loads as
    fixed interference. Every cell's power is recomputed. One shared PRB pool only.
    """
    if state.slice_shares is not None:
        msg = "evaluate_change: slice shares are not supported; use evaluate_snapshot"
        raise ValidationError(msg)
    changed_cells = np.unique(np.asarray(changed, dtype=np.int64))
    assoc = associate(twin, state)
    area = neighbourhood(
        twin, state, previous, changed_cells, assoc.serving, assoc.k_star, assoc.covered,
        threshold, rings,
    )  # fmt: skip
    arrays = twin.arrays
    num_cells = twin.num_cells
    ues = area.ues
    covered = assoc.covered[ues]
    server = assoc.serving_safe[ues]
    rows = _rows(twin, ues, assoc.serving, assoc.k_star)
    interference_op = _operator(rows, _weights(twin, state, rows, covered), num_cells)
    trx_fraction = state.trx_fraction(arrays.num_trx)
    trx_share = trx_fraction[server]
    signal_w = twin.link.signal_w[ues, assoc.k_star[ues]] * trx_share * trx_share
    noise_w = twin.noise_w[server]
    links = link_config(arrays, server, trx_share)
    demand = np.where(covered, demand_mbps[ues], 0.0)
    free = area.cells & state.active

    load = np.where(state.active, previous.prb_load, 0.0)
    raw = np.zeros(num_cells)
    converged = False
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (reported below)
        # Siomina & Yuan 2012: SINR_u = S_u / (sum_j rho_j I_uj + N_u)
        sinr = signal_w / (interference_op @ load + noise_w)
        rate_mbps, su_rate = links.rates_mbps(sinr, load[server])
        ue_load = np.divide(demand, rate_mbps, out=np.zeros_like(demand), where=rate_mbps > 0)
        raw = group_sum(server, ue_load, num_cells)
        new_load = np.where(free, np.minimum(raw, 1.0), load)
        step = float(np.max(np.abs(new_load - load), initial=0.0))
        load = new_load
        if step < tolerance:
            converged = True
            break

    servable = covered & (rate_mbps > 0)
    ue_load = np.divide(demand, rate_mbps, out=np.zeros_like(demand), where=servable)
    served_fraction = fair_served_fraction(ue_load, server, np.ones(num_cells))
    served = np.where(servable, demand * served_fraction, 0.0)
    headroom = np.maximum(1.0 - raw[server], 0.0)
    # Bonald & Proutiere 2003, processor sharing, as in evaluate_snapshot
    ue_thp = np.where(servable, np.maximum(su_rate * headroom, served), 0.0)

    def merged(before: FloatArray, inside: FloatArray) -> FloatArray:
        out = before.copy()
        out[ues] = inside
        return out

    has_demand = covered & (demand_mbps[ues] > 0)
    cells = area.cells
    num_ues = group_sum(server, has_demand, num_cells)
    thp_sum = group_sum(server, np.where(has_demand, ue_thp, 0.0), num_cells)

    def per_cell(before: FloatArray, inside: FloatArray) -> FloatArray:
        return np.where(cells, inside, before)

    cell_num_ues = np.where(cells, num_ues, previous.cell_num_ues).astype(np.int64)
    snap = Snapshot(
        serving_cell=merged(previous.serving_cell, assoc.serving[ues]).astype(np.int64),
        sinr_db=merged(previous.sinr_db, np.where(covered, lin_to_db(sinr), -np.inf)),
        demand_mbps=previous.demand_mbps,
        served_mbps=merged(previous.served_mbps, served),
        ue_thp_mbps=merged(previous.ue_thp_mbps, ue_thp),
        active=state.active.copy(),
        prb_load=load,
        demand_load=per_cell(previous.demand_load, raw),
        cell_offered_mbps=per_cell(previous.cell_offered_mbps, group_sum(server, demand, num_cells)),
        cell_served_mbps=per_cell(previous.cell_served_mbps, group_sum(server, served, num_cells)),
        cell_num_ues=cell_num_ues,
        cell_ue_thp_mbps=per_cell(
            previous.cell_ue_thp_mbps,
            np.divide(thp_sum, num_ues, out=np.zeros(num_cells), where=num_ues > 0),
        ),
        power_w=cell_power_w(arrays.power, load, state.active, trx_fraction, state.sleep_states()),
        iterations=iterations,
        converged=converged,
    )
    return snap, area
