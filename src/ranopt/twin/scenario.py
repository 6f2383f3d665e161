"""Scenario: a twin's full description (layout, layers, UE drop, traffic), fixed by its seed."""

from dataclasses import dataclass, field, replace
from typing import Literal

from ranopt.errors import ValidationError
from ranopt.twin.elements import Duplex, Layer, PowerModel
from ranopt.twin.layout import rings_for_site_count
from ranopt.twin.pathloss import Environment
from ranopt.twin.power import EARTH_MACRO_CELL, MMIMO_64T64R_CELL

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


# 1.8 GHz FDD 20 MHz, 2T2R passive panel: 8-element column -> 10 log10(8) = 9.0 dB over the
# element toward every UE (the static pattern is the same for signal and interference).
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
)

# 3.5 GHz TDD 100 MHz, 64T64R: 32 TXRUs per polarisation give 10 log10(32) = 15.1 dB of beam
# gain toward the served UE; toward other cells' UEs the mean gain of a steered lambda/2 array
# over directions is 1 (0 dB).
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
    hotspot_ue_fraction: float = 0.2  # share of UEs dropped in hotspot clusters
    num_hotspots: int = 0  # 0 means one per three sites
    hotspot_std_m: float = 60.0  # Gaussian radius of a hotspot cluster
    # spatial traffic density per site area is log-normal (Lee et al., "Spatial modeling of the
    # traffic density in cellular networks", IEEE Wireless Commun. 2014); sigma of ln(density)
    area_density_sigma: float = 0.6
    business_area_fraction: float = 0.4  # share of site areas with a business-day profile
    slice_mix: tuple[float, float, float] = (0.80, 0.05, 0.15)  # eMBB, URLLC, mMTC UE shares
    slice_demand_weight: tuple[float, float, float] = (1.0, 0.25, 0.02)  # relative UE demand
    busy_hour_demand_mbps_per_site: float = 420.0  # offered DL traffic of a site at its peak
    ue_demand_sigma: float = 0.6  # log-normal spread of per-UE mean demand
    rsrp_min_dbm: float = -124.0  # TS 38.304 cl. 5.2.3.2 S-criterion: Q_rxlevmin
    ue_noise_figure_db: float = 9.0  # TR 38.802 Table A.2.1-1 (UE noise figure, below 6 GHz)
    top_k: int | None = None  # strongest cells kept per UE; None = dense UE x cell matrix
    layers: tuple[LayerSpec, ...] = (COVERAGE_LAYER, CAPACITY_LAYER)
    variability: TrafficVariability = field(default_factory=TrafficVariability)
    interval_min: int = 15  # KPI granularity, minutes
    layout: SiteLayout = "hexagonal"

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

    @property
    def num_cells(self) -> int:
        """Cells of the network: 3 sectors per site, one cell per layer."""
        return self.num_sites * 3 * len(self.layers)

    @property
    def intervals_per_day(self) -> int:
        """KPI intervals in one day."""
        return 1440 // self.interval_min


PRESETS: dict[str, Scenario] = {
    "default": Scenario(name="default", num_sites=19, num_ues=2000),
    # The default layout with evening hotspots (mobility load balancing, issue 6): a quarter of
    # the UEs in three wide clusters, at a lower per-site peak so the network average stays
    # light while the busiest cells carry several times the mean PRB load at the busy hour.
    "hotspot": Scenario(
        name="hotspot",
        num_sites=19,
        num_ues=2000,
        hotspot_ue_fraction=0.25,
        num_hotspots=3,
        hotspot_std_m=80.0,
        busy_hour_demand_mbps_per_site=300.0,
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
