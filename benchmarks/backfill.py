"""The emulator's back-fill: how long ``ranopt emulate run --backfill-days N`` takes.

Prints one JSON object. For each day count: wall seconds of ``Emulator.backfill`` (PM files
and ground truth, every cell on) with one worker process per core, beside the floor measured
in the same run: one worker (the days one after another, in this process; each interval's
load fixed point warm-started from the previous one either way). ``ratio`` = parallel /
one worker. CPU seconds beside each (this process and its workers): on a shared machine the
wall figures depend on the load, the CPU ones much less. Also the first intervals of a day
without the warm start (``cold_interval_s``) and with it (``warm_interval_s``), per interval.

    python benchmarks/backfill.py [--scenario default] [--sites N --ues N] [--days 7 14]
"""

import argparse
import asyncio
import json
import os
import platform
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ranopt.emulate.process import Emulator, EmulatorConfig
from ranopt.twin.snapshot import CellState

START = datetime(2026, 1, 19, tzinfo=UTC)


def _emulator(args: argparse.Namespace, workers: int, run_dir: Path) -> Emulator:
    return Emulator(
        EmulatorConfig(
            run_dir=run_dir, scenario=args.scenario, seed=11, num_sites=args.sites,
            num_ues=args.ues, start=START, backfill_workers=workers,
        )
    )  # fmt: skip


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its reaped children so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _backfill_s(args: argparse.Namespace, workers: int, days: int) -> tuple[float, float]:
    """Wall and CPU seconds of one back-fill (the CPU figure does not depend on the load)."""
    with tempfile.TemporaryDirectory() as tmp:
        emulator = _emulator(args, workers, Path(tmp))
        began, cpu = time.perf_counter(), _cpu_s()
        asyncio.run(emulator.backfill(days))
        elapsed, cpu = time.perf_counter() - began, _cpu_s() - cpu
        files = len(list((Path(tmp) / "pm").glob("*.xml")))
        if files != days * emulator.twin.scenario.intervals_per_day:
            msg = f"{files} PM files for {days} days"
            raise RuntimeError(msg)
        return elapsed, cpu


def _interval_s(args: argparse.Namespace, intervals: int) -> dict[str, float]:
    """Seconds per interval of one day's first ``intervals``: cold vs warm-started."""
    with tempfile.TemporaryDirectory() as tmp:
        emulator = _emulator(args, 1, Path(tmp))
        net = emulator.network
        state = CellState.all_on(emulator.twin.num_cells)
        first = emulator.next_interval - emulator.twin.scenario.intervals_per_day
        began = time.perf_counter()
        for k in range(first, first + intervals):
            net.run_interval(k, state, counterfactual=False)
        cold = (time.perf_counter() - began) / intervals
        load = None
        began = time.perf_counter()
        for k in range(first, first + intervals):
            result = net.run_interval(k, state, counterfactual=False, initial_load=load)
            load = result.kpis.prb_load[0]
        warm = (time.perf_counter() - began) / intervals
    return {"cold_interval_s": round(cold, 4), "warm_interval_s": round(warm, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--sites", type=int, default=None)
    parser.add_argument("--ues", type=int, default=None)
    parser.add_argument("--days", type=int, nargs="+", default=[7, 14])
    parser.add_argument("--intervals", type=int, default=24, help="for the cold / warm figure")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    out: dict[str, Any] = {
        "scenario": args.scenario, "sites": args.sites, "ues": args.ues, "cores": cores,
        "load_avg_1min": os.getloadavg()[0], "python": platform.python_version(),
        **_interval_s(args, args.intervals), "days": {},
    }  # fmt: skip
    for days in args.days:
        parallel, parallel_cpu = _backfill_s(args, cores, days)
        single, single_cpu = _backfill_s(args, 1, days)
        out["days"][str(days)] = {
            "parallel_s": round(parallel, 2), "one_worker_s": round(single, 2),
            "ratio": round(parallel / single, 3), "parallel_cpu_s": round(parallel_cpu, 2),
            "one_worker_cpu_s": round(single_cpu, 2),
        }  # fmt: skip
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
