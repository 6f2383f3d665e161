"""Failed cells in the twin: no UE served, no power drawn, neighbours take the traffic.

Checked on the shared seven-site twin (seed 2) at 10:00 of day 0, failing the busiest
capacity cell: the coverage cell beneath it and the neighbours carry its users.
"""

import numpy as np
import pytest

from ranopt.errors import ValidationError
from ranopt.twin import CellState, Snapshot, Twin, evaluate_snapshot
from ranopt.twin.elements import LAYERS
from ranopt.twin.fault import FAILED_RSRP_DBM, with_failed_cells
from ranopt.twin.traffic import day_rng, realised_demand_mbps
from ranopt.twin.units import FloatArray

INTERVAL = 40  # 10:00
CAPACITY = LAYERS.index("capacity")
COVERAGE = LAYERS.index("coverage")


@pytest.fixture(scope="module")
def demand(seven_site_twin: Twin) -> FloatArray:
    seed = seven_site_twin.scenario.seed
    return np.array(realised_demand_mbps(seven_site_twin.traffic, 0, day_rng(seed, 0))[INTERVAL])


@pytest.fixture(scope="module")
def healthy(seven_site_twin: Twin, demand: FloatArray) -> Snapshot:
    return evaluate_snapshot(seven_site_twin, CellState.all_on(seven_site_twin.num_cells), demand)


@pytest.fixture(scope="module")
def busiest_capacity_cell(seven_site_twin: Twin, healthy: Snapshot) -> int:
    capacity = np.flatnonzero(seven_site_twin.arrays.layer == CAPACITY)
    cell = int(capacity[np.argmax(healthy.cell_served_mbps[capacity])])
    assert healthy.cell_served_mbps[cell] > 20.0  # a cell worth failing
    return cell


def test_a_failed_cell_serves_no_one_and_draws_no_power(
    seven_site_twin: Twin, demand: FloatArray, healthy: Snapshot, busiest_capacity_cell: int
) -> None:
    twin, cell = seven_site_twin, busiest_capacity_cell
    failed = with_failed_cells(twin, frozenset({cell}))
    snap = evaluate_snapshot(failed, CellState.all_on(twin.num_cells), demand)
    assert not (snap.serving_cell == cell).any()
    assert snap.cell_served_mbps[cell] == 0.0
    assert snap.cell_num_ues[cell] == 0
    # its equipment draws nothing; the site's always-on power (its share) stays
    assert snap.power_w[cell] == twin.arrays.site_overhead_w[cell] > 0.0
    assert healthy.power_w[cell] > twin.arrays.site_overhead_w[cell]
    # the other cells keep drawing power
    others = np.arange(twin.num_cells) != cell
    assert (snap.power_w[others] > 0.0).all()


def test_the_other_cells_carry_a_failed_cells_users(
    seven_site_twin: Twin, demand: FloatArray, healthy: Snapshot, busiest_capacity_cell: int
) -> None:
    twin, cell = seven_site_twin, busiest_capacity_cell
    failed = with_failed_cells(twin, frozenset({cell}))
    snap = evaluate_snapshot(failed, CellState.all_on(twin.num_cells), demand)
    orphans = healthy.serving_cell == cell
    assert orphans.sum() > 0
    # every user of the failed cell finds another cell (the coverage layer is still there)
    assert (snap.serving_cell[orphans] >= 0).all()
    assert snap.served_mbps[orphans].sum() > 0.0
    # the higher-priority n78 layer keeps them where another n78 cell is above threshX-HighP
    # (TS 38.304 cl. 5.2.4.5); none lands on the failed cell's own site's capacity layer
    new_cells = snap.serving_cell[orphans]
    layer = twin.arrays.layer[new_cells]
    assert (layer == CAPACITY).any()
    assert (new_cells != cell).all()
    rank = failed.link.rank_db[orphans]
    # ranking tiers are 1000 dB apart: tier 2 (n78 above threshold) sits near 2000 - 100 dB
    on_capacity_tier = rank.max(axis=1) > 1500.0
    np.testing.assert_array_equal(layer == CAPACITY, on_capacity_tier)
    # the network loses less than the cell carried, and serves no more than before
    lost = healthy.served_mbps_total - snap.served_mbps_total
    assert 0.0 <= lost < healthy.cell_served_mbps[cell]


def test_failing_a_cell_returns_a_new_twin_and_leaves_the_original(
    seven_site_twin: Twin, demand: FloatArray, healthy: Snapshot, busiest_capacity_cell: int
) -> None:
    twin, cell = seven_site_twin, busiest_capacity_cell
    rsrp = twin.link.rsrp_dbm.copy()
    signal = twin.link.signal_w.copy()
    interference = twin.link.interference_w.copy()
    p0 = twin.arrays.p0_w.copy()
    failed = with_failed_cells(twin, frozenset({cell}))
    assert failed is not twin
    assert failed.link is not twin.link
    assert failed.arrays is not twin.arrays
    assert np.array_equal(twin.link.rsrp_dbm, rsrp)
    assert np.array_equal(twin.link.signal_w, signal)
    assert np.array_equal(twin.link.interference_w, interference)
    assert np.array_equal(twin.arrays.p0_w, p0)
    again = evaluate_snapshot(twin, CellState.all_on(twin.num_cells), demand)
    assert np.array_equal(again.serving_cell, healthy.serving_cell)
    assert np.allclose(again.power_w, healthy.power_w)
    assert again.power_w[cell] > 0.0
    # the failed twin's link budget holds the cell down, and only that cell
    down = failed.link.cell_idx == cell
    assert down.any()
    assert (failed.link.rsrp_dbm[down] == FAILED_RSRP_DBM).all()
    assert (failed.link.signal_w[down] == 0.0).all()
    assert (failed.link.interference_w[down] == 0.0).all()
    assert np.array_equal(failed.link.rsrp_dbm[~down], rsrp[~down])
    assert np.array_equal(failed.link.interference_w[~down], interference[~down])


def test_failing_several_cells(seven_site_twin: Twin, demand: FloatArray) -> None:
    twin = seven_site_twin
    cells = frozenset({0, 3, twin.num_cells - 1})
    snap = evaluate_snapshot(
        with_failed_cells(twin, cells), CellState.all_on(twin.num_cells), demand
    )
    for cell in cells:
        assert not (snap.serving_cell == cell).any()
        assert snap.power_w[cell] == twin.arrays.site_overhead_w[cell]
    assert (np.delete(snap.power_w, sorted(cells)) > 0.0).all()


def test_no_failed_cells_returns_the_same_twin(seven_site_twin: Twin) -> None:
    assert with_failed_cells(seven_site_twin, frozenset()) is seven_site_twin


@pytest.mark.parametrize("bad", [-1, 42, 1000])
def test_an_out_of_range_cell_raises(seven_site_twin: Twin, bad: int) -> None:
    assert seven_site_twin.num_cells == 42
    with pytest.raises(ValidationError, match=str(bad)):
        with_failed_cells(seven_site_twin, frozenset({1, bad}))
