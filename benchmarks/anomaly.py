"""KPI anomaly benchmark: the streaming detectors on twin counters with injected anomalies.

Prints one JSON object. For each seed, the twin (``--preset``, every cell on, except that a
share of capacity cells is put to sleep at night by an applied plan) plays ``--warmup-days``
of clean history (default one week, from a Monday: the weekend habits are learned on the
first weekend) and ``--days`` evaluated days; its TS 28.552 counters are fed to
``ranopt.detect.kpi.observe`` one interval batch at a time, as ingestion would (the store hook
does exactly that). Two runs per seed:

- **clean**: no injection. Every condition raised after the warm-up is a false alert
  (reported per 1 000 cell-days, over all cells and over cells that carry traffic, and by
  weekday and UTC hour).
- **injected**: one anomaly at a time, on a cell that carries users, every ``--spacing-h``
  hours: sleeping cell (the twin re-run with the cell unable to serve, so its users appear
  on the neighbours; the cell itself reports up and idle), throughput collapse (a transport
  cap at 10-35 % of its peak), interference rise (6-12 dB ramped over 2 h, through the
  twin's SINR-to-efficiency mapping), frozen, out-of-range and missing counters.

Scores: recall (an anomaly is detected when a condition of its kind is raised on its cell
between its start and two intervals after its end; ``recall_any_kind`` accepts any kind),
precision (raised conditions on a cell and time of an injected anomaly, over all raised after
the warm-up), delay in intervals from the anomaly's first interval to the raise, and false
alerts on the clean run. ``energy_saving`` counts sleeping-cell alerts on the night sleeps of
the applied plan with and without the plan's cell state given to the detectors.

Baseline on the same data (``--baselines``, needs the bench extra): river's HalfSpaceTrees,
a streaming isolation forest, one model per cell on the log counters and the hour of day, at
the score threshold that raises no more conditions on the clean run than the detectors did
(``benchmarks/anomaly_baselines.py``).

``--compare-set FIELD=VALUE`` also runs a second detector config (e.g. main's:
``collapse_load_aware=0`` and ``interference_corroborate=0``) on the same counters, for a
before/after measured in the same run; ``--cache DIR`` keeps each seed's clean twin counters
(the simulation is most of the time); ``--jobs N`` judges seeds in parallel processes;
``--merge A.json B.json`` summarises per-seed runs made by separate commands.

    .venv/bin/python benchmarks/anomaly.py [--quick] [--seeds 1,2,3] [--days 14]
"""

import argparse
import json
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ranopt.detect import inject
from ranopt.detect.kpi import (
    KINDS,
    POWER,
    RRC,
    VOLUME,
    KpiBlock,
    KpiDetectorConfig,
    KpiState,
    KpiTransition,
    new_state,
    observe,
    weekday,
)
from ranopt.detect.neighbours import cell_context, geometric_pairs
from ranopt.twin import CellState, build_twin, scenario_preset, simulate
from ranopt.twin.fault import with_failed_cells
from ranopt.twin.model import Twin
from ranopt.twin.traffic import demand_for_intervals

INJECTED_KINDS = KINDS  # every detector is measured
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
NIGHT_SLEEP = (1, 5)  # hours (UTC) in which the applied plan puts capacity cells to sleep
NIGHT_SLEEP_SHARE = 0.3  # share of capacity cells it puts to sleep
MIN_USERS = 5.0  # an injected cell carries at least this many UEs on average in its window
START_S = 1_767_571_200  # Monday 2026-01-05 00:00 UTC: the warm-up starts on a Monday


@dataclass
class World:
    """One seed's twin run as counters ``[T, C, K]`` and what the detectors need."""

    twin: Twin
    values: np.ndarray
    reported: np.ndarray
    asleep: np.ndarray
    interval_s: int
    start_s: int


def night_plan(twin: Twin, num_t: int, rng: np.random.Generator) -> np.ndarray:
    """An applied energy plan ``[T, C]``: each night a random share of capacity cells sleeps."""
    ipd = twin.scenario.intervals_per_day
    capacity = np.flatnonzero(twin.arrays.layer == 1)
    hours = (np.arange(num_t) % ipd) * 24 // ipd
    night = (hours >= NIGHT_SLEEP[0]) & (hours < NIGHT_SLEEP[1])
    asleep = np.zeros((num_t, twin.num_cells), dtype=bool)
    for day in range(-(-num_t // ipd)):
        chosen = capacity[rng.random(capacity.size) < NIGHT_SLEEP_SHARE]
        rows = np.flatnonzero(night & (np.arange(num_t) // ipd == day))
        asleep[np.ix_(rows, chosen)] = True
    return asleep


def simulate_world(
    preset: str, seed: int, days: int, *, plan: bool = True, cache: Path | None = None
) -> World:
    """Run the twin for ``days`` with the applied night plan; return its counters.

    With ``cache`` (a folder), the counters and the plan are kept in
    ``{preset}-seed{seed}-days{days}.npz`` and read back instead of simulating again (the
    twin run is deterministic in its seed; the detectors are what changes between runs).
    """
    twin = build_twin(scenario_preset(preset, seed=seed))
    interval_s = twin.scenario.interval_min * 60
    kept = None if cache is None else cache / f"{preset}-seed{seed}-days{days}.npz"
    if kept is not None and plan and kept.exists():
        with np.load(kept) as data:
            values, asleep = data["values"], data["asleep"]
        return World(
            twin=twin, values=values, reported=np.ones(values.shape[:2], dtype=bool),
            asleep=asleep, interval_s=interval_s, start_s=START_S,
        )  # fmt: skip
    ipd = twin.scenario.intervals_per_day
    num_t = days * ipd
    demand = demand_for_intervals(twin.traffic, seed, 0, num_t)
    rng = np.random.default_rng(seed)
    asleep = night_plan(twin, num_t, rng) if plan else np.zeros((num_t, twin.num_cells), bool)
    states = [CellState.all_on(twin.num_cells).with_active(~a) for a in asleep]
    kpis = simulate(twin, demand, states)
    values = inject.twin_counters(twin, kpis)
    if kept is not None and plan:
        kept.parent.mkdir(parents=True, exist_ok=True)
        np.savez(kept, values=values, asleep=asleep)
    return World(
        twin=twin, values=values, reported=np.ones(values.shape[:2], dtype=bool),
        asleep=asleep, interval_s=interval_s, start_s=START_S,
    )  # fmt: skip


def run_detectors(
    world: World,
    config: KpiDetectorConfig,
    *,
    use_plan: bool = True,
    batch_intervals: int = 1,
) -> tuple[list[KpiTransition], KpiState, float]:
    """Feed the counters to the detectors ``batch_intervals`` at a time; return transitions."""
    twin = world.twin
    arrays = twin.arrays
    cell_ids = np.arange(twin.num_cells, dtype=np.int64)
    pairs = geometric_pairs(arrays.site.astype(np.int64), arrays.x_m, arrays.y_m)
    context = cell_context(cell_ids, arrays.num_prb.astype(np.float64), world.interval_s, pairs)
    state = new_state(cell_ids, config)
    num_t = world.values.shape[0]
    times = world.start_s + world.interval_s * np.arange(num_t, dtype=np.int64)
    asleep = world.asleep if use_plan else np.zeros_like(world.asleep)
    out: list[KpiTransition] = []
    started = time.perf_counter()
    for first in range(0, num_t, batch_intervals):
        part = slice(first, first + batch_intervals)
        block = KpiBlock(
            interval_start_s=times[part], values=world.values[part],
            reported=world.reported[part], asleep=asleep[part],
        )  # fmt: skip
        state, transitions = observe(state, block, context, config)
        out.extend(transitions)
    return out, state, time.perf_counter() - started


def carrying(world: World, start: int, stop: int) -> np.ndarray:
    """Cells that carry at least ``MIN_USERS`` UEs on average and sleep at no time, ``[C]``."""
    users = np.nanmean(world.values[start:stop, :, RRC], axis=0)
    return (users >= MIN_USERS) & ~world.asleep[start:stop].any(axis=0)


def inject_all(
    world: World, warmup: int, spacing: int, rng: np.random.Generator
) -> list[inject.Injection]:
    """Inject one anomaly every ``spacing`` intervals after ``warmup`` (kinds in turn)."""
    twin = world.twin
    arrays = twin.arrays
    num_t = world.values.shape[0]
    prb_bw = arrays.dl_bandwidth_hz / arrays.num_prb
    idle_w = np.nanmin(world.values[:warmup, :, POWER], axis=0)
    injections: list[inject.Injection] = []
    k = 0
    for start in range(warmup, num_t - spacing, spacing):
        kind = INJECTED_KINDS[k % len(INJECTED_KINDS)]
        k += 1
        length = int(rng.integers(16, 33) if kind == "interference_rise" else rng.integers(8, 25))
        stop = min(start + length, num_t)
        candidates = np.flatnonzero(carrying(world, start, stop))
        if kind == "sleeping_cell":
            candidates = candidates[arrays.layer[candidates] == 1]
        if candidates.size == 0:
            continue
        cell = int(rng.choice(candidates))
        magnitude = 0.0
        if kind == "sleeping_cell":
            down = with_failed_cells(twin, frozenset({cell}))
            demand = demand_for_intervals(twin.traffic, twin.scenario.seed, 0, stop)[start:stop]
            states = [CellState.all_on(twin.num_cells).with_active(~a)
                      for a in world.asleep[start:stop]]  # fmt: skip
            rerun = inject.twin_counters(down, simulate(down, demand, states))
            inject.sleeping_cell(
                world.values, rerun, cell, start, stop, float(idle_w[cell]), world.interval_s
            )
        elif kind == "throughput_collapse":
            magnitude = float(rng.uniform(0.10, 0.35))
            inject.throughput_collapse(world.values, cell, start, stop, magnitude)
        elif kind == "interference_rise":
            magnitude = float(rng.uniform(6.0, 12.0))
            inject.interference_rise(
                world.values,
                cell,
                start,
                stop,
                magnitude,
                float(prb_bw[cell]),
                world.interval_s,
                layers=int(arrays.max_layers[cell]),
            )
        elif kind == "counter_frozen":
            inject.frozen_counters(world.values, cell, start, stop)
        elif kind == "counter_out_of_range":
            magnitude = float(rng.integers(inject.OUT_OF_RANGE_RULES))
            inject.out_of_range(
                world.values, cell, start, stop, int(magnitude),
                float(arrays.num_prb[cell]), world.interval_s,
            )  # fmt: skip
        else:
            inject.missing_counters(world.values, world.reported, cell, start, stop)
        injections.append(inject.Injection(kind, cell, start, stop, magnitude))
    return injections


def score(
    world: World,
    transitions: list[KpiTransition],
    injections: list[inject.Injection],
    warmup: int,
) -> dict[str, Any]:
    """Recall, precision and delay of the raised conditions against the injections."""
    raised = [(tr, (tr.at_s - world.start_s) // world.interval_s) for tr in transitions
              if tr.raised]  # fmt: skip
    raised = [(tr, k) for tr, k in raised if k >= warmup]
    per_kind: dict[str, dict[str, list[float]]] = defaultdict(
        lambda: {"hit": [], "any": [], "delay": []}
    )
    for inj in injections:
        hits = [(tr, k) for tr, k in raised if tr.cell_id == inj.cell
                and inj.start <= k < inj.stop + 2]  # fmt: skip
        same = [k for tr, k in hits if tr.kind == inj.kind]
        row = per_kind[inj.kind]
        row["hit"].append(float(bool(same)))
        row["any"].append(float(bool(hits)))
        if same:
            row["delay"].append(float(min(same) - inj.start))
    true_by_kind: dict[str, int] = defaultdict(int)
    raised_by_kind: dict[str, int] = defaultdict(int)
    for tr, k in raised:
        raised_by_kind[tr.kind] += 1
        true_by_kind[tr.kind] += any(
            tr.cell_id == i.cell and i.start <= k < i.stop + 2 for i in injections
        )
    return {
        "raised": len(raised),
        "true": sum(true_by_kind.values()),
        "raised_by_kind": dict(raised_by_kind),
        "true_by_kind": dict(true_by_kind),
        "per_kind": {
            kind: {
                "injected": len(v["hit"]),
                "detected": int(sum(v["hit"])),
                "detected_any_kind": int(sum(v["any"])),
                "delays": v["delay"],
            }
            for kind, v in per_kind.items()
        },
    }


def false_alerts(world: World, transitions: list[KpiTransition], warmup: int) -> dict[str, Any]:
    """Raised conditions on the clean run after the warm-up, by kind and cell."""
    raised = [tr for tr in transitions
              if tr.raised and (tr.at_s - world.start_s) // world.interval_s >= warmup]  # fmt: skip
    ipd = world.twin.scenario.intervals_per_day
    by_weekday: dict[str, int] = defaultdict(int)
    by_hour: dict[int, int] = defaultdict(int)
    for tr in raised:
        by_weekday[WEEKDAYS[weekday(tr.at_s)]] += 1
        by_hour[(tr.at_s % 86_400) // 3_600] += 1
    days = (world.values.shape[0] - warmup) / ipd
    busy = np.nanmean(world.values[warmup:, :, VOLUME], axis=0) > 0
    return {
        "alerts": len(raised),
        "by_kind": dict(
            sorted(
                defaultdict(int, {k: sum(1 for t in raised if t.kind == k) for k in KINDS}).items()
            )
        ),
        "by_weekday": dict(by_weekday),
        "by_hour_utc": dict(sorted(by_hour.items())),
        "cell_days": world.twin.num_cells * days,
        "busy_cell_days": int(busy.sum()) * days,
        "examples": [
            f"{WEEKDAYS[weekday(t.at_s)]} day {(t.at_s - world.start_s) // 86_400} "
            f"{(t.at_s % 86_400) // 3_600:02d}:{(t.at_s % 3_600) // 60:02d} UTC {t.kind} cell "
            f"{t.cell_id}: {t.reason}"
            for t in raised[:20]
        ],
    }


def energy_saving_alerts(world: World, config: KpiDetectorConfig, warmup: int) -> dict[str, int]:
    """Sleeping-cell alerts on the plan's night sleeps with and without the plan's state.

    The sleeping cells report their PRBs as available (as equipment that reports the
    configured bandwidth does), so only the plan's state tells energy saving from a fault.
    """
    shown = World(**{**world.__dict__, "values": world.values.copy()})
    night = world.asleep
    avail = shown.values[:, :, 1]
    avail[night] = world.twin.arrays.num_prb[np.nonzero(night)[1]]
    counts = {}
    for use_plan in (True, False):
        transitions, _, _ = run_detectors(shown, config, use_plan=use_plan)
        counts["with_plan" if use_plan else "without_plan"] = sum(
            1 for t in transitions
            if t.raised and t.kind == "sleeping_cell"
            and (t.at_s - world.start_s) // world.interval_s >= warmup
        )  # fmt: skip
    return counts


def summarise(runs: list[dict[str, Any]], config: KpiDetectorConfig) -> dict[str, Any]:
    """Totals over seeds: recall, precision, delay per kind; false alerts per 1 000 cell-days."""
    kinds: dict[str, dict[str, Any]] = {}
    cell_days = sum(r["clean"]["cell_days"] for r in runs)
    for kind in INJECTED_KINDS:
        rows = [r["injected"]["per_kind"][kind] for r in runs if kind in r["injected"]["per_kind"]]
        injected = sum(r["injected"] for r in rows)
        delays = [d for r in rows for d in r["delays"]]
        raised_k = sum(r["injected"].get("raised_by_kind", {}).get(kind, 0) for r in runs)
        true_k = sum(r["injected"].get("true_by_kind", {}).get(kind, 0) for r in runs)
        clean_k = sum(r["clean"]["by_kind"].get(kind, 0) for r in runs)
        kinds[kind] = {
            "injected": injected,
            # raised conditions of this kind on an injected cell and time, over all raised
            "precision": round(true_k / raised_k, 3) if raised_k else None,
            "clean_alerts": clean_k,
            "false_alerts_per_1000_cell_days": round(1000 * clean_k / cell_days, 3),
            "recall": round(sum(r["detected"] for r in rows) / max(injected, 1), 3),
            "recall_any_kind": round(
                sum(r["detected_any_kind"] for r in rows) / max(injected, 1), 3
            ),
            "delay_intervals_median": float(np.median(delays)) if delays else None,
            "delay_intervals_p90": float(np.percentile(delays, 90)) if delays else None,
        }
    injected = sum(k["injected"] for k in kinds.values())
    detected = sum(
        r["injected"]["per_kind"][k]["detected"]
        for r in runs for k in r["injected"]["per_kind"]
    )  # fmt: skip
    raised = sum(r["injected"]["raised"] for r in runs)
    true = sum(r["injected"]["true"] for r in runs)
    fa = sum(r["clean"]["alerts"] for r in runs)
    busy_days = sum(r["clean"]["busy_cell_days"] for r in runs)
    all_delays = [d for r in runs for k in r["injected"]["per_kind"].values() for d in k["delays"]]
    return {
        "recall": round(detected / max(injected, 1), 3),
        "precision": round(true / max(raised, 1), 3),
        "delay_intervals_median": float(np.median(all_delays)) if all_delays else None,
        "false_alerts_per_1000_cell_days": round(1000 * fa / cell_days, 3),
        "false_alerts_per_1000_busy_cell_days": round(1000 * fa / max(busy_days, 1), 3),
        # no false alert in N cell-days: the rule of three bounds the rate at 3/N (95 %)
        "false_alert_rate_95pct_upper_per_1000": round(1000 * max(fa, 3) / cell_days, 3)
        if fa == 0
        else None,
        "clean_alerts": fa,
        "clean_cell_days": cell_days,
        "injected": injected,
        "raised_on_injected_run": raised,
        "per_kind": kinds,
        "targets": {"recall": 0.9, "false_alerts_per_1000_cell_days": 1.0},
        "meets_targets": detected / max(injected, 1) >= 0.9 and 1000 * fa / cell_days <= 1.0,
        "config": config.__dict__,
    }


ABLATIONS: dict[str, dict[str, Any]] = {
    # one habit per hour of day and a flat efficiency expectation: the detectors before
    "hour_of_day_flat": {"day_types": (0,) * 7, "day_type_names": ("day",), "nb_slope_min": 0.0},
    "day_types_flat": {"nb_slope_min": 0.0},
    "hour_of_day_load_aware": {"day_types": (0,) * 7, "day_type_names": ("day",)},
    "day_types_load_aware": {},
}
SHORT_WARMUP_DAYS = 4  # the warm-up the benchmark used before day types


def ablations(world: World, config: KpiDetectorConfig, warmup: int, ipd: int) -> dict[str, Any]:
    """Clean false alerts of each ablation, counted after the warm-up and after 4 days."""
    out: dict[str, Any] = {}
    for name, change in ABLATIONS.items():
        transitions, _, _ = run_detectors(world, replace(config, **change))
        out[name] = {
            "warmup": false_alerts(world, transitions, warmup),
            "short_warmup": false_alerts(world, transitions, SHORT_WARMUP_DAYS * ipd),
        }
    return out


def summarise_ablations(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per ablation and warm-up: false alerts per 1 000 cell-days, by kind and weekday."""
    out: dict[str, Any] = {}
    for name in ABLATIONS:
        out[name] = {}
        for warm in ("warmup", "short_warmup"):
            rows = [r[name][warm] for r in runs]
            alerts = sum(r["alerts"] for r in rows)
            cell_days = sum(r["cell_days"] for r in rows)
            by_kind: dict[str, int] = defaultdict(int)
            by_weekday: dict[str, int] = defaultdict(int)
            for r in rows:
                for k, v in r["by_kind"].items():
                    by_kind[k] += v
                for k, v in r["by_weekday"].items():
                    by_weekday[k] += v
            out[name][warm] = {
                "false_alerts_per_1000_cell_days": round(1000 * alerts / cell_days, 3),
                "alerts": alerts,
                "cell_days": cell_days,
                "by_kind": {k: v for k, v in by_kind.items() if v},
                "by_weekday": {d: by_weekday[d] for d in WEEKDAYS if by_weekday[d]},
            }
    return out


def _parsed(kind: type, text: str) -> Any:
    """``text`` as a value of ``kind``; a bool from 0/1, true/false, yes/no."""
    if kind is bool:
        if text.lower() not in ("0", "1", "true", "false", "yes", "no"):
            raise SystemExit(f"--set: {text!r} is not a bool (0/1, true/false, yes/no)")
        return text.lower() in ("1", "true", "yes")
    return kind(text)


def configured(overrides: list[str]) -> KpiDetectorConfig:
    """The default detector config with ``FIELD=VALUE`` overrides (tuples comma-separated)."""
    config = KpiDetectorConfig()
    changes: dict[str, Any] = {}
    for item in overrides:
        name, _, text = item.partition("=")
        if name not in KpiDetectorConfig.__dataclass_fields__:
            raise SystemExit(f"--set: KpiDetectorConfig has no field {name!r}")
        default = getattr(config, name)
        if isinstance(default, tuple):
            kind = type(default[0])
            changes[name] = tuple(kind(v) for v in text.split(","))
        else:
            changes[name] = _parsed(type(default), text)
    if "day_types" in changes and "day_type_names" not in changes:
        kinds = max(changes["day_types"]) + 1
        changes["day_type_names"] = (
            ("day",) if kinds == 1 else tuple(f"day type {k}" for k in range(kinds))
        )
    return replace(config, **changes)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    # one week: the weekend habits are learned on the first weekend (docs/detection.md)
    parser.add_argument("--warmup-days", type=int, default=7)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--spacing-h", type=int, default=10)
    parser.add_argument(
        "--baselines", action="store_true", help="river Half-Space Trees too (bench extra)"
    )
    parser.add_argument("--quick", action="store_true", help="one seed, 7 + 4 days")
    parser.add_argument(
        "--ablations",
        action="store_true",
        help="also count clean false alerts without day types and/or the load-aware efficiency",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep each seed's clean twin counters here and reuse them (skips the simulation)",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        metavar="JSON",
        help="summarise the per-seed runs of earlier outputs of this script together (seeds "
        "run as separate commands); the same --compare-set as they were run with",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="seeds judged in parallel processes (default 1)"
    )
    parser.add_argument(
        "--compare-set",
        action="append",
        default=None,
        metavar="FIELD=VALUE",
        help="also run the detectors with these overrides on the same counters (a baseline "
        "measured in the same run), e.g. collapse_load_aware=0; '-' for the defaults",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a KpiDetectorConfig field (ablations), e.g. day_types=0,0,0,0,0,0,0 "
        "(one habit per hour of day) or nb_slope_min=0 (no load-aware efficiency)",
    )
    return parser.parse_args(argv)


def compared_run(
    clean: World,
    dirty: World,
    injections: list[inject.Injection],
    config: KpiDetectorConfig,
    warmup: int,
) -> dict[str, Any]:
    """The clean and injected scores of another detector config on the same counters."""
    transitions, _, seconds = run_detectors(clean, config)
    return {
        "seed": clean.twin.scenario.seed,
        "clean": false_alerts(clean, transitions, warmup),
        "injected": score(dirty, run_detectors(dirty, config)[0], injections, warmup),
        "seconds": seconds,
    }


def run_seed(
    args: argparse.Namespace, seed: int, config: KpiDetectorConfig,
    compare: KpiDetectorConfig | None,
) -> dict[str, Any]:  # fmt: skip
    """One seed: the clean and injected runs (and what the options ask for besides)."""
    warm_days, days = (7, 4) if args.quick else (args.warmup_days, args.days)
    clean = simulate_world(args.preset, seed, warm_days + days, cache=args.cache)
    ipd = clean.twin.scenario.intervals_per_day
    warmup = warm_days * ipd
    transitions, _, seconds = run_detectors(clean, config)
    dirty = World(**{**clean.__dict__, "values": clean.values.copy(),
                     "reported": clean.reported.copy()})  # fmt: skip
    injections = inject_all(dirty, warmup, args.spacing_h * ipd // 24,
                            np.random.default_rng(1000 + seed))  # fmt: skip
    found, _, _ = run_detectors(dirty, config)
    run: dict[str, Any] = {
        "seed": seed,
        "clean": false_alerts(clean, transitions, warmup),
        "injected": score(dirty, found, injections, warmup),
        "energy_saving": energy_saving_alerts(clean, config, warmup),
        "seconds": seconds,
        "samples": clean.values.shape[0] * clean.values.shape[1],
    }
    if compare is not None:
        run["compare"] = compared_run(clean, dirty, injections, compare, warmup)
    if args.ablations:
        run["ablations"] = ablations(clean, config, warmup, ipd)
    if args.baselines:
        from anomaly_baselines import baselines  # noqa: PLC0415 - the bench extra only

        cell_days = run["clean"]["cell_days"]
        budgets = {
            "same_false_alerts": run["clean"]["alerts"],
            "target_budget": max(1, int(cell_days / 1000)),
            "tenfold_budget": max(10, int(10 * cell_days / 1000)),
        }
        run["baselines"] = baselines(clean, dirty, injections, warmup, budgets)
    print(f"seed {seed}: {json.dumps({k: run[k] for k in ('clean', 'energy_saving')})}",
          file=sys.stderr, flush=True)  # fmt: skip
    return run


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    seeds = [1] if args.quick else [int(s) for s in args.seeds.split(",")]
    if args.baselines:
        try:
            import river  # noqa: F401, PLC0415 - the bench extra only
        except ImportError:
            print("--baselines needs river: pip install -e '.[bench]'", file=sys.stderr)
            return 2
    config = configured(args.set)
    compare = (
        None if args.compare_set is None else configured([c for c in args.compare_set if c != "-"])
    )
    if args.merge:
        runs = [r for path in args.merge for r in json.loads(path.read_text())["runs"]]
        seeds = [r["seed"] for r in runs]
    elif args.jobs > 1:
        with ProcessPoolExecutor(min(args.jobs, len(seeds))) as pool:
            n = len(seeds)
            runs = list(pool.map(run_seed, [args] * n, seeds, [config] * n, [compare] * n))
    else:
        runs = [run_seed(args, seed, config, compare) for seed in seeds]
    result = summarise(runs, config)
    result.update(preset=args.preset, seeds=seeds, overrides=args.set,
                  warmup_days=7 if args.quick else args.warmup_days,
                  days=4 if args.quick else args.days)  # fmt: skip
    result["energy_saving_sleeping_alerts"] = {
        k: sum(r["energy_saving"][k] for r in runs) for k in ("with_plan", "without_plan")
    }
    samples = sum(r["samples"] for r in runs)
    result["detector_us_per_cell_interval"] = round(
        1e6 * sum(r["seconds"] for r in runs) / samples, 2
    )
    if args.ablations:
        result["ablations"] = summarise_ablations([r["ablations"] for r in runs])
    if args.baselines:
        from anomaly_baselines import summarise_baselines  # noqa: PLC0415

        result["baseline"] = summarise_baselines(
            [r["baselines"] for r in runs], sum(r["clean"]["cell_days"] for r in runs)
        )
    result["clean_examples"] = {r["seed"]: r["clean"]["examples"] for r in runs}
    if compare is not None:
        compared = [r["compare"] for r in runs]
        result["compare"] = {
            **summarise(compared, compare),
            "overrides": args.compare_set,
            "clean_examples": {r["seed"]: r["clean"]["examples"] for r in compared},
            # the clean run's detector time over the compared config's, same process and data
            "detector_time_ratio": round(
                sum(r["seconds"] for r in runs) / max(sum(r["seconds"] for r in compared), 1e-9),
                3,
            ),
        }
    result["runs"] = [{k: v for k, v in r.items() if k != "baselines"} for r in runs]
    print(json.dumps(result, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
