"""``ranopt twin ...``: run the digital twin on a scenario."""

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ranopt.cli import data
from ranopt.cli import loop as loop_cli
from ranopt.cli.plots import plot_day
from ranopt.cli.tables import add_number_column, print_table
from ranopt.errors import ValidationError
from ranopt.twin import (
    CellState,
    IntervalKpis,
    build_twin,
    collect_kpis,
    iter_snapshots,
    scenario_preset,
)
from ranopt.twin.network import IntArray
from ranopt.twin.pathloss import Environment
from ranopt.twin.traffic import demand_for_intervals

app = typer.Typer(help="Run the network digital twin.", no_args_is_help=True)
app.command("fault")(loop_cli.fault)  # fail or repair a cell in a running loop's twin

ScenarioOpt = Annotated[str, typer.Option("--scenario", help="Preset: default, medium, large.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the scenario and its traffic.")]
SitesOpt = Annotated[
    int | None, typer.Option("--sites", help="Override the site count (1, 7, 19, 37, 61, ...).")
]
UesOpt = Annotated[int | None, typer.Option("--ues", help="Override the UE count.")]
EnvOpt = Annotated[str, typer.Option("--env", help="UMa (ISD 500 m) or UMi (ISD 200 m).")]


def interval_rows(kpis: IntervalKpis, layer: IntArray) -> list[dict[str, float | int]]:
    """Per-interval network figures of the JSON output (PRB load over active cells, 0-1).

    ``prb_load_p50`` / ``p95`` are over all active cells; the per-layer figures show what the
    capacity cells carry and how the coverage cells fill when capacity cells sleep.
    """
    capacity = layer == 1
    columns = {
        "prb_load_p50": kpis.load_percentile(50),
        "prb_load_p95": kpis.load_percentile(95),
        "capacity_prb_load_p50": kpis.load_percentile(50, capacity),
        "capacity_prb_load_p95": kpis.load_percentile(95, capacity),
        "coverage_prb_load_p95": kpis.load_percentile(95, ~capacity),
    }
    return [
        {
            "t_min": int(kpis.t_min[t]),
            "offered_mbps": round(float(kpis.network_offered_mbps[t]), 3),
            "served_mbps": round(float(kpis.network_served_mbps[t]), 3),
            "power_w": round(float(kpis.network_power_w[t]), 1),
            **{key: round(float(values[t]), 4) for key, values in columns.items()},
        }
        for t in range(kpis.num_intervals)
    ]


TABLE_COLUMNS = (
    ("offered Mbit/s", "offered_mbps", 1.0, ",.0f"),
    ("served Mbit/s", "served_mbps", 1.0, ",.0f"),
    ("PRB p50 %", "prb_load_p50", 100.0, ".1f"),
    ("PRB p95 %", "prb_load_p95", 100.0, ".1f"),
    ("capacity PRB p50 %", "capacity_prb_load_p50", 100.0, ".1f"),
    ("capacity PRB p95 %", "capacity_prb_load_p95", 100.0, ".1f"),
    ("coverage PRB p95 %", "coverage_prb_load_p95", 100.0, ".1f"),
    ("power kW", "power_w", 1e-3, ".1f"),
)


def hourly_table(kpis: IntervalKpis, layer: IntArray) -> Table:
    """Hourly means of the run as a rich table."""
    rows = interval_rows(kpis, layer)
    per_hour = 60 // kpis.interval_min
    table = Table(title="Twin run, hourly means")
    add_number_column(table, "hour")
    for header, *_ in TABLE_COLUMNS:
        add_number_column(table, header)
    add_number_column(table, "UEs < 1 Mbit/s")
    for start in range(0, len(rows), per_hour):
        chunk = rows[start : start + per_hour]
        below = kpis.ues_below_1mbps[start : start + per_hour]
        cells = [
            format(scale * float(np.mean([r[key] for r in chunk])), fmt)
            for _, key, scale, fmt in TABLE_COLUMNS
        ]
        hour = f"{int(chunk[0]['t_min']) // 60:02d}:00"
        table.add_row(hour, *cells, f"{float(np.mean(below)):.0f}")
    return table


@app.command("run")
def run(
    scenario: ScenarioOpt = "default",
    seed: SeedOpt = 0,
    hours: Annotated[
        int, typer.Option("--hours", min=1, help="Simulated hours from midnight of day 0.")
    ] = 24,
    sites: SitesOpt = None,
    ues: UesOpt = None,
    env: EnvOpt = "UMa",
    top_k: Annotated[
        int | None, typer.Option("--top-k", help="Strongest cells kept per UE (sparse).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="PNG path (default under .ranopt/).")
    ] = None,
    export: data.ExportOpt = None,
    epoch: data.EpochOpt = data.DEFAULT_EPOCH_TEXT,
) -> None:
    """Simulate the scenario for some hours and report traffic, load, power and energy."""
    console = Console(stderr=as_json)
    if env not in ("UMa", "UMi"):
        raise typer.BadParameter(f"--env must be UMa or UMi, got {env!r}")
    environment: Environment = "UMa" if env == "UMa" else "UMi"
    try:
        spec = scenario_preset(
            scenario, seed=seed, num_sites=sites, num_ues=ues, environment=environment, top_k=top_k
        )
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from exc
    with console.status(f"building twin {spec.name}: {spec.num_sites} sites, {spec.num_ues} UEs"):
        twin = build_twin(spec)
    num_intervals = hours * 60 // spec.interval_min
    demand = demand_for_intervals(twin.traffic, seed, 0, num_intervals)
    snapshots = []
    progress = Progress(
        TextColumn("[bold]twin"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=as_json,
    )  # fmt: skip
    with progress:
        task = progress.add_task("intervals", total=num_intervals)
        for snapshot in iter_snapshots(twin, demand, CellState.all_on(twin.num_cells)):
            snapshots.append(snapshot)
            progress.advance(task)
    kpis = collect_kpis(snapshots, spec.interval_min)
    if export is not None:
        console.print(data.export_run(export, twin, kpis, epoch))
    result: dict[str, Any] = {
        "scenario": spec.name,
        "seed": seed,
        "sites": spec.num_sites,
        "cells": twin.num_cells,
        "ues": spec.num_ues,
        "ue_slots": twin.num_ues,  # places users are at (commuters: home and work)
        "intervals": interval_rows(kpis, twin.arrays.layer),
        "energy_kwh": round(kpis.total_energy_kwh, 3),
    }
    if as_json:
        typer.echo(json.dumps(result))
        return
    print_table(console, hourly_table(kpis, twin.arrays.layer))
    console.print(
        f"{twin.num_cells} cells, {spec.num_ues} UEs ({twin.num_ues} places), "
        f"{num_intervals} intervals: "
        f"energy {kpis.total_energy_kwh:,.1f} kWh, served/offered min {kpis.served_ratio.min():.4f}"
    )
    path = plot or Path(".ranopt") / f"twin-{spec.name}-seed{seed}.png"
    plot_day(kpis, twin.arrays.layer, f"ranopt twin: {spec.name}, seed {seed}, always on", path)
    console.print(f"plot written to {path.resolve()}")
