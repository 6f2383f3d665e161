"""Link budget: coupling gain and RSRP per (UE, cell), dense or for each UE's K strongest cells."""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import KDTree
from scipy.special import ndtri

from ranopt.twin.antenna import sector_gain_dbi
from ranopt.twin.network import CellArrays
from ranopt.twin.pathloss import (
    O2I_LOW_LOSS_STD_DB,
    los_probability,
    o2i_low_loss_db,
    pathloss_db,
    shadow_fading_std_db,
)
from ranopt.twin.scenario import Scenario
from ranopt.twin.ues import UEs
from ranopt.twin.units import FloatArray, db_to_lin

IntArray = npt.NDArray[np.int64]
UintArray = npt.NDArray[np.uint64]

_STREAM_LOS = np.uint64(1)
_STREAM_SHADOW = np.uint64(2)
_CANDIDATE_SITES_MIN = 7


@dataclass(frozen=True, eq=False)
class LinkBudget:
    """Per-UE lists of cells with their received powers, shape ``[num_ues, k]``.

    Dense evaluation is the case ``k == num_cells`` with ``cell_idx[u] == arange(num_cells)``.
    """

    cell_idx: IntArray  # [num_ues, k] cell of each entry
    rsrp_dbm: FloatArray  # [num_ues, k] reference-signal received power per RE, dBm
    signal_w: FloatArray  # [num_ues, k] full-band received power with the served beam, W
    interference_w: FloatArray  # [num_ues, k] full-band received power toward other cells' UEs, W
    dense: bool

    @property
    def k(self) -> int:
        """Cells kept per UE."""
        return int(self.cell_idx.shape[1])


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


def _candidate_sites(scenario: Scenario, site_xy_m: FloatArray, ues: UEs) -> IntArray:
    """Sites whose cells are considered for each UE, ``[num_ues, m]``."""
    num_sites = site_xy_m.shape[0]
    if scenario.top_k is None:
        return np.broadcast_to(np.arange(num_sites), (ues.num_ues, num_sites))
    cells_per_site = 3 * len(scenario.layers)
    wanted = max(_CANDIDATE_SITES_MIN, 3 * scenario.top_k // cells_per_site + 1)
    m = min(num_sites, wanted)
    _, nearest = KDTree(site_xy_m).query(np.column_stack((ues.x_m, ues.y_m)), k=m)
    return np.asarray(nearest, dtype=np.int64).reshape(ues.num_ues, m)


def compute_link_budget(
    scenario: Scenario,
    site_xy_m: FloatArray,
    cells: CellArrays,
    ues: UEs,
    rng: np.random.Generator,
) -> LinkBudget:
    """Compute the large-scale link budget of every UE toward its candidate cells.

    Path loss, LOS state and shadow fading are drawn per (UE, site), shared by the site's
    sectors and layers (per-site correlation); the O2I loss is per UE and carrier.
    """
    key = int(rng.integers(0, 2**63 - 1))
    o2i_sigma_draw = rng.standard_normal(ues.num_ues)
    cand_sites = _candidate_sites(scenario, site_xy_m, ues)  # [U, M]
    num_ues, _m = cand_sites.shape
    ue_ids = np.arange(num_ues)[:, None]

    # [U, M] geometry of each UE-site pair
    dx = ues.x_m[:, None] - site_xy_m[cand_sites, 0]
    dy = ues.y_m[:, None] - site_xy_m[cand_sites, 1]
    d2d_m = np.hypot(dx, dy)
    h_ut_m = np.broadcast_to(ues.height_m[:, None], d2d_m.shape)
    bearing_deg = np.degrees(np.arctan2(dx, dy))  # clockwise from north
    zenith_deg = 90.0 + np.degrees(np.arctan2(scenario.bs_height_m - h_ut_m, d2d_m))

    p_los = los_probability(scenario.environment, d2d_m, h_ut_m)
    los = pair_uniform(key, _STREAM_LOS, ue_ids, cand_sites) < p_los
    shadow_db = shadow_fading_std_db(scenario.environment, los) * ndtri(
        pair_uniform(key, _STREAM_SHADOW, ue_ids, cand_sites)
    )

    # cells of each candidate site: [U, M, cells_per_site]
    cells_per_site = 3 * len(scenario.layers)
    cell_ids = cand_sites[:, :, None] * cells_per_site + np.arange(cells_per_site)
    fc_ghz = cells.carrier_ghz[cell_ids]
    pl_db = pathloss_db(
        scenario.environment,
        los[:, :, None],
        d2d_m[:, :, None],
        scenario.bs_height_m,
        h_ut_m[:, :, None],
        fc_ghz,
    )
    o2i_db = np.where(
        ues.indoor[:, None, None],
        o2i_low_loss_db(fc_ghz, ues.d2d_in_m[:, None, None])
        + O2I_LOW_LOSS_STD_DB * o2i_sigma_draw[:, None, None],
        0.0,
    )
    gain_dbi = sector_gain_dbi(
        bearing_deg[:, :, None] - cells.azimuth_deg[cell_ids],
        zenith_deg[:, :, None],
        cells.tilt_deg[cell_ids],
    )
    coupling_db = gain_dbi - pl_db - shadow_db[:, :, None] - o2i_db

    cell_ids_flat = cell_ids.reshape(num_ues, -1)
    coupling_flat = coupling_db.reshape(num_ues, -1)
    rsrp_dbm = (
        cells.rs_power_dbm[cell_ids_flat] + cells.array_gain_db[cell_ids_flat] + coupling_flat
    )
    if scenario.top_k is not None and scenario.top_k < cell_ids_flat.shape[1]:
        keep = np.argpartition(-rsrp_dbm, scenario.top_k - 1, axis=1)[:, : scenario.top_k]
        cell_ids_flat = np.take_along_axis(cell_ids_flat, keep, axis=1)
        coupling_flat = np.take_along_axis(coupling_flat, keep, axis=1)
        rsrp_dbm = np.take_along_axis(rsrp_dbm, keep, axis=1)
    dense = scenario.top_k is None
    coupling_lin = db_to_lin(coupling_flat) * cells.tx_power_w[cell_ids_flat]
    return LinkBudget(
        cell_idx=np.ascontiguousarray(cell_ids_flat),
        rsrp_dbm=np.ascontiguousarray(rsrp_dbm),
        signal_w=coupling_lin * db_to_lin(cells.array_gain_db[cell_ids_flat]),
        interference_w=coupling_lin * db_to_lin(cells.interference_array_gain_db[cell_ids_flat]),
        dense=dense,
    )
