"""Neighbourhood evaluation of a change against the whole-network evaluation of the same state.

A state (capacity cells asleep at random, some muted) is evaluated on the whole network; then
one to three cells change (wake, sleep, mute, unmute) and the new state is evaluated both ways:
``evaluate_change`` from the previous snapshot and ``evaluate_snapshot`` warm-started from the
same loads. Both stop at the fixed point's 1e-4 tolerance, and the neighbourhood holds cells
whose load the change moves by less than ``COUPLING_THRESHOLD`` (1e-3, first order). Asserted:
per-cell PRB load within 2e-3, per-cell served traffic within 0.5 % of the cell's offered
traffic (plus 1e-6 Mbit/s), every cell's power within 2 W (a 64T64R cell's load slope is a
few hundred W), the served ratio within 1e-4, the same serving cell for every UE and the same
QoS verdicts (``check_snapshot`` against always-on).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranopt.optimize.evaluate import EnergyConstraints, check_snapshot
from ranopt.twin import (
    CellState,
    Snapshot,
    Twin,
    build_twin,
    evaluate_snapshot,
    scenario_preset,
)
from ranopt.twin.elements import LAYERS
from ranopt.twin.neighbourhood import candidate_index, evaluate_change
from ranopt.twin.traffic import expected_demand_mbps

CAPACITY = LAYERS.index("capacity")
MAX_LOAD_DIFF = 2e-3
MAX_SERVED_SHARE_DIFF = 5e-3
MAX_POWER_DIFF_W = 2.0
MAX_SERVED_RATIO_DIFF = 1e-4
KINDS = ("wake", "sleep", "mute", "unmute")


@pytest.fixture(scope="module")
def medium_twin() -> Twin:
    """The medium preset's 61 sites and 366 cells (top-24), 3 000 UEs, seed 4."""
    return build_twin(scenario_preset("medium", seed=4, num_ues=3000))


def _state(twin: Twin, active: np.ndarray, trx: np.ndarray) -> CellState:
    num_trx = twin.arrays.num_trx.astype(np.int64)
    muted = bool((trx < num_trx).any())
    return CellState(
        active=active, cio_db=np.zeros(twin.num_cells), active_trx=trx if muted else None
    )


def _change(
    twin: Twin, rng: np.random.Generator, active: np.ndarray, trx: np.ndarray, kind: str, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply ``n`` changes of one kind to capacity cells; return the new state and the cells."""
    cap = np.flatnonzero(twin.arrays.layer == CAPACITY)
    num_trx = twin.arrays.num_trx.astype(np.int64)
    active, trx = active.copy(), trx.copy()
    pool = {
        "wake": cap[~active[cap]],
        "sleep": cap[active[cap] & (trx[cap] == num_trx[cap])],
        "mute": cap[active[cap] & (trx[cap] == num_trx[cap])],
        "unmute": cap[active[cap] & (trx[cap] < num_trx[cap])],
    }[kind]
    cells = rng.choice(pool, size=min(n, pool.size), replace=False) if pool.size else pool
    if kind == "wake":
        active[cells] = True
    elif kind == "sleep":
        active[cells] = False
    elif kind == "mute":
        trx[cells] = num_trx[cells] // 2
    else:
        trx[cells] = num_trx[cells]
    return active, trx, np.asarray(cells, dtype=np.int64)


def _assert_close(twin: Twin, local: Snapshot, whole: Snapshot, ref: Snapshot) -> None:
    np.testing.assert_array_equal(local.serving_cell, whole.serving_cell)
    assert np.abs(local.prb_load - whole.prb_load).max() <= MAX_LOAD_DIFF
    served_slack = MAX_SERVED_SHARE_DIFF * whole.cell_offered_mbps + 1e-6
    assert (np.abs(local.cell_served_mbps - whole.cell_served_mbps) <= served_slack).all()
    assert np.abs(local.power_w - whole.power_w).max() <= MAX_POWER_DIFF_W
    assert abs(local.served_ratio - whole.served_ratio) <= MAX_SERVED_RATIO_DIFF
    limits = EnergyConstraints()
    assert check_snapshot(local, ref, limits).violations == (
        check_snapshot(whole, ref, limits).violations
    )


def _compare(twin: Twin, seed: int, interval: int, kind: str, n: int) -> int:
    """Evaluate one random change both ways; return the neighbourhood's size in cells."""
    rng = np.random.default_rng(seed)
    cap = np.flatnonzero(twin.arrays.layer == CAPACITY)
    num_trx = twin.arrays.num_trx.astype(np.int64)
    active = np.ones(twin.num_cells, dtype=bool)
    active[cap[rng.random(cap.size) < rng.uniform(0.1, 0.6)]] = False
    trx = num_trx.copy()
    muted = cap[active[cap] & (rng.random(cap.size) < 0.2)]
    trx[muted] = num_trx[muted] // 2
    demand = expected_demand_mbps(twin.traffic, 0)[interval] * rng.uniform(0.5, 2.0)
    ref = evaluate_snapshot(twin, CellState.all_on(twin.num_cells), demand)
    before = evaluate_snapshot(twin, _state(twin, active, trx), demand, initial_load=ref.prb_load)
    new_active, new_trx, cells = _change(twin, rng, active, trx, kind, n)
    state = _state(twin, new_active, new_trx)
    local, area = evaluate_change(twin, state, demand, before, cells, index=candidate_index(twin))
    whole = evaluate_snapshot(twin, state, demand, initial_load=before.prb_load)
    assert local.converged
    assert whole.converged
    _assert_close(twin, local, whole, ref)
    assert area.cells[cells].all()
    return area.num_cells


@pytest.mark.parametrize("kind", KINDS)
def test_single_change_matches_whole_network_on_small_twins(
    top_k_twins: dict[int | None, Twin], kind: str
) -> None:
    """On the 7-site twin, top-24 and dense (solved whole, warm): each kind, three intervals."""
    for twin in (top_k_twins[None], top_k_twins[24]):
        for seed, interval in enumerate((8, 48, 80)):
            _compare(twin, seed, interval, kind, 1)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    interval=st.integers(0, 95),
    kind=st.sampled_from(KINDS),
    n=st.integers(1, 3),
)
def test_random_changes_match_whole_network_on_medium(
    medium_twin: Twin, seed: int, interval: int, kind: str, n: int
) -> None:
    """Any change of one to three capacity cells in any state: the same figures and verdicts."""
    _compare(medium_twin, seed, interval, kind, n)


def test_neighbourhood_of_one_cell_is_local_on_medium(medium_twin: Twin) -> None:
    """Waking one cell of 366 re-solves a part of the network, not all of it."""
    sizes = [_compare(medium_twin, seed, 40, "wake", 1) for seed in range(3)]
    assert max(sizes) < medium_twin.num_cells
    assert min(sizes) >= 1


def test_a_change_with_no_effect_moves_nothing(medium_twin: Twin) -> None:
    """Naming a cell that did not change re-homes no UE and moves no load beyond tolerance."""
    demand = expected_demand_mbps(medium_twin.traffic, 0)[40]
    state = CellState.all_on(medium_twin.num_cells)
    before = evaluate_snapshot(medium_twin, state, demand)
    local, area = evaluate_change(medium_twin, state, demand, before, [3])
    np.testing.assert_array_equal(local.serving_cell, before.serving_cell)
    assert np.abs(local.prb_load - before.prb_load).max() <= 2e-4
    assert area.rehomed.size == 0
