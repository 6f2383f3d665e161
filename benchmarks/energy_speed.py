"""Day-ahead energy plan: this tree against a baseline commit, same inputs, same run.

Runs one day-ahead plan (``plan_with_solver``: the plan on the forecast quantile, repair,
robust scenarios, final replay) in a fresh child process per code version, one after the
other: the baseline commit's ``src`` (exported with ``git archive``) and this tree's. Prints
one JSON object: each version's wall and CPU seconds, the ratio, and whether the plans are
identical (schedule, chains, sleep depths, actions; saving and KPIs as floats).

    nice -n 10 .venv/bin/python benchmarks/energy_speed.py --baseline-rev 74d731e \
        --preset default --robust 2 [--sites 7 --ues 1000] [--repeats 1]

CPU seconds (``time.process_time`` of the child) are the figure to compare on a shared
machine: wall time there depends on what else runs.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

# the child imports whichever ranopt its PYTHONPATH puts first (the baseline's or this tree's)
from ranopt.optimize.day_ahead import DayAheadConfig, plan_with_solver, prepare_day_ahead
from ranopt.optimize.energy import EnergyConfig
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.twin import build_twin, scenario_preset

ROOT = Path(__file__).resolve().parent.parent


def child(args: argparse.Namespace) -> None:
    """Make the plan with whichever ``ranopt`` is on the path; write its arrays and figures."""
    overrides = {} if args.sites is None else {"num_sites": args.sites, "num_ues": args.ues}
    twin = build_twin(scenario_preset(args.preset, seed=args.seed, **overrides))
    inputs = prepare_day_ahead(twin, args.seed, args.day, DayAheadConfig())
    wall, cpu = time.perf_counter(), time.process_time()
    plan = plan_with_solver(
        twin, inputs, args.solver, EnergyConstraints(), EnergyConfig(),
        np.random.default_rng(args.seed), args.robust,
    )  # fmt: skip
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    out = Path(args.out)
    np.savez(
        out.with_suffix(".npz"),
        active=plan.active,
        trx=plan.active_trx,
        sleep_state=plan.sleep_state,
    )
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "wall_s": wall,
                "cpu_s": cpu,
                "cells": twin.num_cells,
                "ues": twin.num_ues,
                "expected": {**asdict(plan.expected), "saving_pct": plan.expected.saving_pct},
                "detail": plan.solve.detail,
                "actions": [asdict(a) for a in plan.actions],
                "ranopt": str(Path(sys.modules["ranopt"].__file__ or "").parent),
            },
            default=str,
        )
    )


def run_version(args: argparse.Namespace, src: Path, out: Path) -> dict[str, Any]:
    """Run the child with ``src`` first on the path; return its figures and arrays."""
    cmd = [sys.executable, __file__, "--child", "--out", str(out)]
    for name in ("preset", "seed", "day", "robust", "solver", "sites", "ues"):
        value = getattr(args, name)
        if value is not None:
            cmd += [f"--{name}", str(value)]
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run(cmd, check=True, env=env)
    result = json.loads(out.with_suffix(".json").read_text())
    arrays = np.load(out.with_suffix(".npz"), allow_pickle=False)
    result["arrays"] = {k: arrays[k] for k in arrays.files}
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline-rev", default="74d731e")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--day", type=int, default=14)
    parser.add_argument("--robust", type=int, default=2)
    parser.add_argument("--solver", default="greedy")
    parser.add_argument("--sites", type=int, default=None)
    parser.add_argument("--ues", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        base.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.baseline_rev, "src"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "this": []}
        for i in range(args.repeats):
            for name, src in (("baseline", base / "src"), ("this", ROOT / "src")):
                print(f"{name} {i + 1}/{args.repeats}", file=sys.stderr, flush=True)
                runs[name].append(run_version(args, src, Path(tmp) / f"{name}-{i}"))
    base_run, this_run = runs["baseline"][0], runs["this"][0]
    identical = {
        key: bool(np.array_equal(base_run["arrays"][key], this_run["arrays"][key]))
        for key in ("active", "trx", "sleep_state")
    }
    identical["actions"] = base_run["actions"] == this_run["actions"]
    identical["detail"] = base_run["detail"] == this_run["detail"]
    kpi_difference = {
        key: float(this_run["expected"][key]) - float(base_run["expected"][key])
        for key in base_run["expected"]
    }
    best = {name: min(r["cpu_s"] for r in rs) for name, rs in runs.items()}
    best_wall = {name: min(r["wall_s"] for r in rs) for name, rs in runs.items()}
    print(
        json.dumps(
            {
                "benchmark": "energy_speed",
                "baseline_rev": args.baseline_rev,
                "preset": args.preset,
                "cells": this_run["cells"],
                "ues": this_run["ues"],
                "seed": args.seed,
                "day": args.day,
                "robust_scenarios": args.robust,
                "solver": args.solver,
                "cpu_s": {n: [round(r["cpu_s"], 2) for r in rs] for n, rs in runs.items()},
                "wall_s": {n: [round(r["wall_s"], 2) for r in rs] for n, rs in runs.items()},
                "cpu_ratio": round(best["baseline"] / best["this"], 3),
                "wall_ratio": round(best_wall["baseline"] / best_wall["this"], 3),
                "identical": identical,
                "kpi_difference_this_minus_baseline": kpi_difference,
                "saving_pct": {n: rs[0]["expected"]["saving_pct"] for n, rs in runs.items()},
                "detail": {n: rs[0]["detail"] for n, rs in runs.items()},
                "load_average": os.getloadavg(),
            }
        )
    )


if __name__ == "__main__":
    main()
