"""Southbound loop vs twin-internal loop on the same emulated network and days (issue 14 targets).

(a) The real path, as ``ranopt demo`` runs it (its building blocks, ``ranopt.cli.demo``):
``ranopt emulate`` as a child process on 127.0.0.1 with ``--seed`` (never given to the
planner) and ``--backfill-days 14`` (every cell on), its first live interval on day 14 after
the emulator's reference Monday; ranopt registers the network from its planning export,
discovers it over O1, ingests the back-filled PM files, and the ``SouthboundLoop`` calibrates,
plans and commits sleep / wake over O1 for ``--days`` network days. Counters come back as the
emulator's PM files, ingested after each interval (the PM-file path; ``make demo`` uses VES).
Saving and QoS verdicts are the emulator's own ground truth (``truth.jsonl``: energy against
its always-on counterfactual on the same demand, violations by its judgement), which the
planner never reads.

(b) The twin-internal loop (``NetworkLoop``, ``ranopt demo --twin``'s) on the same network
(same preset, sites, UEs, seed) after its 14 days of always-on history, for the same days
(14, 15, ...: both count days from the same Monday); its saving and violations are the
twin's own (the same ``evaluate_snapshot`` and ``check_snapshot`` the emulator runs).

(c) The share (a) / (b) of saving, violations of each, each applied plan's stated confidence
against whether it held (no QoS violation in the intervals it was in force), and the
calibration's held-out per-cell PRB-load WAPE. (b) runs in a second process beside (a).
Prints one JSON object and saves it under ``benchmarks/results/``.
"""

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from rich.console import Console

import ranopt.cli.demo as demo_cli
from ranopt.api.settings import Settings
from ranopt.cli.demo import DemoOptions, RanDemo
from ranopt.cli.highs import silence_highs_banner
from ranopt.emulate.process import REFERENCE_MONDAY
from ranopt.ingest.export import twin_topology
from ranopt.ingest.pipeline import ingest_files
from ranopt.service.loop import LoopConfig, NetworkLoop, StepReport
from ranopt.service.southbound_loop import SouthboundLoop
from ranopt.store import calibration as store_cal
from ranopt.store import loops, runs
from ranopt.store import repository as repo
from ranopt.store.engine import Store, make_engine, open_store, upgrade
from ranopt.twin import build_twin, scenario_preset

RESULTS = Path(__file__).parent / "results"
HISTORY_DAYS = 14  # "14 days with every cell on to learn" (issue 14) and NetworkLoop's default
INTERVALS_PER_DAY = 96


@dataclass(frozen=True)
class Network:
    """The emulated network both loops run: preset, size and the emulator's seed."""

    scenario: str
    sites: int
    ues: int
    seed: int
    days: int


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- plans and whether they held -----------------------------------------------------------


def plan_verdicts(
    applied: list[tuple[int, float, int, int]], violated: set[int], lag: int
) -> list[dict[str, Any]]:
    """Return each applied plan's confidence and whether it held where it was in force.

    ``applied``: ``(run id, confidence, first interval, window length)``; a plan is in force
    in interval ``j`` of ``[first + lag, first + length)`` when it is the newest applied plan
    covering ``j`` (``lag`` 1 for the southbound loop, whose window opens with the interval the
    network already runs; 0 for the twin's). It held when none of those intervals violated
    QoS (``violated``: loop intervals with a violation).
    """
    in_force: dict[int, list[int]] = {}
    covered: dict[int, int] = {}
    for run_id, _, first, length in sorted(applied):  # oldest first: newer ones overwrite
        for j in range(first + lag, first + length):
            covered[j] = run_id
    for j, run_id in covered.items():
        in_force.setdefault(run_id, []).append(j)
    verdicts = []
    for run_id, confidence, first, _ in sorted(applied):
        intervals = sorted(in_force.get(run_id, []))
        if not intervals:
            continue  # superseded before it ran
        verdicts.append({
            "run_id": run_id, "first_interval": first, "confidence": round(confidence, 4),
            "intervals_in_force": len(intervals),
            "held": not any(j in violated for j in intervals),
        })  # fmt: skip
    return verdicts


def confidence_figures(verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean stated confidence of the applied plans against the share that held."""
    if not verdicts:
        return {"plans_applied": 0}
    stated = statistics.fmean(v["confidence"] for v in verdicts)
    held = sum(v["held"] for v in verdicts) / len(verdicts)
    return {
        "plans_applied": len(verdicts), "mean_stated_confidence": round(stated, 4),
        "share_held": round(held, 4), "gap_points": round(100.0 * (stated - held), 2),
        "min_stated_confidence": round(min(v["confidence"] for v in verdicts), 4),
    }  # fmt: skip


def _applied_runs(
    store: Store, tenant_id: int, network_id: int
) -> list[tuple[int, float, int, int]]:
    with store.transaction() as session:
        applied = loops.loop_runs(session, tenant_id=tenant_id, network_id=network_id,
                                  status="applied")  # fmt: skip
    out = []
    for run in applied:
        window = (run.plan or {}).get("window") or {}
        if window.get("first_interval") is None or (run.plan or {}).get("compensation"):
            continue
        out.append((run.id, float(run.confidence or 0.0), int(window["first_interval"]),
                    len(window["asleep"])))  # fmt: skip
    return out


def _day_figures(energy: float, always_on: float, violating: int, intervals: int) -> dict[str, Any]:
    return {
        "intervals": intervals, "energy_kwh": round(energy, 2),
        "always_on_kwh": round(always_on, 2),
        "saving_pct": round(100.0 * (1.0 - energy / always_on), 2) if always_on > 0 else None,
        "violating_intervals": violating,
    }  # fmt: skip


def _totals(days: list[dict[str, Any]]) -> dict[str, Any]:
    energy = sum(d["energy_kwh"] for d in days)
    always_on = sum(d["always_on_kwh"] for d in days)
    return _day_figures(energy, always_on, sum(d["violating_intervals"] for d in days),
                        sum(d["intervals"] for d in days))  # fmt: skip


# -- (a) the southbound loop against ranopt emulate ---------------------------------------


def emulator_truth(run_dir: Path) -> list[dict[str, Any]]:
    """The emulator's live ground-truth rows (what the planner never reads), oldest first."""
    rows = []
    with (run_dir / "truth.jsonl").open() as handle:
        for line in handle:
            if '"live"' in line:
                rows.append(json.loads(line))
    return sorted(rows, key=lambda r: r["start_s"])


@dataclass
class SouthboundRun:
    """What the real path left behind: the store, the network, the emulator's truth, times."""

    store: Store
    tenant_id: int
    network_id: int
    live_start_s: int
    truth: list[dict[str, Any]]
    timings: dict[str, float]
    step_s: list[float]


def drive_southbound(net: Network, tmp: Path) -> SouthboundRun:
    """Run the real path for ``net.days`` days after a 14-day back-fill (``ranopt demo``'s)."""
    os.environ["RANOPT_DATA_DIR"] = str(tmp / "data")  # the emulator's run directory below it
    url = f"sqlite:///{tmp / 'southbound.db'}"
    settings = Settings(database_url=url)  # type: ignore[call-arg]
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    store = open_store(url)
    with store.transaction() as session:
        tenant_id = repo.ensure_tenant(session, name="bench", now_s=int(time.time()))
    options = DemoOptions(scenario=net.scenario, sites=net.sites, ues=net.ues,
                          backfill_days=HISTORY_DAYS, tick_s=0.0, host="127.0.0.1",
                          port=0)  # fmt: skip
    ran = RanDemo(store, settings, tenant_id, options)
    live_start = REFERENCE_MONDAY + timedelta(days=HISTORY_DAYS)  # day 14, as the twin's loop
    timings: dict[str, float] = {}
    step_s: list[float] = []
    t = time.perf_counter()
    try:
        emulator = ran.start_emulator(seed=net.seed, start=live_start)
        timings["emulator_start_s"] = time.perf_counter() - t
        t = time.perf_counter()
        ran.register_and_discover(emulator)
        timings["discover_s"] = time.perf_counter() - t
        t = time.perf_counter()
        ran.ingest_backfill(emulator)
        timings["ingest_backfill_s"] = time.perf_counter() - t
        ran.switch_loop_on()
        loop = SouthboundLoop(store, tenant_id=tenant_id, network_id=ran.network_id,
                              keyring=settings.keyring(), clock=time.time)  # fmt: skip
        loop.step()  # sets the loop's clock after the back-filled counters
        seen = {p.name for p in (emulator.run_dir / "pm").glob("*.xml")}
        t = time.perf_counter()
        for n in range(net.days * INTERVALS_PER_DAY):
            emulator.admin("/advance", {"intervals": 1})
            new = sorted(p for p in (emulator.run_dir / "pm").glob("*.xml") if p.name not in seen)
            ingest_files(store, new, tenant_id=tenant_id, network=ran.name)
            seen.update(p.name for p in new)
            s0 = time.perf_counter()
            loop.step()
            step_s.append(time.perf_counter() - s0)
            if (n + 1) % INTERVALS_PER_DAY == 0:
                ran.say(f"southbound loop: day {(n + 1) // INTERVALS_PER_DAY} of {net.days} done")
        timings["loop_s"] = time.perf_counter() - t
        truth = emulator_truth(emulator.run_dir)
    finally:
        if ran.emulator is not None:
            ran.emulator.stop()
    return SouthboundRun(store, tenant_id, ran.network_id, int(live_start.timestamp()), truth,
                         timings, step_s)  # fmt: skip


def run_southbound(net: Network, tmp: Path) -> dict[str, Any]:
    """Run the real path; return its figures (saving and QoS by the emulator's truth)."""
    run = drive_southbound(net, tmp)
    store, tenant_id, network_id = run.store, run.tenant_id, run.network_id
    interval_s = 900
    with store.transaction() as session:
        epoch_s = loops.loop_settings(session, tenant_id=tenant_id, network_id=network_id).epoch_s
        reports = store_cal.reports_since(session, tenant_id=tenant_id, network_id=network_id,
                                          after_id=0)  # fmt: skip
        transactions = repo_transactions(session, tenant_id, network_id)
        first = (run.live_start_s - epoch_s) // interval_s
        stop = first + net.days * INTERVALS_PER_DAY
        loop_rows = loops.intervals(session, tenant_id=tenant_id, network_id=network_id,
                                    first=first, stop=stop)  # fmt: skip
    days: list[dict[str, Any]] = []
    for d in range(net.days):
        lo = run.live_start_s + d * 86400
        rows = [r for r in run.truth if lo <= r["start_s"] < lo + 86400]
        days.append({
            "day": HISTORY_DAYS + d,
            **_day_figures(sum(sum(r["energy_kwh"]) for r in rows),
                           sum(sum(r["always_on_energy_kwh"]) for r in rows),
                           sum(bool(r["violations"]) for r in rows), len(rows)),
            "violations": sorted({v for r in rows for v in r["violations"]}),
        })  # fmt: skip
    violated = {(r["start_s"] - epoch_s) // interval_s for r in run.truth if r["violations"]}
    verdicts = plan_verdicts(_applied_runs(store, tenant_id, network_id), violated, lag=1)
    # ranopt's own estimate of the saving (loop rows: observed power against its calibrated
    # model's always-on estimate), beside the emulator's truth; rows without one left out
    estimated = [r for r in loop_rows if r.power_w is not None and r.always_on_power_w is not None]
    power = sum(r.power_w or 0.0 for r in estimated)
    always_on = sum(r.always_on_power_w or 0.0 for r in estimated)
    store.dispose()
    calibration = [
        {"data_end_s": r.data_end_s, "days_found": r.days_found,
         "prb_load_wape": None if r.prb_load_wape is None else round(r.prb_load_wape, 4)}
        for r in reports
    ]  # fmt: skip
    return {
        "days": days,
        "total": _totals(days),
        "ranopt_estimated_saving": {
            "intervals": len(estimated),
            "saving_pct": round(100.0 * (1.0 - power / always_on), 2) if always_on > 0 else None,
        },
        "confidence": confidence_figures(verdicts),
        "plans": verdicts,
        "calibration": calibration,
        "o1_transactions": transactions,
        "timings_s": {k: round(v, 1) for k, v in run.timings.items()},
        "step_s": _step_stats(run.step_s),
    }


def repo_transactions(session: Any, tenant_id: int, network_id: int) -> dict[str, int]:
    """O1 transactions the loop sent: how many, how many the RAN committed, edits."""
    from ranopt.store import southbound as sb  # noqa: PLC0415

    txs = sb.list_transactions(session, tenant_id=tenant_id, network_id=network_id)
    return {
        "sent": len(txs), "applied": sum(t.outcome == "applied" for t in txs),
        "edits": sum(t.num_edits for t in txs),
    }  # fmt: skip


def _step_stats(step_s: list[float]) -> dict[str, float]:
    if not step_s:
        return {}
    ordered = sorted(step_s)
    return {
        "median": round(statistics.median(ordered), 3),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 3), "max": round(ordered[-1], 3),
    }  # fmt: skip


# -- (b) the twin-internal loop on the same network and days ------------------------------


def run_twin(net: Network, tmp: str) -> dict[str, Any]:
    """Run ``NetworkLoop`` on the emulator's twin (same preset, size, seed) for the same days."""
    silence_highs_banner()
    twin = build_twin(scenario_preset(net.scenario, seed=net.seed, num_sites=net.sites,
                                      num_ues=net.ues))  # fmt: skip
    store = open_store(f"sqlite:///{Path(tmp) / 'twin.db'}")
    with store.transaction() as session:
        tenant_id = repo.ensure_tenant(session, name="bench", now_s=0)
        network = repo.create_network(session, tenant_id=tenant_id,
                                      topology=twin_topology(twin), now_s=0)  # fmt: skip
        runs.bind_twin(session, tenant_id=tenant_id, network_id=network.id,
                       scenario=net.scenario, seed=net.seed,
                       num_sites=twin.scenario.num_sites, num_ues=twin.num_ues)  # fmt: skip
        loops.configure_loop(session, tenant_id=tenant_id, network_id=network.id, enabled=True,
                             auto_apply=True, confidence_threshold=0.9, solver="greedy",
                             horizon_intervals=4, now_s=0)  # fmt: skip
    loop = NetworkLoop(store, tenant_id=tenant_id, network_id=network.id, twin=twin,
                       seed=net.seed, config=LoopConfig(history_days=HISTORY_DAYS),
                       clock=time.time)  # fmt: skip
    loop.step()  # the 14 days of always-on history
    reports: list[StepReport] = []
    step_s: list[float] = []
    t = time.perf_counter()
    for _ in range(net.days * INTERVALS_PER_DAY):
        s0 = time.perf_counter()
        reports.append(loop.step())
        step_s.append(time.perf_counter() - s0)
    loop_s = time.perf_counter() - t
    days = []
    for d in range(net.days):
        part = reports[d * INTERVALS_PER_DAY : (d + 1) * INTERVALS_PER_DAY]
        days.append({
            "day": part[0].interval // INTERVALS_PER_DAY,
            **_day_figures(sum(r.energy_kwh for r in part),
                           sum(r.always_on_energy_kwh for r in part),
                           sum(1 for r in part if r.violations), len(part)),
        })  # fmt: skip
    violated = {r.interval for r in reports if r.violations}
    verdicts = plan_verdicts(_applied_runs(store, tenant_id, network.id), violated, lag=0)
    store.dispose()
    return {
        "days": days, "total": _totals(days), "confidence": confidence_figures(verdicts),
        "plans": verdicts, "timings_s": {"loop_s": round(loop_s, 1)},
        "step_s": _step_stats(step_s),
    }  # fmt: skip


# -- the comparison -----------------------------------------------------------------------


def keep_run(tmp: Path, keep: Path) -> None:
    """Copy both loops' stores and the emulator's truth to ``keep`` (``southbound_gap.py``)."""
    keep.mkdir(parents=True, exist_ok=True)
    for name in ("southbound.db", "twin.db"):
        shutil.copy(tmp / name, keep / name)
    for truth in tmp.glob("data/**/truth.jsonl"):
        shutil.copy(truth, keep / "truth.jsonl")


def compare(net: Network, keep: Path | None = None) -> dict[str, Any]:
    """Run (b) in a second process while (a) runs here; return both and the targets.

    ``keep``: a folder to copy the run's stores and the emulator's truth to.
    """
    load_before = _load()
    began = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as tmp,
        ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool,
    ):
        twin_future = pool.submit(run_twin, net, tmp)
        southbound = run_southbound(net, Path(tmp))
        twin = twin_future.result()
        if keep is not None:
            keep_run(Path(tmp), keep / str(net.seed))
    sb_saving = southbound["total"]["saving_pct"]
    twin_saving = twin["total"]["saving_pct"]
    wapes = [
        c["prb_load_wape"] for c in southbound["calibration"] if c["prb_load_wape"] is not None
    ]
    share = (sb_saving / twin_saving) if sb_saving is not None and twin_saving else None
    gap = southbound["confidence"].get("gap_points")
    return {
        "network": {
            "scenario": net.scenario,
            "sites": net.sites,
            "cells": 6 * net.sites,
            "ues": net.ues,
            "emulator_seed": net.seed,
            "history_days": HISTORY_DAYS,
            "loop_days": net.days,
        },
        "southbound": southbound,
        "twin_internal": twin,
        "targets": {
            "saving_share_of_twin_loop": None if share is None else round(share, 4),
            "saving_share_met": share is not None and share >= 0.9,
            "southbound_violating_intervals": southbound["total"]["violating_intervals"],
            "twin_violating_intervals": twin["total"]["violating_intervals"],
            "zero_violations_met": southbound["total"]["violating_intervals"] == 0,
            "confidence_gap_points": gap,
            "confidence_met": gap is not None and abs(gap) <= 5.0,
            "calibration_wape_max": max(wapes) if wapes else None,
            "calibration_wape_met": bool(wapes) and max(wapes) <= 0.15,
        },
        "wall_s": round(time.perf_counter() - began, 1),
        "load_average": {"before": load_before, "after": _load(), "cores": os.cpu_count()},
    }


def main() -> None:
    """Run the comparison for each seed; print JSON and save it under benchmarks/results/."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--sites", type=int, default=demo_cli.DEMO_SITES)
    parser.add_argument("--ues", type=int, default=demo_cli.DEMO_UES)
    parser.add_argument("--seeds", type=int, nargs="+", default=[101])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep each seed's stores and truth under KEEP/SEED "
                        "(for benchmarks/southbound_gap.py)")  # fmt: skip
    args = parser.parse_args()
    demo_cli.console = Console(stderr=True)  # the demo's progress lines: stderr, JSON: stdout
    silence_highs_banner()
    result = {
        "benchmark": "southbound_loop",
        "runs": [
            compare(Network(args.scenario, args.sites, args.ues, seed, args.days), args.keep)
            for seed in args.seeds
        ],
    }
    text = json.dumps(result, indent=2)
    out = args.out or RESULTS / (
        f"southbound-loop-{args.scenario}-{args.sites}sites-seeds-"
        f"{'-'.join(map(str, args.seeds))}-days-{args.days}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
