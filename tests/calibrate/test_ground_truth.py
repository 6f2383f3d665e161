"""Calibration recovers a known ground truth on networks of several shapes.

Each ground truth is a twin built from a topology of its own (perturbed positions, removed
sites, turned and tilted sectors; latitude/longitude; an irregular layout with uneven sites)
with its own seed, hotspots and demand, and the twin's full physics: SSB-based cell selection
with reselection priorities, UEs without n78 support, MIMO, commuters whose UEs move between
home and work over the day. It runs 8 days (every cell on, except the last night, when some
capacity cells sleep), its counters go through the export path (``export_twin_run``: wide
Parquet + topology file) and are ingested into a real store. The calibrated model sees only
the stored topology and counters (``ranopt.service.calibration``).

Tolerances (the measured values, in docs/benchmarks.md#calibration, are inside them). With
600 UEs on 6-7 sites a coverage cell has 5-15 UEs, whose own random demand the counters
cannot show: even the truth's own UEs with their expected shares would not reproduce its
held-out PRB load exactly, which bounds what any model of counters can do here.
- held-out PRB-load WAPE, model driven by the day's counters: <= 15 % (the issue target),
  and <= 25 % over the night with sleeping cells alone (the coverage layer then carries the
  capacity cells' UEs, a load the all-on training days never showed);
- held-out volume WAPE, same driver: <= 2 %; connected-UE WAPE <= 5 % (UEs present by time
  of day); UE-throughput WAPE <= 6 %;
- layer shares of served volume, model vs observed: within 2 points; the share of UEs
  without n78 support fitted from the layer split within 6 points of the truth's;
- held-out PRB-load WAPE driven by the training days' demand pattern: <= 30 % (it carries
  the truth's day-to-day randomness of demand, which no model can remove);
- home-cell demand of cells while they sleep, estimated from the counters, against the
  truth's own home-cell demand: WAPE <= 25 %; with every cell on (cells below the PRB
  limit): <= 2 %.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ranopt.calibrate.home_demand import ASLEEP
from ranopt.ingest.export import DEFAULT_EPOCH, export_twin_run
from ranopt.ingest.pipeline import ingest_file
from ranopt.optimize.confidence import cell_demand, home_cells
from ranopt.service.calibration import NetworkModel, network_model
from ranopt.store import repository as repo
from ranopt.store.engine import Store, open_store
from ranopt.store.schemas import TopologyIn
from ranopt.twin import CellState, scenario_preset, simulate
from ranopt.twin.model import Twin
from ranopt.twin.shapes import Perturbation, irregular_records, perturbed_records
from ranopt.twin.simulate import IntervalKpis
from ranopt.twin.topology import (
    WGS84_A_M,
    WGS84_E2,
    CellRecord,
    SiteRecord,
    build_topology_twin,
    topology_layout,
    topology_scenario,
)
from ranopt.twin.traffic import demand_for_intervals

DAYS = 8
IPD = 96
SLEEP_UNTIL = 24  # the last night, 00:00-06:00
TRUTH_UES = 600  # users (a commuter's home and work are two UE slots of one user)


@dataclass
class Truth:
    twin: Twin
    kpis: IntervalKpis
    demand_mbps: np.ndarray  # [N, U]


def _run_truth(
    sites: list[SiteRecord], cells: list[CellRecord], seed: int, **scenario: object
) -> Truth:
    layout = topology_layout(sites, cells)
    twin = build_topology_twin(
        layout, topology_scenario(layout, name="truth", seed=seed, num_ues=TRUTH_UES, **scenario)
    )
    demand = demand_for_intervals(twin.traffic, seed, 0, DAYS * IPD)
    rng = np.random.default_rng(seed)
    asleep = (twin.arrays.layer == 1) & (rng.random(twin.num_cells) < 0.5)
    states = []
    for k in range(DAYS * IPD):
        active = np.ones(twin.num_cells, dtype=bool)
        if k // IPD == DAYS - 1 and k % IPD < SLEEP_UNTIL:
            active[asleep] = False
        states.append(CellState(active=active, cio_db=np.zeros(twin.num_cells)))
    return Truth(twin=twin, kpis=simulate(twin, demand, states), demand_mbps=demand)


def _to_lat_lon(topology: TopologyIn, origin: tuple[float, float]) -> TopologyIn:
    """The same topology with sites placed by latitude/longitude only, tilts left out."""
    lat0 = np.radians(origin[0])
    w = np.sqrt(1.0 - WGS84_E2 * np.sin(lat0) ** 2)
    meridional, prime = WGS84_A_M * (1.0 - WGS84_E2) / w**3, WGS84_A_M / w
    data = json.loads(topology.model_dump_json())
    for site in data["sites"]:
        site["latitude_deg"] = origin[0] + np.degrees(site.pop("y_m") / meridional)
        site["longitude_deg"] = origin[1] + np.degrees(site.pop("x_m") / (prime * np.cos(lat0)))
    for cell in data["cells"]:
        cell.pop("tilt_deg", None)
    return TopologyIn.model_validate(data)


def _calibrated(tmp_path: Path, truth: Truth, lat_lon: bool = False) -> NetworkModel:
    parquet, topo_path = export_twin_run(tmp_path / "pm.parquet", truth.twin, truth.kpis)
    topology = TopologyIn.model_validate_json(topo_path.read_text())
    if lat_lon:
        topology = _to_lat_lon(topology, (48.8566, 2.3522))
    store: Store = open_store(f"sqlite:///{tmp_path / 'ranopt.db'}")
    try:
        with store.transaction() as session:
            tid = repo.ensure_tenant(session, name="lab", now_s=0)
            net = repo.create_network(session, tenant_id=tid, topology=topology, now_s=0)
        ingest_file(store, parquet, tenant_id=tid, network=net.name)
        return network_model(store, tenant_id=tid, network_id=net.id)
    finally:
        store.dispose()


def _check(model: NetworkModel, truth: Truth) -> dict[str, float]:
    report = model.calibration.report
    heldout, profile = report.observed_demand, report.profile
    assert model.history.start_s == int(DEFAULT_EPOCH.timestamp())
    assert model.calibration.heldout_days.tolist() == [DAYS - 1]
    assert heldout.prb_load_wape <= 0.15
    assert heldout.prb_load_wape_with_sleep <= 0.25
    assert heldout.volume_wape <= 0.02
    assert heldout.conn_mean_wape <= 0.05
    assert heldout.ue_thp_wape <= 0.06
    assert profile.prb_load_wape <= 0.30
    for share in heldout.layer_shares:
        assert abs(share.model - share.observed) <= 0.02, share
    no_n78 = model.calibration.model.no_n78_share
    assert abs(no_n78 - truth.twin.scenario.ue_without_n78_fraction) <= 0.06
    # home-cell demand, estimated from counters, against the truth's own
    true_home = cell_demand(truth.demand_mbps, home_cells(truth.twin), truth.twin.num_cells)
    estimate = model.calibration.home_demand
    asleep = estimate.method == ASLEEP
    assert asleep.sum() > 0
    all_on = truth.kpis.active.all(axis=1)[:, None]

    def wape(mask: np.ndarray) -> float:
        return float(np.abs(estimate.mbps - true_home)[mask].sum() / true_home[mask].sum())

    assert wape(asleep) <= 0.25
    # with every cell on, counters show served demand: equal to the truth's where no cell
    # ran at its PRB limit (``overloaded`` marks the rest as lower bounds)
    assert wape(np.broadcast_to(all_on, true_home.shape) & ~estimate.overloaded) <= 0.02
    return {"prb": heldout.prb_load_wape, "asleep": wape(asleep)}


def test_perturbed_hexagon_with_a_missing_site(tmp_path: Path) -> None:
    base = scenario_preset("default", seed=0, num_sites=7, num_ues=300)
    shape = Perturbation(
        position_sigma_m=60.0, removed_sites=1, azimuth_sigma_deg=20.0, tilt_sigma_deg=1.5
    )
    sites, cells = perturbed_records(base, shape, np.random.default_rng(42))
    truth = _run_truth(sites, cells, seed=7)
    model = _calibrated(tmp_path, truth)
    assert model.calibration.model.num_cells == 36  # 6 sites x 6 cells
    _check(model, truth)


def test_latitude_longitude_umi_topology_without_tilts(tmp_path: Path) -> None:
    base = scenario_preset("default", seed=0, num_sites=7, num_ues=300, environment="UMi")
    shape = Perturbation(position_sigma_m=25.0, azimuth_sigma_deg=35.0, height_range_m=(8, 14))
    sites, cells = perturbed_records(base, shape, np.random.default_rng(5))
    truth = _run_truth(sites, cells, seed=21, hotspot_ue_fraction=0.35, num_hotspots=2)
    model = _calibrated(tmp_path, truth, lat_lon=True)
    assert model.layout.environment == "UMi"
    assert model.layout.origin_deg is None  # the store projected the positions at creation
    # the sites were placed where the truth has them, up to the projection's frame
    xy = np.array([(s.x_m, s.y_m) for s in model.layout.sites])
    true_xy = np.array([(s.x_m, s.y_m) for s in truth.twin.sites])
    shift = (xy - true_xy).mean(axis=0)
    assert np.abs(xy - true_xy - shift).max() < 0.5
    missing_tilt = {w.name for w in model.calibration.model.warnings if w.field == "tilt_deg"}
    assert missing_tilt == set(truth.twin.cell_names)
    _check(model, truth)


def test_irregular_layout_with_uneven_sites(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    positions = rng.uniform(-700.0, 700.0, size=(6, 2))
    sites, cells = irregular_records(rng, positions, coverage_only={5})  # X05: no capacity
    # more demand than the presets' dimensioned 90 Mbit/s a site (the coverage-only site runs
    # near its limit at the busy hour)
    truth = _run_truth(sites, cells, seed=99, busy_hour_demand_mbps_per_site=150.0)
    model = _calibrated(tmp_path, truth)
    # the coverage-only site's cells carry traffic with every cell on: the model has UEs there
    fit = model.calibration.model.fit
    names = model.calibration.model.cell_names
    assert all(fit.num_ues[names.index(f"X05-{k}-cov")] > 0 for k in range(3))
    assert not fit.unmodelled.any()
    _check(model, truth)


@pytest.mark.parametrize("days", [3.2])
def test_too_short_a_history_names_what_is_missing(tmp_path: Path, days: float) -> None:
    from ranopt.calibrate import InsufficientTelemetryError

    base = scenario_preset("default", seed=0, num_sites=1, num_ues=60)
    sites, cells = perturbed_records(base, Perturbation(), np.random.default_rng(0))
    layout = topology_layout(sites, cells)
    twin = build_topology_twin(layout, topology_scenario(layout, name="t", seed=1, num_ues=60))
    num_t = round(days * IPD)
    kpis = simulate(twin, demand_for_intervals(twin.traffic, 1, 0, num_t), CellState.all_on(6))
    parquet, topo_path = export_twin_run(tmp_path / "pm.parquet", twin, kpis)
    store = open_store(f"sqlite:///{tmp_path / 'ranopt.db'}")
    try:
        with store.transaction() as session:
            tid = repo.ensure_tenant(session, name="lab", now_s=0)
            topology = TopologyIn.model_validate_json(topo_path.read_text())
            net = repo.create_network(session, tenant_id=tid, topology=topology, now_s=0)
        ingest_file(store, parquet, tenant_id=tid, network=net.name)
        with pytest.raises(
            InsufficientTelemetryError, match=r"7 days of PM history needed, 3\.2 found"
        ):
            network_model(store, tenant_id=tid, network_id=net.id)
    finally:
        store.dispose()
