"""Calibration against known ground truths: held-out WAPE, layer shares, fit time, per shape.

For each network shape a ground-truth twin is built from a topology of its own (perturbed
hexagons with a removed site, a hotspot-heavy layout, a UMi layout placed by latitude and
longitude without tilts, an irregular layout with uneven sites) with its own seed. It runs
``--days`` days with every cell on, except the last ``--sleep-nights`` nights, when about
half of the capacity cells sleep 00:00-06:00. Its counters go through the export path
(wide Parquet + topology file) into a SQLite store; the model sees only the stored topology
and counters (``ranopt.service.calibration.network_model``). The last two days are held out.

Measured per shape: per-cell PRB-load, volume, UE-throughput and connected-UE WAPE on the
held-out days with the model driven by each held-out interval's estimated home-cell demand
(target: PRB load <= 15 %), the same over the sleeping nights alone, the WAPE with the model
driven by the training days' demand pattern, the layer shares of served volume, the
home-cell demand estimated for sleeping cells against the truth's own, and the fit time.
Baseline in the same run: the uncalibrated topology model (candidate UEs, every UE of a cell
with the same share, no fit), scored on the same held-out days. Prints one JSON object.
"""

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ranopt.calibrate import evaluate_fit
from ranopt.calibrate.fit import candidate_twin
from ranopt.calibrate.home_demand import ASLEEP
from ranopt.calibrate.model import home_cells_of
from ranopt.ingest.export import export_twin_run
from ranopt.ingest.pipeline import ingest_file
from ranopt.optimize.confidence import cell_demand, home_cells
from ranopt.service.calibration import NetworkCalibrationConfig, network_model
from ranopt.store import repository as repo
from ranopt.store.engine import open_store
from ranopt.store.schemas import TopologyIn
from ranopt.twin import CellState, scenario_preset, simulate
from ranopt.twin.elements import LAYERS
from ranopt.twin.model import Twin
from ranopt.twin.shapes import Perturbation, irregular_records, perturbed_records
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
from ranopt.twin.units import group_sum

IPD = 96
SLEEP_UNTIL = 24  # 06:00
TARGET_PRB_WAPE = 0.15


def irregular_sites(seed: int, num_sites: int) -> tuple[list[SiteRecord], list[CellRecord]]:
    """Sites scattered at random, one with 4 sectors, every fourth without a capacity layer."""
    rng = np.random.default_rng(seed)
    spread_m = 350.0 * np.sqrt(num_sites)
    positions = rng.uniform(-spread_m, spread_m, size=(num_sites, 2))
    return irregular_records(rng, positions, coverage_only=set(range(3, num_sites, 4)))


def shapes(num_sites: int, num_ues: int) -> dict[str, dict[str, Any]]:
    """The network shapes: records, the truth's scenario overrides, how the topology is stored."""
    rng = np.random.default_rng(2026)
    uma = scenario_preset("default", seed=0, num_sites=num_sites, num_ues=num_ues)
    umi = scenario_preset(
        "default", seed=0, num_sites=num_sites, num_ues=num_ues, environment="UMi"
    )
    moved = Perturbation(
        position_sigma_m=60.0, removed_sites=2, azimuth_sigma_deg=20.0, tilt_sigma_deg=1.5
    )
    return {
        "perturbed-hex": {"records": perturbed_records(uma, moved, rng), "truth": {}},
        "hotspots": {
            "records": perturbed_records(uma, Perturbation(position_sigma_m=40.0), rng),
            "truth": {
                "hotspot_ue_fraction": 0.3,
                "num_hotspots": 3,
                "hotspot_std_m": 80.0,
                "busy_hour_demand_mbps_per_site": 300.0,
            },
        },
        "umi-lat-lon-no-tilt": {
            "records": perturbed_records(
                umi,
                Perturbation(
                    position_sigma_m=25.0, azimuth_sigma_deg=35.0, height_range_m=(8.0, 14.0)
                ),
                rng,
            ),
            "truth": {},
            "lat_lon": True,
        },
        "irregular": {
            "records": irregular_sites(7, max(6, num_sites * 2 // 3)),
            "truth": {"busy_hour_demand_mbps_per_site": 200.0},
        },
    }


def run_truth(
    sites: list[SiteRecord], cells: list[CellRecord], seed: int, days: int, sleep_nights: int,
    num_ues: int, overrides: dict[str, Any],
) -> tuple[Twin, Any, np.ndarray]:  # fmt: skip
    """Simulate the truth: every cell on, then nights with half of the capacity cells asleep."""
    layout = topology_layout(sites, cells)
    twin = build_topology_twin(
        layout, topology_scenario(layout, name="truth", seed=seed, num_ues=num_ues, **overrides)
    )
    demand = demand_for_intervals(twin.traffic, seed, 0, days * IPD)
    rng = np.random.default_rng(seed + 1)
    states = []
    for day in range(days):
        asleep = np.zeros(twin.num_cells, dtype=bool)
        if day >= days - sleep_nights:
            asleep = (twin.arrays.layer == LAYERS.index("capacity")) & (
                rng.random(twin.num_cells) < 0.5
            )
        for t in range(IPD):
            active = ~asleep if t < SLEEP_UNTIL else np.ones(twin.num_cells, dtype=bool)
            states.append(CellState(active=active, cio_db=np.zeros(twin.num_cells)))
    return twin, simulate(twin, demand, states), demand


def lat_lon(topology: TopologyIn, origin: tuple[float, float]) -> TopologyIn:
    """The topology with sites placed by latitude/longitude only and no tilts."""
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


def _round(value: float, digits: int = 4) -> float | None:
    return round(float(value), digits) if np.isfinite(value) else None


def figures(fit: Any) -> dict[str, Any]:
    """The held-out figures of one driver as JSON."""
    return {
        "prb_load_wape": _round(fit.prb_load_wape),
        "prb_load_wape_with_sleep": _round(fit.prb_load_wape_with_sleep),
        "prb_load_wape_cell_p90": _round(float(np.nanpercentile(fit.prb_load_wape_per_cell, 90))),
        "volume_wape": _round(fit.volume_wape),
        "ue_thp_wape": _round(fit.ue_thp_wape),
        "conn_mean_wape": _round(fit.conn_mean_wape),
        "layer_shares": {s.layer: [_round(s.observed), _round(s.model)] for s in fit.layer_shares},
    }


def measure(name: str, spec: dict[str, Any], args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """Truth, export, ingest, calibrate and score one shape."""
    sites, cells = spec["records"]
    started = time.perf_counter()
    truth, kpis, demand = run_truth(
        sites, cells, seed, args.days, args.sleep_nights, args.ues, spec["truth"]
    )
    truth_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        parquet, topo_path = export_twin_run(Path(tmp) / "pm.parquet", truth, kpis)
        topology = TopologyIn.model_validate_json(topo_path.read_text())
        if spec.get("lat_lon"):
            topology = lat_lon(topology, (52.52, 13.405))
        store = open_store(f"sqlite:///{Path(tmp) / 'ranopt.db'}")
        try:
            with store.transaction() as session:
                tid = repo.ensure_tenant(session, name="bench", now_s=0)
                net = repo.create_network(session, tenant_id=tid, topology=topology, now_s=0)
            started = time.perf_counter()
            ingest_file(store, parquet, tenant_id=tid, network=net.name)
            ingest_s = time.perf_counter() - started
            config = NetworkCalibrationConfig(max_days=args.days)
            model = network_model(store, tenant_id=tid, network_id=net.id, config=config)
        finally:
            store.dispose()
    cal = model.calibration
    report = cal.report
    # the truth's own home-cell demand, against the estimate from counters
    true_home = cell_demand(demand, home_cells(truth), truth.num_cells)
    asleep = cal.home_demand.method == ASLEEP
    sleep_wape = float(
        np.abs(cal.home_demand.mbps - true_home)[asleep].sum() / true_home[asleep].sum()
    )
    # baseline: the uncalibrated topology model, scored on the same held-out days
    history = model.history
    train, heldout = history.take_days(cal.train_days), history.take_days(cal.heldout_days)
    cand = candidate_twin(model.layout, train, cal.model.twin.num_ues, 0xBA5E)
    home = home_cells_of(cand)
    count = group_sum(np.maximum(home, 0), home >= 0, cand.num_cells)
    share = np.where(home >= 0, 1.0 / np.maximum(count[np.maximum(home, 0)], 1), 0.0)
    # every UE always present, equal shares, the twin's default share of UEs without n78
    always = np.full_like(cal.model.presence, max(int(count.max()), 1))
    baseline = evaluate_fit(
        replace(cal.model, twin=cand, home=home, share=share[None, :],
                rank=np.zeros(cand.num_ues, dtype=np.int64), presence=always),
        train, heldout, history.weekdays[cal.heldout_days],
    )  # fmt: skip
    prb = report.observed_demand.prb_load_wape
    return {
        "shape": name,
        "sites": len(model.layout.sites),
        "cells": cal.model.num_cells,
        "truth_ues": truth.num_ues,
        "model_ues": cal.model.twin.num_ues,
        "environment": model.layout.environment,
        "days": args.days,
        "train_days": len(cal.train_days),
        "heldout_days": len(cal.heldout_days),
        "topology_defaults_used": len(cal.model.warnings),
        "heldout": figures(report.observed_demand),
        "heldout_profile": figures(report.profile),
        "in_sample_prb_load_wape": _round(report.in_sample.prb_load_wape),
        "baseline_uncalibrated_prb_load_wape": _round(baseline.observed_demand.prb_load_wape),
        "prb_wape_ratio_to_baseline": _round(prb / baseline.observed_demand.prb_load_wape, 3),
        "sleeping_home_demand_wape": _round(sleep_wape),
        "clamped_cells": int(cal.model.fit.clamped.sum()),
        "no_n78_share": {
            "truth": truth.scenario.ue_without_n78_fraction,
            "fitted": _round(cal.model.no_n78_share),
        },
        "target_prb_load_wape": TARGET_PRB_WAPE,
        "target_met": bool(prb <= TARGET_PRB_WAPE),
        "fit_s": round(model.fit_s, 2),
        "ingest_s": round(ingest_s, 2),
        "truth_s": round(truth_s, 2),
    }


def main() -> None:
    """Measure every requested shape and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=19, help="hexagonal site count of the base")
    parser.add_argument("--ues", type=int, default=2000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--sleep-nights", type=int, default=4)
    parser.add_argument("--shapes", default="all", help="comma list, or all")
    args = parser.parse_args()
    available = shapes(args.sites, args.ues)
    wanted = list(available) if args.shapes == "all" else args.shapes.split(",")
    seeds = {name: 100 + i for i, name in enumerate(available)}  # the same seed however run
    results = [measure(n, available[n], args, seeds[n]) for n in wanted]
    print(json.dumps({
        "benchmark": "calibrate",
        "base_sites": args.sites,
        "shapes": results,
        "all_targets_met": all(r["target_met"] for r in results),
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
