"""Load-balancing, slicing and compensation benchmark; prints one JSON object.

Load balancing on the ``hotspot`` preset at 19 / 61 / 271 sites: CIO offsets for the hour up
to the day's busy interval (offsets ramp at most 2 dB per cell per interval from 0 dB), figures
of the busy interval measured in the twin beside CIO = 0. On 19 sites both solvers run (the
association MILP is the reference); 61 and 271 sites run the local search only, on fewer
intervals and fewer moves (stated in the JSON), with three hotspots per 19 sites.
Slicing on the ``default`` day (96 intervals) against the equal split; compensation of every
cell carrying traffic at the busy hour of ``default``.

    .venv/bin/python benchmarks/balance.py [--quick]
"""

import argparse
import json
import time
from dataclasses import replace
from typing import Any

import numpy as np

from ranopt.cli.optimize import silence_highs_banner
from ranopt.optimize.balance import BalanceConfig, BalanceResult, plan_load_balance
from ranopt.optimize.compensate import plan_compensation
from ranopt.optimize.slicing import plan_slicing
from ranopt.twin import CellState, build_twin, evaluate_snapshot, scenario_preset
from ranopt.twin.traffic import busy_interval, day_rng, realised_demand_mbps

SEED = 0
DAY = 0
SIZES = {19: 2000, 61: 20_000, 271: 100_000}


def _balance_figures(result: BalanceResult, solve_s: float) -> dict[str, Any]:
    before, after = result.before[-1], result.after[-1]
    return {
        "solve_s": round(solve_s, 2),
        "status": str(result.plan.solve.status),
        "mip_gap": result.plan.solve.mip_gap,
        "before_max_prb_demand": round(before.max_prb_demand, 4),
        "after_max_prb_demand": round(after.max_prb_demand, 4),
        "before_max_prb_load": round(before.max_prb_load, 4),
        "after_max_prb_load": round(after.max_prb_load, 4),
        "max_load_reduction_pct": round(
            100.0 * (1.0 - after.max_prb_demand / before.max_prb_demand), 2
        ),
        "before_ue_thp_p5_mbps": round(before.ue_thp_p5_mbps, 3),
        "after_ue_thp_p5_mbps": round(after.ue_thp_p5_mbps, 3),
        "p5_gain_pct": round(100.0 * (after.ue_thp_p5_mbps / before.ue_thp_p5_mbps - 1.0), 2),
        "before_served_ratio": round(before.served_ratio, 5),
        "after_served_ratio": round(after.served_ratio, 5),
        "ues_losing_service": int(result.lost_coverage[-1]),
        "cio_changes": len(result.plan.actions),
        "detail": result.plan.solve.detail,
    }


def balance(num_sites: int, quick: bool) -> dict[str, Any]:
    """Both solvers on 19 sites, the local search (fewer intervals, moves) beyond."""
    spec = scenario_preset(
        "hotspot",
        seed=SEED,
        num_sites=num_sites,
        num_ues=SIZES[num_sites],
        top_k=None if num_sites == 19 else 24,
    )
    spec = replace(spec, num_hotspots=max(3, round(3 * num_sites / 19)))
    started = time.perf_counter()
    twin = build_twin(spec)
    build_s = time.perf_counter() - started
    busy = busy_interval(twin.traffic, DAY)
    intervals = 4 if num_sites <= 61 and not quick else (2 if num_sites <= 61 else 1)
    config = BalanceConfig() if num_sites <= 61 else BalanceConfig(max_moves=25)
    demand = realised_demand_mbps(twin.traffic, DAY, day_rng(SEED, DAY))
    horizon = demand[busy - intervals + 1 : busy + 1]
    out: dict[str, Any] = {
        "sites": num_sites,
        "cells": twin.num_cells,
        "ues": twin.num_ues,
        "hotspots": spec.num_hotspots,
        "build_s": round(build_s, 2),
        "intervals": intervals,
        "max_moves_per_phase": config.max_moves,
    }
    solvers = ["local", "exact"] if num_sites == 19 else ["local"]
    for solver in solvers:
        started = time.perf_counter()
        result = plan_load_balance(twin, horizon, solver, config=config)
        out[solver] = _balance_figures(result, time.perf_counter() - started)
    if "exact" in out:
        ls, ref = out["local"]["after_max_prb_demand"], out["exact"]["after_max_prb_demand"]
        out["local_vs_exact_max_load_gap_pct"] = round(100.0 * (ls / ref - 1.0), 2)
    return out


def slicing(quick: bool) -> dict[str, Any]:
    """Slice shares for the default day against the equal split."""
    twin = build_twin(scenario_preset("default", seed=SEED))
    step = 4 if quick else 1
    demand = realised_demand_mbps(twin.traffic, DAY, day_rng(SEED, DAY))[::step]
    started = time.perf_counter()
    result = plan_slicing(twin, demand, interval_min=twin.scenario.interval_min * step)
    solve_s = time.perf_counter() - started

    def violations(checks: Any) -> list[int]:
        return np.sum([c.violations for c in checks], axis=0).tolist()  # type: ignore[no-any-return]

    def outside_short(checks: Any) -> int:
        return int(
            sum(int((c.broken & ~result.short[t][:, None]).sum()) for t, c in enumerate(checks))
        )

    return {
        "intervals": int(demand.shape[0]),
        "solve_and_check_s": round(solve_s, 2),
        "equal_split_violations_embb_urllc_mmtc": violations(result.before),
        "lp_violations_embb_urllc_mmtc": violations(result.after),
        "cell_intervals_short": int(result.short.sum()),
        "equal_split_violations_outside_short": outside_short(result.before),
        "lp_violations_outside_short": outside_short(result.after),
        "lp_spare_share_mean": round(float(np.mean([c.spare_share for c in result.after])), 4),
        "equal_split_served_ratio_min": round(
            min(c.snapshot.served_ratio for c in result.before), 5
        ),
        "lp_served_ratio_min": round(min(c.snapshot.served_ratio for c in result.after), 5),
    }


def compensation() -> dict[str, Any]:
    """Fail each cell carrying traffic at the busy hour of default, one at a time."""
    twin = build_twin(scenario_preset("default", seed=SEED))
    busy = busy_interval(twin.traffic, DAY)
    demand = realised_demand_mbps(twin.traffic, DAY, day_rng(SEED, DAY))[busy]
    snap = evaluate_snapshot(twin, CellState.all_on(twin.num_cells), demand)
    unaided: list[float] = []
    after: list[float] = []
    times: list[float] = []
    cells = np.flatnonzero(snap.cell_served_mbps > 0)
    for cell in cells:
        started = time.perf_counter()
        result = plan_compensation(twin, demand, int(cell))
        times.append(time.perf_counter() - started)
        unaided.append(result.recovered_ratio(result.unaided))
        after.append(result.recovered_ratio(result.after))
    busiest = int(cells[np.argmax(snap.cell_served_mbps[cells])])
    index = int(np.flatnonzero(cells == busiest)[0])
    return {
        "failed_cells_tried": len(cells),
        "recovered_unaided_min": round(min(unaided), 4),
        "recovered_unaided_mean": round(float(np.mean(unaided)), 4),
        "recovered_after_min": round(min(after), 4),
        "recovered_after_mean": round(float(np.mean(after)), 4),
        "share_of_cells_recovered_80pct": round(float(np.mean(np.array(after) >= 0.8)), 4),
        "busiest_cell": twin.cell_names[busiest],
        "busiest_recovered_unaided": round(unaided[index], 4),
        "busiest_recovered_after": round(after[index], 4),
        "solve_s_mean": round(float(np.mean(times)), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="19 and 61 sites, fewer intervals")
    parser.add_argument("--sites", default="19,61,271")
    args = parser.parse_args()
    silence_highs_banner()
    sizes = [int(s) for s in args.sites.split(",")]
    if args.quick:
        sizes = [s for s in sizes if s <= 61]
    report = {
        "seed": SEED,
        "day": DAY,
        "load_balance": [balance(n, args.quick) for n in sizes],
        "load_balance_note": (
            "19 sites: local search and the association MILP, 4 intervals up to the busy "
            "interval; 61 sites: local search only, 4 intervals; 271 sites: local search only, "
            "1 interval (so offsets reach at most +-2 dB) and 25 moves per phase"
        ),
        "slicing_default_day": slicing(args.quick),
        "compensation_default_busy_hour": compensation(),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
