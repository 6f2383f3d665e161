"""Scenario: a twin's full description (layout, layers, UE drop, traffic), fixed by its seed."""

from dataclasses import dataclass, field, replace
from typing import Literal

from ranopt.errors import ValidationError
from ranopt.twin.elements import Duplex, Layer, PowerModel
from ranopt.twin.layout import rings_for_site_count
from ranopt.twin.pathloss import Environment
from ranopt.twin.power import (
    EARTH_MACRO_CELL,
    MMIMO_64T64R_CELL,
    URBAN_MACRO_SITE,
    SitePowerModel,
)

# TS 38.213 clause 11.1 pattern DDDSU with S = 10 DL : 2 guard : 2 UL symbols:
# (3 + 10/14) / 5 of the slots carry DL.
TDD_DDDSU_DL_DUTY = (3.0 + 10.0 / 14.0) / 5.0


@dataclass(frozen=True)
class LayerSpec:
    """What every cell of one layer looks like; a site has one cell per sector per layer."""

    layer: Layer
    carrier_ghz: float
    bandwidth_mhz: float
    scs_khz: int
    duplex: Duplex
    dl_duty: float
    mech_tilt_deg: float
    elec_tilt_deg: float
    array_gain_db: float
    interference_array_gain_db: float
    power: PowerModel
    ssb_gain_db: float | None = None  # broadcast-beam gain (None: the data-beam gain)
    band: str = ""
    reselection_priority: int = 0  # TS 38.331 cellReselectionPriority
    thresh_high_db: float = 0.0  # TS 38.331 threshX-HighP, dB above Q_rxlevmin
    max_layers: int = 1
    mu_mimo_max_users: int = 1
    mimo_trx_options: tuple[int, ...] = ()


# 1.8 GHz FDD 20 MHz (band n3), 2T2R passive panel: 8-element column -> 10 log10(8) = 9.0 dB
# over the element toward every UE (the static pattern is the same for signal, SSB and
# interference). The lower reselection priority; 2 layers (2T2R, and a UE has 2 receive
# antennas in the FDD bands below 2.5 GHz, TS 38.101-1 cl. 7.2).
COVERAGE_LAYER = LayerSpec(
    layer="coverage",
    carrier_ghz=1.8,
    bandwidth_mhz=20.0,
    scs_khz=15,
    duplex="FDD",
    dl_duty=1.0,
    mech_tilt_deg=4.0,
    elec_tilt_deg=8.0,
    array_gain_db=9.03,
    interference_array_gain_db=9.03,
    power=EARTH_MACRO_CELL,
    band="n3",
    reselection_priority=0,
    max_layers=2,
)

# 3.5 GHz TDD 100 MHz (band n78), 64T64R: 32 TXRUs per polarisation (8 columns x 4 rows) give
# 10 log10(32) = 15.1 dB of data-beam gain toward the served UE; toward other cells' UEs the
# mean gain of a steered lambda/2 array over directions is 1 (0 dB). The SSB goes out on one
# broad beam (a common single-beam configuration): the 4 vertical TXRU rows, the element's
# pattern horizontally, 10 log10(4) = 6.0 dB; RSRP and cell selection see that beam. Higher
# reselection priority with threshX-HighP = 10 dB (TS 38.331 allows 0-62 dB; an operator
# setting): a UE camps on n78 when its SSB RSRP exceeds Q_rxlevmin + 10 dB. Up to 4 SU-MIMO
# layers (n78 UEs have 4 receive antennas, TS 38.101-1 cl. 7.2) and up to 12 co-scheduled UEs
# (ranopt.twin.mimo); the AAU may mute to 32 or 16 transceiver chains (TR 38.864's
# spatial-domain adaptation).
CAPACITY_LAYER = LayerSpec(
    layer="capacity",
    carrier_ghz=3.5,
    bandwidth_mhz=100.0,
    scs_khz=30,
    duplex="TDD",
    dl_duty=TDD_DDDSU_DL_DUTY,
    mech_tilt_deg=4.0,
    elec_tilt_deg=6.0,
    array_gain_db=15.05,
    interference_array_gain_db=0.0,
    power=MMIMO_64T64R_CELL,
    ssb_gain_db=6.02,
    band="n78",
    reselection_priority=1,
    thresh_high_db=10.0,
    max_layers=4,
    mu_mimo_max_users=12,
    mimo_trx_options=(32, 16),
)


@dataclass(frozen=True)
class TrafficVariability:
    """Day-to-day and interval-to-interval randomness of demand (log-normal, mean 1)."""

    day_sigma: float = 0.05  # whole-network factor per day
    area_day_sigma: float = 0.10  # per-site-area factor per day
    area_interval_sigma: float = 0.08  # per-site-area AR(1) innovation per interval
    area_interval_rho: float = 0.8  # AR(1) coefficient of the per-area interval factor
    ue_interval_sigma: float = 0.30  # per-UE factor per interval


SiteLayout = Literal["hexagonal", "topology"]


@dataclass(frozen=True)
class Scenario:
    """A digital-twin scenario; with the same parameters and seed it is the same network.

    ``layout="hexagonal"`` places ``num_sites`` sites on the TR 38.901 lattice; ``"topology"``
    takes sites and cells from an operator's topology (``ranopt.twin.topology``): UEs are then
    dropped over the union of discs of radius ``isd_m / sqrt(3)`` around the sites.
    """

    name: str
    num_sites: int
    num_ues: int
    seed: int = 0
    environment: Environment = "UMa"
    isd_m: float = 500.0  # inter-site distance, TR 38.901 Table 7.2-1 (UMa 500 m, UMi 200 m)
    bs_height_m: float = 25.0  # TR 38.901 Table 7.2-1 (UMa 25 m, UMi 10 m)
    min_distance_m: float = 35.0  # TR 38.901 Table 7.4.1-1: UMa d_2D >= 35 m (UMi 10 m)
    indoor_fraction: float = 0.8  # TR 38.901 Table 7.2-1: 80 % indoor UEs
    # TR 38.901 Table 7.8-1 (large-scale calibration): 50 % of indoor UEs in high-loss buildings
    o2i_high_loss_fraction: float = 0.5
    # each UE sees every site at the nearest of its 7 wrapped copies (ITU-R M.2412 practice)
    wrap_around: bool = True
    # UEs without 3.5 GHz (n78) support: Ericsson Mobility Report (Nov. 2024) puts 5G at 71 %
    # of North America's mobile subscriptions at the end of 2024; the other 29 % are taken as
    # UEs that cannot use the n78 capacity layer
    ue_without_n78_fraction: float = 0.29
    # their demand relative to n78 users: Opensignal (Oct. 2020) measured 5G smartphone users
    # consuming 1.7-2.7 times the mobile data of 4G users in six leading 5G markets; 1 / 2.2
    legacy_ue_demand_weight: float = 0.45
    # users who spend the working day at a workplace in a business area (assumption; their
    # presence there follows ranopt.twin.mobility.AT_WORK_HOURLY)
    commuter_fraction: float = 0.35
    hotspot_ue_fraction: float = 0.1  # share of users living in hotspot clusters (dimensioned)
    num_hotspots: int = 0  # 0 means one per three sites
    hotspot_std_m: float = 60.0  # Gaussian radius of a hotspot cluster
    # spatial traffic density per site area is log-normal (Lee et al., "Spatial modeling of the
    # traffic density in cellular networks", IEEE Wireless Commun. 2014); sigma of ln(density)
    area_density_sigma: float = 0.6
    business_area_fraction: float = 0.4  # share of site areas with a business-day profile
    slice_mix: tuple[float, float, float] = (0.80, 0.05, 0.15)  # eMBB, URLLC, mMTC UE shares
    slice_demand_weight: tuple[float, float, float] = (1.0, 0.25, 0.02)  # relative UE demand
    # offered DL traffic of a site at the usage peak: dimensioned so that with every cell on
    # the busy hour serves >= 99.5 % and the 95th-percentile cell stays below 85 % PRB load
    # (tests/twin/test_dimensioning.py); the 20 MHz coverage layer, which carries the UEs
    # without n78, is what limits it
    busy_hour_demand_mbps_per_site: float = 90.0
    ue_demand_sigma: float = 0.6  # log-normal spread of per-UE mean demand
    rsrp_min_dbm: float = -124.0  # TS 38.304 cl. 5.2.3.2 S-criterion: Q_rxlevmin
    ue_noise_figure_db: float = 9.0  # TR 38.802 Table A.2.1-1 (UE noise figure, below 6 GHz)
    top_k: int | None = None  # strongest cells kept per UE; None = dense UE x cell matrix
    layers: tuple[LayerSpec, ...] = (COVERAGE_LAYER, CAPACITY_LAYER)
    variability: TrafficVariability = field(default_factory=TrafficVariability)
    interval_min: int = 15  # KPI granularity, minutes
    layout: SiteLayout = "hexagonal"
    site_power: SitePowerModel = URBAN_MACRO_SITE  # what every site keeps on

    def __post_init__(self) -> None:
        """Reject parameters that would build no valid network."""
        if self.layout == "hexagonal":
            rings_for_site_count(self.num_sites)
        elif self.layout != "topology" or self.num_sites < 1:
            msg = f"layout must be 'hexagonal' or 'topology' with sites >= 1, got {self.layout!r}"
            raise ValidationError(msg)
        if self.num_ues < 1:
            msg = f"num_ues must be >= 1, got {self.num_ues}"
            raise ValidationError(msg)
        if self.environment not in ("UMa", "UMi"):
            msg = f"environment must be 'UMa' or 'UMi', got {self.environment!r}"
            raise ValidationError(msg)
        if self.top_k is not None and self.top_k < 1:
            msg = f"top_k must be >= 1 or None, got {self.top_k}"
            raise ValidationError(msg)
        if abs(sum(self.slice_mix) - 1.0) > 1e-9:
            msg = f"slice_mix must sum to 1, got {self.slice_mix}"
            raise ValidationError(msg)
        if 1440 % self.interval_min != 0:
            msg = f"interval_min must divide a day, got {self.interval_min}"
            raise ValidationError(msg)
        for name in ("o2i_high_loss_fraction", "ue_without_n78_fraction", "commuter_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                msg = f"{name} must lie in [0, 1], got {value}"
                raise ValidationError(msg)

    @property
    def num_cells(self) -> int:
        """Cells of the network: 3 sectors per site, one cell per layer."""
        return self.num_sites * 3 * len(self.layers)

    @property
    def intervals_per_day(self) -> int:
        """KPI intervals in one day."""
        return 1440 // self.interval_min


PRESETS: dict[str, Scenario] = {
    "default": Scenario(name="default", num_sites=19, num_ues=4000),
    # The default layout with evening hotspots (mobility load balancing, issue 6): a quarter of
    # the users in three wide clusters, at the default per-site peak, so the network average
    # stays light while the cluster cells carry several times the mean PRB load at the busy
    # hour (the one preset whose cells may exceed 85 % with every cell on).
    "hotspot": Scenario(
        name="hotspot",
        num_sites=19,
        num_ues=4000,
        hotspot_ue_fraction=0.25,
        num_hotspots=3,
        hotspot_std_m=80.0,
    ),
    "medium": Scenario(name="medium", num_sites=61, num_ues=20_000, top_k=24),
    "large": Scenario(name="large", num_sites=271, num_ues=100_000, top_k=24),
}


def scenario_preset(
    name: str,
    *,
    seed: int = 0,
    num_sites: int | None = None,
    num_ues: int | None = None,
    environment: Environment | None = None,
    top_k: int | None = None,
) -> Scenario:
    """Return a named preset with optional overrides (``--sites``, ``--ues``, UMi)."""
    if name not in PRESETS:
        msg = f"scenario must be one of {sorted(PRESETS)}, got {name!r}"
        raise ValidationError(msg)
    scenario = replace(PRESETS[name], seed=seed)
    if num_sites is not None:
        scenario = replace(scenario, num_sites=num_sites)
    if num_ues is not None:
        scenario = replace(scenario, num_ues=num_ues)
    if environment == "UMi":
        # TR 38.901 Table 7.2-1: UMi-Street Canyon ISD 200 m, BS height 10 m, min distance 10 m
        scenario = replace(
            scenario, environment="UMi", isd_m=200.0, bs_height_m=10.0, min_distance_m=10.0
        )
    if top_k is not None:
        scenario = replace(scenario, top_k=top_k)
    return scenario
