"""Partitioning a network by interference coupling: clusters, guard borders, cluster twins."""

import numpy as np
import pytest
from scipy.sparse import csr_array, diags_array, eye_array, kron

from ranopt.errors import ValidationError
from ranopt.twin import CellState, Twin, build_twin, evaluate_snapshot, scenario_preset
from ranopt.twin import partition as partition_module
from ranopt.twin.elements import LAYERS
from ranopt.twin.layout import hex_site_positions_m
from ranopt.twin.partition import (
    GUARD_THRESHOLD,
    always_on_serving,
    cluster_twin,
    cluster_ues,
    coupling_matrix,
    partition_cells,
    partition_network,
    sector_groups,
)
from ranopt.twin.shapes import synthetic_records
from ranopt.twin.traffic import expected_demand_mbps

MAX_CELLS = 40
BUSY = 80  # 20:00, the evening peak: loads where interference matters


@pytest.fixture(scope="module")
def sparse_twin() -> Twin:
    """19 sites (114 cells), 1 000 UEs, each UE's 24 strongest cells."""
    return build_twin(scenario_preset("default", seed=2, num_sites=19, num_ues=1000, top_k=24))


@pytest.fixture(scope="module", params=["sparse", "dense"])
def twin(request: pytest.FixtureRequest, sparse_twin: Twin, default_twin: Twin) -> Twin:
    return sparse_twin if request.param == "sparse" else default_twin


def test_coupling_is_a_symmetric_share_without_self_coupling(twin: Twin):
    coupling = coupling_matrix(twin).toarray()
    assert coupling.shape == (twin.num_cells, twin.num_cells)
    np.testing.assert_array_equal(coupling, coupling.T)
    assert np.all(np.diag(coupling) == 0)
    assert coupling.min() >= 0
    assert coupling.max() <= 1 + 1e-12
    # co-sited cells of one layer face apart, but every cell is coupled to some other
    assert (coupling.max(axis=1) > GUARD_THRESHOLD).all()


def test_partition_covers_every_cell_exactly_once_within_the_cap(twin: Twin):
    partition = partition_network(twin, MAX_CELLS)
    everything = np.concatenate(partition.clusters)
    assert everything.size == twin.num_cells
    np.testing.assert_array_equal(np.sort(everything), np.arange(twin.num_cells))
    assert max(c.size for c in partition.clusters) <= MAX_CELLS
    # balanced: ceil(C / cap) clusters, sizes within one sector (two cells) of each other
    assert partition.num_clusters == -(-twin.num_cells // MAX_CELLS)
    sizes = [c.size for c in partition.clusters]
    assert max(sizes) - min(sizes) <= 2
    owner = partition.cluster_of(twin.num_cells)
    assert (owner >= 0).all()
    # a sector's cells (coverage and capacity) share a cluster: each cluster has both layers
    groups = sector_groups(twin)
    for label in np.unique(groups):
        assert np.unique(owner[groups == label]).size == 1
    for cells in partition.clusters:
        layers = np.bincount(twin.arrays.layer[cells], minlength=len(LAYERS))
        assert layers[LAYERS.index("coverage")] == layers[LAYERS.index("capacity")]


def test_partition_is_deterministic(sparse_twin: Twin):
    a = partition_network(sparse_twin, MAX_CELLS)
    b = partition_network(sparse_twin, MAX_CELLS)
    for x, y in zip(a.clusters + a.guards, b.clusters + b.guards, strict=True):
        np.testing.assert_array_equal(x, y)


def test_guard_border_holds_every_cell_coupled_above_the_threshold(twin: Twin):
    coupling = coupling_matrix(twin)
    dense = coupling.toarray()
    partition = partition_network(twin, MAX_CELLS)
    for cells, guard in zip(partition.clusters, partition.guards, strict=True):
        outside = np.setdiff1d(np.arange(twin.num_cells), cells)
        strongest = dense[np.ix_(cells, outside)].max(axis=0)
        np.testing.assert_array_equal(guard, outside[strongest >= GUARD_THRESHOLD])
        assert np.intersect1d(guard, cells).size == 0
    # the border is real work: some cells outside are coupled, some are not
    assert 0 < sum(g.size for g in partition.guards) < partition.num_clusters * twin.num_cells


def test_strongly_coupled_cells_share_a_cluster(sparse_twin: Twin):
    coupling = coupling_matrix(sparse_twin).tocoo()
    owner = partition_network(sparse_twin, MAX_CELLS).cluster_of(sparse_twin.num_cells)
    together = owner[coupling.row] == owner[coupling.col]
    strong = coupling.data >= np.quantile(coupling.data, 0.9)
    # the strongest tenth of the pairs lie mostly inside a cluster, the rest mostly across
    assert together[strong].mean() > together[~strong].mean()
    assert together[strong].mean() > 0.5


def test_the_whole_network_cut_out_is_the_network(sparse_twin: Twin):
    """Cutting every cell and UE changes nothing the twin evaluates."""
    cells = np.arange(sparse_twin.num_cells)
    whole = cluster_twin(sparse_twin, cells, np.zeros(0, dtype=np.int64),
                         np.arange(sparse_twin.num_ues))  # fmt: skip
    demand = expected_demand_mbps(sparse_twin.traffic, 0)[BUSY]
    state = CellState.all_on(sparse_twin.num_cells)
    a = evaluate_snapshot(sparse_twin, state, demand)
    b = evaluate_snapshot(whole, state, demand)
    np.testing.assert_array_equal(a.serving_cell, b.serving_cell)
    np.testing.assert_allclose(a.prb_load, b.prb_load, atol=1e-12)


def test_a_cluster_twin_freezes_its_border_and_under_states_no_load(twin: Twin):
    """The cluster's cells keep their UEs; with less interference no load rises (monotone)."""
    partition = partition_network(twin, MAX_CELLS)
    own, guard = partition.clusters[0], partition.guards[0]
    cells = np.union1d(own, guard)
    serving = always_on_serving(twin)
    ues = cluster_ues(serving, cells, twin.num_cells)
    sub = cluster_twin(twin, cells, guard, ues)
    frozen = np.isin(cells, guard)
    assert (sub.arrays.layer[frozen] == LAYERS.index("coverage")).all()
    assert all(len(sub.arrays.trx_options[i]) == 1 for i in np.flatnonzero(frozen))
    np.testing.assert_array_equal(sub.arrays.layer[~frozen], twin.arrays.layer[own])
    demand = expected_demand_mbps(twin.traffic, 0)[BUSY]
    whole = evaluate_snapshot(twin, CellState.all_on(twin.num_cells), demand)
    part = evaluate_snapshot(sub, CellState.all_on(cells.size), demand[ues])
    # every UE keeps its serving cell (renumbered)
    np.testing.assert_array_equal(cells[part.serving_cell], whole.serving_cell[ues])
    # Siomina & Yuan 2012: the load map is monotone in interference; none is added here
    assert (part.prb_load <= whole.prb_load[cells] + 1e-3).all()
    # the cluster's own cells see most of their interference inside cluster and border
    inner = np.searchsorted(cells, own)
    assert np.abs(part.prb_load[inner] - whole.prb_load[own]).max() < 0.1


def test_the_synthetic_network_is_irregular_and_fixed_by_its_generator():
    sites, cells = synthetic_records(10_000, np.random.default_rng(16))
    again_sites, again_cells = synthetic_records(10_000, np.random.default_rng(16))
    assert (sites, cells) == (again_sites, again_cells)
    assert len(sites) == 1667
    assert len(cells) == 10_002
    lattice = hex_site_positions_m(1801, 500.0)  # the smallest hexagonal count >= 1667 / 0.95
    xy = np.array([(s.x_m, s.y_m) for s in sites])
    nearest = np.sqrt(((xy[:, None, :] - lattice[None, :, :]) ** 2).sum(-1)).min(axis=1)
    assert np.median(nearest) > 50.0  # moved off the lattice (sigma 150 m per axis)
    assert nearest.max() < 1000.0  # but still around it
    heights = np.array([s.height_m for s in sites])
    assert 20.0 <= heights.min() < heights.max() <= 40.0
    # sectors turned per site: the first sector's azimuth takes many values
    first = np.array([c.azimuth_deg for c in cells if c.sector == 0 and c.layer == "coverage"])
    assert np.unique(np.round(first)).size > 100
    other = synthetic_records(600, np.random.default_rng(17))
    assert len(other[1]) == 600
    assert other[0][1] != sites[1]


def test_coupling_is_the_share_of_interference_or_of_fallbacks_ue_by_ue(sparse_twin: Twin):
    """The whole coupling matrix recomputed UE by UE from the link budget."""
    twin = sparse_twin
    link = twin.link
    serving = always_on_serving(twin)
    carrier = twin.arrays.carrier
    suitable = link.suitable(twin.scenario.rsrp_min_dbm)
    served = np.bincount(serving[serving >= 0], minlength=twin.num_cells)
    interference = np.zeros((twin.num_cells, twin.num_cells))
    fallback = np.zeros((twin.num_cells, twin.num_cells))
    for u in np.flatnonzero(serving >= 0):
        cell, entries = serving[u], link.cell_idx[u]
        own = int(np.flatnonzero(entries == cell)[0])
        co = (carrier[entries] == carrier[cell]) & (np.arange(link.k) != own)
        # Siomina & Yuan 2012 SINR denominator, every cell at full load: sum_j I_uj + N_u
        total = link.interference_w[u][co].sum() + twin.noise_w[cell]
        for k in np.flatnonzero(co):
            interference[cell, entries[k]] += link.interference_w[u, k] / total / served[cell]
        ok = suitable[u].copy()
        ok[own] = False
        if ok.any():
            best = np.flatnonzero(ok)[np.argmax(link.rank_db[u][ok])]
            fallback[cell, entries[best]] += 1.0 / served[cell]
    one_way = np.maximum(interference, fallback)
    expected = np.maximum(one_way, one_way.T)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(coupling_matrix(twin).toarray(), expected, rtol=1e-9, atol=1e-15)


def _grid(rows: int, cols: int, coupling: float = 0.5) -> csr_array:
    """Coupling of a ``rows`` x ``cols`` grid of cells (node ``r * cols + c``), neighbours only."""

    def path(n: int) -> csr_array:
        return csr_array(diags_array([np.ones(n - 1), np.ones(n - 1)], offsets=[-1, 1]))

    grid = kron(path(rows), eye_array(cols)) + kron(eye_array(rows), path(cols))
    return csr_array(grid * coupling)


def _columns(cells: np.ndarray, cols: int) -> set[int]:
    return set((cells % cols).tolist())


def test_bisection_cuts_a_long_grid_across_its_long_side():
    """A 4 x 12 grid in 3 clusters: the minimum cuts, 4 columns each (4 cut pairs per cut)."""
    partition = partition_cells(_grid(4, 12), 16)
    assert [_columns(c, 12) for c in partition.clusters] == [
        {0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}
    ]  # fmt: skip
    # each border is the adjacent column(s): coupled at 0.5 >= the threshold
    assert [_columns(g, 12) for g in partition.guards] == [{4}, {3, 8}, {7}]


def test_bisection_keeps_cliques_and_components_whole():
    """Two 5-cliques joined by one pair, and the same cliques apart: cut between them."""
    clique = np.ones((5, 5)) - np.eye(5)
    joined = np.zeros((10, 10))
    joined[:5, :5] = joined[5:, 5:] = clique * 0.3
    apart = joined.copy()
    joined[4, 5] = joined[5, 4] = 0.02  # coupled above the threshold, but one pair only
    for dense in (joined, apart):
        partition = partition_cells(csr_array(dense), 5)
        assert [c.tolist() for c in partition.clusters] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert [g.tolist() for g in partition_cells(csr_array(joined), 5).guards] == [[5], [4]]


def test_pairs_below_the_threshold_do_not_steer_the_cut():
    """Only pairs that would enter a border count: a weak ring around the grid changes nothing."""
    grid = _grid(4, 12).toarray()
    ring = np.roll(np.eye(48), 7, axis=1) * 0.005  # below GUARD_THRESHOLD (1 %)
    weak = csr_array(grid + ring + ring.T)
    for a, b in zip(
        partition_cells(weak, 16).clusters, partition_cells(_grid(4, 12), 16).clusters,
        strict=True,
    ):  # fmt: skip
        np.testing.assert_array_equal(a, b)


def test_sparse_and_dense_eigensolvers_cut_alike(monkeypatch: pytest.MonkeyPatch):
    """A 10 x 40 grid in 4 clusters of 10 x 10, through ARPACK as through LAPACK."""
    coupling = _grid(10, 40)
    dense = partition_cells(coupling, 100)
    monkeypatch.setattr(partition_module, "DENSE_EIGEN_CELLS", 0)
    sparse = partition_cells(coupling, 100)
    expected = [set(range(0, 10)), set(range(10, 20)), set(range(20, 30)), set(range(30, 40))]
    assert [_columns(c, 40) for c in dense.clusters] == expected
    for a, b in zip(dense.clusters, sparse.clusters, strict=True):
        np.testing.assert_array_equal(a, b)


def test_groups_stay_whole_and_a_group_above_the_cap_is_a_cluster_of_its_own():
    """Cells of a group share a cluster; clusters grow in number until every one fits the cap."""
    coupling = _grid(4, 12)
    columns = np.arange(48) % 12  # a group per column of four cells
    partition = partition_cells(coupling, 8, groups=columns)
    assert [_columns(c, 12) for c in partition.clusters] == [{2 * i, 2 * i + 1} for i in range(6)]
    # a cap below a group's cells: one group per cluster, the cap given up for it
    alone = partition_cells(coupling, 3, groups=columns)
    assert [_columns(c, 12) for c in alone.clusters] == [{i} for i in range(12)]
    with pytest.raises(ValidationError, match="groups"):
        partition_cells(coupling, 8, groups=columns[:-1])
