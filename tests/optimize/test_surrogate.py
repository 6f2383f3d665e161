"""The linear bin model against the twin it linearises.

At its linearisation point (interference and MU pairing frozen at the twin's own loads for
the same sleep state) the model must reproduce the twin's PRB demand exactly; with
interference frozen at full load and no pairing it must never under-estimate a cell's load
(the reason plans built that way are safe). Both hold unless a UE's truncated list is asleep
entirely: the model then sends it to its fallback, the twin to a further n78 cell (such
states are left out and checked on their own). Preference lists are checked against a per-UE
sort of the link budget's reselection ranking.
"""

import dataclasses

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ranopt.optimize.surrogate import (
    MAX_LIST_LENGTH,
    UNSERVABLE_COST,
    AssignmentState,
    PreferenceBins,
    bin_costs,
    first_active_position,
    preference_bins,
    reference_rates_mbps,
    surrogate_loads,
)
from ranopt.twin import CellState, Snapshot, Twin, build_twin, evaluate_snapshot, scenario_preset
from ranopt.twin.elements import LAYERS
from ranopt.twin.units import FloatArray

CAPACITY = LAYERS.index("capacity")
COVERAGE = LAYERS.index("coverage")

PROPERTY_SETTINGS = settings(max_examples=15, deadline=None)
TIGHT = 1e-12  # fixed-point tolerance: the twin's loads at (numerically) its fixed point
EXACT_ATOL = 1e-6


def tight_snapshot(twin: Twin, active: np.ndarray, demand: FloatArray) -> Snapshot:
    state = CellState.all_on(twin.num_cells).with_active(active)
    return evaluate_snapshot(twin, state, demand, tolerance=TIGHT, max_iterations=5000)


def model_loads(
    twin: Twin,
    bins: PreferenceBins,
    reference: FloatArray,
    active: np.ndarray,
    demand: FloatArray,
    pairing: FloatArray | None = None,
) -> tuple[FloatArray, float]:
    rates = reference_rates_mbps(twin, bins, reference, pairing_load=pairing)
    costs = bin_costs(bins, rates, demand)
    return surrogate_loads(bins, costs, active, twin.num_cells)


def ranked_cells(twin: Twin, ue: int) -> list[int]:
    """The UE's suitable cells, best reselection ranking first (dense link budget)."""
    link = twin.link
    ok = link.suitable(twin.scenario.rsrp_min_dbm)[ue]
    return [int(c) for c in np.argsort(-link.rank_db[ue], kind="stable") if ok[c]]


def exhausted_ues(twin: Twin, active: np.ndarray) -> np.ndarray:
    """UEs with more sleepable cells ahead of their fallback than a list keeps, all asleep."""
    layer = twin.arrays.layer
    out = np.zeros(twin.num_ues, dtype=bool)
    for ue in range(twin.num_ues):
        ahead = []
        for cell in ranked_cells(twin, ue):
            if layer[cell] == COVERAGE:
                break
            ahead.append(cell)
        out[ue] = len(ahead) > MAX_LIST_LENGTH and not active[ahead[:MAX_LIST_LENGTH]].any()
    return out


def capacity_sleep_state(twin: Twin, asleep: np.ndarray) -> np.ndarray:
    """Coverage cells on; capacity cell ``i`` asleep where ``asleep[i]``."""
    active = np.ones(twin.num_cells, dtype=bool)
    active[np.flatnonzero(twin.arrays.layer == CAPACITY)[asleep]] = False
    return active


def hand_bins(lists: list[list[int]], fallback: list[int], num_cells: int) -> PreferenceBins:
    """Bins written by hand, one UE per bin (link-budget columns unused)."""
    rows = np.array(lists, dtype=np.int64)
    fields = {
        "lists": rows,
        "fallback": np.array(fallback, dtype=np.int64),
        "ue_bin": np.arange(rows.shape[0], dtype=np.int64),
        "ue_columns": np.where(rows >= 0, 0, -1),
    }
    if "bins_of_cell" in {f.name for f in dataclasses.fields(PreferenceBins)}:
        fields["bins_of_cell"] = tuple(
            np.flatnonzero((rows == c).any(axis=1)) for c in range(num_cells)
        )
    return PreferenceBins(**fields)


@pytest.fixture(scope="module")
def bins(seven_site_twin: Twin) -> PreferenceBins:
    return preference_bins(seven_site_twin, seven_site_twin.arrays.layer == CAPACITY)


def sleep_sets(num_capacity: int = 21) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.bool_, num_capacity)


# --- preference lists --------------------------------------------------------------------------


def test_every_list_ends_on_its_coverage_fallback(seven_site_twin: Twin, bins: PreferenceBins):
    layer = seven_site_twin.arrays.layer
    valid = bins.lists >= 0
    # entries are a prefix of the row, padded with -1
    assert np.all(valid[:, :-1] | ~valid[:, 1:])
    last = valid.sum(axis=1) - 1
    last_cell = bins.lists[np.arange(bins.num_bins), last]
    has_fallback = bins.fallback >= 0
    # every UE of this twin has a suitable coverage cell, so every bin has a fallback
    assert has_fallback.all()
    np.testing.assert_array_equal(bins.fallback[has_fallback], last_cell[has_fallback])
    assert np.all(layer[last_cell[has_fallback]] == COVERAGE)
    # every entry ahead of the fallback is a capacity cell, no cell twice in a list
    for row, n in zip(bins.lists, last, strict=True):
        assert np.all(layer[row[:n]] == CAPACITY)
        assert len(set(row[: n + 1].tolist())) == n + 1
        assert n <= MAX_LIST_LENGTH
    # lists are distinct (one bin per list) and every UE with a suitable cell has a bin
    assert len({tuple(r) for r in bins.lists.tolist()}) == bins.num_bins
    suitable = seven_site_twin.link.suitable(seven_site_twin.scenario.rsrp_min_dbm)
    np.testing.assert_array_equal(bins.ue_bin >= 0, suitable.any(axis=1))


def test_lists_follow_each_ues_ranking(seven_site_twin: Twin, bins: PreferenceBins):
    """Per UE: the capacity cells ranked above its best coverage cell (n78 above threshX-HighP,
    strongest first), at most MAX_LIST_LENGTH of them, then that coverage cell."""
    twin = seven_site_twin
    layer = twin.arrays.layer
    for ue in range(twin.num_ues):
        expected: list[int] = []
        for cell in ranked_cells(twin, ue):
            if layer[cell] == COVERAGE:
                expected.append(cell)
                break
            if len(expected) < MAX_LIST_LENGTH:
                expected.append(cell)
        row = bins.lists[bins.ue_bin[ue]]
        assert row[row >= 0].tolist() == expected, f"UE {ue}"
        # ue_columns point at the same cells in the (dense) link budget
        cols = bins.ue_columns[ue]
        np.testing.assert_array_equal(twin.link.cell_idx[ue, cols[cols >= 0]], expected)


def test_first_active_position_picks_first_active_entry():
    bins = hand_bins([[3, 4, 0], [4, 1, -1], [5, -1, -1]], fallback=[0, 1, -1], num_cells=6)
    active = np.ones(6, dtype=bool)
    np.testing.assert_array_equal(first_active_position(bins, active), [0, 0, 0])
    active[[3, 4]] = False
    np.testing.assert_array_equal(first_active_position(bins, active), [2, 1, 0])
    active[5] = False
    np.testing.assert_array_equal(first_active_position(bins, active), [2, 1, -1])
    active[4] = True
    np.testing.assert_array_equal(first_active_position(bins, active), [1, 0, -1])


def test_surrogate_loads_by_hand():
    bins = hand_bins([[2, 0], [2, 1], [3, -1]], fallback=[0, 1, -1], num_cells=4)
    costs = np.array([[0.1, 0.3], [0.2, 0.5], [0.4, 0.0]])
    loads, stranded = surrogate_loads(bins, costs, np.ones(4, dtype=bool), 4)
    np.testing.assert_allclose(loads, [0.0, 0.0, 0.3, 0.4])
    assert stranded == 0.0
    active = np.array([True, True, False, False])
    loads, stranded = surrogate_loads(bins, costs, active, 4)
    np.testing.assert_allclose(loads, [0.3, 0.5, 0.0, 0.0])
    assert stranded == pytest.approx(0.4)  # bin 2 has no fallback and its only cell sleeps


# --- incremental assignment -------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(order=st.permutations(range(21)), interval=st.sampled_from([0, 40, 87]))
def test_incremental_assignment_matches_batch(
    seven_site_twin: Twin,
    bins: PreferenceBins,
    day_demand: FloatArray,
    order: list[int],
    interval: int,
):
    twin = seven_site_twin
    capacity = np.flatnonzero(twin.arrays.layer == CAPACITY)
    costs = bin_costs(
        bins, reference_rates_mbps(twin, bins, np.ones(twin.num_cells)), day_demand[interval]
    )
    active = np.ones(twin.num_cells, dtype=bool)
    state = AssignmentState.start(bins, costs, active)
    for cell in capacity[order]:
        before = state.loads.copy()
        predicted, _ = state.loads_if_asleep(int(cell))
        np.testing.assert_array_equal(state.loads, before)  # a prediction changes nothing
        assert state.active[cell]
        state.sleep(int(cell))
        active[cell] = False
        loads, stranded = surrogate_loads(bins, costs, active, twin.num_cells)
        np.testing.assert_allclose(state.loads, loads, rtol=0.0, atol=1e-9)
        np.testing.assert_allclose(predicted[active], loads[active], rtol=0.0, atol=1e-9)
        np.testing.assert_array_equal(state.position, first_active_position(bins, active))
        np.testing.assert_array_equal(state.active, active)
        assert (state.stranded_cost > 0) == (stranded > 0)


def test_incremental_assignment_strands_bins_without_fallback():
    bins = hand_bins([[2, 0], [2, 3], [3, -1]], fallback=[0, -1, -1], num_cells=4)
    costs = np.array([[0.1, 0.3], [0.2, 0.5], [0.4, 0.0]])
    state = AssignmentState.start(bins, costs, np.ones(4, dtype=bool))
    loads, extra = state.loads_if_asleep(2)
    np.testing.assert_allclose(loads[[0, 3]], [0.3, 0.9])
    assert extra == 0.0
    state.sleep(2)
    loads, extra = state.loads_if_asleep(3)
    assert extra > 0.0  # bins 1 and 2 would have no active cell left
    state.sleep(3)
    batch_loads, batch_stranded = surrogate_loads(bins, costs, state.active, 4)
    np.testing.assert_allclose(state.loads, batch_loads, atol=1e-12)
    assert state.stranded_cost > 0.0
    assert batch_stranded > 0.0
    np.testing.assert_array_equal(state.position, [1, -1, -1])


# --- costs -------------------------------------------------------------------------------------


def test_costs_are_linear_in_demand(
    seven_site_twin: Twin, bins: PreferenceBins, day_demand: FloatArray
):
    rates = reference_rates_mbps(seven_site_twin, bins, np.full(seven_site_twin.num_cells, 0.5))
    assert np.all(rates >= 0.0)
    assert np.all(rates[bins.ue_columns < 0] == 0.0)
    # linear where every UE of a bin can be served there; a far listed n78 cell with SINR below
    # -10 dB costs UNSERVABLE_COST per UE with demand instead
    unservable = np.zeros(bins.lists.shape, dtype=bool)
    in_bin = bins.ue_bin >= 0
    np.logical_or.at(
        unservable, bins.ue_bin[in_bin], (rates[in_bin] == 0) & (bins.ue_columns[in_bin] >= 0)
    )
    demand = day_demand[40]
    costs = bin_costs(bins, rates, demand)
    ok = ~unservable
    np.testing.assert_allclose(
        bin_costs(bins, rates, 2.5 * demand)[ok], 2.5 * costs[ok], rtol=1e-12
    )
    np.testing.assert_allclose(
        bin_costs(bins, rates, demand + day_demand[41])[ok],
        (costs + bin_costs(bins, rates, day_demand[41]))[ok],
        rtol=1e-12,
    )
    assert np.all(costs[bins.lists < 0] == 0.0)
    assert np.all(costs[unservable & (bins.lists >= 0)] >= UNSERVABLE_COST)


def test_rates_fall_as_reference_interference_rises(seven_site_twin: Twin, bins: PreferenceBins):
    num_cells = seven_site_twin.num_cells
    no_pairing = np.zeros(num_cells)

    def rates(load: float) -> FloatArray:
        return reference_rates_mbps(seven_site_twin, bins, np.full(num_cells, load), no_pairing)

    low, mid, high = rates(0.0), rates(0.5), rates(1.0)
    assert np.all(low >= mid - 1e-12)
    assert np.all(mid >= high - 1e-12)
    assert (low > high).any()
    # pairing more UEs (a busier cell, MU-MIMO) never lowers a rate
    paired = reference_rates_mbps(seven_site_twin, bins, np.ones(num_cells), np.ones(num_cells))
    assert np.all(paired >= high - 1e-12)
    assert (paired > high).any()


# --- exact at the linearisation point ----------------------------------------------------------


@pytest.mark.parametrize("interval", [0, 8, 40, 87])
def test_all_on_model_equals_twin_demand_load(
    seven_site_twin: Twin, bins: PreferenceBins, day_demand: FloatArray, interval: int
):
    twin = seven_site_twin
    all_on = np.ones(twin.num_cells, dtype=bool)
    snap = tight_snapshot(twin, all_on, day_demand[interval])
    assert snap.converged
    loads, stranded = model_loads(twin, bins, snap.prb_load, all_on, day_demand[interval])
    np.testing.assert_allclose(loads, snap.demand_load, rtol=0.0, atol=EXACT_ATOL)
    assert stranded == 0.0


def test_all_on_model_at_default_tolerance_is_close(
    seven_site_twin: Twin, bins: PreferenceBins, day_demand: FloatArray
):
    """At the twin's default stopping rule (1e-4) the model still agrees to about 1e-3."""
    twin = seven_site_twin
    all_on = np.ones(twin.num_cells, dtype=bool)
    snap = evaluate_snapshot(twin, CellState.all_on(twin.num_cells), day_demand[40])
    loads, _ = model_loads(twin, bins, snap.prb_load, all_on, day_demand[40])
    np.testing.assert_allclose(loads, snap.demand_load, rtol=0.0, atol=1e-3)


@PROPERTY_SETTINGS
@given(asleep=sleep_sets(), interval=st.sampled_from([0, 6, 30, 70, 87]))
def test_model_equals_twin_at_its_own_loads(
    seven_site_twin: Twin,
    bins: PreferenceBins,
    day_demand: FloatArray,
    asleep: np.ndarray,
    interval: int,
):
    twin = seven_site_twin
    active = capacity_sleep_state(twin, asleep)
    assume(not exhausted_ues(twin, active).any())
    snap = tight_snapshot(twin, active, day_demand[interval])
    assert snap.converged
    # closest assignment: every UE lands on the cell the twin serves it from
    pos = first_active_position(bins, active)
    ue_pos = pos[bins.ue_bin]
    model_cell = bins.lists[bins.ue_bin, ue_pos]
    np.testing.assert_array_equal(model_cell, snap.serving_cell)
    loads, stranded = model_loads(twin, bins, snap.prb_load, active, day_demand[interval])
    np.testing.assert_allclose(loads, snap.demand_load, rtol=0.0, atol=EXACT_ATOL)
    assert stranded == 0.0


@PROPERTY_SETTINGS
@given(
    asleep=sleep_sets(),
    interval=st.sampled_from([0, 6, 30, 70, 87]),
    scale=st.floats(0.1, 2.0),
)
def test_full_load_reference_never_underestimates(
    seven_site_twin: Twin,
    bins: PreferenceBins,
    day_demand: FloatArray,
    asleep: np.ndarray,
    interval: int,
    scale: float,
):
    twin = seven_site_twin
    active = capacity_sleep_state(twin, asleep)
    assume(not exhausted_ues(twin, active).any())
    demand = day_demand[interval] * scale
    snap = evaluate_snapshot(twin, CellState.all_on(twin.num_cells).with_active(active), demand)
    no_pairing = np.zeros(twin.num_cells)
    loads, stranded = model_loads(twin, bins, np.ones(twin.num_cells), active, demand, no_pairing)
    assert stranded == 0.0
    assert np.all(loads >= snap.demand_load - 1e-9)
    assert np.all(loads[~active] == 0.0)


SHORT_LIST = 6  # a list length the seed-29 drop exceeds


# --- a UE with more sleepable cells ahead of its fallback than the list keeps ------------------


@pytest.fixture(scope="module")
def long_list_case() -> tuple[Twin, int, list[int]]:
    """Seed 29: a UE with more than SHORT_LIST n78 cells ranked above its best coverage cell.

    Returns the twin, the UE, and its suitable cells in ranking order.
    """
    twin = build_twin(scenario_preset("default", seed=29, num_sites=7, num_ues=300))
    layer = twin.arrays.layer

    def capacity_ahead(ue: int) -> int:
        ranked = ranked_cells(twin, ue)
        return next((i for i, c in enumerate(ranked) if layer[c] == COVERAGE), len(ranked))

    count, ue = max((capacity_ahead(u), u) for u in range(twin.num_ues))
    assert count > SHORT_LIST  # the case this test is about exists
    return twin, ue, ranked_cells(twin, ue)


def test_truncated_list_falls_back_where_the_twin_finds_a_further_n78_cell(
    long_list_case: tuple[Twin, int, list[int]],
):
    """With its SHORT_LIST best n78 cells asleep the model sends the UE to its fallback (the
    best coverage cell); the twin finds the next n78 cell above threshold. The model puts the
    load on the coverage layer, the one that limits sleep; the twin check sees the rest."""
    twin, ue, ranked = long_list_case
    bins = preference_bins(twin, twin.arrays.layer == CAPACITY, max_list_length=SHORT_LIST)
    active = np.ones(twin.num_cells, dtype=bool)
    active[ranked[:SHORT_LIST]] = False  # the next n78 cell, ranked[SHORT_LIST], stays on
    demand = np.zeros(twin.num_ues)
    demand[ue] = 1.0
    snap = tight_snapshot(twin, active, demand)
    assert snap.serving_cell[ue] == ranked[SHORT_LIST]
    assert twin.arrays.layer[ranked[SHORT_LIST]] == CAPACITY
    loads, stranded = model_loads(twin, bins, np.ones(twin.num_cells), active, demand)
    assert stranded == 0.0
    row = bins.lists[bins.ue_bin[ue]]
    fallback = int(row[row >= 0][-1])
    assert twin.arrays.layer[fallback] == COVERAGE
    assert fallback == next(c for c in ranked if twin.arrays.layer[c] == COVERAGE)
    assert loads[fallback] > 0.0
    assert loads[ranked[SHORT_LIST]] == 0.0
