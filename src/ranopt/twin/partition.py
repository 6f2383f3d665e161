"""Partition a network into clusters by interference coupling, each with a guard border.

A network too large for one process is planned cluster by cluster: cells that are strongly
coupled (a UE of one is interfered by the other, or falls back to it when its cell sleeps) end
up in one cluster, and each cluster is simulated with a guard border (the cells outside it
coupled to it at ``GUARD_THRESHOLD`` or more), which takes part in the interference and the
association but is frozen: always on, all chains, never planned there. The clusters are
compact and balanced (recursive spectral bisection of the coupling graph), so the borders stay
short and the clusters' plans take comparable time. ``cluster_twin`` cuts the twin of one
cluster and its border out of the whole; everything here is pure and deterministic (no
randomness at all).
"""

from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from scipy.linalg import eigh
from scipy.sparse import coo_array, csr_array
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import eigsh

from ranopt.errors import ValidationError
from ranopt.twin.elements import LAYERS
from ranopt.twin.model import Twin
from ranopt.twin.network import CellArrays
from ranopt.twin.radio import LinkBudget
from ranopt.twin.snapshot import CellState, associate
from ranopt.twin.traffic import TrafficModel
from ranopt.twin.ues import UEs
from ranopt.twin.units import FloatArray

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# coupling (share of a cell's UEs' interference plus noise, or of its UEs that fall back to the
# other cell) at or above which an outside cell joins a cluster's guard border: 1 %
GUARD_THRESHOLD = 0.01
COVERAGE_LAYER = LAYERS.index("coverage")
# a link-budget entry cut away from a cluster twin: never suitable, no power (finite, so that
# arithmetic on it stays finite)
CUT_RSRP_DBM = -400.0

_D = TypeVar("_D")


@dataclass(frozen=True, eq=False)
class Partition:
    """Clusters that cover every cell once, each with its guard border (``[n]`` cell indices)."""

    clusters: tuple[IntArray, ...]  # ascending cell indices, disjoint, covering every cell
    guards: tuple[IntArray, ...]  # per cluster: outside cells coupled to it >= threshold
    threshold: float  # the guard threshold the borders were drawn at

    @property
    def num_clusters(self) -> int:
        """Number of clusters."""
        return len(self.clusters)

    def cluster_of(self, num_cells: int) -> IntArray:
        """Cluster index of every cell, ``[num_cells]``."""
        owner = np.full(num_cells, -1, dtype=np.int64)
        for i, cells in enumerate(self.clusters):
            owner[cells] = i
        return owner


def coupling_matrix(twin: Twin) -> csr_array:
    """Symmetric cell-to-cell coupling ``[C, C]`` of the always-on network, in [0, 1].

    ``c[i, j]`` is the larger of two shares over the UEs that cell ``i`` serves with every
    cell on: the mean share of their interference plus noise that cell ``j`` sends (every
    cell at full PRB load: the worst case, as the Siomina & Yuan 2012 load-coupling bound),
    and the share of them whose next-best suitable cell is ``j`` (where they go when ``i``
    sleeps). The matrix holds ``max(c[i, j], c[j, i])``; the diagonal is zero.
    """
    link = twin.link
    num_cells, num_ues = twin.num_cells, twin.num_ues
    assoc = associate(twin, CellState.all_on(num_cells))
    ues = np.flatnonzero(assoc.covered)
    server = assoc.serving[ues]
    count = np.bincount(server, minlength=num_cells).astype(np.float64)
    cell_idx = np.asarray(np.broadcast_to(link.cell_idx, (num_ues, link.k)))[ues]
    carrier = twin.arrays.carrier
    rows = np.arange(ues.size)
    k_star = assoc.k_star[ues]
    # interference toward each UE from every co-channel cell at full load, W
    co = carrier[cell_idx] == carrier[server][:, None]
    interference = np.where(co, link.interference_w[ues], 0.0)
    interference[rows, k_star] = 0.0
    total = interference.sum(axis=1) + twin.noise_w[server]
    share = interference / total[:, None]
    weight = 1.0 / count[server]
    interfering = coo_array(
        ((share * weight[:, None]).ravel(), (np.repeat(server, link.k), cell_idx.ravel())),
        shape=(num_cells, num_cells),
    ).tocsr()
    # TS 38.304 ranking as in ``associate``: the next-best suitable entry is the fallback
    suitable = link.suitable(twin.scenario.rsrp_min_dbm)[ues]
    metric = np.where(suitable, link.rank_db[ues], -np.inf)
    metric[rows, k_star] = -np.inf
    second = np.argmax(metric, axis=1)
    has_second = np.isfinite(metric[rows, second])
    fallback = coo_array(
        (weight[has_second], (server[has_second], cell_idx[rows, second][has_second])),
        shape=(num_cells, num_cells),
    ).tocsr()
    one_way = interfering.maximum(fallback)
    both = one_way.maximum(one_way.T).tocsr()
    both.setdiag(0.0)
    both.eliminate_zeros()
    return csr_array(both)


# a subgraph at most this large gets its Fiedler vector from a dense eigensolver (exact, one
# LAPACK call); larger ones from ARPACK's Lanczos on the sparse normalised coupling
DENSE_EIGEN_CELLS = 1500


def partition_cells(
    coupling: csr_array,
    max_cells: int,
    threshold: float = GUARD_THRESHOLD,
    groups: IntArray | None = None,
) -> Partition:
    """Cut the cells into compact clusters of at most ``max_cells``, and draw each guard border.

    Recursive spectral bisection (Pothen, Simon & Liou, SIAM J. Matrix Anal. Appl. 11(3),
    1990) of the border graph (``border_graph``: the pairs coupled at ``threshold`` or more,
    the ones a cut puts into borders). ``groups`` (``[C]``, e.g. each cell's site) are kept
    whole: the graph is contracted to one node per group first; without them each cell is its
    own group. ``k = ceil(C / max_cells)`` clusters are wanted; a set of groups meant for
    ``k`` clusters is ordered along the Fiedler vector of its normalised Laplacian (Shi &
    Malik, IEEE TPAMI 22(8), 2000: a cut of little weight between two halves of comparable
    weight) and cut where its cells come nearest to ``floor(k / 2) / k`` of them, each side
    bisected again; should a cluster still exceed ``max_cells`` (groups are whole), ``k``
    grows by one. So cluster sizes differ by about a group, and strongly coupled cells share a
    cluster. Deterministic (a fixed start vector, ties by index). A cluster's guard border is
    every outside cell whose coupling to one of its cells is at least ``threshold``.
    """
    if max_cells < 1:
        msg = f"max_cells must be >= 1, got {max_cells}"
        raise ValidationError(msg)
    num_cells = int(coupling.shape[0])
    labels = np.arange(num_cells) if groups is None else np.asarray(groups, dtype=np.int64)
    if labels.shape != (num_cells,):
        msg = f"groups must hold one label per cell ({num_cells}), got shape {labels.shape}"
        raise ValidationError(msg)
    _, group_of = np.unique(labels, return_inverse=True)
    num_groups = int(group_of.max(initial=-1)) + 1
    members = csr_array(
        (np.ones(num_cells), (np.arange(num_cells), group_of)), shape=(num_cells, num_groups)
    )
    graph = csr_array(members.T @ border_graph(coupling, threshold) @ members)
    graph.setdiag(0.0)
    graph.eliminate_zeros()
    weight = np.bincount(group_of, minlength=num_groups).astype(np.int64)
    wanted = -(-num_cells // max_cells)
    while True:
        found = _bisect(graph, np.arange(num_groups, dtype=np.int64), weight, wanted)
        if max(int(weight[g].sum()) for g in found) <= max_cells or wanted >= num_groups:
            break
        wanted += 1
    clusters = sorted(
        (np.flatnonzero(np.isin(group_of, g)).astype(np.int64) for g in found if g.size),
        key=lambda cells: int(cells[0]),
    )
    return Partition(
        clusters=tuple(clusters),
        guards=tuple(guard_border(coupling, cells, threshold) for cells in clusters),
        threshold=threshold,
    )


def partition_network(twin: Twin, max_cells: int, threshold: float = GUARD_THRESHOLD) -> Partition:
    """Partition a twin's cells by coupling, each sector's cells (every layer) in one cluster.

    A sector's cells on the coverage and capacity layers serve the same area: a sleeping
    capacity cell hands its UEs to the coverage cell beside it, so the two are planned
    together (``sector_groups`` as ``partition_cells``'s groups). Without them the layers,
    on different carriers and so coupled only by those fallbacks, come apart into clusters of
    one layer: coverage-only clusters with nothing to plan, capacity-only ones with all the
    work.
    """
    coupling = coupling_matrix(twin)
    return partition_cells(coupling, max_cells, threshold, groups=sector_groups(twin))


def sector_groups(twin: Twin) -> IntArray:
    """Return one label per cell, the same for the cells of one sector of one site, ``[C]``."""
    sector = np.array([cell.sector for cell in twin.cells], dtype=np.int64)
    return np.asarray(twin.arrays.site, dtype=np.int64) * (int(sector.max(initial=0)) + 1) + sector


def border_graph(coupling: csr_array, threshold: float) -> csr_array:
    """Return the pairs coupled at ``threshold`` or more, weighted ``1 + coupling``.

    A cut through such a pair puts each cell into the other's guard border, so the bisection
    counts cut pairs first (weight one each) and keeps the more strongly coupled ones together
    where counts tie (the coupling on top). Weaker pairs never enter a border: left out.
    """
    graph = csr_array(coupling, copy=True)
    graph.data = np.where(graph.data >= threshold, 1.0 + graph.data, 0.0)
    graph.eliminate_zeros()
    return graph


def _bisect(graph: csr_array, nodes: IntArray, weight: IntArray, parts: int) -> list[IntArray]:
    """Split ``nodes`` into ``parts`` sets of about equal ``weight`` (cells) along Fiedler."""
    if parts <= 1 or nodes.size <= 1:
        return [nodes]
    left_parts = parts // 2
    order = nodes[spectral_order(graph[nodes][:, nodes])]
    cells = np.cumsum(weight[order])
    target = cells[-1] * left_parts / parts
    cut = min(max(int(np.argmin(np.abs(cells - target))) + 1, 1), nodes.size - 1)
    return _bisect(graph, order[:cut], weight, left_parts) + _bisect(
        graph, order[cut:], weight, parts - left_parts
    )


def spectral_order(graph: csr_array) -> IntArray:
    """Order the nodes of a coupling graph along its Fiedler vector (components one by one).

    The Fiedler vector of the normalised Laplacian ``I - D^-1/2 W D^-1/2`` (Shi & Malik 2000:
    the relaxed normalised cut), per connected component; components in the order of their
    first node, each component's nodes by their Fiedler value, ties by index. The sign is fixed
    (the largest entry positive), so the order does not depend on the eigensolver's choice.
    """
    count, labels = connected_components(graph, directed=False)
    pieces = []
    for label in range(count):  # labels are numbered by first node
        nodes = np.flatnonzero(labels == label)
        if nodes.size <= 2:
            pieces.append(nodes)
            continue
        fiedler = _fiedler(csr_array(graph[nodes][:, nodes]))
        pieces.append(nodes[np.lexsort((nodes, fiedler))])
    return np.concatenate(pieces).astype(np.int64) if pieces else np.zeros(0, dtype=np.int64)


def _fiedler(graph: csr_array) -> FloatArray:
    """Fiedler vector of a connected graph's normalised Laplacian, sign fixed (see above)."""
    num = int(graph.shape[0])
    degree = np.asarray(graph.sum(axis=1)).ravel()
    scale = 1.0 / np.sqrt(degree)
    # D^-1/2 W D^-1/2: its second largest eigenvector u gives the Fiedler vector D^-1/2 u
    normalised = csr_array(graph.multiply(scale[:, None]).multiply(scale[None, :]))
    if num <= max(DENSE_EIGEN_CELLS, 3):  # ARPACK needs k=2 < ncv <= n - 1
        _, vectors = eigh(normalised.toarray(), subset_by_index=[num - 2, num - 1])
        second = vectors[:, 0]
    else:
        start = np.sin(np.arange(1.0, num + 1.0))  # fixed: the same order on every run
        _, vectors = eigsh(normalised, k=2, which="LA", v0=start, ncv=min(num - 1, 64),
                           maxiter=100 * num, tol=1e-8)  # fmt: skip
        second = vectors[:, 0]
    fiedler = second * scale
    if fiedler[np.argmax(np.abs(fiedler))] < 0:
        fiedler = -fiedler
    return np.asarray(fiedler, dtype=np.float64)


def guard_border(coupling: csr_array, cells: IntArray, threshold: float) -> IntArray:
    """Outside cells coupled at ``threshold`` or more to one of ``cells``, ascending."""
    rows = coupling[np.asarray(cells, dtype=np.int64)].tocoo()
    near = np.zeros(int(coupling.shape[0]), dtype=bool)
    near[rows.col[rows.data >= threshold]] = True
    near[cells] = False
    return np.flatnonzero(near).astype(np.int64)


def _take(obj: _D, index: IntArray, length: int) -> _D:
    """Return ``obj`` with every array field of first dimension ``length`` indexed."""
    changes: dict[str, Any] = {}
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == length:
            changes[f.name] = value[index]
    return replace(obj, **changes)  # type: ignore[type-var]


def _cut_link(link: LinkBudget, ues: IntArray, cells: IntArray, num_cells: int) -> LinkBudget:
    """Return the link budget of ``ues`` toward ``cells`` only, cells renumbered.

    Dense stays dense (the columns of ``cells``); in a sparse one each UE's entries toward
    ``cells`` come first, in their order, and the rest are cut: they point at the UE's first
    kept cell, with no power and an RSRP no UE can camp on.
    """
    position = np.full(num_cells, -1, dtype=np.int64)
    position[cells] = np.arange(cells.size)
    if link.dense:
        return LinkBudget(
            cell_idx=np.broadcast_to(np.arange(cells.size), (ues.size, cells.size)).copy(),
            rsrp_dbm=link.rsrp_dbm[np.ix_(ues, cells)],
            signal_w=link.signal_w[np.ix_(ues, cells)],
            interference_w=link.interference_w[np.ix_(ues, cells)],
            dense=True,
            rank_db=link.rank_db[np.ix_(ues, cells)],
            supported=link.supported[np.ix_(ues, cells)],
        )
    new_idx = position[link.cell_idx[ues]]
    kept = new_idx >= 0
    order = np.argsort(~kept, axis=1, kind="stable")  # kept entries first, in their order

    def take(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return np.take_along_axis(values, order, axis=1)

    kept = take(kept)
    first = take(new_idx)[:, 0]
    return LinkBudget(
        cell_idx=np.where(kept, take(new_idx), first[:, None]).astype(np.int64),
        rsrp_dbm=np.where(kept, take(link.rsrp_dbm[ues]), CUT_RSRP_DBM),
        signal_w=np.where(kept, take(link.signal_w[ues]), 0.0),
        interference_w=np.where(kept, take(link.interference_w[ues]), 0.0),
        dense=False,
        rank_db=np.where(kept, take(link.rank_db[ues]), CUT_RSRP_DBM),
        supported=kept & take(link.supported[ues]),
    )


def always_on_serving(twin: Twin) -> IntArray:
    """Return every UE's serving cell with every cell on, ``[U]`` (-1: no coverage)."""
    return np.asarray(associate(twin, CellState.all_on(twin.num_cells)).serving, dtype=np.int64)


def cluster_ues(serving: IntArray, cells: IntArray, num_cells: int) -> IntArray:
    """UEs that one of ``cells`` serves (``serving``: ``always_on_serving``), ascending."""
    inside = np.zeros(num_cells + 1, dtype=bool)
    inside[cells] = True
    return np.flatnonzero(inside[serving]).astype(np.int64)  # serving -1 -> the False slot


def cluster_twin(twin: Twin, cells: IntArray, frozen: IntArray, ues: IntArray) -> Twin:
    """Return the twin of ``cells`` (a cluster and its guard border, ascending), ``ues``.

    ``frozen`` cells (the border, a subset of ``cells``) stay in the model but are coverage
    cells without muting there, so no planner sleeps or mutes them. Every site is kept (cells
    refer to their site by index). Interference from cells outside ``cells`` is left out: by
    construction each is coupled to the cluster below the guard threshold.
    """
    cells = np.asarray(cells, dtype=np.int64)
    ues = np.asarray(ues, dtype=np.int64)
    if np.any(np.diff(cells) <= 0) or not np.isin(frozen, cells).all():
        msg = "cluster_twin: cells must be ascending and unique, frozen a subset of them"
        raise ValidationError(msg)
    is_frozen = np.isin(cells, frozen)
    arrays: CellArrays = _take(twin.arrays, cells, twin.num_cells)
    options = tuple(
        (int(arrays.num_trx[i]),) if is_frozen[i] else opts
        for i, opts in enumerate(twin.arrays.trx_options[c] for c in cells)
    )
    arrays = replace(
        arrays,
        layer=np.where(is_frozen, COVERAGE_LAYER, arrays.layer).astype(np.int64),
        trx_options=options,
    )
    sub_cells = tuple(
        replace(twin.cells[c], layer="coverage", mimo_trx_options=())
        if is_frozen[i]
        else twin.cells[c]
        for i, c in enumerate(cells.tolist())
    )
    sub_ues: UEs = _take(twin.ues, ues, twin.num_ues)
    traffic: TrafficModel = _take(twin.traffic, ues, twin.num_ues)
    noise_w: FloatArray = twin.noise_w[cells]
    return Twin(
        scenario=twin.scenario,
        sites=twin.sites,
        cells=sub_cells,
        arrays=arrays,
        ues=sub_ues,
        link=_cut_link(twin.link, ues, cells, twin.num_cells),
        traffic=traffic,
        noise_w=noise_w,
    )
