"""Link budget: coupling gain and RSRP per (UE, cell), dense or for each UE's K strongest cells."""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from ranopt.twin.antenna import sector_gain_dbi
from ranopt.twin.network import CellArrays
from ranopt.twin.pathloss import (
    O2I_HIGH_LOSS_STD_DB,
    O2I_LOW_LOSS_STD_DB,
    los_probability,
    o2i_high_loss_db,
    o2i_low_loss_db,
    pathloss_db,
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
    identity alone means no wrap-around).
    """
    # [n, S, W] offsets to every copy of every site
    dx = ue_x_m[:, None, None] - site_xy_m[None, :, 0, None] - shifts_m[None, None, :, 0]
    dy = ue_y_m[:, None, None] - site_xy_m[None, :, 1, None] - shifts_m[None, None, :, 1]
    nearest = np.argmin(dx * dx + dy * dy, axis=2)[..., None]  # [n, S, 1]
    return (
        np.take_along_axis(dx, nearest, axis=2)[..., 0],
        np.take_along_axis(dy, nearest, axis=2)[..., 0],
    )


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


def _strongest_per_layer(rsrp_dbm: FloatArray, cell_layer: IntArray, top_k: int) -> IntArray:
    """Columns of the ``top_k`` strongest cells, split evenly over the layers, ``[n, top_k]``.

    Keeping each layer's strongest cells (not the strongest overall) keeps the co-channel
    interferers of both carriers, whatever the layers' RSRP offset.
    """
    layers = np.unique(cell_layer)
    quota = np.full(layers.size, top_k // layers.size)
    quota[: top_k % layers.size] += 1
    picks = []
    for layer, wanted in zip(layers, quota, strict=True):
        columns = np.flatnonzero(cell_layer == layer)
        k = int(min(wanted, columns.size))
        part = np.argpartition(-rsrp_dbm[:, columns], k - 1, axis=1)[:, :k]
        picks.append(columns[part])
    return np.concatenate(picks, axis=1)


def compute_link_budget(
    scenario: Scenario,
    site_xy_m: FloatArray,
    cells: CellArrays,
    ues: UEs,
    rng: np.random.Generator,
    site_shifts_m: FloatArray | None = None,
) -> LinkBudget:
    """Compute the large-scale link budget of every UE, dense or for its K strongest cells.

    Path loss, LOS state and shadow fading are drawn per (UE, site), shared by the site's
    sectors and layers (per-site correlation); the O2I loss is per UE. The sparse budget is
    found exhaustively in chunks of UEs (a far LOS site can beat near NLOS ones), so memory
    grows with ``UEs x K`` plus one chunk, never with ``UEs x cells``. ``site_shifts_m``
    ``[W, 2]`` are wrap-around translations (None: none). RSRP is the SSB's, on each cell's
    broadcast beam; the served signal has the data beam's gain; ``rank_db`` ranks cells as
    TS 38.304 reselection does (``ranopt.twin.selection``).
    """
    key = int(rng.integers(0, 2**63 - 1))
    o2i_sigma_draw = rng.standard_normal(ues.num_ues)
    shifts_m = np.zeros((1, 2)) if site_shifts_m is None else site_shifts_m
    rs_plus_gain_dbm = cells.rs_power_dbm + cells.ssb_gain_db
    ids_parts: list[IntArray] = []
    coupling_parts: list[FloatArray] = []
    for start in range(0, ues.num_ues, UE_CHUNK):
        ue_index = np.arange(start, min(start + UE_CHUNK, ues.num_ues))
        coupling = _coupling_db(
            scenario, site_xy_m, cells, ues, ue_index, key, o2i_sigma_draw, shifts_m
        )
        if scenario.top_k is None or scenario.top_k >= cells.num_cells:
            columns = np.broadcast_to(np.arange(cells.num_cells), coupling.shape)
        else:
            columns = _strongest_per_layer(coupling + rs_plus_gain_dbm, cells.layer, scenario.top_k)
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
        dense=scenario.top_k is None or scenario.top_k >= cells.num_cells,
        rank_db=selection_rank_db(
            rsrp_dbm,
            cells.reselection_priority[cell_idx],
            cells.thresh_high_db[cell_idx],
            scenario.rsrp_min_dbm,
        ),
        supported=supported,
    )
