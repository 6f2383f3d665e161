"""``ranopt optimize``: plan a day for a twin scenario and score it on the realised day."""

import json
import time
from dataclasses import replace
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ranopt.cli import qos
from ranopt.cli.calibrate import optimize_network_cli
from ranopt.cli.common import TenantOpt
from ranopt.cli.highs import silence_highs_banner
from ranopt.errors import ValidationError
from ranopt.optimize.day_ahead import (
    DayAheadConfig,
    DayAheadInputs,
    measure_confidence,
    plan_threshold,
    plan_with_solver,
    prepare_day_ahead,
    score_plan_on_realised,
)
from ranopt.optimize.energy import ENERGY_SOLVERS, EnergyConfig
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.optimize.plan import Plan, PlanKpis
from ranopt.optimize.slicing import SliceSla
from ranopt.optimize.threshold import ThresholdRule
from ranopt.service.executor import configured_executor
from ranopt.service.partitioned import (
    MIN_PARTITION_CELLS,
    ClusteredPlan,
    partition_summary,
    plan_by_clusters,
)
from ranopt.twin import build_twin, scenario_preset
from ranopt.twin.model import Twin
from ranopt.twin.snapshot import Snapshot

TABLE_FIELDS = (
    "energy_kwh",
    "always_on_energy_kwh",
    "saving_pct",
    "served_ratio_min",
    "max_prb_load",
    "ue_thp_p5_mbps_min",
    "constraint_violations",
    "confidence",
    "solve_s",
)


def _progress(console: Console, label: str, transient: bool) -> Progress:
    return Progress(
        TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=transient,
    )  # fmt: skip


def _confidence(
    twin: Twin,
    plan: Plan,
    inputs: DayAheadInputs,
    limits: EnergyConstraints,
    rule: ThresholdRule | None,
    num_scenarios: int,
    rng: np.random.Generator,
    progress: Progress,
    ue_sigma: float,
) -> float:
    """Share of forecast scenarios in which the plan (or the closed-loop rule) keeps every limit."""
    task = progress.add_task("confidence", total=num_scenarios)
    measured = measure_confidence(
        twin, plan, inputs, limits, num_scenarios, rng, ue_sigma, rule,
        on_scenario=lambda: progress.advance(task), map_tasks=configured_executor().map,
    )  # fmt: skip
    return measured.confidence if measured.confidence is not None else 0.0


def kpi_fields(kpis: PlanKpis) -> dict[str, float | int]:
    """Return a plan's measured figures, rounded as the JSON reports them."""
    return {
        "energy_kwh": round(kpis.energy_kwh, 3),
        "always_on_energy_kwh": round(kpis.always_on_energy_kwh, 3),
        "saving_pct": round(kpis.saving_pct, 3),
        "served_ratio_min": round(kpis.served_ratio_min, 5),
        "max_prb_load": round(kpis.max_prb_load, 4),
        "ue_thp_p5_mbps_min": round(kpis.ue_thp_p5_mbps_min, 3),
        "constraint_violations": kpis.constraint_violations,
    }


def optimize(
    network: Annotated[
        str | None,
        typer.Option(
            "--network",
            help="A registered network: plan its next window on the model calibrated from "
            "its topology and stored counters (--scenario is the twin study instead).",
        ),
    ] = None,
    tenant: TenantOpt = "default",
    scenario: Annotated[
        str, typer.Option("--scenario", help="Preset: default, medium, large.")
    ] = "default",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the scenario and its traffic.")] = 0,
    objective: Annotated[
        str, typer.Option("--objective", help="energy, load-balance, slicing or compensate.")
    ] = "energy",
    solver: Annotated[
        str | None,
        typer.Option(
            "--solver",
            help="energy: exact, anneal, greedy (default) or threshold; load-balance: exact "
            "(default up to 19 sites) or local; slicing: lp; compensate: greedy.",
        ),
    ] = None,
    failed_cell: Annotated[
        str | None,
        typer.Option("--failed-cell", help="compensate: failed cell, name (S007-2-cap) or index."),
    ] = None,
    slicing_step: Annotated[
        int, typer.Option("--slicing-step", min=1, help="slicing: plan every N-th interval.")
    ] = 1,
    day: Annotated[
        int, typer.Option("--day", help="Day D to plan (needs history days before it).")
    ] = 14,
    history_days: Annotated[int, typer.Option("--history-days", min=2)] = 14,
    planning_quantile: Annotated[
        float, typer.Option("--planning-quantile", help="Forecast quantile the plan carries.")
    ] = DayAheadConfig.planning_quantile,
    scenarios: Annotated[
        int, typer.Option("--scenarios", min=1, help="K demand scenarios for confidence.")
    ] = 64,
    sites: Annotated[int | None, typer.Option("--sites")] = None,
    ues: Annotated[int | None, typer.Option("--ues")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    horizon_min: Annotated[
        int, typer.Option("--horizon-min", min=15, max=1440, help="--network: window length.")
    ] = 1440,
    min_days: Annotated[
        float, typer.Option("--min-days", min=3, help="--network: PM history days required.")
    ] = 7.0,
    partition_cells: Annotated[
        int | None,
        typer.Option(
            "--partition-cells",
            min=MIN_PARTITION_CELLS,
            help="energy (exact, anneal, greedy): plan by clusters of at most N cells "
            "(interference coupling, a sector's cells together, guard borders) on the "
            "configured executor, verified on the whole network, then made robust on "
            "forecast scenarios like every plan. Off by default.",
        ),
    ] = None,
) -> None:
    """Plan day D from the days before it, measure confidence, score it on the realised day.

    With ``--network NAME`` plan a registered network's next window on its calibrated model
    (horizon ``--horizon-min``, confidence over ``--scenarios``); exit 3 without enough
    telemetry.
    """
    if partition_cells is not None:
        _check_partition(network, objective, solver)
    if network is not None:
        if objective != "energy":
            raise typer.BadParameter("--network plans the energy objective only")
        optimize_network_cli(
            network, tenant, solver or "greedy", horizon_min, history_days, scenarios,
            min_days, as_json,
        )  # fmt: skip
        return
    console = Console(stderr=as_json)
    if objective in qos.QOS_OBJECTIVES:
        _optimize_qos(
            scenario, seed, objective, solver, failed_cell, day, scenarios, sites, ues,
            slicing_step, as_json, console,
        )  # fmt: skip
        return
    if objective != "energy":
        raise typer.BadParameter(
            f"--objective must be energy, load-balance, slicing or compensate; got {objective!r}"
        )
    solver = solver or "greedy"
    if solver not in (*ENERGY_SOLVERS, "threshold"):
        raise typer.BadParameter(
            f"--solver must be one of exact, anneal, greedy, threshold; got {solver!r}"
        )
    try:
        spec = scenario_preset(scenario, seed=seed, num_sites=sites, num_ues=ues)
        config = DayAheadConfig(
            history_days=history_days,
            planning_quantile=planning_quantile,
            confidence_scenarios=scenarios,
        )
        with console.status(f"building twin and {history_days}-day history of {spec.name}"):
            twin = build_twin(spec)
            inputs = prepare_day_ahead(twin, seed, day, config)
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from exc
    silence_highs_banner()
    limits = EnergyConstraints()
    rng = np.random.default_rng(np.random.SeedSequence([seed, day, 0xC0F]))
    by = "" if partition_cells is None else f" by clusters of <= {partition_cells} cells"
    with console.status(f"planning day {day} with {solver}{by}"):
        started = time.perf_counter()
        plan, rule, clustered = _plan_day(
            twin, seed, inputs, solver, limits, config, rng, partition_cells
        )
        solve_s = time.perf_counter() - started
    with _progress(console, "confidence", transient=as_json) as progress:
        confidence = _confidence(
            twin, plan, inputs, limits, rule, scenarios, rng, progress, config.ue_dispersion_sigma
        )
    plan = replace(plan, confidence=confidence)
    with console.status("replaying the plan on the realised day"):
        realised = score_plan_on_realised(twin, plan, inputs, limits).kpis()
    result: dict[str, Any] = {
        "scenario": spec.name,
        "seed": seed,
        "day": day,
        "objective": objective,
        "solver": solver,
        **kpi_fields(realised),
        "confidence": round(confidence, 4),
        "confidence_scenarios": scenarios,
        "planning_quantile": planning_quantile,
        "solve_s": round(solve_s, 3),
        "solver_status": str(plan.solve.status),
        "mip_gap": plan.solve.mip_gap,
        "solver_detail": plan.solve.detail,
        "planned": kpi_fields(plan.expected) if plan.expected else None,
        "actions": [
            {"cell": a.cell, "t_min": a.t_min, "action": a.action, "value": a.value}
            for a in plan.actions
        ],
    }
    if clustered is not None:
        result["partition"] = partition_summary(clustered)
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table(title=f"Energy plan for day {day} ({solver}), measured on the realised day")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in TABLE_FIELDS:
        table.add_row(key, str(result[key]))
    table.add_row("actions", str(len(plan.actions)))
    console.print(table)
    if clustered is not None:
        _print_partition(console, result["partition"], result["planned"])


def _check_partition(network: str | None, objective: str, solver: str | None) -> None:
    """Refuse ``--partition-cells`` beside what it does not apply to, naming the option."""
    if network is not None or objective != "energy":
        raise typer.BadParameter(
            "--partition-cells plans the twin study's energy objective only"
            " (not --network, not --objective other than energy)"
        )
    if solver == "threshold":
        raise typer.BadParameter("--partition-cells needs --solver exact, anneal or greedy")


def _plan_day(
    twin: Twin,
    seed: int,
    inputs: DayAheadInputs,
    solver: str,
    limits: EnergyConstraints,
    config: DayAheadConfig,
    rng: np.random.Generator,
    partition_cells: int | None,
) -> tuple[Plan, ThresholdRule | None, ClusteredPlan | None]:
    """Plan day D: the threshold rule, or ``solver``'s plan made robust on forecast scenarios.

    The first plan is the whole network's, or by clusters (``partition_cells``:
    ``plan_by_clusters`` on the planning demand, verified on the whole network); either gets
    the same robust repair on forecast scenarios (``plan_with_solver``).
    """
    if solver == "threshold":
        plan, rule = plan_threshold(twin, seed, inputs, limits, config)
        return plan, rule, None
    energy_config = EnergyConfig()
    if partition_cells is None:
        return plan_with_solver(twin, inputs, solver, limits, energy_config, rng), None, None
    cap = partition_cells
    made: list[ClusteredPlan] = []

    def by_clusters(references: list[Snapshot], first_rng: np.random.Generator) -> Plan:
        clustered = plan_by_clusters(
            twin, inputs.planning_demand_mbps, solver, cap, limits, energy_config, first_rng,
            references=references,
        )  # fmt: skip
        made.append(clustered)
        return clustered.result.plan

    plan = plan_with_solver(
        twin, inputs, solver, limits, energy_config, rng, first_plan=by_clusters
    )
    return plan, None, made[0]


def _print_partition(console: Console, summary: dict[str, Any], planned: Any) -> None:
    """Print the partition, and what the whole-network check changed in the stitched plan."""
    table = Table(title="Planned by clusters, verified on the whole network")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, str(value))
    if planned is not None:
        for key in ("saving_pct", "constraint_violations"):
            table.add_row(f"planned {key} (whole network)", str(planned[key]))
    console.print(table)


def _optimize_qos(
    scenario: str,
    seed: int,
    objective: str,
    solver: str | None,
    failed_cell: str | None,
    day: int,
    num_scenarios: int,
    sites: int | None,
    ues: int | None,
    slicing_step: int,
    as_json: bool,
    console: Console,
) -> None:
    """Load balancing, slicing or compensation on one day of a scenario, baseline beside it."""
    try:
        spec = scenario_preset(scenario, seed=seed, num_sites=sites, num_ues=ues)
        with console.status(f"building twin of {spec.name}"):
            twin = build_twin(spec)
        chosen = solver or qos.default_solver(objective, spec.num_sites)
        if chosen not in qos.SOLVERS[objective]:
            msg = (
                f"--solver for {objective} must be one of {qos.SOLVERS[objective]}, got {chosen!r}"
            )
            raise ValidationError(msg)
        failed = 0
        if objective == "compensate":
            if failed_cell is None:
                msg = "--failed-cell is required with --objective compensate"
                raise ValidationError(msg)
            failed = qos.resolve_cell(twin, failed_cell)
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from exc
    silence_highs_banner()
    sla = SliceSla()
    with console.status(f"planning {objective} with {chosen}"):
        if objective == "load-balance":
            body = qos.run_load_balance(twin, seed, day, chosen, num_scenarios, sla)
        elif objective == "slicing":
            body = qos.run_slicing(twin, seed, day, num_scenarios, sla, slicing_step)
        else:
            body = qos.run_compensate(twin, seed, day, failed, num_scenarios, sla)
    result: dict[str, Any] = {
        "scenario": spec.name,
        "seed": seed,
        "day": day,
        "objective": objective,
        **body,
    }
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table(title=f"{objective} ({chosen}) measured in the twin, baseline beside it")
    table.add_column("figure")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    for key in ("max_prb_load", "max_prb_demand", "ue_thp_p5_mbps", "served_ratio"):
        table.add_row(key, str(result["before"][key]), str(result["after"][key]))
    table.add_row(
        "sla_violations", str(result["before"]["sla_violations"]),
        str(result["after"]["sla_violations"]),
    )  # fmt: skip
    console.print(table)
    console.print(
        f"confidence {result['confidence']}, solve {result['solve_s']} s, "
        f"{len(result['actions'])} actions"
    )
