"""``ranopt emulate ...``: run a twin scenario as a RAN behind O1, A1, PM files and VES."""

import asyncio
import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from ranopt.emulate.netconf import BASE_10, BASE_11
from ranopt.emulate.process import EmulatorConfig, run

app = typer.Typer(help="Emulate a RAN (the twin behind O1 NETCONF, A1-P v2, PM XML and VES).",
                  no_args_is_help=True)  # fmt: skip
RunDir = Annotated[Path, typer.Option("--run-dir", help="The emulator's run directory.")]
SPECS_A1 = (
    Path(__file__).resolve().parents[3].parent / "shared" / "specs" / "a1" / "policy-types-oran"
)


@app.command("run")
def run_cmd(
    run_dir: RunDir,
    scenario: Annotated[str, typer.Option(help="Twin preset: default, medium, large.")] = "default",
    seed: Annotated[int, typer.Option(help="Seed of the emulated network and its traffic.")] = 7,
    sites: Annotated[int | None, typer.Option(help="Override the site count.")] = None,
    ues: Annotated[int | None, typer.Option(help="Override the UE count.")] = None,
    name: Annotated[str, typer.Option(help="Network name (SubNetwork of the DNs).")] = "emulated",
    pace: Annotated[
        float, typer.Option(help="Wall seconds per 15-min interval (0: manual).")
    ] = 1.0,
    start: Annotated[str | None, typer.Option(help="First live interval, ISO 8601 UTC.")] = None,
    backfill_days: Annotated[
        int, typer.Option(min=0, help="Write the past N days' PM files first (every cell on).")
    ] = 0,
    backfill_workers: Annotated[
        int | None, typer.Option(min=1, help="Processes for the back-fill (default: cores).")
    ] = None,
    no_traffic: Annotated[bool, typer.Option("--no-traffic", help="O1 only, no traffic.")] = False,
    single_endpoint: Annotated[
        bool, typer.Option("--single-endpoint", help="One NETCONF server for every gNB.")
    ] = False,
    base: Annotated[str, typer.Option(help="NETCONF framing offered: 1.0, 1.1 or both.")] = "both",
    ves_url: Annotated[str | None, typer.Option(help="VES collector URL (ranopt's).")] = None,
    api_key_file: Annotated[
        Path | None, typer.Option(help="File with the ranopt API key for VES and A1 notices.")
    ] = None,
    a1_types: Annotated[Path | None, typer.Option(help="O-RAN A1 policy type schemas.")] = None,
    no_pm_files: Annotated[bool, typer.Option("--no-pm-files")] = False,
) -> None:
    """Run the emulator until Ctrl-C; ``RUN/endpoints.json`` says where it listens."""
    logging.basicConfig(level=logging.WARNING)
    bases = {"1.0": (BASE_10,), "1.1": (BASE_11,), "both": (BASE_10, BASE_11)}
    if base not in bases:
        typer.echo("--base: one of 1.0, 1.1, both", err=True)
        raise typer.Exit(2)
    api_key = os.environ.get("RANOPT_EMULATE_API_KEY")
    if api_key_file is not None:
        api_key = api_key_file.read_text().strip()
    config = EmulatorConfig(
        run_dir=run_dir, scenario=scenario, seed=seed, num_sites=sites, num_ues=ues,
        network_name=name, pace_s=pace,
        start=None if start is None else datetime.fromisoformat(start),
        backfill_days=backfill_days, backfill_workers=backfill_workers, traffic=not no_traffic,
        o1_per_element=not single_endpoint,
        o1_base=bases[base], pm_files=not no_pm_files, ves_url=ves_url, ranopt_api_key=api_key,
        a1_types_dir=a1_types if a1_types is not None else SPECS_A1,
    )  # fmt: skip
    try:
        asyncio.run(run(config))
    except KeyboardInterrupt:
        typer.echo("emulator stopped")


def _admin(run_dir: Path, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    endpoints = json.loads((run_dir / "endpoints.json").read_text())
    token = json.loads((run_dir / "credentials.json").read_text())["admin_token"]
    url = endpoints["admin"]["url"] + path
    headers = {"Authorization": f"Bearer {token}"}
    response = (httpx.post(url, json=body, headers=headers, timeout=600.0) if body is not None
                else httpx.get(url, headers=headers, timeout=30.0))  # fmt: skip
    if response.status_code >= 300:
        typer.echo(f"emulator answered {response.status_code}: {response.text}", err=True)
        raise typer.Exit(1)
    result: dict[str, Any] = response.json()
    return result


@app.command("fault")
def fault(
    run_dir: RunDir,
    cell: Annotated[str, typer.Option(help="Cell name, e.g. S003-2-cap.")],
    clear: Annotated[bool, typer.Option("--clear", help="Repair it instead.")] = False,
) -> None:
    """Fail a cell of a running emulator (or repair it with ``--clear``)."""
    typer.echo(json.dumps(_admin(run_dir, "/fault", {"cell": cell, "clear": clear})))


@app.command("advance")
def advance(
    run_dir: RunDir,
    intervals: Annotated[int, typer.Option(help="How many intervals to run now.")] = 1,
) -> None:
    """Run intervals now (an emulator started with ``--pace 0``)."""
    typer.echo(json.dumps(_admin(run_dir, "/advance", {"intervals": intervals})))


@app.command("status")
def status(run_dir: RunDir) -> None:
    """Where the emulator's clock stands."""
    typer.echo(json.dumps(_admin(run_dir, "/status")))
