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


@app.command("southbound")
def southbound(
    name: Annotated[str, typer.Argument(help="Network name.")],
    o1: Annotated[list[str], typer.Option("--o1", help="O1 endpoint HOST:PORT (repeat).")],
    user: Annotated[str, typer.Option("--user", help="SSH username.")] = "ranopt",
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="File holding the SSH password.")
    ] = None,
    host_key: Annotated[str | None, typer.Option("--host-key", help="Base64 host key.")] = None,
    a1_url: Annotated[
        str | None, typer.Option("--a1-url", help="A1-P v2 base URL, or the PMS's with --a1-pms.")
    ] = None,
    a1_pms: Annotated[
        bool, typer.Option("--a1-pms", help="--a1-url is an A1 Policy Management Service.")
    ] = False,
    a1_ric_id: Annotated[
        str | None, typer.Option("--a1-ric-id", help="The near-RT RIC the PMS addresses.")
    ] = None,
    a1_token_file: Annotated[
        Path | None, typer.Option("--a1-token-file", help="File holding the A1 bearer token.")
    ] = None,
    sleep_method: Annotated[str, typer.Option(help="energy_saving or administrative_state.")] = (
        "energy_saving"
    ),
    tenant: TenantOpt = "default",
) -> None:
    """Point a network at its O1 endpoints (the password is sealed, never shown)."""
    from pydantic import SecretStr  # noqa: PLC0415

    from ranopt.api.settings import Settings  # noqa: PLC0415
    from ranopt.store import southbound as sb  # noqa: PLC0415

    password = None if password_file is None else SecretStr(password_file.read_text().strip())
    token = None if a1_token_file is None else SecretStr(a1_token_file.read_text().strip())
    try:
        endpoints = []
        for spec in o1:
            host, _, port = spec.rpartition(":")
            endpoints.append(sb.O1EndpointIn(host=host, port=int(port), username=user,
                                             password=password, host_key=host_key))  # fmt: skip
        settings = sb.SouthboundIn(
            kind="o1",
            o1=endpoints,
            sleep_method=sleep_method,  # type: ignore[arg-type]
            a1=None if a1_url is None else sb.A1EndpointIn(
                url=a1_url, kind="pms" if a1_pms else "ric", ric_id=a1_ric_id, token=token
            ),
        )  # fmt: skip
        with cli_store() as store, store.transaction() as session:
            tid = repo.ensure_tenant(session, name=tenant, now_s=now_s())
            net = repo.get_network(session, tenant_id=tid, name=name)
            sb.set_southbound(session, tenant_id=tid, network_id=net.id, settings=settings,
                              keyring=Settings().keyring(), now_s=now_s())  # fmt: skip
    except (PydanticError, ValidationError, ValueError) as exc:
        typer.echo(f"southbound: {exc}", err=True)
        raise typer.Exit(2) from exc
    a1 = "" if a1_url is None else f", A1 through {'a PMS' if a1_pms else 'a near-RT RIC'}"
    typer.echo(f"network {name}: O1 southbound with {len(endpoints)} endpoint(s){a1}")


@app.command("discover")
def discover(
    name: Annotated[str, typer.Argument(help="Network name.")],
    topology: Annotated[
        Path | None, typer.Option("--topology", help="Topology file for what O1 lacks.")
    ] = None,
    tenant: TenantOpt = "default",
) -> None:
    """Read the network over O1 and refresh its sites and cells."""
    from ranopt.api.settings import Settings  # noqa: PLC0415
    from ranopt.service.southbound import discover as run_discovery  # noqa: PLC0415
    from ranopt.southbound.o1 import O1Error  # noqa: PLC0415
    from ranopt.southbound.o1_xml import MalformedReplyError  # noqa: PLC0415

    supplement = None
    if topology is not None:
        supplement = TopologyIn.model_validate(json.loads(topology.read_text()))
    try:
        with cli_store() as store:
            with store.transaction() as session:
                tid = repo.ensure_tenant(session, name=tenant, now_s=now_s())
                net = repo.get_network(session, tenant_id=tid, name=name)
            report = run_discovery(store, tenant_id=tid, network_id=net.id,
                                   keyring=Settings().keyring(), supplement=supplement,
                                   now_s=now_s(), actor="cli")  # fmt: skip
    except (O1Error, MalformedReplyError, ValidationError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        json.dumps(
            {
                "elements": report.num_elements,
                "cells": report.num_cells,
                "added": len(report.added_cells),
                "updated": len(report.updated_cells),
                "missing": report.missing_cells,
                "warnings": report.warnings[:20],
            }
        )
    )


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
