"""Confidence calibration of the day-ahead energy plan (issue 17 section 2).

For each seed and held-out day D: forecast D from the days before it (as the product does),
plan with greedy (robust scenarios included), state the plan's confidence over K forecast
scenarios, then replay the realised day D in the twin: held = zero QoS violations. The stated
confidence is binned against the share of plans that held (reliability diagram, a PNG written
next to the JSON) and scored by the Brier score.

Each plan also gets a diagnosis that splits the gap between what confidence assumed and what
happened into its parts, all replays of the same schedule in the same twin:

* ``held_realised_cells_mean_split``: the realised day's home-cell demand, spread over UEs by
  the expected shares (what the forecast's disaggregation does, without per-UE noise);
* ``held_realised_cells_ue_spread``: the same cell demand with the per-UE spread confidence
  uses (log-normal, ``ue_dispersion_sigma``), the share of ``--spread-draws`` draws that held:
  the plan's confidence if the forecast had known the cell demand exactly;
* ``realised_pit``: where the realised day's total demand lies among the K scenarios'
  (0 = below every scenario, 1 = above), and per cell-interval coverage of the forecast's
  5-95 % band, to see whether the scenarios are too narrow.

    nice -n 10 .venv/bin/python benchmarks/confidence.py --seeds 1 --days 20 --sites 7 \
        --ues 700 --k 16 --spread-draws 4 --robust 0 --rows-out seed1.jsonl   # per seed
    .venv/bin/python benchmarks/confidence.py --merge seed1.jsonl seed2.jsonl seed3.jsonl \
        --sites 7 --ues 700 --k 16 --out benchmarks/results/confidence-....json  # + .png
    .venv/bin/python benchmarks/confidence.py --forecast-only --first-day 28 --days 14
    # day-level errors of the scenarios (add --without-day-levels for the earlier sampler)
    nice -n 10 .venv/bin/python benchmarks/confidence.py --forecast-only --seeds 1 \
        --first-day 28 --days 28 --ues 700 --level-scenarios 300 --out day-level-1.json
    # restate saved plans (--plans-out DIR when planning) with the current forecast, paired
    .venv/bin/python benchmarks/confidence.py --merge seed1.jsonl --rescore DIR --ues 700 \
        --k 16 --rows-out restated.jsonl   # --rescore-as before: the earlier sampler

Measured figures and what they mean: docs/benchmarks.md, "Confidence calibration (issue 17)".
"""

import argparse
import itertools
import json
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np

from ranopt.forecast import Forecast, ForecastConfig, ResidualModel
from ranopt.forecast.conformal import MIN_CALIBRATION_DAYS
from ranopt.optimize.confidence import cell_demand, plan_confidence
from ranopt.optimize.day_ahead import (
    DayAheadConfig,
    DayAheadInputs,
    measure_confidence,
    plan_with_solver,
    prepare_day_ahead,
    score_plan_on_realised,
)
from ranopt.optimize.energy import EnergyConfig
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.optimize.plan import Plan
from ranopt.twin import build_twin, scenario_preset
from ranopt.twin.model import Twin

mpl.use("Agg")
import matplotlib.pyplot as plt

# bins of stated confidence; a bin with fewer plans than MIN_PLANS_PER_BIN is not judged
BIN_EDGES = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0 + 1e-9)
MIN_PLANS_PER_BIN = 8
WEEKEND = 5  # day % 7 of Saturday: the twin's weeks start on Monday (twin.traffic, mobility)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def breakage(
    plan: Plan, twin: Twin, inputs: DayAheadInputs, limits: EnergyConstraints
) -> dict[str, Any]:
    """Whether the plan held on the realised day, and by how much it broke where it did not."""
    evaluation = score_plan_on_realised(twin, plan, inputs, limits)
    kpis = evaluation.kpis()
    bad = evaluation.violating_intervals
    kinds = Counter(v for c in evaluation.checks for v in c.violations)
    return {
        "held": kpis.constraint_violations == 0,
        "violations": kpis.constraint_violations,
        "violating_intervals": len(bad),
        "violation_kinds": dict(sorted(kinds.items())),
        "rule_violations": evaluation.rule_violations,
        "max_prb_load": round(kpis.max_prb_load, 4),
        "served_ratio_min": round(kpis.served_ratio_min, 5),
        "ue_thp_p5_mbps_min": round(kpis.ue_thp_p5_mbps_min, 3),
        "saving_pct": round(kpis.saving_pct, 2),
    }


def diagnosis(
    plan: Plan,
    twin: Twin,
    inputs: DayAheadInputs,
    limits: EnergyConstraints,
    k: int,
    spread_draws: int,
    seed: int,
) -> dict[str, Any]:
    """Replays that split the confidence gap into forecast and per-UE parts (module docstring)."""
    realised_cells = cell_demand(
        inputs.realised_demand_mbps, inputs.disaggregation.home, twin.num_cells
    )
    path = realised_cells[None]
    mean_split, _ = plan_confidence(
        twin, plan.active, path, inputs.disaggregation, limits, None, 0.0, trx=plan.active_trx
    )
    spread, _ = plan_confidence(
        twin, plan.active, np.repeat(path, spread_draws, axis=0), inputs.disaggregation, limits,
        np.random.default_rng(seed), DayAheadConfig.ue_dispersion_sigma, trx=plan.active_trx,
    )  # fmt: skip
    scenarios = inputs.forecast.sample(np.random.default_rng(seed + 1), k)  # [K, T, C]
    scenario_totals = scenarios.sum(axis=(1, 2))
    realised_total = float(realised_cells.sum())
    levels = inputs.forecast.quantile_levels
    low = inputs.forecast.quantiles[levels.index(0.05)]
    high = inputs.forecast.quantiles[levels.index(0.95)]
    busy = realised_cells > 0
    inside = (realised_cells >= low) & (realised_cells <= high)
    planning = inputs.forecast.quantiles[levels.index(DayAheadConfig.planning_quantile)]
    return {
        "held_realised_cells_mean_split": bool(mean_split == 1.0),
        "held_realised_cells_ue_spread": round(spread, 4),
        "realised_pit": round(float(np.mean(scenario_totals < realised_total)), 4),
        "band_5_95_coverage": round(float(inside[busy].mean()), 4),
        "above_planning_quantile": round(float((realised_cells > planning)[busy].mean()), 4),
    }


def day_level_errors(realised: np.ndarray, scenarios: np.ndarray) -> dict[str, Any]:
    """Where the realised day's totals fall among the scenarios' (the day-level forecast error).

    For the network total and for each busy cell's day total: the share of scenarios below
    the realised value (PIT; outside [0.05, 0.95] means outside the scenarios' 90 % band) and
    the error ``z`` = (log realised - mean log scenario) / sd of log scenario totals.
    """
    totals = scenarios.sum(axis=(1, 2))  # [K]
    realised_total = float(realised.sum())
    cell_totals = scenarios.sum(axis=1)  # [K, C]
    realised_cells = realised.sum(axis=0)  # [C]
    busy = (realised_cells > 0) & (cell_totals > 0).all(axis=0)
    log_cells = np.log(cell_totals[:, busy])
    cell_z = (np.log(realised_cells[busy]) - log_cells.mean(axis=0)) / log_cells.std(axis=0)
    log_totals = np.log(totals)
    return {
        "network_pit": round(float(np.mean(totals < realised_total)), 4),
        "network_z": round(
            float((np.log(realised_total) - log_totals.mean()) / log_totals.std()), 4
        ),
        "network_log_sd": round(float(log_totals.std()), 4),
        "network_log_error": round(float(np.log(realised_total) - np.median(log_totals)), 4),
        "cell_pit": [
            round(float(v), 4) for v in np.mean(cell_totals[:, busy] < realised_cells[busy], axis=0)
        ],
        "cell_z": [round(float(v), 4) for v in cell_z],
    }


def forecast_rows(args: argparse.Namespace, seed: int) -> list[dict[str, Any]]:
    """The day-ahead forecast alone, per day: bias, band coverage and day-level errors."""
    twin = build_twin(
        scenario_preset(args.scenario, seed=seed, num_sites=args.sites, num_ues=args.ues)
    )
    rows = []
    for day in range(args.first_day, args.first_day + args.days):
        inputs = prepare_day_ahead(twin, seed, day, DayAheadConfig())
        realised = cell_demand(
            inputs.realised_demand_mbps, inputs.disaggregation.home, twin.num_cells
        )
        levels = inputs.forecast.quantile_levels
        median = inputs.forecast.quantiles[levels.index(0.5)]
        low = inputs.forecast.quantiles[levels.index(0.05)]
        high = inputs.forecast.quantiles[levels.index(0.95)]
        planning = inputs.forecast.quantiles[levels.index(DayAheadConfig.planning_quantile)]
        busy = (realised > 0) & (median > 0)
        row = {
            "seed": seed,
            "day": day,
            "weekend": day % 7 >= WEEKEND,
            "calibration_days": calibration_days(day),
            "total_realised_over_median": round(float(realised.sum() / median.sum()), 4),
            "mean_log_ratio_busy": round(float(np.log(realised[busy] / median[busy]).mean()), 4),
            "band_5_95_coverage": round(
                float(((realised >= low) & (realised <= high))[busy].mean()), 4
            ),
            "above_planning_quantile": round(float((realised > planning)[busy].mean()), 4),
        }
        if args.level_scenarios > 0:
            forecast = inputs.forecast
            if args.without_day_levels:
                forecast = without_day_levels(forecast)
            scenarios = forecast.sample(np.random.default_rng([seed, day, 7]), args.level_scenarios)
            row |= day_level_errors(realised, scenarios)
        log(f"forecast seed {seed} day {day}: " + ", ".join(
            f"{k} {v}" for k, v in row.items() if not isinstance(v, list)
        ))  # fmt: skip
        rows.append(row)
    return rows


def day_level_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Day-level calibration of the scenarios: out-of-band shares (target 0.10) and z spread."""
    pit = np.array([r["network_pit"] for r in rows])
    z = np.array([r["network_z"] for r in rows])
    cell_pit = np.concatenate([r["cell_pit"] for r in rows])
    cell_z = np.concatenate([r["cell_z"] for r in rows])
    return {
        "network_outside_90_band": round(float(np.mean((pit < 0.05) | (pit > 0.95))), 4),
        "network_above_95": round(float(np.mean(pit > 0.95)), 4),
        "network_below_5": round(float(np.mean(pit < 0.05)), 4),
        # binomial half-width of the out-of-band share if the scenarios were calibrated
        "network_outside_90_band_95ci_halfwidth": round(1.96 * float(np.sqrt(0.09 / len(rows))), 4),
        "network_z_sd": round(float(z.std()), 3),
        "network_z_mean": round(float(z.mean()), 3),
        "mean_network_log_sd": round(float(np.mean([r["network_log_sd"] for r in rows])), 4),
        "rms_network_log_error": round(
            float(np.sqrt(np.mean([r["network_log_error"] ** 2 for r in rows]))), 4
        ),
        "cell_outside_90_band": round(float(np.mean((cell_pit < 0.05) | (cell_pit > 0.95))), 4),
        "cell_z_sd": round(float(cell_z.std()), 3),
    }


def forecast_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean forecast figures by day type and by history (calibration days), day-level too."""
    out = {}
    named = (
        ("all days", rows),
        ("working days", [r for r in rows if not r["weekend"]]),
        ("weekend days", [r for r in rows if r["weekend"]]),
        (f"< {MIN_CALIBRATION_DAYS} calibration days (log-normal quantiles)",
         [r for r in rows if r["calibration_days"] < MIN_CALIBRATION_DAYS]),
        (f"{MIN_CALIBRATION_DAYS}-13 calibration days",
         [r for r in rows if MIN_CALIBRATION_DAYS <= r["calibration_days"] < 14]),
        ("14 calibration days", [r for r in rows if r["calibration_days"] >= 14]),
    )  # fmt: skip
    for name, part in named:
        if part:
            out[name] = {"days": len(part)} | {
                key: round(float(np.mean([r[key] for r in part])), 4)
                for key in (
                    "total_realised_over_median",
                    "mean_log_ratio_busy",
                    "band_5_95_coverage",
                    "above_planning_quantile",
                )
            }
            if "network_pit" in part[0]:
                out[name] |= day_level_summary(part)
    return out


def run_seed(args: argparse.Namespace, seed: int) -> list[dict[str, Any]]:
    """All held-out days of one seed: plan, confidence, realised replay, diagnosis."""
    twin = build_twin(
        scenario_preset(args.scenario, seed=seed, num_sites=args.sites, num_ues=args.ues)
    )
    limits = EnergyConstraints()
    config = DayAheadConfig(confidence_scenarios=args.k)
    rows = []
    for day in range(args.first_day, args.first_day + args.days):
        started = time.perf_counter()
        inputs = prepare_day_ahead(twin, seed, day, config)
        plan = plan_with_solver(
            twin, inputs, "greedy", limits, EnergyConfig(), np.random.default_rng([seed, day]),
            args.robust,
        )  # fmt: skip
        plan_s = time.perf_counter() - started
        plan = measure_confidence(
            twin, plan, inputs, limits, args.k, np.random.default_rng([seed, day, 1])
        )
        confidence = float(plan.confidence) if plan.confidence is not None else float("nan")
        row: dict[str, Any] = {
            "seed": seed,
            "day": day,
            "robust_scenarios": args.robust,
            "confidence": round(confidence, 4),
            **breakage(plan, twin, inputs, limits),
            "plan_s": round(plan_s, 2),
        }
        if args.spread_draws > 0:
            row.update(
                diagnosis(plan, twin, inputs, limits, args.k, args.spread_draws, seed * 1000 + day)
            )
        row["total_s"] = round(time.perf_counter() - started, 2)
        log(
            f"seed {seed} day {day}: stated {confidence:.2f}, "
            f"{'held' if row['held'] else str(row['violations']) + ' violations'}, "
            f"{row['total_s']} s"
        )
        if args.plans_out is not None:
            save_plan(args.plans_out, seed, day, plan)
        rows.append(row)
        if args.rows_out is not None:
            with args.rows_out.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
    return rows


def plan_path(folder: Path, seed: int, day: int) -> Path:
    return folder / f"plan-seed{seed}-day{day}.npz"


def save_plan(folder: Path, seed: int, day: int, plan: Plan) -> None:
    """Keep the schedule a plan's confidence replays, so ``--rescore`` can restate it."""
    folder.mkdir(parents=True, exist_ok=True)
    trx = plan.active_trx if plan.active_trx is not None else np.zeros((0, 0), dtype=np.int64)
    np.savez_compressed(plan_path(folder, seed, day), active=plan.active, trx=trx)


def without_day_levels(forecast: Forecast) -> Forecast:
    """The forecast as it sampled before issue 17 part 2: the fitting window's day levels."""
    residual = forecast.residual
    if not isinstance(residual, ResidualModel):
        return forecast
    return replace(
        forecast, residual=replace(residual, scenario_common_day=None, scenario_series_day=None)
    )


def rescore(args: argparse.Namespace, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Restate each saved plan's confidence with the current forecast (same scenario seed).

    The schedule, and so whether it held on the realised day, is the saved one; only the
    stated confidence is measured again, with the same generator seed as when it was planned,
    so the two statements of one plan are paired. ``--rescore-as after``: the current
    forecast's statement becomes ``confidence`` and the row's old one ``confidence_before``;
    ``before``: the statement without the out-of-sample day levels (``without_day_levels``)
    becomes ``confidence_before`` and the row's stays ``confidence``.
    """
    limits = EnergyConstraints()
    config = DayAheadConfig(confidence_scenarios=args.k)
    twins: dict[int, Twin] = {}
    out = []
    for row in rows:
        seed, day = int(row["seed"]), int(row["day"])
        if seed not in twins:
            twins[seed] = build_twin(
                scenario_preset(args.scenario, seed=seed, num_sites=args.sites, num_ues=args.ues)
            )
        twin = twins[seed]
        started = time.perf_counter()
        saved = np.load(plan_path(args.rescore, seed, day))
        trx = saved["trx"] if saved["trx"].size else None
        inputs = prepare_day_ahead(twin, seed, day, config)
        forecast = inputs.forecast
        if args.rescore_as == "before":
            forecast = without_day_levels(forecast)
        rng = np.random.default_rng([seed, day, 1])  # as run_seed's measure_confidence
        scenarios = forecast.sample(rng, args.k)
        confidence, _ = plan_confidence(
            twin, saved["active"], scenarios, inputs.disaggregation, limits, rng,
            DayAheadConfig.ue_dispersion_sigma, trx=trx,
        )  # fmt: skip
        stated = round(float(confidence), 4)
        if args.rescore_as == "before":
            new = row | {"confidence_before": stated}
        else:
            new = row | {"confidence_before": row["confidence"], "confidence": stated}
        new["rescore_s"] = round(time.perf_counter() - started, 2)
        log(f"rescore ({args.rescore_as}) seed {seed} day {day}: {row['confidence']} -> {stated}")
        out.append(new)
        if args.rows_out is not None:
            with args.rows_out.open("a") as handle:
                handle.write(json.dumps(new) + "\n")
    return out


def brier(rows: list[dict[str, Any]]) -> float:
    return float(np.mean([(r["confidence"] - float(r["held"])) ** 2 for r in rows]))


def wilson_interval(held: int, plans: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a share held ``held / plans`` (Wilson, JASA 1927)."""
    share = held / plans
    centre = (share + z * z / (2 * plans)) / (1 + z * z / plans)
    half = (
        z * np.sqrt(share * (1 - share) / plans + z * z / (4 * plans * plans)) / (1 + z * z / plans)
    )
    return float(centre - half), float(centre + half)


def reliability(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per bin of stated confidence: plans, mean stated, share held, gap in points, judged."""
    table = []
    for low, high in itertools.pairwise(BIN_EDGES):
        inside = [r for r in rows if low <= r["confidence"] < high]
        if not inside:
            continue
        stated = float(np.mean([r["confidence"] for r in inside]))
        held = float(np.mean([r["held"] for r in inside]))
        enough = len(inside) >= MIN_PLANS_PER_BIN
        low_ci, high_ci = wilson_interval(sum(bool(r["held"]) for r in inside), len(inside))
        table.append(
            {
                "bin": f"[{low:.2f}, {min(high, 1.0):.2f}{']' if high > 1.0 else ')'}",
                "plans": len(inside),
                "mean_stated": round(stated, 4),
                "held_share": round(held, 4),
                "gap_points": round(100 * (stated - held), 1),
                "held_share_95ci": [round(low_ci, 3), round(high_ci, 3)],
                "judged": enough,
                "within_5_points": abs(stated - held) <= 0.05 if enough else None,
            }
        )
    return table


def before_figures(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The same plans' figures with the confidence stated before the change (``--rescore``)."""
    if not rows or not all("confidence_before" in r for r in rows):
        return None
    old = [r | {"confidence": r["confidence_before"]} for r in rows]
    return {
        "overall": summary(old),
        "reliability": reliability(old),
        "groups": groups(old),
        "mean_change_points": round(
            100 * float(np.mean([r["confidence"] - r["confidence_before"] for r in rows])), 1
        ),
        "plans_changed": sum(r["confidence"] != r["confidence_before"] for r in rows),
    }


def calibration_days(day: int) -> int:
    """Days the forecast of ``day`` has for its split-conformal calibration (prepare_day_ahead)."""
    config = ForecastConfig()
    return max(0, min(config.calibration_days, day - DayAheadConfig.history_days))


def groups(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Summaries by forecast regime (conformal or log-normal quantiles) and by day type."""
    calibrated = [r for r in rows if calibration_days(r["day"]) >= MIN_CALIBRATION_DAYS]
    cold = [r for r in rows if calibration_days(r["day"]) < MIN_CALIBRATION_DAYS]
    weekend = [r for r in rows if r["day"] % 7 >= WEEKEND]
    working = [r for r in rows if r["day"] % 7 < WEEKEND]
    named = {
        f"forecast with conformal quantiles (>= {MIN_CALIBRATION_DAYS} calibration days)": (
            calibrated
        ),
        f"forecast with log-normal quantiles (< {MIN_CALIBRATION_DAYS} calibration days)": cold,
        "working days (Monday-Friday)": working,
        "weekend days": weekend,
    }
    return {name: summary(part) for name, part in named.items() if part}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    stated = float(np.mean([r["confidence"] for r in rows]))
    held = float(np.mean([r["held"] for r in rows]))
    out: dict[str, Any] = {
        "plans": len(rows),
        "mean_stated": round(stated, 4),
        "held_share": round(held, 4),
        "gap_points": round(100 * (stated - held), 1),
        "brier": round(brier(rows), 4),
        # the Brier score of always stating the realised share (no resolution): a reference
        "brier_climatology": round(held * (1.0 - held), 4),
    }
    if rows and "held_realised_cells_ue_spread" in rows[0]:
        out["held_realised_cells_mean_split"] = round(
            float(np.mean([r["held_realised_cells_mean_split"] for r in rows])), 4
        )
        out["mean_held_realised_cells_ue_spread"] = round(
            float(np.mean([r["held_realised_cells_ue_spread"] for r in rows])), 4
        )
        out["mean_realised_pit"] = round(float(np.mean([r["realised_pit"] for r in rows])), 4)
        out["band_5_95_coverage"] = round(
            float(np.mean([r["band_5_95_coverage"] for r in rows])), 4
        )
        out["above_planning_quantile"] = round(
            float(np.mean([r["above_planning_quantile"] for r in rows])), 4
        )
    return out


def plot(
    rows: list[dict[str, Any]],
    table: list[dict[str, Any]],
    title: str,
    path: Path,
    before: list[dict[str, Any]] | None = None,
) -> None:
    """Reliability diagram: share held against stated confidence per bin, plans per bin.

    ``before``: the same plans' reliability table with the earlier stated confidence.
    """
    fig, ax = plt.subplots(figsize=(4.8, 4.2), dpi=80)
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfect")
    ax.fill_between([0, 1], [-0.05, 0.95], [0.05, 1.05], color="0.9", label="±5 points")
    stated = [b["mean_stated"] for b in table]
    held = [b["held_share"] for b in table]
    if before:
        ax.plot(
            [b["mean_stated"] for b in before], [b["held_share"] for b in before],
            marker="s", color="0.5", linestyle=":", label="same plans, stated before",
        )  # fmt: skip
    ax.plot(stated, held, marker="o", color="tab:blue", label="plans (bin mean)")
    for b in table:
        ax.annotate(
            str(b["plans"]), (b["mean_stated"], b["held_share"]), textcoords="offset points",
            xytext=(4, -10), fontsize=7,
        )  # fmt: skip
    jitter = np.random.default_rng(0).uniform(-0.03, 0.03, len(rows))
    ax.scatter(
        [r["confidence"] for r in rows], np.array([float(r["held"]) for r in rows]) + jitter,
        s=6, color="tab:orange", alpha=0.5, label="each plan (held 1 / 0)",
    )  # fmt: skip
    ax.set_xlim(0, 1.02)
    ax.set_ylim(-0.08, 1.08)
    ax.set_xlabel("stated confidence")
    ax.set_ylabel("share of plans that held")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


Z_BINS = (-np.inf, -1.0, 0.0, 1.0, 1.645, np.inf)  # the realised day's network z


def plans_by_day_error(
    plans: list[dict[str, Any]], forecasts: list[dict[str, Any]]
) -> dict[str, Any]:
    """An earlier run's plans (``--plans``) grouped by their day's day-level forecast error."""
    errors = {(r["seed"], r["day"]): r for r in forecasts if "network_z" in r}
    matched = [p | {"z": errors[(p["seed"], p["day"])]["network_z"]} for p in plans
               if (p["seed"], p["day"]) in errors]  # fmt: skip
    out: dict[str, Any] = {"plans_matched": len(matched)}
    for low, high in itertools.pairwise(Z_BINS):
        part = [p for p in matched if low <= p["z"] < high]
        if part:
            out[f"network z in [{low}, {high})"] = summary(part)
    out["broken"] = [
        {k: p[k] for k in ("seed", "day", "confidence", "violations", "z")}
        for p in matched
        if not p["held"]
    ]
    return out


def forecast_only(args: argparse.Namespace) -> None:
    """The ``--forecast-only`` run (or merge): forecast and day-level figures, no plans."""
    if args.merge:  # --out files of earlier --forecast-only runs
        parts = [json.loads(path.read_text()) for path in args.merge]
        rows = [row for part in parts for row in part["forecasts"]]
        if args.merge_days is not None:
            first, last = (int(v) for v in args.merge_days.split("-"))
            rows = [r for r in rows if first <= r["day"] <= last]
        args.seeds = ",".join(str(s) for s in sorted({r["seed"] for r in rows}))
        days = sorted({int(r["day"]) for r in rows})
        args.first_day, args.days = days[0], days[-1] - days[0] + 1
        args.level_scenarios = parts[0]["level_scenarios"]
        args.without_day_levels = "before" in parts[0].get("scenario_day_levels", "")
    else:
        rows = [row for s in args.seeds.split(",") for row in forecast_rows(args, int(s))]
    result = {
        "scenario": args.scenario, "sites": args.sites, "ues": args.ues,
        "seeds": args.seeds, "days": [args.first_day, args.first_day + args.days - 1],
        "level_scenarios": args.level_scenarios,
        "scenario_day_levels": "fitting window (before)" if args.without_day_levels
        else "out of sample (after)",
        "summary": forecast_summary(rows), "forecasts": rows,
    }  # fmt: skip
    if args.plans is not None:
        plans = json.loads(args.plans.read_text())["plans"]
        result["summary"]["plans_by_day_error"] = plans_by_day_error(plans, rows)
    if args.out is not None:
        args.out.write_text(json.dumps(result) + "\n")
    print(json.dumps(result["summary"], indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--sites", type=int, default=7)
    parser.add_argument("--ues", type=int, default=1500)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--first-day", type=int, default=14)
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--k", type=int, default=DayAheadConfig.confidence_scenarios)
    parser.add_argument(
        "--robust", type=int, default=DayAheadConfig.robust_scenarios,
        help="scenarios the plan is repaired on (0: plan on the forecast quantile only)",
    )  # fmt: skip
    parser.add_argument("--spread-draws", type=int, default=16, help="0: no diagnosis")
    parser.add_argument("--out", type=Path, default=None, help="JSON path; the PNG goes beside")
    parser.add_argument("--rows-out", type=Path, default=None, help="append each plan (JSONL)")
    parser.add_argument(
        "--merge", type=Path, nargs="*", default=None,
        help="build the result from --rows-out files of earlier runs instead of planning",
    )  # fmt: skip
    parser.add_argument(
        "--plans-out", type=Path, default=None, help="save each plan's schedule here (npz)"
    )
    parser.add_argument(
        "--rescore", type=Path, default=None,
        help="with --merge: restate the merged plans' confidence from schedules saved here",
    )  # fmt: skip
    parser.add_argument("--rescore-as", choices=("after", "before"), default="after")
    parser.add_argument(
        "--level-scenarios", type=int, default=500,
        help="with --forecast-only: scenarios drawn per day for the day-level errors (0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--without-day-levels", action="store_true",
        help="with --forecast-only: scenarios as before issue 17 part 2 (the window's day levels)",
    )  # fmt: skip
    parser.add_argument(
        "--merge-days", default=None, help="with --forecast-only --merge: keep days A-B only"
    )
    parser.add_argument(
        "--plans", type=Path, default=None,
        help="with --forecast-only: a plan run's JSON, its plans grouped by day-level error",
    )  # fmt: skip
    parser.add_argument(
        "--forecast-only", action="store_true",
        help="no plans: the day-ahead forecast's bias and coverage per day type",
    )  # fmt: skip
    args = parser.parse_args()
    started = time.perf_counter()
    if args.forecast_only:
        forecast_only(args)
        return
    if args.merge:
        rows = [json.loads(line) for path in args.merge for line in path.read_text().splitlines()]
        seeds = sorted({int(r["seed"]) for r in rows})
        args.robust = sorted({int(r.get("robust_scenarios", args.robust)) for r in rows})
        days = sorted({int(r["day"]) for r in rows})
        args.seeds = ",".join(str(s) for s in seeds)
        args.first_day, args.days = days[0], days[-1] - days[0] + 1
        if args.rescore is not None:
            rows = rescore(args, rows)
    else:
        seeds = [int(s) for s in args.seeds.split(",")]
        rows = [row for seed in seeds for row in run_seed(args, seed)]
    table = reliability(rows)
    judged = [b for b in table if b["judged"]]
    result: dict[str, Any] = {
        "scenario": args.scenario,
        "sites": args.sites,
        "ues": args.ues,
        "seeds": seeds,
        "days": [args.first_day, args.first_day + args.days - 1],
        "confidence_scenarios": args.k,
        "robust_scenarios": args.robust,
        "solver": "greedy",
        "min_plans_per_bin": MIN_PLANS_PER_BIN,
        "overall": summary(rows),
        "per_seed": {str(s): summary([r for r in rows if r["seed"] == s]) for s in seeds},
        "reliability": table,
        "groups": groups(rows),
        "target_within_5_points_every_judged_bin": bool(judged)
        and all(b["within_5_points"] for b in judged),
        "before": before_figures(rows),
        "plans": rows,
        "plan_seconds_sum": round(sum(r["total_s"] for r in rows), 1),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        png = args.out.with_suffix(".png")
        title = (
            f"{args.scenario} {args.sites} sites {args.ues} UEs, seeds {args.seeds}, "
            f"days {args.first_day}-{args.first_day + args.days - 1}, K = {args.k}, "
            f"robust {args.robust}\n"
            f"Brier {result['overall']['brier']}, stated {result['overall']['mean_stated']}, "
            f"held {result['overall']['held_share']}"
        )
        before = result["before"]["reliability"] if result["before"] else None
        plot(rows, table, title, png, before)
        result["png"] = str(png)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
