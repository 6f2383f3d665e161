"""``ranopt network calibrate NAME`` and ``ranopt optimize --network NAME``.

The model of a registered network, calibrated from its topology and stored counters, and a
plan made on it.
"""

import json
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from ranopt.calibrate import CalibrationConfig, InsufficientTelemetryError, NoAllOnIntervalsError
from ranopt.cli.common import cli_store, now_s, tenant_id
from ranopt.cli.highs import silence_highs_banner
from ranopt.errors import ValidationError
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.service.calibration import (
    NetworkCalibrationConfig,
    network_model,
    report_json,
    run_calibration,
)
from ranopt.service.plan_network import NetworkPlanRequest, optimize_network
from ranopt.store import repository as repo

EXIT_NOT_ENOUGH_DATA = 3


def _config(min_days: float, max_days: int) -> NetworkCalibrationConfig:
    return NetworkCalibrationConfig(
        max_days=max_days, calibration=CalibrationConfig(min_days=min_days)
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.1f} %"


def print_report(report: dict[str, Any], console: Console) -> None:
    """Show a calibration report as two tables: the held-out fit and the layer shares."""
    title = (
        f"{report['network']}: model calibrated on {len(report['train_days'])} days, "
        f"scored on {', '.join(report['heldout_days'])} ({report['days_found']} days found)"
    )
    table = Table(title=title)
    table.add_column("held-out WAPE")
    table.add_column("model driven by the day's counters", justify="right")
    table.add_column("model driven by the fitted profile", justify="right")
    observed, profile = report["heldout"]["observed_demand"], report["heldout"]["profile"]
    for key, label in (
        ("prb_load_wape", "PRB load per cell"),
        ("volume_wape", "volume per cell"),
        ("ue_thp_wape", "UE throughput per cell"),
        ("conn_mean_wape", "connected UEs per cell"),
    ):
        table.add_row(label, _pct(observed[key]), _pct(profile[key]))
    console.print(table)
    shares = Table(title="share of served volume per layer (held-out days)")
    for header in ("layer", "observed", "model"):
        shares.add_column(header, justify="right" if header != "layer" else "left")
    for share in observed["layer_shares"]:
        shares.add_row(share["layer"], _pct(share["observed"]), _pct(share["model"]))
    console.print(shares)
    target = report["target"]
    verdict = "met" if target["met"] else "NOT met"
    console.print(
        f"target: PRB-load WAPE <= {_pct(target['prb_load_wape_max'])} {verdict}; "
        f"{report['model']['num_ues']} model UEs; fit {report['fit_s']} s; "
        f"{report['num_warnings']} topology defaults used"
    )


def calibrate(
    name: str,
    tenant: str,
    as_json: bool,
    min_days: float,
    max_days: int,
) -> None:
    """Calibrate network ``name``'s model, store the report and print it."""
    console = Console(stderr=as_json)
    config = _config(min_days, max_days)
    try:
        with cli_store() as store:
            tid = tenant_id(store, tenant)
            with store.transaction() as session:
                net = repo.get_network(session, tenant_id=tid, name=name)
            with console.status(f"calibrating {name} from its topology and counters"):
                stored = run_calibration(
                    store, tenant_id=tid, network_id=net.id, now_s=now_s(), config=config
                )
    except (InsufficientTelemetryError, NoAllOnIntervalsError) as exc:
        typer.echo(f"{name}: {exc}", err=True)
        raise typer.Exit(EXIT_NOT_ENOUGH_DATA) from exc
    except (ValidationError, repo.NotFoundError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    report = {"id": stored.id, **stored.report}
    if as_json:
        typer.echo(json.dumps(report))
        return
    print_report(report, console)


def optimize_network_cli(
    name: str,
    tenant: str,
    solver: str,
    horizon_min: int,
    history_days: int,
    scenarios: int,
    min_days: float,
    as_json: bool,
) -> None:
    """Plan network ``name``'s next window on its calibrated model and print the plan."""
    console = Console(stderr=as_json)
    config = _config(min_days, 14)
    silence_highs_banner()
    try:
        with cli_store() as store:
            tid = tenant_id(store, tenant)
            with store.transaction() as session:
                net = repo.get_network(session, tenant_id=tid, name=name)
            with console.status(f"calibrating {name}"):
                model = network_model(store, tenant_id=tid, network_id=net.id, config=config)
            request = NetworkPlanRequest(
                tenant_id=tid, network_id=net.id, solver=solver, horizon_min=horizon_min,
                history_days=history_days, confidence_scenarios=scenarios,
                limits=EnergyConstraints(), calibration=config,
            )  # fmt: skip
            rng = np.random.default_rng(np.random.SeedSequence([net.id, model.last_sample_s]))
            with console.status(f"planning {horizon_min} min with {solver}, {scenarios} scenarios"):
                outcome = optimize_network(store, request, rng)
    except (InsufficientTelemetryError, NoAllOnIntervalsError) as exc:
        typer.echo(f"{name}: {exc}", err=True)
        raise typer.Exit(EXIT_NOT_ENOUGH_DATA) from exc
    except (ValidationError, repo.NotFoundError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    plan = outcome.plan
    if as_json:
        heldout = report_json(model, min_days)["heldout"]
        typer.echo(json.dumps({"network": name, "calibration": heldout, **plan}))
        return
    expected = plan["expected"] or {}
    table = Table(title=f"{name}: plan from {plan['window']['start']} on the calibrated model")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = (
        ("saving (model)", _pct((expected.get("saving_pct") or 0.0) / 100.0)),
        ("confidence", f"{outcome.confidence:.3f} over {scenarios} scenarios"),
        ("max PRB load (model)", str(expected.get("max_prb_load"))),
        ("served ratio min (model)", str(expected.get("served_ratio_min"))),
        ("actions", str(len(plan["actions"]))),
        ("model held-out PRB-load WAPE", _pct(plan["model"]["heldout_prb_load_wape"])),
    )
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
