"""Link budget: coupling gain and RSRP per (UE, cell), dense or for each UE's K strongest cells."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree
from scipy.special import ndtr, ndtri

from ranopt.twin.antenna import ELEMENT_MAX_GAIN_DBI, element_gain_upper_bound_dbi, sector_gain_dbi
from ranopt.twin.network import CellArrays
from ranopt.twin.pathloss import (
    O2I_HIGH_LOSS_STD_DB,
    O2I_LOW_LOSS_STD_DB,
    SHADOW_FADING_STD_DB,
    los_probability,
    los_probability_upper_bound,
    o2i_high_loss_db,
    o2i_low_loss_db,
    pathloss_db,
    pathloss_lower_bound_db,
    shadow_fading_std_db,
)
from ranopt.twin.scenario import Scenario
from ranopt.twin.selection import band_supported, selection_rank_db
from ranopt.twin.ues import UEs
from ranopt.twin.units import FloatArray, db_to_lin

IntArray = npt.NDArray[np.int64]
UintArray = npt.NDArray[np.uint64]
BoolArray = npt.NDArray[np.bool_]

_STREAM_LOS = np.uint64(1)
_STREAM_SHADOW = np.uint64(2)
UE_CHUNK = 2048  # UEs whose full UE x cell coupling is held at once
# slack on the pruning bound, dB: covers rounding between the bound's and the exact sums
BOUND_SLACK_DB = 1e-6
SEED_GROUPS_EXTRA = 7  # groups beyond the fewest that hold K cells: a tighter threshold prunes more
NEAR_SITES = 37  # nearest sites of each UE evaluated in full before far sites are screened
FAR_SCREEN_MARGIN_SIGMA = 1e-6  # slack on the far screen's shadow-draw limit, in sigmas
FAR_SCREEN_MARGIN_DB = 1e-6  # slack on the far screen's exact-distance bound, dB


@dataclass(frozen=True, eq=False)
class LinkBudget:
    """Per-UE lists of cells with their received powers, shape ``[num_ues, k]``.

    Dense evaluation is the case ``k == num_cells`` with ``cell_idx[u] == arange(num_cells)``.
    """

    cell_idx: IntArray  # [num_ues, k] cell of each entry
    rsrp_dbm: FloatArray  # [num_ues, k] SS-RSRP: SSB received power per RE (broadcast beam), dBm
    signal_w: FloatArray  # [num_ues, k] full-band received power with the served beam, W
    interference_w: FloatArray  # [num_ues, k] full-band received power toward other cells' UEs, W
    dense: bool
    rank_db: FloatArray  # [num_ues, k] cell-ranking metric (RSRP + priority tier), dB
    supported: BoolArray  # [num_ues, k] the UE supports the cell's band

    @property
    def k(self) -> int:
        """Cells kept per UE."""
        return int(self.cell_idx.shape[1])

    def suitable(self, rsrp_min_dbm: float) -> BoolArray:
        """Entries a UE may camp on, ``[num_ues, k]``: band supported, S-criterion met.

        TS 38.304 cl. 5.2.3.2 S-criterion: ``Srxlev = RSRP - Q_rxlevmin > 0``.
        """
        return np.asarray(self.supported & (self.rsrp_dbm >= rsrp_min_dbm), dtype=bool)


def _splitmix64(x: UintArray) -> UintArray:
    """Hash 64-bit integers (SplitMix64 finaliser, Steele et al. 2014); wraps modulo 2**64."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def pair_uniform(key: int, stream: np.uint64, ue: IntArray, site: IntArray) -> FloatArray:
    """Return a uniform (0, 1) draw fixed by ``(key, stream, ue, site)``, broadcast over arrays.

    A counter-based draw: the same UE-site pair gets the same value whether the link budget is
    dense or sparse, which keeps both evaluations of one seed comparable.
    """
    with np.errstate(over="ignore"):
        h = _splitmix64(np.asarray(np.uint64(key) ^ (stream * np.uint64(0xD1B54A32D192ED03))))
        h = _splitmix64(h ^ ue.astype(np.uint64))
        h = _splitmix64(h ^ (site.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)))
    # 53 random bits -> (0, 1), never exactly 0 or 1
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(2**53)


def nearest_image_offsets_m(
    ue_x_m: FloatArray, ue_y_m: FloatArray, site_xy_m: FloatArray, shifts_m: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Offsets ``[n, S]`` from each site to each UE, from the site's nearest wrapped copy.

    ``shifts_m`` ``[W, 2]`` are the wrap-around translations (``layout.hex_wrap_shifts_m``; the
    identity alone means no wrap-around), the identity first. A pair closer than half the
    shortest shift is its own nearest copy (any other copy is more than that away), so only the
    other pairs compare the copies.
    """
    dx = ue_x_m[:, None] - site_xy_m[None, :, 0] - shifts_m[0, 0]
    dy = ue_y_m[:, None] - site_xy_m[None, :, 1] - shifts_m[0, 1]
    if shifts_m.shape[0] < 2:
        return dx, dy
    half_m = 0.5 * float(np.min(np.hypot(shifts_m[1:, 0], shifts_m[1:, 1])))
    ue, site = np.nonzero(dx * dx + dy * dy >= half_m * half_m)
    # [P, W] offsets to every copy of the far pairs' sites
    fx = ue_x_m[ue, None] - site_xy_m[site, 0, None] - shifts_m[None, :, 0]
    fy = ue_y_m[ue, None] - site_xy_m[site, 1, None] - shifts_m[None, :, 1]
    nearest = np.argmin(fx * fx + fy * fy, axis=1)[:, None]
    dx[ue, site] = np.take_along_axis(fx, nearest, axis=1)[:, 0]
    dy[ue, site] = np.take_along_axis(fy, nearest, axis=1)[:, 0]
    return dx, dy


def _o2i_db(
    ues: UEs, ue_ids: IntArray, fc_ghz: FloatArray, o2i_sigma_draw: FloatArray
) -> FloatArray:
    """O2I loss ``[n, C]`` of indoor UEs (``ue_ids`` ``[n, 1]``, ``fc_ghz`` ``[C]``), 0 outdoors.

    TR 38.901 cl. 7.4.3.
    """
    d_in = ues.d2d_in_m[ue_ids]
    draw = o2i_sigma_draw[ue_ids]
    high = ues.high_loss[ue_ids]
    # TR 38.901 Table 7.4.3-2: low- or high-loss building, each with its own sigma_P
    loss = np.where(
        high,
        o2i_high_loss_db(fc_ghz, d_in) + O2I_HIGH_LOSS_STD_DB * draw,
        o2i_low_loss_db(fc_ghz, d_in) + O2I_LOW_LOSS_STD_DB * draw,
    )
    return np.asarray(np.where(ues.indoor[ue_ids], loss, 0.0), dtype=np.float64)


def _coupling_db(
    scenario: Scenario,
    site_xy_m: FloatArray,
    cells: CellArrays,
    ues: UEs,
    ue_index: IntArray,
    key: int,
    o2i_sigma_draw: FloatArray,
    shifts_m: FloatArray,
) -> FloatArray:
    """Coupling gain (antenna gain - path loss - shadowing - O2I) of some UEs to every cell.

    Returns ``[len(ue_index), num_cells]`` in dB; column ``c`` is cell ``c``, at its site
    ``cells.site[c]`` and antenna height ``cells.height_m[c]`` (any number of cells a site).
    Each site is seen at its nearest copy in ``shifts_m`` (wrap-around).
    """
    num_sites = site_xy_m.shape[0]
    sites = np.arange(num_sites)[None, :]  # [1, S]
    ue_ids = ue_index[:, None]  # [n, 1]
    # [n, S] geometry of each UE-site pair
    dx, dy = nearest_image_offsets_m(ues.x_m[ue_index], ues.y_m[ue_index], site_xy_m, shifts_m)
    d2d_m = np.hypot(dx, dy)
    h_ut_m = np.broadcast_to(ues.height_m[ue_ids], d2d_m.shape)
    bearing_deg = np.degrees(np.arctan2(dx, dy))  # clockwise from north
    p_los = los_probability(scenario.environment, d2d_m, h_ut_m)
    los = pair_uniform(key, _STREAM_LOS, ue_ids, sites) < p_los
    shadow_db = shadow_fading_std_db(scenario.environment, los) * ndtri(
        pair_uniform(key, _STREAM_SHADOW, ue_ids, sites)
    )
    # [n, C] each cell sees the UE from its site: gather the UE-site pairs per cell
    site_of = cells.site
    d2d_c = d2d_m[:, site_of]
    h_ut_c = h_ut_m[:, site_of]
    zenith_deg = 90.0 + np.degrees(np.arctan2(cells.height_m - h_ut_c, d2d_c))
    pl_db = pathloss_db(
        scenario.environment, los[:, site_of], d2d_c, cells.height_m, h_ut_c, cells.carrier_ghz
    )
    o2i_db = _o2i_db(ues, ue_ids, cells.carrier_ghz, o2i_sigma_draw)
    gain_dbi = sector_gain_dbi(
        bearing_deg[:, site_of] - cells.azimuth_deg, zenith_deg, cells.tilt_deg
    )
    coupling_db = gain_dbi - pl_db - shadow_db[:, site_of] - o2i_db
    return np.asarray(coupling_db, dtype=np.float64)


def top_k_mask(values: FloatArray, k: int) -> BoolArray:
    """Mark each row's ``k`` largest values, ``[n, w]``; among equal values the leftmost win.

    A deterministic tie rule matters: a UE behind a site sees its sectors' back lobes at the
    same floor gain (TR 38.901 Table 7.3-1, A_max), so equal RSRPs are common at the K-th place.
    """
    kth = -np.partition(-values, k - 1, axis=1)[:, k - 1 : k]
    above = values > kth
    tied = values == kth
    needed = k - above.sum(axis=1, keepdims=True)
    return np.asarray(above | (tied & (np.cumsum(tied, axis=1) <= needed)), dtype=bool)


def _strongest_per_layer(rsrp_dbm: FloatArray, cell_layer: IntArray, top_k: int) -> IntArray:
    """Columns of the ``top_k`` strongest cells, split evenly over the layers, ``[n, top_k]``.

    Keeping each layer's strongest cells (not the strongest overall) keeps the co-channel
    interferers of both carriers, whatever the layers' RSRP offset. Within a layer the columns
    are in cell order; among equal RSRPs the lower cell index is kept (``top_k_mask``).
    """
    layers = np.unique(cell_layer)
    quota = np.full(layers.size, top_k // layers.size)
    quota[: top_k % layers.size] += 1
    picks = []
    for layer, wanted in zip(layers, quota, strict=True):
        columns = np.flatnonzero(cell_layer == layer)
        k = int(min(wanted, columns.size))
        chosen = top_k_mask(rsrp_dbm[:, columns], k)
        picks.append(np.broadcast_to(columns, chosen.shape)[chosen].reshape(-1, k))
    return np.concatenate(picks, axis=1)


@dataclass(frozen=True, eq=False)
class SiteLayerGroups:
    """Cells grouped by (site, layer), the unit of the pruning bound; members in ``cells``.

    Group ``g`` holds ``cells[start[g]:start[g + 1]]``.
    """

    site: IntArray  # [G]
    layer: IntArray  # [G]
    fc_min_ghz: FloatArray  # [G] lowest carrier of the group's cells
    best_offset_dbm: FloatArray  # [G] max of RS power + SSB gain, plus the element's max gain
    start: IntArray  # [G + 1]
    cells: IntArray  # [C] cell ids, group by group

    @property
    def sizes(self) -> IntArray:
        """Cells per group, ``[G]``."""
        return np.asarray(np.diff(self.start), dtype=np.int64)


def site_layer_groups(cells: CellArrays, rs_plus_gain_dbm: FloatArray) -> SiteLayerGroups:
    """Group cells by (site, layer) with each group's best-case RSRP offset and lowest carrier.

    The offset is exact for the group's best cell but for the antenna: no TR 38.901 Table
    7.3-1 element exceeds ``G_E,max`` in any direction, so it bounds every member's gain.
    """
    key = cells.site * (int(cells.layer.max()) + 1) + cells.layer
    order = np.argsort(key, kind="stable").astype(np.int64)
    _, first = np.unique(key[order], return_index=True)
    return SiteLayerGroups(
        site=cells.site[order][first],
        layer=cells.layer[order][first],
        fc_min_ghz=np.minimum.reduceat(cells.carrier_ghz[order], first),
        best_offset_dbm=np.maximum.reduceat(rs_plus_gain_dbm[order], first) + ELEMENT_MAX_GAIN_DBI,
        start=np.append(first, order.size).astype(np.int64),
        cells=order,
    )


def _group_pairs(
    groups: SiteLayerGroups, ue: IntArray, group: IntArray
) -> tuple[IntArray, IntArray]:
    """Expand (UE, group) pairs into (UE, cell) pairs, in the same UE order."""
    counts = groups.sizes[group]
    total = int(counts.sum())
    run_start = np.repeat(np.cumsum(counts) - counts, counts)
    member = np.repeat(groups.start[group], counts) + np.arange(total) - run_start
    return np.repeat(ue, counts), groups.cells[member]


def _top_per_ue(
    num_ues: int, ue: IntArray, cell: IntArray, value: FloatArray, k: int
) -> tuple[IntArray, FloatArray]:
    """Pair indices and values of each UE's ``k`` largest values, ``[num_ues, k]``, in cell order.

    Every UE has at least ``k`` pairs; ties go to the lower cell index, as in ``top_k_mask``.
    """
    ordered = ue.size < 2 or bool(
        np.all((ue[1:] > ue[:-1]) | ((ue[1:] == ue[:-1]) & (cell[1:] > cell[:-1])))
    )
    order = np.arange(ue.size) if ordered else np.lexsort((cell, ue))
    ue_sorted = ue[order]
    counts = np.bincount(ue_sorted, minlength=num_ues)
    position = np.arange(ue.size) - np.repeat(np.cumsum(counts) - counts, counts)
    width = int(counts.max())
    table = np.full((num_ues, width), -np.inf)
    table[ue_sorted, position] = value[order]
    index = np.zeros((num_ues, width), dtype=np.int64)
    index[ue_sorted, position] = order
    chosen = top_k_mask(table, k)
    return index[chosen].reshape(num_ues, k), table[chosen].reshape(num_ues, k)


@dataclass(frozen=True, eq=False)
class _SiteGeometry:
    """Per (UE, site) terms of a chunk of UEs ``[n, S]``: the same arrays ``_coupling_db`` uses."""

    d2d_m: FloatArray
    dx_m: FloatArray  # offsets from the site's nearest copy to the UE
    dy_m: FloatArray
    los: BoolArray
    shadow_db: FloatArray

    def bearing_deg(self, ue: IntArray, site: IntArray) -> FloatArray:
        """Bearing of (UE, site) pairs from the site, clockwise from north (only where asked)."""
        return np.asarray(np.degrees(np.arctan2(self.dx_m[ue, site], self.dy_m[ue, site])))


def _pair_coupling_db(
    scenario: Scenario,
    cells: CellArrays,
    ues: UEs,
    ue_index: IntArray,
    geometry: _SiteGeometry,
    o2i_sigma_draw: FloatArray,
    ue: IntArray,
    cell: IntArray,
) -> FloatArray:
    """Coupling gain of (UE, cell) pairs, ``ue`` local to the chunk: ``_coupling_db``'s terms."""
    site = cells.site[cell]
    d2d_m = geometry.d2d_m[ue, site]
    h_ut_m = ues.height_m[ue_index[ue]]
    zenith_deg = 90.0 + np.degrees(np.arctan2(cells.height_m[cell] - h_ut_m, d2d_m))
    pl_db = pathloss_db(
        scenario.environment, geometry.los[ue, site], d2d_m, cells.height_m[cell], h_ut_m,
        cells.carrier_ghz[cell],
    )  # fmt: skip
    o2i_db = _o2i_db(ues, ue_index[ue], cells.carrier_ghz[cell], o2i_sigma_draw)
    gain_dbi = sector_gain_dbi(
        geometry.bearing_deg(ue, site) - cells.azimuth_deg[cell], zenith_deg, cells.tilt_deg[cell]
    )
    return np.asarray(gain_dbi - pl_db - geometry.shadow_db[ue, site] - o2i_db, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class SiteImages:
    """A k-d tree over every wrapped copy of the sites, for each UE's near sites.

    Point ``w * S + s`` is site ``s`` moved by ``shifts_m[w]``. Within ``radius_cap_m`` (just
    under half the shortest wrap shift) a UE sees at most one copy of each site, its nearest.
    """

    tree: cKDTree
    num_sites: int
    radius_cap_m: float


def site_images(site_xy_m: FloatArray, shifts_m: FloatArray) -> SiteImages:
    """Index the sites' wrapped copies (``shifts_m`` ``[W, 2]``, the identity first)."""
    points = (site_xy_m[None, :, :] + shifts_m[:, None, :]).reshape(-1, 2)
    cap = np.inf
    if shifts_m.shape[0] > 1:
        cap = 0.5 * float(np.min(np.hypot(shifts_m[1:, 0], shifts_m[1:, 1]))) * (1.0 - 1e-9)
    return SiteImages(tree=cKDTree(points), num_sites=site_xy_m.shape[0], radius_cap_m=cap)


def _near_pairs(
    images: SiteImages, ue_xy_m: FloatArray, near_sites: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """(UE, site) pairs of each UE's ``near_sites`` nearest sites, and how far the rest lie.

    Returns the pairs (UE local to ``ue_xy_m``, UE-major) and each UE's far bound: every site
    not in its pairs lies at least that far (wrap-around: its nearest copy does).
    """
    n = ue_xy_m.shape[0]
    k = min(near_sites, images.num_sites)
    dist, point = images.tree.query(ue_xy_m, k=k, distance_upper_bound=images.radius_cap_m)
    dist, point = dist.reshape(n, k), point.reshape(n, k)
    found = np.isfinite(dist)  # a missing neighbour: none left within the cap
    # any copy not found is at least as far as the k-th found, or beyond the cap
    radius = np.where(found[:, -1], dist[:, -1], images.radius_cap_m)
    ue = np.broadcast_to(np.arange(n)[:, None], (n, k))[found]
    far_m = np.asarray(radius * (1.0 - 1e-9), dtype=np.float64)
    return ue.astype(np.int64), (point[found] % images.num_sites).astype(np.int64), far_m


def _pair_offsets_m(
    ue_x_m: FloatArray,
    ue_y_m: FloatArray,
    site_xy_m: FloatArray,
    shifts_m: FloatArray,
    site: IntArray,
) -> tuple[FloatArray, FloatArray]:
    """``nearest_image_offsets_m`` for (UE, site) pairs (UE coordinates given per pair).

    The same operations in the same order, so each offset is the dense table's, bit for bit.
    """  # fmt: skip
    dx = ue_x_m - site_xy_m[site, 0] - shifts_m[0, 0]
    dy = ue_y_m - site_xy_m[site, 1] - shifts_m[0, 1]
    if shifts_m.shape[0] < 2:
        return dx, dy
    half_m = 0.5 * float(np.min(np.hypot(shifts_m[1:, 0], shifts_m[1:, 1])))
    far = np.flatnonzero(dx * dx + dy * dy >= half_m * half_m)
    fx = ue_x_m[far, None] - site_xy_m[site[far], 0, None] - shifts_m[None, :, 0]
    fy = ue_y_m[far, None] - site_xy_m[site[far], 1, None] - shifts_m[None, :, 1]
    nearest = np.argmin(fx * fx + fy * fy, axis=1)[:, None]
    dx[far] = np.take_along_axis(fx, nearest, axis=1)[:, 0]
    dy[far] = np.take_along_axis(fy, nearest, axis=1)[:, 0]
    return dx, dy


class _PairTable:
    """Geometry and group bounds of a chunk's UE-site pairs, filled only for pairs asked for.

    Dense ``[n, S]`` / ``[n, G]`` tables; a pair never asked for keeps NaN geometry and a
    ``-inf`` bound, so it is never kept. Each filled entry equals ``_coupling_db``'s.
    """

    def __init__(
        self, scenario: Scenario, site_xy_m: FloatArray, ues: UEs, ue_index: IntArray,
        key: int, shifts_m: FloatArray, groups: SiteLayerGroups, o2i_sigma_draw: FloatArray,
    ) -> None:  # fmt: skip
        n, num_sites = ue_index.size, site_xy_m.shape[0]
        self.scenario, self.site_xy_m, self.ues, self.ue_index = scenario, site_xy_m, ues, ue_index
        self.shifts_m, self.groups, self.o2i_sigma_draw = shifts_m, groups, o2i_sigma_draw
        sites = np.arange(num_sites)[None, :]
        self.u_los = pair_uniform(key, _STREAM_LOS, ue_index[:, None], sites)
        self.u_shadow = pair_uniform(key, _STREAM_SHADOW, ue_index[:, None], sites)
        self.asked = np.zeros((n, num_sites), dtype=bool)
        self.geometry = _SiteGeometry(
            d2d_m=np.full((n, num_sites), np.nan),
            dx_m=np.full((n, num_sites), np.nan),
            dy_m=np.full((n, num_sites), np.nan),
            los=np.zeros((n, num_sites), dtype=bool),
            shadow_db=np.full((n, num_sites), np.nan),
        )
        self.bound_dbm = np.full((n, groups.site.size), -np.inf)
        self.group_start = np.searchsorted(groups.site, np.arange(num_sites + 1)).astype(np.int64)
        # O2I loss of each UE at each group's lowest carrier, [n, F] over the distinct carriers
        carriers, self.group_carrier = np.unique(groups.fc_min_ghz, return_inverse=True)
        self.o2i_db = _o2i_db(ues, ue_index[:, None], carriers, o2i_sigma_draw)

    def add(self, ue: IntArray, site: IntArray) -> None:
        """Fill the geometry and the group bounds of new pairs (``ue`` local, not yet asked)."""
        if ue.size == 0:
            return
        scenario, ues, g = self.scenario, self.ues, self.geometry
        self.asked[ue, site] = True
        ue_global = self.ue_index[ue]
        dx, dy = _pair_offsets_m(
            ues.x_m[ue_global], ues.y_m[ue_global], self.site_xy_m, self.shifts_m, site
        )
        d2d = np.hypot(dx, dy)
        h_ut = ues.height_m[ue_global]
        los = self.u_los[ue, site] < los_probability(scenario.environment, d2d, h_ut)
        shadow = shadow_fading_std_db(scenario.environment, los) * ndtri(self.u_shadow[ue, site])
        g.d2d_m[ue, site], g.dx_m[ue, site], g.dy_m[ue, site] = d2d, dx, dy
        g.los[ue, site], g.shadow_db[ue, site] = los, shadow
        # each pair's (site, layer) groups: the site's groups are contiguous
        counts = self.group_start[site + 1] - self.group_start[site]
        pair = np.repeat(np.arange(ue.size), counts)
        group = (
            self.group_start[site][pair]
            + np.arange(pair.size)
            - np.repeat(np.cumsum(counts) - counts, counts)
        )
        groups = self.groups
        self.bound_dbm[ue[pair], group] = (
            groups.best_offset_dbm[group]
            - pathloss_lower_bound_db(
                scenario.environment, los[pair], d2d[pair], h_ut[pair], groups.fc_min_ghz[group]
            )
            - shadow[pair]
            - self.o2i_db[ue[pair], self.group_carrier[group]]
            + BOUND_SLACK_DB
        )


def _far_survivors(
    table: _PairTable, far_m: FloatArray, threshold: dict[int, FloatArray]
) -> tuple[IntArray, IntArray]:
    """Pairs not yet asked for that a distance bound cannot rule out, ``(ue, site)``.

    Per layer, an NLOS site's groups have RSRP at most the layer's best offset, minus the NLOS
    path-loss bound at the lowest carrier, minus the UE's lowest O2I loss, minus the pair's
    shadow fading. Two passes: (1) with ``d >= far_m`` and the draws alone: a pair whose LOS
    draw clears the LOS probability's bound over ``d >= far_m`` (``los_probability_upper_bound``)
    is NLOS, and out unless its shadow draw is under ``ndtr(margin / sigma_NLOS)``; (2) the rest
    with their exact distance, LOS state and shadow fading. LOS pairs stay in.
    """
    scenario, groups, ues = table.scenario, table.groups, table.ues
    env, ue_ids = scenario.environment, table.ue_index
    h_ut = ues.height_m[ue_ids]
    sigma = SHADOW_FADING_STD_DB[(env, False)]
    # per layer: its best offset, lowest carrier and each UE's lowest O2I loss, [n]
    layer_terms = []
    for layer, kth in threshold.items():
        in_layer = groups.layer == layer
        carriers = np.unique(groups.fc_min_ghz[in_layer])
        o2i_min = _o2i_db(ues, ue_ids[:, None], carriers, table.o2i_sigma_draw).min(axis=1)
        offset = float(groups.best_offset_dbm[in_layer].max())
        layer_terms.append((offset - o2i_min - kth + BOUND_SLACK_DB, float(carriers.min())))
    shadow_limit = np.zeros(ue_ids.size)
    for margin_db, fc_ghz in layer_terms:
        pl_min = pathloss_lower_bound_db(env, False, far_m, h_ut, fc_ghz)
        limit = ndtr((margin_db - pl_min) / sigma + FAR_SCREEN_MARGIN_SIGMA)
        shadow_limit = np.maximum(shadow_limit, limit)
    los_limit = los_probability_upper_bound(env, far_m, h_ut) * (1.0 + 1e-9)
    maybe = (table.u_los < los_limit[:, None]) | (table.u_shadow <= shadow_limit[:, None])
    ue, site = np.nonzero(maybe & ~table.asked)
    ue, site = ue.astype(np.int64), site.astype(np.int64)
    # (2) exact geometry and draws of the pairs left (the values ``_PairTable.add`` computes)
    dx, dy = _pair_offsets_m(
        ues.x_m[ue_ids[ue]], ues.y_m[ue_ids[ue]], table.site_xy_m, table.shifts_m, site
    )
    d2d = np.hypot(dx, dy)
    los = table.u_los[ue, site] < los_probability(env, d2d, h_ut[ue])
    shadow_db = sigma * ndtri(table.u_shadow[ue, site])
    inside = los.copy()
    for margin_db, fc_ghz in layer_terms:
        pl_min = pathloss_lower_bound_db(env, False, d2d, h_ut[ue], fc_ghz)
        inside |= margin_db[ue] - pl_min - shadow_db >= -FAR_SCREEN_MARGIN_DB
    return ue[inside], site[inside]


_LayerPlan = tuple[int, IntArray, int, int]  # layer, its groups, K of the layer, seed groups


def _layer_plan(cells: CellArrays, groups: SiteLayerGroups, top_k: int) -> list[_LayerPlan]:
    """Per layer: its groups, its share of the K strongest and how many groups seed it."""
    layers = np.unique(cells.layer)
    quota = np.full(layers.size, top_k // layers.size)
    quota[: top_k % layers.size] += 1
    plan: list[_LayerPlan] = []
    for layer, wanted in zip(layers, quota, strict=True):
        in_layer = np.flatnonzero(groups.layer == layer)
        sizes = groups.sizes[in_layer]
        k = int(min(wanted, sizes.sum()))
        seeds = min(in_layer.size, -(-k // int(sizes.min())) + SEED_GROUPS_EXTRA)
        plan.append((int(layer), in_layer, k, seeds))
    return plan


def _ask_near(table: _PairTable, plan: list[_LayerPlan], images: SiteImages) -> FloatArray | None:
    """Fill each UE's near pairs; returns how far its other sites lie (None: every pair filled).

    Every pair is filled where a layer's seeds are all its groups (no threshold to screen
    with); a UE whose near groups are fewer than a layer's seeds gets all its sites (widened).
    """
    if any(seeds >= in_layer.size for _, in_layer, _, seeds in plan):
        every_ue, every_site = np.nonzero(~table.asked)
        table.add(every_ue.astype(np.int64), every_site.astype(np.int64))
        return None
    ues, ue_index = table.ues, table.ue_index
    ue_xy_m = np.column_stack((ues.x_m[ue_index], ues.y_m[ue_index]))
    near_ue, near_site, far_m = _near_pairs(images, ue_xy_m, NEAR_SITES)
    table.add(near_ue, near_site)
    short = np.zeros(ue_index.size, dtype=bool)
    for _, in_layer, _, seeds in plan:
        short |= np.isfinite(table.bound_dbm[:, in_layer]).sum(axis=1) < seeds
    wide_ue, wide_site = np.nonzero(short[:, None] & ~table.asked)
    table.add(wide_ue.astype(np.int64), wide_site.astype(np.int64))
    return far_m


def _strongest_pruned(
    scenario: Scenario,
    site_xy_m: FloatArray,
    cells: CellArrays,
    ues: UEs,
    ue_index: IntArray,
    key: int,
    o2i_sigma_draw: FloatArray,
    shifts_m: FloatArray,
    groups: SiteLayerGroups,
    rs_plus_gain_dbm: FloatArray,
    images: SiteImages,
) -> tuple[IntArray, FloatArray]:
    """Each UE's strongest cells per layer, as ``_strongest_per_layer``, with safe bounds.

    Three steps, each leaving out only cells proven outside a UE's K strongest of a layer.
    (1) Near sites: the pairs of each UE's ``NEAR_SITES`` nearest sites (k-d tree over the
    wrapped copies) get their geometry and, per (UE, site, layer) group, an upper bound on any
    member cell's RSRP: the group's best offset, the path-loss lower bound
    (``pathloss_lower_bound_db``), the pair's own shadow fading and the UE's O2I loss at the
    group's lowest carrier. The exact RSRPs of the best-bounded groups' cells give the UE's
    K-th strongest from below (threshold); a UE whose near groups are too few gets every site.
    (2) Far sites: only the two counter-based draws of a far pair are computed; a distance
    bound with them (``_far_survivors``) rules out nearly all, the rest get step (1)'s bound.
    (3) Groups and then cells whose bound is under the threshold are never evaluated; a seed
    cell is judged by its exact RSRP, evaluated once (``_kept_cells``). Returns the columns
    ``[n, K]`` and their coupling gains.
    """
    num = ue_index.size
    rows = np.arange(num)
    top_k = scenario.top_k or cells.num_cells
    table = _PairTable(scenario, site_xy_m, ues, ue_index, key, shifts_m, groups, o2i_sigma_draw)
    geometry = table.geometry

    def coupling(ue: IntArray, cell: IntArray) -> FloatArray:
        return _pair_coupling_db(scenario, cells, ues, ue_index, geometry, o2i_sigma_draw, ue, cell)

    plan = _layer_plan(cells, groups, top_k)
    far_m = _ask_near(table, plan, images)
    bound_dbm = table.bound_dbm
    threshold: dict[int, FloatArray] = {}
    known = np.full((num, cells.num_cells), np.nan)  # coupling of the cells already evaluated
    for layer, in_layer, k, seeds in plan:
        if seeds < in_layer.size:
            # the K-th strongest among the best-bounded groups' cells: a UE's K-th from below
            bound = bound_dbm[:, in_layer]
            best = np.argpartition(-bound, seeds - 1, axis=1)[:, :seeds]
            ue, cell = _group_pairs(groups, np.repeat(rows, seeds), in_layer[best.ravel()])
            gain = coupling(ue, cell)
            known[ue, cell] = gain
            _, top = _top_per_ue(num, ue, cell, gain + rs_plus_gain_dbm[cell], k)
            threshold[layer] = top.min(axis=1)
    if far_m is not None:
        far_ue, far_site = _far_survivors(table, far_m, threshold)
        table.add(far_ue, far_site)
    picks: list[IntArray] = []
    gains: list[FloatArray] = []
    for layer, in_layer, k, seeds in plan:
        bound = bound_dbm[:, in_layer]
        if seeds >= in_layer.size:
            ue, cell = _group_pairs(groups, np.repeat(rows, in_layer.size), np.tile(in_layer, num))
            gain = coupling(ue, cell)
        else:
            ue, cell, gain = _kept_cells(
                table, cells, rs_plus_gain_dbm, known, threshold[layer], in_layer, coupling
            )
        chosen, _ = _top_per_ue(num, ue, cell, gain + rs_plus_gain_dbm[cell], k)
        picks.append(cell[chosen])
        gains.append(gain[chosen])
    return np.concatenate(picks, axis=1), np.concatenate(gains, axis=1)


def _kept_cells(
    table: _PairTable,
    cells: CellArrays,
    rs_plus_gain_dbm: FloatArray,
    known: FloatArray,
    threshold: FloatArray,
    in_layer: IntArray,
    coupling: Callable[[IntArray, IntArray], FloatArray],
) -> tuple[IntArray, IntArray, FloatArray]:
    """Return the (UE, cell) pairs of a layer not proven under ``threshold``, with couplings.

    Groups whose bound is under it go first; then each cell of the rest: a seed cell by its
    exact RSRP (``known``, not evaluated again), any other by its own offset and the
    horizontal pattern toward the UE (exact bearing) on top of its group's bound.
    """
    groups, geometry = table.groups, table.geometry
    kept_ue, kept_group = np.nonzero(table.bound_dbm[:, in_layer] >= threshold[:, None])
    group = in_layer[kept_group]
    ue, cell = _group_pairs(groups, kept_ue.astype(np.int64), group)
    exact = known[ue, cell]
    fresh = np.isnan(exact)
    inside = np.zeros(ue.size, dtype=bool)
    inside[~fresh] = exact[~fresh] + rs_plus_gain_dbm[cell[~fresh]] >= threshold[ue[~fresh]]
    counts = groups.sizes[group]
    group_bound = np.repeat(table.bound_dbm[kept_ue, group] - groups.best_offset_dbm[group], counts)
    f_ue, f_cell = ue[fresh], cell[fresh]
    cell_bound = (
        group_bound[fresh]
        + rs_plus_gain_dbm[f_cell]
        + element_gain_upper_bound_dbi(
            geometry.bearing_deg(f_ue, cells.site[f_cell]) - cells.azimuth_deg[f_cell]
        )
    )
    inside[fresh] = cell_bound >= threshold[f_ue]
    ue, cell, exact, fresh = ue[inside], cell[inside], exact[inside], fresh[inside]
    exact[fresh] = coupling(ue[fresh], cell[fresh])
    return ue, cell, exact


def compute_link_budget(
    scenario: Scenario,
    site_xy_m: FloatArray,
    cells: CellArrays,
    ues: UEs,
    rng: np.random.Generator,
    site_shifts_m: FloatArray | None = None,
    *,
    prune: bool = True,
) -> LinkBudget:
    """Compute the large-scale link budget of every UE, dense or for its K strongest cells.

    Path loss, LOS state and shadow fading are drawn per (UE, site), shared by the site's
    sectors and layers (per-site correlation); the O2I loss is per UE. The sparse budget is
    found exhaustively in chunks of UEs (a far LOS site can beat near NLOS ones), so memory
    grows with ``UEs x K`` plus one chunk, never with ``UEs x cells``. ``site_shifts_m``
    ``[W, 2]`` are wrap-around translations (None: none). RSRP is the SSB's, on each cell's
    broadcast beam; the served signal has the data beam's gain; ``rank_db`` ranks cells as
    TS 38.304 reselection does (``ranopt.twin.selection``). ``prune`` skips, per UE, the cells
    that a safe upper bound on their RSRP proves outside its K strongest (``_strongest_pruned``:
    the same cells as the exhaustive search, tested); False evaluates every cell.
    """
    key = int(rng.integers(0, 2**63 - 1))
    o2i_sigma_draw = rng.standard_normal(ues.num_ues)
    shifts_m = np.zeros((1, 2)) if site_shifts_m is None else site_shifts_m
    rs_plus_gain_dbm = cells.rs_power_dbm + cells.ssb_gain_db
    top_k = cells.num_cells if scenario.top_k is None else scenario.top_k
    dense = top_k >= cells.num_cells
    groups = site_layer_groups(cells, rs_plus_gain_dbm)
    images = site_images(site_xy_m, shifts_m)
    ids_parts: list[IntArray] = []
    coupling_parts: list[FloatArray] = []
    for start in range(0, ues.num_ues, UE_CHUNK):
        ue_index = np.arange(start, min(start + UE_CHUNK, ues.num_ues))
        if prune and not dense:
            columns, gains = _strongest_pruned(
                scenario, site_xy_m, cells, ues, ue_index, key, o2i_sigma_draw, shifts_m,
                groups, rs_plus_gain_dbm, images,
            )  # fmt: skip
            ids_parts.append(columns)
            coupling_parts.append(gains)
            continue
        coupling = _coupling_db(
            scenario, site_xy_m, cells, ues, ue_index, key, o2i_sigma_draw, shifts_m
        )
        if dense:
            columns = np.broadcast_to(np.arange(cells.num_cells), coupling.shape)
        else:
            columns = _strongest_per_layer(coupling + rs_plus_gain_dbm, cells.layer, top_k)
        ids_parts.append(np.ascontiguousarray(columns, dtype=np.int64))
        coupling_parts.append(np.take_along_axis(coupling, columns, axis=1))
    cell_idx = np.concatenate(ids_parts)
    coupling_db = np.concatenate(coupling_parts)
    coupling_w = db_to_lin(coupling_db) * cells.tx_power_w[cell_idx]
    rsrp_dbm = rs_plus_gain_dbm[cell_idx] + coupling_db
    supported = band_supported(ues.supports_n78[:, None], cells.band[cell_idx])
    return LinkBudget(
        cell_idx=cell_idx,
        rsrp_dbm=rsrp_dbm,
        signal_w=coupling_w * db_to_lin(cells.array_gain_db[cell_idx]),
        interference_w=coupling_w * db_to_lin(cells.interference_array_gain_db[cell_idx]),
        dense=dense,
        rank_db=selection_rank_db(
            rsrp_dbm,
            cells.reselection_priority[cell_idx],
            cells.thresh_high_db[cell_idx],
            scenario.rsrp_min_dbm,
        ),
        supported=supported,
    )
