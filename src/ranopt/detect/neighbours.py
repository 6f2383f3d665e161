"""Cell neighbourhoods for the detectors: an ANR-like table, from relations or from geometry.

A sleeping cell's users camp on the cells around it; the detectors look for them there. Where
the network reports its neighbour relations (``NRCellRelation``, TS 28.541, found by O1
discovery) they are the neighbourhood; otherwise a cell's neighbours are the other cells of
its site and every cell of the ``num_sites`` nearest other sites (the first ring of a
hexagonal layout has six).
"""

import numpy as np
import numpy.typing as npt

from ranopt.detect.kpi import CellContext

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

NEAREST_SITES = 6


def csr_from_pairs(num_cells: int, pairs: IntArray) -> tuple[IntArray, IntArray]:
    """Return (ptr ``[C+1]``, idx ``[E]``) of directed pairs ``[E, 2]`` (source, neighbour).

    Self pairs and duplicates are dropped; each list is sorted.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs = np.unique(pairs, axis=0)  # sorted by source, then neighbour
    counts = np.bincount(pairs[:, 0], minlength=num_cells)
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return ptr, pairs[:, 1].copy()


def geometric_pairs(
    site: IntArray, x_m: FloatArray, y_m: FloatArray, num_sites: int = NEAREST_SITES
) -> IntArray:
    """Return neighbour pairs ``[E, 2]``: same site, and every cell of the nearest sites.

    ``site`` ``[C]`` is each cell's site key, ``x_m`` / ``y_m`` ``[C]`` its position.
    """
    sites, first, inverse = np.unique(site, return_index=True, return_inverse=True)
    sx, sy = x_m[first], y_m[first]
    # [S, S] site distances; a site is not its own neighbour
    dist = np.hypot(sx[:, None] - sx[None, :], sy[:, None] - sy[None, :])
    np.fill_diagonal(dist, np.inf)
    k = min(num_sites, len(sites) - 1)
    near = np.argsort(dist, axis=1)[:, :k] if k > 0 else np.zeros((len(sites), 0), dtype=np.int64)
    # [S, S] site adjacency including itself
    adjacent = np.eye(len(sites), dtype=bool)
    rows = np.repeat(np.arange(len(sites)), k)
    adjacent[rows, near.reshape(-1)] = True
    adjacent |= adjacent.T  # relations are symmetric
    cell_adjacent = adjacent[inverse][:, inverse]  # [C, C]
    src, dst = np.nonzero(cell_adjacent)
    return np.stack([src, dst], axis=1).astype(np.int64)


def cell_context(
    cell_id: IntArray,
    num_prb: FloatArray,
    interval_s: int,
    pairs: IntArray,
) -> CellContext:
    """Return the detectors' view of the cells with neighbour ``pairs`` (indices into cells)."""
    ptr, idx = csr_from_pairs(int(cell_id.shape[0]), pairs)
    return CellContext(
        cell_id=np.asarray(cell_id, dtype=np.int64),
        num_prb=np.asarray(num_prb, dtype=np.float64),
        neighbour_ptr=ptr,
        neighbour_idx=idx,
        interval_s=interval_s,
    )
