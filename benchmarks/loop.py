"""Closed loop over simulated days: energy saved, violations, plan confidence, fault timing.

Runs ``NetworkLoop`` on a SQLite store for ``--days`` network days of the default twin (after
its 14 days of history), then injects a cell fault at ``--fault-hour`` of one more day and
measures the wall time from the fault's first telemetry to its applied compensation. The
baseline in the same run is the always-on counterfactual the loop tracks (saving is a ratio
to it), and per day the saving of a greedy plan made on the realised day itself (perfect
foresight); step times are reported but, on a shared 2-core machine, only as an indication.
Prints one JSON object.
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ranopt.cli.optimize import silence_highs_banner
from ranopt.ingest.export import twin_topology
from ranopt.optimize.energy import plan_energy
from ranopt.service.loop import LoopConfig, NetworkLoop, StepReport
from ranopt.store import loops, runs
from ranopt.store import repository as repo
from ranopt.store.engine import Store, open_store
from ranopt.twin import build_twin, scenario_preset
from ranopt.twin.model import Twin
from ranopt.twin.traffic import day_rng, realised_demand_mbps


def bench_loop(store: Store, twin: Twin, scenario: str, seed: int) -> NetworkLoop:
    """The benchmarks' closed loop on ``store``: greedy, 4-interval horizon, threshold 0.9.

    One tenant and network bound to ``twin``, auto-apply on; shared with
    ``benchmarks/scale.py targets`` so both time the same loop.
    """
    with store.transaction() as session:
        tenant_id = repo.ensure_tenant(session, name="bench", now_s=0)
        net = repo.create_network(
            session, tenant_id=tenant_id, topology=twin_topology(twin), now_s=0
        )
        runs.bind_twin(
            session, tenant_id=tenant_id, network_id=net.id, scenario=scenario,
            seed=seed, num_sites=twin.scenario.num_sites, num_ues=twin.num_ues,
        )  # fmt: skip
        loops.configure_loop(
            session, tenant_id=tenant_id, network_id=net.id, enabled=True,
            auto_apply=True, confidence_threshold=0.9, solver="greedy",
            horizon_intervals=4, now_s=0,
        )  # fmt: skip
    return NetworkLoop(
        store, tenant_id=tenant_id, network_id=net.id, twin=twin, seed=seed,
        config=LoopConfig(), clock=time.time,
    )  # fmt: skip


def perfect_foresight_pct(twin: Twin, seed: int, day: int) -> float:
    """Saving of the greedy plan made on the realised day itself (no forecast error)."""
    demand = realised_demand_mbps(twin.traffic, day, day_rng(seed, day))
    plan = plan_energy(twin, demand, "greedy")
    return round(plan.expected.saving_pct, 2) if plan.expected is not None else float("nan")


def _day_figures(reports: list[StepReport]) -> dict[str, Any]:
    energy = sum(r.energy_kwh for r in reports)
    always_on = sum(r.always_on_energy_kwh for r in reports)
    applied = [r.plan_confidence for r in reports if r.plan_applied and r.plan_confidence]
    return {
        "intervals": len(reports),
        "energy_kwh": round(energy, 2),
        "always_on_kwh": round(always_on, 2),
        "saving_pct": round(100.0 * (1.0 - energy / always_on), 2),
        "violations": sum(r.violations for r in reports),
        "violating_intervals": sum(1 for r in reports if r.violations),
        "violations_at": [
            f"{(r.interval % 96) // 4:02d}:{(r.interval % 4) * 15:02d}"
            for r in reports
            if r.violations
        ],
        "switching_breaks": sum(r.switching_breaks for r in reports),
        "plans": sum(1 for r in reports if r.plan_run_id is not None),
        "plans_applied": len(applied),
        "min_applied_confidence": min(applied) if applied else None,
    }


def main() -> None:
    """Run the loop and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--fault-hour", type=float, default=18.0)
    args = parser.parse_args()
    silence_highs_banner()
    twin = build_twin(scenario_preset(args.scenario, seed=args.seed))
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'loop.db'}")
        loop = bench_loop(store, twin, args.scenario, args.seed)
        started = time.perf_counter()
        loop.step()  # history
        history_s = time.perf_counter() - started
        ipd = twin.scenario.intervals_per_day
        days: list[dict[str, Any]] = []
        step_s: list[float] = []
        for _ in range(args.days):
            reports = []
            for _ in range(ipd):
                t0 = time.perf_counter()
                reports.append(loop.step())
                step_s.append(time.perf_counter() - t0)
            figures = _day_figures(reports)
            day = reports[0].interval // ipd
            figures["day"] = day
            figures["perfect_foresight_saving_pct"] = perfect_foresight_pct(twin, args.seed, day)
            days.append(figures)
        # one more day with a fault at --fault-hour
        fault_at = int(args.fault_hour * 60 / twin.scenario.interval_min)
        reports = []
        busiest = 0
        for t in range(ipd):
            if t == fault_at:
                live = loop.settings().live or {}
                active = [i for i, c in enumerate(live.get("cells", [])) if c["state"] == "active"]
                busiest = max(active, key=lambda i: live["cells"][i]["prb_load"])
                with store.transaction() as session:
                    loops.request_fault(
                        session, tenant_id=loop.tenant_id, network_id=loop.network_id,
                        cell_index=busiest, cell_name=twin.cell_names[busiest], by="bench",
                        at=time.time(),
                    )  # fmt: skip
            t0 = time.perf_counter()
            reports.append(loop.step())
            step_s.append(time.perf_counter() - t0)
        with store.transaction() as session:
            fault = loops.faults(session, tenant_id=loop.tenant_id, network_id=loop.network_id)[0]
        store.dispose()
    result = {
        "benchmark": "loop",
        "scenario": args.scenario,
        "seed": args.seed,
        "cells": twin.num_cells,
        "history_s": round(history_s, 2),
        "days": days,
        "fault_day": {**_day_figures(reports), "day": reports[0].interval // ipd},
        "fault": {
            "cell": fault.cell_name,
            "reason_detected_in_interval": fault.fault_interval,
            "compensated_interval": fault.compensated_interval,
            "telemetry_to_compensation_s": None
            if fault.compensated_at is None or fault.first_telemetry_at is None
            else round(fault.compensated_at - fault.first_telemetry_at, 3),
            "request_to_compensation_s": None
            if fault.compensated_at is None
            else round(fault.compensated_at - fault.requested_at, 3),
            "lost_mbit": fault.lost_mbit,
            "recovered_ratio": fault.recovered_ratio,
        },
        "step_s": {
            "median": round(statistics.median(step_s), 3),
            "p95": round(sorted(step_s)[int(0.95 * (len(step_s) - 1))], 3),
            "max": round(max(step_s), 3),
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
