"""The twin of an operator's network, built from its topology instead of a hexagonal preset.

A topology lists sites (position in metres or latitude/longitude, antenna height) and cells
(site, layer, sector, azimuth, tilt, carrier, bandwidth, SCS, PRBs, maximum power). Whatever
a record leaves out gets the documented default of ``CELL_DEFAULTS`` / ``SITE_DEFAULTS`` and a
``TopologyWarning`` naming the element and the field, so a model is never built silently on a
guess. Positions given as latitude/longitude are projected to a local east/north plane.

The result feeds ``ranopt.twin.model.build_twin_on``: the same UE drop, link budget and
snapshot physics as the presets, on the operator's own layout.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from ranopt.errors import ValidationError
from ranopt.twin.elements import LAYERS, MAX_NUM_PRB, Cell, Layer, Site
from ranopt.twin.layout import SECTOR_AZIMUTHS_DEG
from ranopt.twin.model import Twin, build_twin_on
from ranopt.twin.pathloss import Environment
from ranopt.twin.scenario import CAPACITY_LAYER, COVERAGE_LAYER, LayerSpec, Scenario
from ranopt.twin.selection import band_of_carrier
from ranopt.twin.units import FloatArray

# WGS 84 (NIMA TR8350.2 Table 3.1): semi-major axis a and first eccentricity squared e^2
WGS84_A_M = 6_378_137.0
WGS84_E2 = 6.694_379_990_14e-3
DEFAULT_SITE_HEIGHT_M = 25.0  # TR 38.901 Table 7.2-1: UMa BS antenna height
UMI_MAX_HEIGHT_M = 15.0  # median antenna height at or below: UMi (TR 38.901: UMi 10 m, UMa 25 m)
SINGLE_SITE_ISD_M = 500.0  # TR 38.901 Table 7.2-1 UMa ISD, for a network of one location
DENSE_MAX_CELLS = 150  # larger networks keep each UE's strongest cells only (top-K)
SPARSE_TOP_K = 24
LAYER_SPECS: dict[str, LayerSpec] = {"coverage": COVERAGE_LAYER, "capacity": CAPACITY_LAYER}
CAPACITY_MIN_CARRIER_GHZ = 3.0  # a cell without a layer: mid-band (n77/n78) is capacity
_T = TypeVar("_T", int, float)


@dataclass(frozen=True)
class SiteRecord:
    """A site as an inventory lists it; ``None`` marks a field the inventory lacks."""

    name: str
    x_m: float | None = None  # east of the network's origin, m
    y_m: float | None = None  # north of the network's origin, m
    latitude_deg: float | None = None  # WGS 84
    longitude_deg: float | None = None  # WGS 84
    height_m: float | None = None  # antenna height above ground, m


@dataclass(frozen=True)
class CellRecord:
    """A cell as an inventory lists it; ``None`` marks a field the inventory lacks."""

    name: str
    site: str  # name of its site
    layer: str | None = None  # "coverage" or "capacity"
    sector: int | None = None  # 0, 1, 2, ... within the site and layer
    azimuth_deg: float | None = None  # boresight, clockwise from north
    tilt_deg: float | None = None  # total (mechanical + electrical) downtilt
    carrier_ghz: float | None = None  # DL carrier centre frequency
    bandwidth_mhz: float | None = None  # channel bandwidth
    scs_khz: int | None = None  # subcarrier spacing
    num_prb: int | None = None  # N_RB of the carrier
    max_tx_power_w: float | None = None  # total RF output power at full load
    height_m: float | None = None  # antenna height when it differs from the site's, m
    x_m: float | None = None  # antenna position when it differs from the site's, m
    y_m: float | None = None


@dataclass(frozen=True)
class FieldDefault:
    """One documented default: the field, its value or rule, and where it comes from."""

    field: str
    rule: str
    source: str


# The defaults, declared as data (docs/calibration.md prints this table).
SITE_DEFAULTS: tuple[FieldDefault, ...] = (
    FieldDefault("height_m", f"{DEFAULT_SITE_HEIGHT_M} m", "TR 38.901 Table 7.2-1 (UMa)"),
)
CELL_DEFAULTS: tuple[FieldDefault, ...] = (
    FieldDefault(
        "layer",
        f"capacity at or above {CAPACITY_MIN_CARRIER_GHZ} GHz, else coverage",
        "mid-band TDD carriers (n77/n78) carry capacity",
    ),
    FieldDefault("sector", "position among the site's cells of its layer", "inventory order"),
    FieldDefault(
        "azimuth_deg", "30 + 120 x sector (30, 150, 270)", "TR 38.901 Fig. 7.2-1 (3 sectors)"
    ),
    FieldDefault(
        "tilt_deg", "coverage 12 deg, capacity 10 deg", "the layer's mechanical + electrical tilt"
    ),
    FieldDefault(
        "carrier_ghz", "coverage 1.8 GHz, capacity 3.5 GHz", "the preset layers (docs/twin.md)"
    ),
    FieldDefault("bandwidth_mhz", "coverage 20 MHz, capacity 100 MHz", "the preset layers"),
    FieldDefault("scs_khz", "coverage 15 kHz, capacity 30 kHz", "the preset layers"),
    FieldDefault("num_prb", "N_RB of (SCS, bandwidth)", "TS 38.101-1 Table 5.3.2-1"),
    FieldDefault(
        "max_tx_power_w", "coverage 40 W, capacity 316 W (55 dBm)", "EARTH macro; TR 38.864"
    ),
    FieldDefault("height_m", "the site's antenna height", "one height per site"),
)


@dataclass(frozen=True)
class TopologyWarning:
    """A field a record left out, and the default the model used instead."""

    element: str  # "cell" or "site"
    name: str
    field: str
    used: str

    @property
    def message(self) -> str:
        """One line for a log or a report."""
        return f"{self.element} {self.name!r}: no {self.field}, using {self.used}"


@dataclass(frozen=True, eq=False)
class TopologyLayout:
    """Twin sites and cells of a topology, with what was assumed to build them.

    ``cells`` keep the order of the cell records, so cell ``i`` of the twin is record ``i``.
    A twin site is one antenna location: cells whose antennas stand apart from their site's
    position or height get a site of their own.
    """

    sites: tuple[Site, ...]
    cells: tuple[Cell, ...]
    warnings: tuple[TopologyWarning, ...]
    isd_m: float  # median distance from each location to its nearest other location
    environment: Environment
    origin_deg: tuple[float, float] | None  # (latitude, longitude) of x = y = 0 if projected

    @property
    def cell_names(self) -> tuple[str, ...]:
        """Cell names in twin order."""
        return tuple(c.name for c in self.cells)


def project_to_plane_m(
    latitude_deg: FloatArray, longitude_deg: FloatArray, origin_deg: tuple[float, float]
) -> tuple[FloatArray, FloatArray]:
    """Project WGS 84 coordinates to a local east/north plane about ``origin_deg``, in metres.

    A tangent-plane approximation with the ellipsoid's radii of curvature at the origin:
    ``x = N cos(lat0) dlon``, ``y = M dlat`` (meridional radius M, prime-vertical radius N;
    Torge & Mueller, "Geodesy", 4th ed., 2012, eq. 4.12-4.15). Over a few tens of kilometres
    its error is well below a metre per kilometre, far below what a link budget resolves.
    """
    lat0_rad = np.radians(origin_deg[0])
    meridional_m, prime_vertical_m = _plane_radii_m(np.asarray(origin_deg[0]))
    x_m = prime_vertical_m * np.cos(lat0_rad) * np.radians(longitude_deg - origin_deg[1])
    y_m = meridional_m * np.radians(latitude_deg - origin_deg[0])
    return np.asarray(x_m, dtype=np.float64), np.asarray(y_m, dtype=np.float64)


def _plane_radii_m(latitude_deg: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Meridional and prime-vertical radii of curvature at ``latitude_deg`` (Torge & Mueller)."""
    # Torge & Mueller eq. 4.14 / 4.15: M = a (1 - e^2) / W^3, N = a / W, W = sqrt(1 - e^2 sin^2)
    w = np.sqrt(1.0 - WGS84_E2 * np.sin(np.radians(latitude_deg)) ** 2)
    return WGS84_A_M * (1.0 - WGS84_E2) / w**3, WGS84_A_M / w


def plane_to_wgs84_deg(
    x_m: FloatArray, y_m: FloatArray, origin_deg: tuple[float, float]
) -> tuple[FloatArray, FloatArray]:
    """Invert ``project_to_plane_m``: local east/north metres about ``origin_deg`` to WGS 84."""
    meridional_m, prime_vertical_m = _plane_radii_m(np.asarray(origin_deg[0]))
    lat0_rad = np.radians(origin_deg[0])
    latitude_deg = origin_deg[0] + np.degrees(np.asarray(y_m) / meridional_m)
    longitude_deg = origin_deg[1] + np.degrees(
        np.asarray(x_m) / (prime_vertical_m * np.cos(lat0_rad))
    )
    return np.asarray(latitude_deg, dtype=np.float64), np.asarray(longitude_deg, dtype=np.float64)


def implied_origin_deg(
    latitude_deg: FloatArray, longitude_deg: FloatArray, x_m: FloatArray, y_m: FloatArray
) -> tuple[float, float]:
    """Return the origin of a frame from points known in both WGS 84 and its x/y metres.

    Each point implies an origin (``project_to_plane_m`` solved for it by fixed-point
    iteration on the origin latitude, which converges in a few steps at city scale); the mean
    over the points is returned.
    """
    lat = np.asarray(latitude_deg, dtype=np.float64)
    lon = np.asarray(longitude_deg, dtype=np.float64)
    lat0 = lat.copy()
    for _ in range(5):
        meridional_m, _prime = _plane_radii_m(lat0)
        lat0 = lat - np.degrees(np.asarray(y_m) / meridional_m)
    _meridional, prime_vertical_m = _plane_radii_m(lat0)
    lon0 = lon - np.degrees(np.asarray(x_m) / (prime_vertical_m * np.cos(np.radians(lat0))))
    return float(lat0.mean()), float(lon0.mean())


def _site_positions_m(
    sites: Sequence[SiteRecord],
) -> tuple[dict[str, tuple[float, float]], tuple[float, float] | None]:
    """Return each site's (x, y) in metres, projecting latitude/longitude where needed."""
    if all(s.x_m is not None and s.y_m is not None for s in sites):
        return {s.name: (float(s.x_m or 0.0), float(s.y_m or 0.0)) for s in sites}, None
    unplaced = [
        s.name
        for s in sites
        if (s.x_m is None or s.y_m is None) and (s.latitude_deg is None or s.longitude_deg is None)
    ]
    if unplaced:
        msg = f"site {unplaced[0]!r}: no position (x_m/y_m or latitude_deg/longitude_deg)"
        raise ValidationError(msg)
    partial = [s.name for s in sites if s.latitude_deg is None or s.longitude_deg is None]
    if partial:
        msg = (
            f"site {partial[0]!r}: positions mix x_m/y_m and latitude/longitude; give every "
            "site x_m/y_m or every site latitude_deg/longitude_deg"
        )
        raise ValidationError(msg)
    lat = np.array([float(s.latitude_deg or 0.0) for s in sites])
    lon = np.array([float(s.longitude_deg or 0.0) for s in sites])
    origin = (float(lat.mean()), float(lon.mean()))
    x_m, y_m = project_to_plane_m(lat, lon, origin)
    positions = {s.name: (float(x), float(y)) for s, x, y in zip(sites, x_m, y_m, strict=True)}
    return positions, origin


def _layer_of(cell: CellRecord, warn: list[TopologyWarning]) -> Layer:
    if cell.layer is not None:
        if cell.layer not in LAYERS:
            msg = f"cell {cell.name!r}: layer must be one of {LAYERS}, got {cell.layer!r}"
            raise ValidationError(msg)
        return "coverage" if cell.layer == "coverage" else "capacity"
    if cell.carrier_ghz is None:
        warn.append(TopologyWarning("cell", cell.name, "layer", "coverage (no carrier either)"))
        return "coverage"
    layer: Layer = "capacity" if cell.carrier_ghz >= CAPACITY_MIN_CARRIER_GHZ else "coverage"
    warn.append(TopologyWarning("cell", cell.name, "layer", f"{layer} (from its carrier)"))
    return layer


def _value(
    given: _T | None, default: _T, cell: CellRecord, field: str, warn: list[TopologyWarning]
) -> _T:
    """Return ``given``, or ``default`` with a warning naming the cell and the field."""
    if given is not None:
        return given
    warn.append(TopologyWarning("cell", cell.name, field, str(default)))
    return default


def _num_prb(
    cell: CellRecord, scs_khz: int, bandwidth_mhz: float, warn: list[TopologyWarning]
) -> int:
    if cell.num_prb is not None:
        return int(cell.num_prb)
    key = (int(scs_khz), int(bandwidth_mhz))
    if key not in MAX_NUM_PRB or float(bandwidth_mhz) != key[1]:
        msg = (
            f"cell {cell.name!r}: no num_prb, and no TS 38.101-1 N_RB for scs_khz={scs_khz}, "
            f"bandwidth_mhz={bandwidth_mhz}"
        )
        raise ValidationError(msg)
    warn.append(TopologyWarning("cell", cell.name, "num_prb", f"{MAX_NUM_PRB[key]} (TS 38.101-1)"))
    return MAX_NUM_PRB[key]


def _nearest_neighbour_median_m(xy_m: FloatArray) -> float:
    """Median distance from each distinct location to its nearest other location."""
    unique = np.unique(np.round(xy_m, 3), axis=0)
    if unique.shape[0] < 2:
        return SINGLE_SITE_ISD_M
    # [S, S] pairwise distances (sites number in the thousands at most)
    d = np.hypot(unique[:, None, 0] - unique[None, :, 0], unique[:, None, 1] - unique[None, :, 1])
    np.fill_diagonal(d, np.inf)
    return float(np.median(d.min(axis=1)))


def _require_unique(sites: Sequence[SiteRecord], cells: Sequence[CellRecord]) -> None:
    for kind, names in (("site", [s.name for s in sites]), ("cell", [c.name for c in cells])):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                msg = f"{kind} {name!r}: duplicate name"
                raise ValidationError(msg)
            seen.add(name)


def _twin_cell(
    cell: CellRecord, layer: Layer, site: int, default_sector: int, warn: list[TopologyWarning]
) -> Cell:
    """One twin cell from its record and its layer's defaults."""
    spec = LAYER_SPECS[layer]
    sector = _value(cell.sector, default_sector, cell, "sector", warn)
    azimuth_deg = _value(
        cell.azimuth_deg, SECTOR_AZIMUTHS_DEG[sector % 3], cell, "azimuth_deg", warn
    )
    tilt_deg = _value(
        cell.tilt_deg, spec.mech_tilt_deg + spec.elec_tilt_deg, cell, "tilt_deg", warn
    )
    carrier_ghz = _value(cell.carrier_ghz, spec.carrier_ghz, cell, "carrier_ghz", warn)
    bandwidth_mhz = _value(cell.bandwidth_mhz, spec.bandwidth_mhz, cell, "bandwidth_mhz", warn)
    scs_khz = _value(cell.scs_khz, spec.scs_khz, cell, "scs_khz", warn)
    num_prb = _num_prb(cell, scs_khz, bandwidth_mhz, warn)
    max_tx_power_w = _value(
        cell.max_tx_power_w, spec.power.max_tx_power_w, cell, "max_tx_power_w", warn
    )
    if not max_tx_power_w > 0 or not np.isfinite(max_tx_power_w):
        msg = f"cell {cell.name!r}: max_tx_power_w must be > 0, got {max_tx_power_w}"
        raise ValidationError(msg)
    return Cell(
        name=cell.name,
        site=site,
        sector=sector,
        layer=layer,
        azimuth_deg=float(azimuth_deg) % 360.0,
        carrier_ghz=float(carrier_ghz),
        bandwidth_mhz=float(bandwidth_mhz),
        scs_khz=int(scs_khz),
        duplex=spec.duplex,
        dl_duty=spec.dl_duty,
        # the topology gives the total downtilt: carry it as the mechanical part
        mech_tilt_deg=float(tilt_deg),
        elec_tilt_deg=0.0,
        array_gain_db=spec.array_gain_db,
        interference_array_gain_db=spec.interference_array_gain_db,
        power=replace(spec.power, max_tx_power_per_trx_w=max_tx_power_w / spec.power.num_trx),
        num_prb=num_prb,
        # the layer's radio configuration: SSB beam, TS 38.304 reselection priority and
        # threshX-HighP, MIMO layers, MU-MIMO pairing and muting options; the band from the
        # carrier (a UE without n78 support cannot use an n78 cell)
        ssb_gain_db=spec.ssb_gain_db,
        band=band_of_carrier(float(carrier_ghz)),
        reselection_priority=spec.reselection_priority,
        thresh_high_db=spec.thresh_high_db,
        max_layers=spec.max_layers,
        mu_mimo_max_users=spec.mu_mimo_max_users,
        mimo_trx_options=spec.mimo_trx_options,
    )


def topology_layout(sites: Sequence[SiteRecord], cells: Sequence[CellRecord]) -> TopologyLayout:
    """Turn site and cell records into twin sites and cells, filling documented defaults.

    Raises ``ValidationError`` naming the element and field when a record cannot be placed
    (no position, unknown site, a duplicate name, an impossible value).
    """
    if not sites or not cells:
        msg = "a topology needs at least one site and one cell"
        raise ValidationError(msg)
    _require_unique(sites, cells)
    warn: list[TopologyWarning] = []
    positions, origin = _site_positions_m(sites)
    heights: dict[str, float] = {}
    for s in sites:
        if s.height_m is None:
            warn.append(TopologyWarning("site", s.name, "height_m", f"{DEFAULT_SITE_HEIGHT_M} m"))
        heights[s.name] = DEFAULT_SITE_HEIGHT_M if s.height_m is None else float(s.height_m)

    twin_sites: list[Site] = []
    location_index: dict[tuple[str, float, float, float], int] = {}
    sector_count: dict[tuple[str, str], int] = {}
    twin_cells: list[Cell] = []
    for cell in cells:
        if cell.site not in positions:
            msg = f"cell {cell.name!r}: unknown site {cell.site!r}"
            raise ValidationError(msg)
        layer = _layer_of(cell, warn)
        base_x, base_y = positions[cell.site]
        x_m = base_x if cell.x_m is None else float(cell.x_m)
        y_m = base_y if cell.y_m is None else float(cell.y_m)
        height_m = heights[cell.site] if cell.height_m is None else float(cell.height_m)
        key = (cell.site, round(x_m, 3), round(y_m, 3), round(height_m, 3))
        if key not in location_index:
            apart = any(k[0] == cell.site for k in location_index)
            location_index[key] = len(twin_sites)
            name = f"{cell.site}/{cell.name}" if apart else cell.site
            twin_sites.append(Site(name=name, x_m=x_m, y_m=y_m, height_m=height_m))
        default_sector = sector_count.get((cell.site, layer), 0)
        sector_count[(cell.site, layer)] = default_sector + 1
        twin_cells.append(_twin_cell(cell, layer, location_index[key], default_sector, warn))
    # the spacing of the network's sites (an antenna on a mast of its own beside its site
    # does not make the grid denser)
    xy_m = np.array([positions[s.name] for s in sites], dtype=np.float64)
    median_height_m = float(np.median([s.height_m for s in twin_sites]))
    environment: Environment = "UMi" if median_height_m <= UMI_MAX_HEIGHT_M else "UMa"
    return TopologyLayout(
        sites=tuple(twin_sites),
        cells=tuple(twin_cells),
        warnings=tuple(warn),
        isd_m=_nearest_neighbour_median_m(xy_m),
        environment=environment,
        origin_deg=origin,
    )


def topology_scenario(
    layout: TopologyLayout,
    *,
    name: str,
    seed: int,
    num_ues: int,
    interval_min: int = 15,
    **overrides: object,
) -> Scenario:
    """Return the scenario of a topology twin: its layout's spacing, heights and environment.

    ``overrides`` set any other ``Scenario`` field (hotspots, demand, variability) by name.
    """
    heights = [s.height_m for s in layout.sites]
    # TR 38.901 Table 7.4.1-1: minimum BS-UE distance 35 m (UMa), 10 m (UMi)
    min_distance_m = 35.0 if layout.environment == "UMa" else 10.0
    if layout.isd_m / np.sqrt(3.0) < 2.0 * min_distance_m:
        msg = (
            f"sites stand {layout.isd_m:.0f} m apart (median): too dense for a UE drop that "
            f"keeps {min_distance_m:.0f} m from every mast"
        )
        raise ValidationError(msg)
    base = Scenario(
        name=name,
        num_sites=len(layout.sites),
        num_ues=num_ues,
        seed=seed,
        environment=layout.environment,
        isd_m=layout.isd_m,
        bs_height_m=float(np.median(heights)),
        min_distance_m=min_distance_m,
        top_k=None if len(layout.cells) <= DENSE_MAX_CELLS else SPARSE_TOP_K,
        interval_min=interval_min,
        layout="topology",
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def build_topology_twin(layout: TopologyLayout, scenario: Scenario, *, prune: bool = True) -> Twin:
    """Build the twin of a topology layout under ``scenario`` (its UE drop, traffic, seed).

    ``prune=False`` uses the exhaustive top-K search (``ranopt.twin.model.build_twin_on``).
    """
    if scenario.layout != "topology" or scenario.num_sites != len(layout.sites):
        msg = (
            f"scenario must have layout 'topology' and {len(layout.sites)} sites, "
            f"got {scenario.layout!r} with {scenario.num_sites}"
        )
        raise ValidationError(msg)
    return build_twin_on(scenario, layout.sites, layout.cells, prune=prune)
