"""The twin of a topology: defaults and warnings, projection, geometry per cell, UE drop."""

import numpy as np
import pytest

from ranopt.errors import ValidationError
from ranopt.twin.antenna import sector_gain_dbi
from ranopt.twin.mobility import COMMUTER_WORK
from ranopt.twin.scenario import CAPACITY_LAYER, COVERAGE_LAYER
from ranopt.twin.topology import (
    DEFAULT_SITE_HEIGHT_M,
    CellRecord,
    SiteRecord,
    build_topology_twin,
    project_to_plane_m,
    topology_layout,
    topology_scenario,
)

# Length of one degree on the WGS 84 ellipsoid (the NGA series: latitude 111132.954 -
# 559.822 cos 2phi + 1.175 cos 4phi, longitude 111412.84 cos phi - 93.5 cos 3phi + 0.118 cos
# 5phi metres); at phi = 45 deg: 111 131.78 m of latitude, 78 846.4 m of longitude.
DEGREE_LAT_45_M = 111_131.78
DEGREE_LON_45_M = 78_846.4


def test_projection_reproduces_the_wgs84_degree_lengths_at_45_degrees() -> None:
    lat = np.array([45.0, 45.5, 44.5, 45.0])
    lon = np.array([7.0, 7.0, 7.0, 8.0])
    x, y = project_to_plane_m(lat, lon, (45.0, 7.0))
    assert y[1] - y[2] == pytest.approx(DEGREE_LAT_45_M, abs=1.0)
    assert x[3] - x[0] == pytest.approx(DEGREE_LON_45_M, abs=1.0)
    assert (x[0], y[0]) == (0.0, 0.0)


def _full_cell(name: str, site: str, **fields: object) -> CellRecord:
    values: dict[str, object] = {
        "layer": "capacity", "sector": 0, "azimuth_deg": 10.0, "tilt_deg": 6.0,
        "carrier_ghz": 3.5, "bandwidth_mhz": 100.0, "scs_khz": 30, "num_prb": 273,
        "max_tx_power_w": 200.0,
    }  # fmt: skip
    values.update(fields)
    return CellRecord(name=name, site=site, **values)  # type: ignore[arg-type]


def test_missing_fields_get_documented_defaults_with_a_warning_per_cell_and_field() -> None:
    sites = [SiteRecord(name="A", x_m=0.0, y_m=0.0)]
    cells = [
        CellRecord(name="A-bare", site="A", carrier_ghz=1.8, bandwidth_mhz=20.0, scs_khz=15),
        CellRecord(name="A-mid", site="A", carrier_ghz=3.6),
        _full_cell("A-full", "A"),
    ]
    layout = topology_layout(sites, cells)
    warned = {(w.name, w.field) for w in layout.warnings}
    assert ("A", "height_m") in warned
    bare, mid, full = layout.cells
    assert bare.layer == "coverage"  # below 3 GHz
    assert mid.layer == "capacity"
    for field in ("layer", "sector", "azimuth_deg", "tilt_deg", "num_prb", "max_tx_power_w"):
        assert ("A-bare", field) in warned
    assert ("A-mid", "bandwidth_mhz") in warned
    assert not any(w.name == "A-full" for w in layout.warnings)
    assert bare.total_tilt_deg == COVERAGE_LAYER.mech_tilt_deg + COVERAGE_LAYER.elec_tilt_deg
    assert bare.num_prb == 106  # TS 38.101-1 Table 5.3.2-1: 15 kHz, 20 MHz
    assert mid.num_prb == 273  # 30 kHz, 100 MHz
    assert mid.power.max_tx_power_w == pytest.approx(CAPACITY_LAYER.power.max_tx_power_w)
    assert (bare.azimuth_deg, bare.sector) == (30.0, 0)  # TR 38.901 Fig. 7.2-1
    assert full.power.max_tx_power_w == pytest.approx(200.0)
    assert layout.sites[0].height_m == DEFAULT_SITE_HEIGHT_M
    message = next(w for w in layout.warnings if w.field == "tilt_deg").message
    assert message.startswith("cell 'A-bare': no tilt_deg, using 12.0")


def test_positions_in_latitude_longitude_and_bad_records_are_named() -> None:
    sites = [
        SiteRecord(name="P", latitude_deg=48.0, longitude_deg=2.0, height_m=30.0),
        SiteRecord(name="Q", latitude_deg=48.0, longitude_deg=2.01, height_m=30.0),
    ]
    cells = [_full_cell("P-1", "P"), _full_cell("Q-1", "Q")]
    layout = topology_layout(sites, cells)
    assert layout.origin_deg == (48.0, 2.005)
    # one degree of longitude at 48 deg is 74 625 m (WGS 84): 0.01 deg is 746.25 m
    assert layout.sites[1].x_m - layout.sites[0].x_m == pytest.approx(746.25, abs=0.5)
    assert layout.isd_m == pytest.approx(layout.sites[1].x_m - layout.sites[0].x_m)
    with pytest.raises(ValidationError, match="site 'P': positions mix"):
        topology_layout([sites[0].__class__(name="P", x_m=0.0, y_m=0.0), sites[1]], cells)
    with pytest.raises(ValidationError, match="site 'R': no position"):
        topology_layout([SiteRecord(name="R", x_m=1.0)], [_full_cell("R-1", "R")])
    with pytest.raises(ValidationError, match="cell 'Z-1': unknown site 'Z'"):
        topology_layout(sites, [_full_cell("Z-1", "Z")])
    with pytest.raises(ValidationError, match="cell 'P-1': duplicate name"):
        topology_layout(sites, [cells[0], cells[0]])


def test_each_cell_sees_the_ue_from_its_own_site_height_azimuth_and_tilt() -> None:
    """Cells of one site share path loss and shadowing: their RSRPs differ by the pattern."""
    sites = [
        SiteRecord(name="A", x_m=0.0, y_m=0.0, height_m=30.0),
        SiteRecord(name="B", x_m=600.0, y_m=100.0, height_m=18.0),
    ]
    cells = [
        _full_cell("A-0", "A", azimuth_deg=0.0, tilt_deg=4.0),
        _full_cell("A-1", "A", sector=1, azimuth_deg=100.0, tilt_deg=9.0),
        _full_cell("B-0", "B", azimuth_deg=250.0),
        _full_cell("B-1", "B", sector=1, azimuth_deg=20.0),
        _full_cell("B-2", "B", sector=2, azimuth_deg=140.0),
        # an antenna of site B on its own mast: a location of its own
        _full_cell("B-far", "B", sector=3, x_m=650.0, y_m=100.0, height_m=12.0),
    ]
    layout = topology_layout(sites, cells)
    assert [s.name for s in layout.sites] == ["A", "B", "B/B-far"]
    assert [c.site for c in layout.cells] == [0, 0, 1, 1, 1, 2]
    twin = build_topology_twin(layout, topology_scenario(layout, name="t", seed=4, num_ues=50))
    assert twin.link.dense
    ues = twin.ues
    for cell_a, cell_b in ((0, 1), (2, 3), (3, 4)):
        site = layout.sites[layout.cells[cell_a].site]
        dx, dy = ues.x_m - site.x_m, ues.y_m - site.y_m
        d2d = np.hypot(dx, dy)
        bearing = np.degrees(np.arctan2(dx, dy))
        zenith = 90.0 + np.degrees(np.arctan2(site.height_m - ues.height_m, d2d))
        gain = [
            sector_gain_dbi(
                bearing - layout.cells[c].azimuth_deg, zenith, layout.cells[c].total_tilt_deg
            )
            for c in (cell_a, cell_b)
        ]
        measured = twin.link.rsrp_dbm[:, cell_a] - twin.link.rsrp_dbm[:, cell_b]
        np.testing.assert_allclose(measured, gain[0] - gain[1], atol=1e-9)


def test_topology_ues_fill_the_sites_discs_and_avoid_their_masts() -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(-900.0, 900.0, size=(5, 2))
    sites = [SiteRecord(name=f"S{i}", x_m=x, y_m=y, height_m=25.0) for i, (x, y) in enumerate(xy)]
    cells = [_full_cell(f"S{i}-c", f"S{i}") for i in range(5)]
    layout = topology_layout(sites, cells)
    scenario = topology_scenario(layout, name="t", seed=2, num_ues=4000, hotspot_ue_fraction=0.0)
    twin = build_topology_twin(layout, scenario)
    # [U, S] distance of every UE to every site
    d = np.hypot(twin.ues.x_m[:, None] - xy[None, :, 0], twin.ues.y_m[:, None] - xy[None, :, 1])
    nearest = d.min(axis=1)
    assert nearest.max() <= layout.isd_m / np.sqrt(3.0) + 1e-9
    assert nearest.min() >= scenario.min_distance_m
    # uniform over the union of discs: a site's UEs grow with the area it alone covers
    radius = layout.isd_m / np.sqrt(3.0)
    grid = np.stack(np.meshgrid(np.linspace(-1600, 1600, 321), np.linspace(-1600, 1600, 321)), -1)
    gd = np.hypot(grid[..., None, 0] - xy[:, 0], grid[..., None, 1] - xy[:, 1])
    inside = gd.min(axis=-1) <= radius
    area_share = np.bincount(gd.argmin(axis=-1)[inside], minlength=5) / inside.sum()
    # homes are uniform; commuters' work places cluster in business areas (ranopt.twin.mobility)
    home = twin.ues.profile_kind != COMMUTER_WORK
    ue_share = np.bincount(d[home].argmin(axis=1), minlength=5) / home.sum()
    np.testing.assert_allclose(ue_share, area_share, atol=0.03)
