"""Network construction: sites and cells of a scenario, and their contiguous array form."""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.twin.elements import LAYERS, Cell, Site
from ranopt.twin.layout import SECTOR_AZIMUTHS_DEG, hex_site_positions_m
from ranopt.twin.power import CellPowerArrays, SitePowerModel
from ranopt.twin.scenario import Scenario
from ranopt.twin.units import FloatArray, group_sum, lin_to_db, w_to_dbm

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def cell_name(site: int, sector: int, layer: str) -> str:
    """Return the cell name used in topology files and KPIs, e.g. ``S007-2-cap``."""
    return f"S{site:03d}-{sector + 1}-{layer[:3]}"


def build_network(scenario: Scenario) -> tuple[tuple[Site, ...], tuple[Cell, ...]]:
    """Return the sites and cells of a scenario's hexagonal layout.

    Cells are ordered site by site, then layer, then sector, so cell ``i`` belongs to site
    ``i // (3 * num_layers)``.
    """
    positions_m = hex_site_positions_m(scenario.num_sites, scenario.isd_m)
    sites = tuple(
        Site(name=f"S{i:03d}", x_m=float(x), y_m=float(y), height_m=scenario.bs_height_m)
        for i, (x, y) in enumerate(positions_m)
    )
    cells = tuple(
        Cell(
            name=cell_name(site, sector, spec.layer),
            site=site,
            sector=sector,
            layer=spec.layer,
            azimuth_deg=azimuth_deg,
            carrier_ghz=spec.carrier_ghz,
            bandwidth_mhz=spec.bandwidth_mhz,
            scs_khz=spec.scs_khz,
            duplex=spec.duplex,
            dl_duty=spec.dl_duty,
            mech_tilt_deg=spec.mech_tilt_deg,
            elec_tilt_deg=spec.elec_tilt_deg,
            array_gain_db=spec.array_gain_db,
            interference_array_gain_db=spec.interference_array_gain_db,
            power=spec.power,
            ssb_gain_db=spec.ssb_gain_db,
            band=spec.band,
            reselection_priority=spec.reselection_priority,
            thresh_high_db=spec.thresh_high_db,
            max_layers=spec.max_layers,
            mu_mimo_max_users=spec.mu_mimo_max_users,
            mimo_trx_options=spec.mimo_trx_options,
        )
        for site in range(len(sites))
        for spec in scenario.layers
        for sector, azimuth_deg in enumerate(SECTOR_AZIMUTHS_DEG)
    )
    return sites, cells


@dataclass(frozen=True, eq=False)
class CellArrays:
    """Per-cell parameters as contiguous arrays ``[num_cells]`` for the kernels."""

    site: IntArray
    layer: IntArray  # index into elements.LAYERS (0 coverage, 1 capacity)
    carrier: IntArray  # index of the carrier frequency; equal index = co-channel
    azimuth_deg: FloatArray
    carrier_ghz: FloatArray
    tilt_deg: FloatArray
    height_m: FloatArray
    x_m: FloatArray
    y_m: FloatArray
    num_prb: IntArray
    dl_bandwidth_hz: FloatArray  # N_RB x 12 x SCS x DL duty: DL resources per second, Hz
    occupied_bandwidth_hz: FloatArray
    tx_power_w: FloatArray
    rs_power_dbm: FloatArray  # transmit power per resource element (RSRP reference), dBm
    array_gain_db: FloatArray
    interference_array_gain_db: FloatArray
    num_trx: FloatArray
    p0_w: FloatArray
    delta_p: FloatArray
    max_tx_power_per_trx_w: FloatArray
    p_sleep_w: FloatArray  # deep sleep, per chain
    p_light_sleep_w: FloatArray  # light sleep, per chain
    spatial_static_share: FloatArray  # power share that muting chains does not remove
    supply_loss: FloatArray  # rectifier loss before the equipment (0 where figures are at mains)
    site_overhead_w: FloatArray  # the cell's share of its site's always-on power
    ssb_gain_db: FloatArray  # broadcast-beam gain that RSRP sees
    band: npt.NDArray[np.str_]  # NR band ("n78" needs UE support)
    reselection_priority: IntArray
    thresh_high_db: FloatArray  # threshX-HighP, dB above Q_rxlevmin
    max_layers: IntArray  # SU-MIMO layers
    mu_mimo_max_users: IntArray  # co-scheduled UEs with all chains in use
    trx_options: tuple[tuple[int, ...], ...]  # per cell: chain counts it may run, full first

    @property
    def num_cells(self) -> int:
        """Number of cells."""
        return int(self.site.shape[0])

    @property
    def power(self) -> CellPowerArrays:
        """The power parameters as ``ranopt.twin.power.cell_power_w`` takes them."""
        return CellPowerArrays(
            num_trx=self.num_trx,
            p0_w=self.p0_w,
            delta_p=self.delta_p,
            max_tx_power_per_trx_w=self.max_tx_power_per_trx_w,
            p_sleep_w=self.p_sleep_w,
            p_light_sleep_w=self.p_light_sleep_w,
            spatial_static_share=self.spatial_static_share,
            supply_loss=self.supply_loss,
            site_overhead_w=self.site_overhead_w,
        )


def site_overhead_shares_w(
    site_idx: IntArray, num_sites: int, site_power: SitePowerModel | None
) -> FloatArray:
    """Share each cell's site's always-on power equally over the site's cells, W ``[C]``.

    An accounting convention: the shares add up to the site's power whatever its cells do.
    """
    if site_power is None:
        return np.zeros(site_idx.shape[0])
    cells_per_site = group_sum(site_idx, np.ones(site_idx.shape[0]), num_sites)
    return np.asarray(site_power.always_on_w / cells_per_site[site_idx], dtype=np.float64)


def cell_arrays(
    sites: tuple[Site, ...], cells: tuple[Cell, ...], site_power: SitePowerModel | None = None
) -> CellArrays:
    """Convert declared sites and cells to arrays once (``site_power``: every site's)."""
    carriers = sorted({c.carrier_ghz for c in cells})
    site_idx = np.array([c.site for c in cells], dtype=np.int64)
    tx_power_w = np.array([c.power.max_tx_power_w for c in cells])
    num_subcarriers = np.array([c.num_prb * 12 for c in cells], dtype=np.float64)
    return CellArrays(
        site=site_idx,
        layer=np.array([LAYERS.index(c.layer) for c in cells], dtype=np.int64),
        carrier=np.array([carriers.index(c.carrier_ghz) for c in cells], dtype=np.int64),
        azimuth_deg=np.array([c.azimuth_deg for c in cells]),
        carrier_ghz=np.array([c.carrier_ghz for c in cells]),
        tilt_deg=np.array([c.total_tilt_deg for c in cells]),
        height_m=np.array([sites[c.site].height_m for c in cells]),
        x_m=np.array([sites[c.site].x_m for c in cells]),
        y_m=np.array([sites[c.site].y_m for c in cells]),
        num_prb=np.array([c.num_prb for c in cells], dtype=np.int64),
        dl_bandwidth_hz=np.array([c.occupied_bandwidth_hz * c.dl_duty for c in cells]),
        occupied_bandwidth_hz=np.array([c.occupied_bandwidth_hz for c in cells]),
        tx_power_w=tx_power_w,
        rs_power_dbm=w_to_dbm(tx_power_w) - lin_to_db(num_subcarriers),
        array_gain_db=np.array([c.array_gain_db for c in cells]),
        interference_array_gain_db=np.array([c.interference_array_gain_db for c in cells]),
        num_trx=np.array([c.power.num_trx for c in cells], dtype=np.float64),
        p0_w=np.array([c.power.p0_w for c in cells]),
        delta_p=np.array([c.power.delta_p for c in cells]),
        max_tx_power_per_trx_w=np.array([c.power.max_tx_power_per_trx_w for c in cells]),
        p_sleep_w=np.array([c.power.p_sleep_w for c in cells]),
        p_light_sleep_w=np.array([c.power.light_sleep_w for c in cells]),
        spatial_static_share=np.array([c.power.spatial_static_share for c in cells]),
        supply_loss=np.array([c.power.supply_loss for c in cells]),
        site_overhead_w=site_overhead_shares_w(site_idx, len(sites), site_power),
        ssb_gain_db=np.array(
            [c.array_gain_db if c.ssb_gain_db is None else c.ssb_gain_db for c in cells]
        ),
        band=np.array([c.band for c in cells], dtype=np.str_),
        reselection_priority=np.array([c.reselection_priority for c in cells], dtype=np.int64),
        thresh_high_db=np.array([c.thresh_high_db for c in cells]),
        max_layers=np.array([c.max_layers for c in cells], dtype=np.int64),
        mu_mimo_max_users=np.array([c.mu_mimo_max_users for c in cells], dtype=np.int64),
        trx_options=tuple(
            tuple(sorted({c.power.num_trx, *c.mimo_trx_options}, reverse=True)) for c in cells
        ),
    )
