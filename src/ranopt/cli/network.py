"""``ranopt network ...``: register and list networks."""

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError as PydanticError
from rich.console import Console
from rich.table import Table

from ranopt.cli import calibrate as calibrate_cli
from ranopt.cli.common import TenantOpt, cli_store, now_s
from ranopt.errors import ValidationError
from ranopt.store import repository as repo
from ranopt.store.schemas import TopologyIn

app = typer.Typer(help="Register, list and calibrate networks.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Network name.")],
    topology: Annotated[
        Path, typer.Option("--topology", exists=True, dir_okay=False, help="Topology JSON file.")
    ],
    tenant: TenantOpt = "default",
) -> None:
    """Register a network from a topology file (``FILE.topology.json`` format)."""
    try:
        parsed = TopologyIn.model_validate(json.loads(topology.read_text()))
    except (PydanticError, json.JSONDecodeError) as exc:
        typer.echo(f"invalid topology {topology}: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        with cli_store() as store, store.transaction() as session:
            tid = repo.ensure_tenant(session, name=tenant, now_s=now_s())
            net = repo.create_network(
                session, tenant_id=tid, topology=parsed, now_s=now_s(), name=name
            )
    except ValidationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"network {net.name}: {net.num_cells} cells, interval {net.interval_s} s")


@app.command("list")
def list_(tenant: TenantOpt = "default") -> None:
    """List the tenant's networks."""
    with cli_store() as store, store.transaction() as session:
        tid = repo.ensure_tenant(session, name=tenant, now_s=now_s())
        networks = repo.list_networks(session, tenant_id=tid)
    table = Table(title=f"networks of {tenant}")
    for header in ("name", "cells", "interval s"):
        table.add_column(header)
    for net in networks:
        table.add_row(net.name, str(net.num_cells), str(net.interval_s))
    Console().print(table)


@app.command("calibrate")
def calibrate(
    name: Annotated[str, typer.Argument(help="Network name.")],
    tenant: TenantOpt = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    min_days: Annotated[
        float, typer.Option("--min-days", min=3, help="Days of PM history required.")
    ] = 7.0,
    max_days: Annotated[
        int, typer.Option("--days", min=3, max=90, help="Latest days of PM history read.")
    ] = 14,
) -> None:
    """Calibrate the network's model from its topology and stored counters; report the fit.

    Exit status 3 when there is too little telemetry (the message says how much is missing).
    """
    calibrate_cli.calibrate(name, tenant, as_json, min_days, max_days)
