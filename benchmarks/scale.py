"""Benchmark issue 16 (scale): twin set-up with the bounded top-K search, against main's.

Run from the repository root::

    nice -n 10 .venv/bin/python benchmarks/scale.py setup [--presets default,medium,large]

Prints one JSON object on stdout. Each build runs in a fresh single-threaded subprocess, so
its peak RSS is its own. ``setup``: per preset, ``build_twin`` with the exhaustive top-K search
and every wrap-around copy compared for every UE-site pair (main's algorithm before issue 16:
the baseline) and with the bounded search (``prune=True``, the default), in the same run; the
ratio baseline / pruned, and whether both keep identical cells and values (SHA-256 of the
link budget's arrays). ``default`` is a dense preset (no top-K search): it also runs with
``top_k=24``.

``shared``: a day-ahead plan (``plan_with_solver``, greedy, 8 robust scenarios) with the
always-on snapshots of the planning demand shared between planning and the final check,
against main's flow (the final check evaluates the always-on day again), same twin, inputs and
seed, in one process; the ratio, whether the schedules are identical and the largest
difference of the plan's figures (the shared snapshots are the warm-started ones planning
used; main's check started each one cold).

``speedup``: the Monte Carlo confidence scenarios of one plan (``plan_confidence``: a night
plan of the default twin replayed on ``--scenarios`` demand scenarios, each seeded from its
own ``SeedSequence`` child) in process, through the local process pool with 1 and 2 workers
and through a local Ray cluster on 127.0.0.1 with 1 and then 2 one-CPU nodes, in one
single-threaded child, ``--repeats`` times each (best time kept; the pool's runs
interleaved); each executor's 2-worker speed-up over its own 1-worker time, the same ratio for
pure CPU work on the same pool (what a second worker can gain on the machine at that moment),
and whether every run's per-scenario outcomes are identical to the in-process ones. Both
executors' worker processes are started by one small map first, as a long-running
service's are; the timed map includes sending the shared twin to the workers. The machine
is shared: the load averages at start and end are printed with the figures.

``neighbourhood``: per preset (``--presets``), ``--changes`` random repair steps (wake, sleep,
mute or unmute one capacity cell, in turn) on states with a third of the capacity cells asleep
at three intervals of the seasonal demand, each evaluated on the whole network
(``evaluate_snapshot`` warm-started from the always-on loads, what repair did before: the
baseline) and on its neighbourhood (``evaluate_change`` from the state before the step), in
one process, one after the other; time per verified change, the ratio, the neighbourhood's
size and the largest differences and verdict mismatches. With ``--plan-presets``, also a
day-ahead greedy plan (day 14, ``--robust`` scenarios) with ``neighbourhood_repair`` off (the
baseline) and on, same twin, inputs and seed: time, repair steps re-solved locally, saving
and whether the schedules are identical.

``targets``: the four one-machine targets of issue 16 on ``--preset`` (``large``: 271 sites,
1 626 cells), each in its own fresh single-threaded child, one after the other: twin set-up
(``build_twin``, limit 5 s), the day-ahead energy plan (``plan_with_solver`` greedy, day 14,
``--robust`` scenarios, 4 by default as ``benchmarks/energy.py``'s large run; limit 60 s), the
closed loop's steps (``NetworkLoop.step`` on a SQLite store from day 14 00:00, ``--steps``
steps after the history step, median and max; limit 5 s) and the load-balancing plan
(``benchmarks/balance.py``'s 271-site case on ``hotspot`` at the preset's size: local search,
one interval, 25 moves per phase; limit 60 s). Each with wall and CPU seconds (the machine is
shared: CPU seconds are the figure to compare), peak RSS, and what the results were (saving,
schedule digest, loop figures, load reduction), so two trees' results can be compared. With
``--baseline-rev REV`` each target runs first on that commit's ``src`` (``git archive``), then
on this tree, and the CPU and wall ratios are printed.

``snapshots``: the whole-network evaluation (``evaluate_snapshot``) that every target but the
set-up spends most of its time in: per preset (``--presets``), six states (three intervals of
day 14, every cell on, and a third of the capacity cells asleep with a fifth of the rest
muted), best of ``--repeats`` passes, CPU seconds per snapshot, on ``--baseline-rev``'s
``src`` and on this tree, each in its own single-threaded child; the ratio, and whether the
snapshots are identical (SHA-256 of serving cells, SINR, served traffic, UE throughput, PRB
load and power of all six).
"""

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from typing import Any

import numpy as np

from machine import run_child as run_single_threaded
from ranopt.optimize.confidence import (
    DemandDisaggregation,
    cell_demand,
    home_cells,
    plan_confidence,
)
from ranopt.optimize.day_ahead import DayAheadConfig, plan_with_solver, prepare_day_ahead
from ranopt.optimize.energy import (
    EnergyConfig,
    ReferenceCache,
    assemble_plan,
    plan_energy,
    repair_schedule,
)
from ranopt.optimize.evaluate import EnergyConstraints, check_snapshot
from ranopt.service.executor import InProcessExecutor, PoolExecutor, RayExecutor
from ranopt.twin import CellState, build_twin, evaluate_snapshot, radio, scenario_preset
from ranopt.twin import neighbourhood as twin_neighbourhood
from ranopt.twin.traffic import expected_demand_mbps
from ranopt.twin.units import FloatArray

MIB = 2**20
CHILD_TIMEOUT_S = 4 * 3600  # a large plan took over an hour of wall time at load 6-12


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def all_copies_offsets_m(
    ue_x_m: FloatArray, ue_y_m: FloatArray, site_xy_m: FloatArray, shifts_m: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Main's wrap-around before issue 16: every copy compared for every UE-site pair."""
    dx = ue_x_m[:, None, None] - site_xy_m[None, :, 0, None] - shifts_m[None, None, :, 0]
    dy = ue_y_m[:, None, None] - site_xy_m[None, :, 1, None] - shifts_m[None, None, :, 1]
    nearest = np.argmin(dx * dx + dy * dy, axis=2)[..., None]
    return (
        np.take_along_axis(dx, nearest, axis=2)[..., 0],
        np.take_along_axis(dy, nearest, axis=2)[..., 0],
    )


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def measure_setup(name: str, top_k: int | None, baseline: bool) -> dict[str, Any]:
    """Build one twin (inside the child) and report its time, RSS and link-budget digest."""
    scenario = scenario_preset(name, seed=0)
    if top_k is not None:
        scenario = replace(scenario, top_k=top_k)
    if baseline:
        radio.nearest_image_offsets_m = all_copies_offsets_m  # type: ignore[assignment]
    start = time.perf_counter()
    twin = build_twin(scenario, prune=not baseline)
    setup_s = time.perf_counter() - start
    link = twin.link
    return {
        "setup_s": round(setup_s, 3),
        "maxrss_mib": round(_maxrss_mib(), 1),
        "num_sites": scenario.num_sites,
        "num_cells": twin.num_cells,
        "num_ue_slots": twin.num_ues,
        "k": link.k,
        "cells_digest": _digest(link.cell_idx),
        "values_digest": _digest(link.rsrp_dbm, link.signal_w, link.interference_w),
    }


def measure_shared(name: str, num_sites: int | None, num_ues: int | None) -> dict[str, Any]:
    """Time one day-ahead plan with shared always-on snapshots and main's flow (in the child)."""
    twin = build_twin(scenario_preset(name, seed=1, num_sites=num_sites, num_ues=num_ues))
    inputs = prepare_day_ahead(twin, 1, 14, DayAheadConfig())
    limits, config, robust = EnergyConstraints(), EnergyConfig(), 8

    def main_flow(rng: np.random.Generator) -> Any:
        # day_ahead.plan_with_solver before issue 16
        demand = inputs.planning_demand_mbps
        plan = plan_energy(twin, demand, "greedy", limits=limits, config=config, rng=rng)
        paths = inputs.forecast.sample(rng, robust)
        sigma = DayAheadConfig.ue_dispersion_sigma
        demands = [inputs.disaggregation.ue_demand(path, rng, sigma) for path in paths]
        assert plan.active_trx is not None
        schedule, trx, _ = repair_schedule(
            twin, demands, plan.active, plan.active_trx, limits, ReferenceCache(twin, demands),
            config.repair_rounds,
        )  # fmt: skip
        return assemble_plan(
            twin, demand, schedule, trx, limits, config, solver="greedy", solve=plan.solve
        )

    start = time.perf_counter()
    before = main_flow(np.random.default_rng(7))
    before_s = time.perf_counter() - start
    start = time.perf_counter()
    after = plan_with_solver(
        twin, inputs, "greedy", limits, config, np.random.default_rng(7), robust
    )
    after_s = time.perf_counter() - start
    kb, ka = before.expected, after.expected
    diffs = {
        k: abs(getattr(kb, k) - getattr(ka, k))
        for k in vars(kb)
        if isinstance(getattr(kb, k), float)
    }
    return {
        "num_cells": twin.num_cells,
        "intervals": int(inputs.planning_demand_mbps.shape[0]),
        "main_flow_s": round(before_s, 2),
        "shared_s": round(after_s, 2),
        "main_over_shared": round(before_s / after_s, 3),
        "identical_schedule": bool(np.array_equal(before.active, after.active))
        and bool(np.array_equal(before.active_trx, after.active_trx)),
        "identical_actions": before.actions == after.actions,
        "saving_pct": [round(kb.saving_pct, 4), round(ka.saving_pct, 4)],
        "violations": [kb.constraint_violations, ka.constraint_violations],
        "max_abs_kpi_difference": {k: float(f"{v:.3g}") for k, v in diffs.items()},
    }


def _timed_confidence(
    twin: Any, schedule: Any, trx: Any, scenarios: FloatArray, split: Any, map_tasks: Any
) -> tuple[float, list[bool]]:
    start = time.perf_counter()
    _, held = plan_confidence(
        twin, schedule, scenarios, split, EnergyConstraints(), np.random.default_rng(5), 0.3,
        trx=trx, map_tasks=map_tasks,
    )  # fmt: skip
    return time.perf_counter() - start, [bool(h) for h in held]


def _warm(shared: int, task: int) -> int:
    return shared + task


def _spin(shared: int, task: int) -> int:
    """Pure CPU work, no memory traffic: what a second worker can gain on this machine now."""
    total = 0
    for i in range(shared):
        total += i ^ task
    return total


def _timed_map(executor: Any, fn: Any, shared: Any, tasks: list[Any]) -> float:
    start = time.perf_counter()
    executor.map(fn, shared, tasks)
    return time.perf_counter() - start


def measure_speedup(
    num_sites: int | None, num_scenarios: int, intervals: int, repeats: int
) -> dict[str, Any]:
    """Confidence scenarios in process, on the pool and on Ray, 1 and 2 workers (in the child)."""
    # the Ray nodes bind 127.0.0.1 only (tests/service/conftest.py says why); set before import
    temp = tempfile.mkdtemp(prefix="ranopt-ray-", dir="/tmp")
    os.environ.update(
        {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
         "RAY_TMPDIR": temp}
    )  # fmt: skip
    from ray.cluster_utils import Cluster  # noqa: PLC0415 (after its environment)

    twin = build_twin(scenario_preset("default", seed=1, num_sites=num_sites))
    expected = expected_demand_mbps(twin.traffic, 0)[:intervals]
    home = home_cells(twin)
    plan = plan_energy(twin, expected, "greedy")
    cells = cell_demand(expected, home, twin.num_cells)
    rng = np.random.default_rng(3)
    # [K, T, C]: the expected night with one mean-one log-normal factor per scenario and cell
    factors = np.exp(0.15 * rng.standard_normal((num_scenarios, 1, twin.num_cells)) - 0.01125)
    scenarios = cells[None] * factors
    split = DemandDisaggregation.from_expected(expected, home, twin.num_cells)

    def run(map_tasks: Any) -> tuple[float, list[bool]]:
        return _timed_confidence(twin, plan.active, plan.active_trx, scenarios, split, map_tasks)

    times: dict[str, list[float]] = {}
    outcomes: dict[str, list[bool]] = {}

    def record(key: str, result: tuple[float, list[bool]]) -> None:
        times.setdefault(key, []).append(result[0])
        if outcomes.setdefault(key, result[1]) != result[1]:
            outcomes[key] = []  # not even identical to itself: fails the check below

    for _ in range(repeats):
        record("in_process", run(InProcessExecutor().map))
    pools = {workers: PoolExecutor(workers) for workers in (1, 2)}
    for pool in pools.values():
        pool.map(_warm, 0, list(range(pool.workers)))  # start the processes
    # the machine's ceiling now: pure CPU work on the same pools, 8 equal tasks
    spin = {w: min(_timed_map(p, _spin, 3_000_000, list(range(8))) for _ in range(2))
            for w, p in pools.items()}  # fmt: skip
    for _ in range(repeats):  # interleaved, so both see the same load on average
        for workers, pool in pools.items():
            record(f"pool_{workers}", run(pool.map))
    for pool in pools.values():
        pool.close()
    cluster: Any = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    try:
        ray_executor = RayExecutor(cluster.address)
        for workers in (1, 2):
            if workers == 2:
                cluster.add_node(num_cpus=1)
                cluster.wait_for_nodes()
            ray_executor.map(_warm, 0, list(range(4 * workers)))
            for _ in range(repeats):
                record(f"ray_{workers}", run(ray_executor.map))
        ray_executor.close()
    finally:
        cluster.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
    return {
        "num_cells": twin.num_cells,
        "num_ues": twin.num_ues,
        "intervals": intervals,
        "scenarios": num_scenarios,
        "cells_asleep_cell_intervals": int((~plan.active).sum()),
        "scenarios_held": int(sum(outcomes["in_process"])),
        "repeats": repeats,
        "seconds": {k: [round(t, 2) for t in v] for k, v in times.items()},
        "best_seconds": {k: round(min(v), 2) for k, v in times.items()},
        "pool_speedup_1_to_2": round(min(times["pool_1"]) / min(times["pool_2"]), 3),
        "ray_speedup_1_to_2": round(min(times["ray_1"]) / min(times["ray_2"]), 3),
        "cpu_ceiling_speedup_1_to_2": round(spin[1] / spin[2], 3),
        "identical_outcomes": all(o == outcomes["in_process"] for o in outcomes.values()),
    }


CHANGE_KINDS = ("wake", "sleep", "mute", "unmute")


def _one_step(
    twin: Any, rng: np.random.Generator, active: Any, trx: Any, kind: str
) -> tuple[Any, Any, Any]:
    cap = np.flatnonzero(twin.arrays.layer == 1)
    num_trx = twin.arrays.num_trx.astype(np.int64)
    active, trx = active.copy(), trx.copy()
    full = trx[cap] == num_trx[cap]
    pool = {
        "wake": cap[~active[cap]],
        "sleep": cap[active[cap] & full],
        "mute": cap[active[cap] & full],
        "unmute": cap[active[cap] & ~full],
    }[kind]
    cell = np.array([int(rng.choice(pool))]) if pool.size else np.zeros(0, dtype=np.int64)
    if kind == "wake":
        active[cell] = True
    elif kind == "sleep":
        active[cell] = False
    elif kind == "mute":
        trx[cell] = num_trx[cell] // 2
    else:
        trx[cell] = num_trx[cell]
    return active, trx, cell


def _cell_state(twin: Any, active: Any, trx: Any) -> CellState:
    muted = bool((trx < twin.arrays.num_trx).any())
    return CellState(
        active=active, cio_db=np.zeros(twin.num_cells), active_trx=trx if muted else None
    )


def measure_neighbourhood(name: str, changes: int) -> dict[str, Any]:
    """Time repair steps evaluated on the whole network and on their neighbourhood (child)."""
    start = time.perf_counter()
    twin = build_twin(scenario_preset(name, seed=1))
    setup_s = time.perf_counter() - start
    start = time.perf_counter()
    index = twin_neighbourhood.candidate_index(twin)
    index_s = time.perf_counter() - start
    rng = np.random.default_rng(11)
    limits = EnergyConstraints()
    cap = np.flatnonzero(twin.arrays.layer == 1)
    num_trx = twin.arrays.num_trx.astype(np.int64)
    seasonal = expected_demand_mbps(twin.traffic, 14)
    whole_s: list[float] = []
    local_s: list[float] = []
    sizes: list[int] = []
    rounds: list[int] = []
    worst = {"prb_load": 0.0, "served_ratio": 0.0, "power_w": 0.0, "ue_thp_p5_mbps": 0.0}
    verdicts_differ = serving_differ = 0
    intervals = (8, 40, 72)
    for i in range(changes):
        t = intervals[i % len(intervals)]
        demand = seasonal[t]
        active = np.ones(twin.num_cells, dtype=bool)
        active[rng.choice(cap, cap.size // 3, replace=False)] = False
        trx = num_trx.copy()
        muted = cap[active[cap] & (rng.random(cap.size) < 0.2)]
        trx[muted] = num_trx[muted] // 2
        ref = evaluate_snapshot(twin, CellState.all_on(twin.num_cells), demand)
        before = evaluate_snapshot(
            twin, _cell_state(twin, active, trx), demand, initial_load=ref.prb_load
        )
        new_active, new_trx, cell = _one_step(
            twin, rng, active, trx, CHANGE_KINDS[i % len(CHANGE_KINDS)]
        )
        state = _cell_state(twin, new_active, new_trx)
        tic = time.perf_counter()
        whole = evaluate_snapshot(twin, state, demand, initial_load=ref.prb_load)
        whole_s.append(time.perf_counter() - tic)
        tic = time.perf_counter()
        local, area = twin_neighbourhood.evaluate_change(
            twin, state, demand, before, cell, index=index
        )
        local_s.append(time.perf_counter() - tic)
        sizes.append(area.num_cells)
        rounds.append(area.rounds)
        worst["prb_load"] = max(
            worst["prb_load"], float(np.abs(local.prb_load - whole.prb_load).max())
        )
        worst["served_ratio"] = max(
            worst["served_ratio"], abs(local.served_ratio - whole.served_ratio)
        )
        worst["power_w"] = max(worst["power_w"], float(np.abs(local.power_w - whole.power_w).max()))
        worst["ue_thp_p5_mbps"] = max(
            worst["ue_thp_p5_mbps"],
            abs(local.ue_thp_percentile_mbps(5) - whole.ue_thp_percentile_mbps(5)),
        )
        serving_differ += int((local.serving_cell != whole.serving_cell).any())
        verdicts_differ += int(
            check_snapshot(local, ref, limits).violations
            != check_snapshot(whole, ref, limits).violations
        )
    whole_mean, local_mean = float(np.mean(whole_s)), float(np.mean(local_s))
    return {
        "num_cells": twin.num_cells,
        "num_ue_slots": twin.num_ues,
        "k": twin.link.k,
        "setup_s": round(setup_s, 2),
        "candidate_index_s": round(index_s, 3),
        "changes": changes,
        "whole_network_s_per_change": round(whole_mean, 4),
        "neighbourhood_s_per_change": round(local_mean, 4),
        "whole_over_neighbourhood": round(whole_mean / local_mean, 2),
        "neighbourhood_cells_median": int(np.median(sizes)),
        "neighbourhood_cells_max": int(np.max(sizes)),
        "neighbourhood_rounds_max": int(np.max(rounds)),
        "max_abs_difference": {k: float(f"{v:.3g}") for k, v in worst.items()},
        "changes_with_other_serving_cell": serving_differ,
        "changes_with_other_verdicts": verdicts_differ,
    }


def measure_neighbourhood_plan(name: str, robust: int) -> dict[str, Any]:
    """Time a day-ahead plan with whole-network and neighbourhood repair (in the child)."""
    from ranopt.optimize import energy  # noqa: PLC0415 (counted below)

    twin = build_twin(scenario_preset(name, seed=1))
    inputs = prepare_day_ahead(twin, 1, 14, DayAheadConfig())
    limits = EnergyConstraints()
    counts = {"whole": 0, "local": 0}
    whole_fn, local_fn = energy.evaluate_interval, energy.evaluate_change

    def count_whole(*args: Any, **kwargs: Any) -> Any:
        counts["whole"] += 1
        return whole_fn(*args, **kwargs)

    def count_local(*args: Any, **kwargs: Any) -> Any:
        counts["local"] += 1
        return local_fn(*args, **kwargs)

    energy.evaluate_interval = count_whole  # type: ignore[assignment]
    energy.evaluate_change = count_local  # type: ignore[assignment]
    out: dict[str, Any] = {"num_cells": twin.num_cells, "robust_scenarios": robust}
    plans = {}
    for label, local in (("whole_network", False), ("neighbourhood", True)):
        counts.update(whole=0, local=0)
        config = EnergyConfig(neighbourhood_repair=local)
        start = time.perf_counter()
        plan = plan_with_solver(
            twin, inputs, "greedy", limits, config, np.random.default_rng(7), robust
        )
        elapsed = time.perf_counter() - start
        plans[label] = plan
        out[label] = {
            "plan_s": round(elapsed, 2),
            "repair_evaluations_whole": counts["whole"],
            "repair_evaluations_neighbourhood": counts["local"],
            "saving_pct": round(plan.expected.saving_pct, 4),
            "violations": plan.expected.constraint_violations,
            "cells_woken": plan.solve.detail.get("cells_woken_by_scenarios"),
        }
    a, b = plans["whole_network"], plans["neighbourhood"]
    out["whole_over_neighbourhood"] = round(
        out["whole_network"]["plan_s"] / out["neighbourhood"]["plan_s"], 3
    )
    out["identical_schedule"] = bool(np.array_equal(a.active, b.active)) and bool(
        np.array_equal(a.active_trx, b.active_trx)
    )
    out["saving_difference_points"] = round(abs(a.expected.saving_pct - b.expected.saving_pct), 4)
    return out


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh single-threaded interpreter (a timeout is its error)."""
    try:
        return run_single_threaded(__file__, spec, CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT_S} s wall"}


def bench_setup(presets: list[str]) -> dict[str, Any]:
    """Baseline and pruned set-up per preset, same run."""
    out: dict[str, Any] = {}
    variants = [(p, None) for p in presets]
    if "default" in presets:
        variants.insert(presets.index("default") + 1, ("default", 24))
    for name, top_k in variants:
        label = name if top_k is None else f"{name}-top{top_k}"
        before = run_child({"part": "setup", "name": name, "top_k": top_k, "baseline": True})
        after = run_child({"part": "setup", "name": name, "top_k": top_k, "baseline": False})
        row: dict[str, Any] = {"baseline": before, "pruned": after}
        if "error" not in before and "error" not in after:
            row["baseline_over_pruned"] = round(before["setup_s"] / after["setup_s"], 2)
            row["identical_cells"] = before["cells_digest"] == after["cells_digest"]
            row["identical_values"] = before["values_digest"] == after["values_digest"]
        out[label] = row
        print(f"{label}: {json.dumps(row)}", file=sys.stderr)
    return out


# -- targets: the four one-machine targets of issue 16 on one preset ---------------------------

TARGETS = ("setup", "plan", "loop", "balance")
TARGET_LIMITS_S = {"setup": 5.0, "plan": 60.0, "loop": 5.0, "balance": 60.0}


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> dict[str, float]:
    return {
        "wall_s": round(time.perf_counter() - start[0], 3),
        "cpu_s": round(time.process_time() - start[1], 3),
    }


def _built(name: str, seed: int, **overrides: Any) -> tuple[Any, dict[str, float]]:
    from ranopt.twin import build_twin, scenario_preset  # noqa: PLC0415 (the child's ranopt)

    start = _clock()
    twin = build_twin(scenario_preset(name, seed=seed, **overrides))
    return twin, _since(start)


def target_setup(name: str) -> dict[str, Any]:
    """Twin set-up: ``build_twin`` of the preset (seed 1, the plan's twin)."""
    twin, took = _built(name, 1)
    link = twin.link
    digest = _digest(link.cell_idx, link.rsrp_dbm, link.signal_w, link.interference_w)
    return {"cells": twin.num_cells, "ue_slots": twin.num_ues, **took, "link_digest": digest}


def target_plan(name: str, robust: int) -> dict[str, Any]:
    """Day-ahead energy plan: ``plan_with_solver`` greedy, day 14 from days 0-13, seed 1.

    ``benchmarks/energy.py``'s large run (4 robust scenarios); the forecast (``prepare_day_ahead``)
    is timed apart, as there.
    """
    from ranopt.optimize.day_ahead import (  # noqa: PLC0415
        DayAheadConfig,
        plan_with_solver,
        prepare_day_ahead,
    )
    from ranopt.optimize.energy import EnergyConfig  # noqa: PLC0415
    from ranopt.optimize.evaluate import EnergyConstraints  # noqa: PLC0415

    twin, build = _built(name, 1)
    start = _clock()
    inputs = prepare_day_ahead(twin, 1, 14, DayAheadConfig(robust_scenarios=robust))
    forecast = _since(start)
    start = _clock()
    plan = plan_with_solver(
        twin, inputs, "greedy", EnergyConstraints(), EnergyConfig(interval_time_limit_s=2.0),
        np.random.default_rng(1), robust,
    )  # fmt: skip
    took = _since(start)
    expected = plan.expected
    assert expected is not None
    sleep = plan.sleep_state if plan.sleep_state is not None else np.zeros(0)
    trx = plan.active_trx if plan.active_trx is not None else np.zeros(0)
    return {
        "cells": twin.num_cells,
        "robust_scenarios": robust,
        "build": build,
        "forecast": forecast,
        **took,
        "saving_pct": round(expected.saving_pct, 4),
        "violations": expected.constraint_violations,
        "cell_intervals_asleep": int((~plan.active).sum()),
        "schedule_digest": _digest(plan.active, trx, sleep),
        "actions": len(plan.actions),
    }


def target_loop(name: str, steps: int) -> dict[str, Any]:
    """Closed-loop steps: ``NetworkLoop.step`` on a SQLite store, seed 0, from day 14 00:00.

    ``benchmarks/loop.py``'s ``bench_loop`` (greedy, 4-interval horizon, threshold 0.9,
    auto-apply); the history step (14 days of always-on counters) is timed apart.
    """
    from loop import bench_loop  # noqa: PLC0415 (imports ranopt: the child's own tree)
    from ranopt.store.engine import open_store  # noqa: PLC0415

    twin, build = _built(name, 0)
    tmp = tempfile.mkdtemp(prefix="ranopt-targets-")
    try:
        store = open_store(f"sqlite:///{tmp}/loop.db")
        loop = bench_loop(store, twin, name, 0)
        start = _clock()
        loop.step()  # the history
        history = _since(start)
        per_step: list[dict[str, Any]] = []
        for _ in range(steps):
            start = _clock()
            report = loop.step()
            per_step.append(
                {
                    **_since(start),
                    "interval": report.interval,
                    "energy_kwh": round(report.energy_kwh, 6),
                    "violations": report.violations,
                    "plan_confidence": report.plan_confidence,
                    "plan_applied": report.plan_applied,
                }
            )
        store.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    wall = [s["wall_s"] for s in per_step]
    cpu = [s["cpu_s"] for s in per_step]
    return {
        "cells": twin.num_cells,
        "build": build,
        "history": history,
        "steps": per_step,
        "wall_s": round(float(np.median(wall)), 3),
        "cpu_s": round(float(np.median(cpu)), 3),
        "max_wall_s": max(wall),
        "max_cpu_s": max(cpu),
    }


def target_balance(name: str) -> dict[str, Any]:
    """Load balancing: ``benchmarks/balance.py``'s 271-site case (local search, 1 interval).

    ``hotspot`` with the preset's sites and UEs, top-24 link budget, 3 hotspots per 19 sites,
    CIO ramped +-2 dB from 0 into the day's busy interval, 25 moves per phase.
    """
    from ranopt.optimize.balance import BalanceConfig, plan_load_balance  # noqa: PLC0415
    from ranopt.twin import build_twin, scenario_preset  # noqa: PLC0415
    from ranopt.twin.traffic import busy_interval, day_rng, realised_demand_mbps  # noqa: PLC0415

    size = scenario_preset(name, seed=0)
    spec = scenario_preset(
        "hotspot", seed=0, num_sites=size.num_sites, num_ues=size.num_ues, top_k=24
    )
    spec = replace(spec, num_hotspots=max(3, round(3 * size.num_sites / 19)))
    start = _clock()
    twin = build_twin(spec)
    build = _since(start)
    busy = busy_interval(twin.traffic, 0)
    demand = realised_demand_mbps(twin.traffic, 0, day_rng(0, 0))
    start = _clock()
    result = plan_load_balance(
        twin, demand[busy : busy + 1], "local", config=BalanceConfig(max_moves=25)
    )
    took = _since(start)
    before, after = result.before[-1], result.after[-1]
    cio = result.plan.cio_db if result.plan.cio_db is not None else np.zeros(0)
    return {
        "cells": twin.num_cells,
        "ue_slots": twin.num_ues,
        "build": build,
        **took,
        "max_load_reduction_pct": round(
            100.0 * (1.0 - after.max_prb_demand / before.max_prb_demand), 4
        ),
        "before_max_prb_demand": round(before.max_prb_demand, 6),
        "after_max_prb_demand": round(after.max_prb_demand, 6),
        "p5_gain_pct": round(100.0 * (after.ue_thp_p5_mbps / before.ue_thp_p5_mbps - 1.0), 4),
        "ues_losing_service": int(result.lost_coverage[-1]),
        "cio_changes": len(result.plan.actions),
        "cio_digest": _digest(cio),
    }


def measure_target(spec: dict[str, Any]) -> dict[str, Any]:
    """One target in this (child) process, with its peak RSS and the ranopt it imported."""
    which, name = spec["target"], spec["name"]
    if which == "setup":
        out = target_setup(name)
    elif which == "plan":
        out = target_plan(name, spec["robust"])
    elif which == "loop":
        out = target_loop(name, spec["steps"])
    else:
        out = target_balance(name)
    out["peak_rss_mib"] = round(_maxrss_mib(), 1)
    out["ranopt"] = os.path.dirname(sys.modules["ranopt"].__file__ or "")
    return out


def _export_src(rev: str, into: str) -> str:
    """``git archive`` the ``src`` of ``rev`` into ``into``; return its path."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    archive = subprocess.run(
        ["git", "-C", root, "archive", rev, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    return os.path.join(into, "src")


def bench_targets(
    name: str, which: list[str], robust: int, steps: int, baseline_rev: str | None
) -> dict[str, Any]:
    """Each target in its own single-threaded child; with a baseline, its child right before."""
    out: dict[str, Any] = {"preset": name, "limits_s": TARGET_LIMITS_S}
    with tempfile.TemporaryDirectory() as tmp:
        versions: list[tuple[str, str | None]] = [("this", None)]
        if baseline_rev is not None:
            versions.insert(0, (f"baseline {baseline_rev}", _export_src(baseline_rev, tmp)))
        for target in which:
            row: dict[str, Any] = {}
            for label, src in versions:
                spec = {"part": "target", "target": target, "name": name, "robust": robust,
                        "steps": steps}  # fmt: skip
                row[label] = _run_with_src(spec, src)
                print(f"{target} {label}: {json.dumps(row[label])}", file=sys.stderr, flush=True)
            this = row["this"]
            if "error" not in this:
                row["met"] = this["wall_s"] <= TARGET_LIMITS_S[target]
                row["met_on_cpu_s"] = this["cpu_s"] <= TARGET_LIMITS_S[target]
            if baseline_rev is not None:
                base = row[f"baseline {baseline_rev}"]
                if "error" not in base and "error" not in this:
                    row["cpu_ratio"] = round(base["cpu_s"] / this["cpu_s"], 3)
                    row["wall_ratio"] = round(base["wall_s"] / this["wall_s"], 3)
            out[target] = row
    return out


def _run_with_src(spec: dict[str, Any], src: str | None) -> dict[str, Any]:
    """``run_child`` with ``src`` first on the child's path (None: this tree's ranopt)."""
    if src is None:
        return run_child(spec)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = src
    try:
        return run_child(spec)
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


# -- snapshots: the whole-network evaluation, this tree against a baseline commit --------------


def measure_snapshots(name: str, repeats: int) -> dict[str, Any]:
    """CPU seconds per ``evaluate_snapshot`` on six states of the preset, and their digest.

    Intervals 8 (night), 40 and 72 of day 14's seasonal demand, each with every cell on
    (cold start) and with a third of the capacity cells asleep and a fifth of the others
    muted to half their chains (warm from nothing: cold too); best of ``repeats`` passes.
    """
    from ranopt.twin import CellState, build_twin, evaluate_snapshot, scenario_preset  # noqa: PLC0415
    from ranopt.twin.traffic import expected_demand_mbps  # noqa: PLC0415

    twin = build_twin(scenario_preset(name, seed=1))
    seasonal = expected_demand_mbps(twin.traffic, 14)
    rng = np.random.default_rng(3)
    cap = np.flatnonzero(twin.arrays.layer == 1)
    num_trx = twin.arrays.num_trx.astype(np.int64)
    states = []
    for t in (8, 40, 72):
        states.append((CellState.all_on(twin.num_cells), seasonal[t]))
        active = np.ones(twin.num_cells, dtype=bool)
        active[rng.choice(cap, cap.size // 3, replace=False)] = False
        trx = num_trx.copy()
        muted = cap[active[cap] & (rng.random(cap.size) < 0.2)]
        trx[muted] = num_trx[muted] // 2
        state = CellState(active=active, cio_db=np.zeros(twin.num_cells), active_trx=trx)
        states.append((state, seasonal[t]))
    passes: list[float] = []
    snaps: list[Any] = []
    for _ in range(repeats):
        start = time.process_time()
        snaps = [evaluate_snapshot(twin, state, demand) for state, demand in states]
        passes.append(time.process_time() - start)
    fields = ("serving_cell", "sinr_db", "served_mbps", "ue_thp_mbps", "prb_load", "power_w")
    return {
        "cells": twin.num_cells,
        "ue_slots": twin.num_ues,
        "snapshots": len(states),
        "iterations": [int(s.iterations) for s in snaps],
        "cpu_s_per_snapshot": round(min(passes) / len(states), 5),
        "digest": _digest(*(getattr(s, f) for s in snaps for f in fields)),
        "peak_rss_mib": round(_maxrss_mib(), 1),
    }


def bench_snapshots(presets: list[str], repeats: int, baseline_rev: str) -> dict[str, Any]:
    """Per preset: the baseline commit's child, then this tree's; ratio and identical digests."""
    out: dict[str, Any] = {"baseline_rev": baseline_rev}
    with tempfile.TemporaryDirectory() as tmp:
        base_src = _export_src(baseline_rev, tmp)
        for name in presets:
            spec = {"part": "snapshots", "name": name, "repeats": repeats}
            base, this = _run_with_src(spec, base_src), run_child(spec)
            row: dict[str, Any] = {"baseline": base, "this": this}
            if "error" not in base and "error" not in this:
                row["cpu_ratio"] = round(base["cpu_s_per_snapshot"] / this["cpu_s_per_snapshot"], 3)
                row["identical"] = base["digest"] == this["digest"]
            out[name] = row
            print(f"{name}: {json.dumps(row)}", file=sys.stderr, flush=True)
    return out


CHILD_PARTS: dict[str, Any] = {
    "target": measure_target,
    "snapshots": lambda spec: measure_snapshots(spec["name"], spec["repeats"]),
    "setup": lambda spec: measure_setup(spec["name"], spec["top_k"], spec["baseline"]),
    "neighbourhood": lambda spec: measure_neighbourhood(spec["name"], spec["changes"]),
    "neighbourhood_plan": lambda spec: measure_neighbourhood_plan(spec["name"], spec["robust"]),
    "speedup": lambda spec: measure_speedup(
        spec["sites"], spec["scenarios"], spec["intervals"], spec["repeats"]
    ),
    "shared": lambda spec: measure_shared(spec["name"], spec["sites"], spec["ues"]),
}


def run_in_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Dispatch one child measurement by its ``part``."""
    result: dict[str, Any] = CHILD_PARTS[spec["part"]](spec)
    return result


def main() -> None:
    """Parse arguments and print the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "part",
        nargs="?",
        choices=["setup", "shared", "speedup", "neighbourhood", "targets", "snapshots"],
        default="setup",
    )
    parser.add_argument("--presets", default="default,medium,large")
    parser.add_argument("--sites", type=int, default=None, help="speedup: sites (default 19)")
    parser.add_argument("--scenarios", type=int, default=16, help="speedup: scenarios")
    parser.add_argument("--intervals", type=int, default=12, help="speedup: plan intervals")
    parser.add_argument("--repeats", type=int, default=3, help="speedup: runs per executor")
    parser.add_argument("--changes", type=int, default=24, help="neighbourhood: repair steps")
    parser.add_argument("--plan-presets", default="", help="neighbourhood: presets to plan")
    parser.add_argument(
        "--robust", type=int, default=None, help="plan scenarios (neighbourhood 8, targets 4)"
    )
    parser.add_argument("--preset", default="large", help="targets: the preset")
    parser.add_argument("--targets", default=",".join(TARGETS), help="targets: which")
    parser.add_argument("--steps", type=int, default=4, help="targets: loop steps timed")
    parser.add_argument("--baseline-rev", default=None, help="targets: also this commit's src")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_in_child(json.loads(args.child))))
        return
    result: dict[str, Any] = {
        "part": args.part,
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        },
    }
    if args.part == "setup":
        result["setup"] = bench_setup(args.presets.split(","))
    elif args.part == "snapshots":
        result["snapshots"] = bench_snapshots(
            args.presets.split(","), args.repeats, args.baseline_rev or "main"
        )
    elif args.part == "targets":
        result["targets"] = bench_targets(
            args.preset, args.targets.split(","), args.robust or 4, args.steps, args.baseline_rev
        )
    elif args.part == "speedup":
        result["speedup"] = run_child(
            {"part": "speedup", "sites": args.sites, "scenarios": args.scenarios,
             "intervals": args.intervals, "repeats": args.repeats}
        )  # fmt: skip
    elif args.part == "neighbourhood":
        steps: dict[str, Any] = {}
        for name in filter(None, args.presets.split(",")):
            steps[name] = run_child(
                {"part": "neighbourhood", "name": name, "changes": args.changes}
            )
            print(f"{name}: {json.dumps(steps[name])}", file=sys.stderr)
        result["steps"] = steps
        plans: dict[str, Any] = {}
        for name in filter(None, args.plan_presets.split(",")):
            plans[name] = run_child(
                {"part": "neighbourhood_plan", "name": name, "robust": args.robust or 8}
            )
            print(f"{name} plan: {json.dumps(plans[name])}", file=sys.stderr)
        result["plans"] = plans
    else:
        result["shared"] = {
            "default-7-sites": run_child(
                {"part": "shared", "name": "default", "sites": 7, "ues": 1000}
            ),
            "default": run_child({"part": "shared", "name": "default", "sites": None, "ues": None}),
        }
    result["machine"]["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
