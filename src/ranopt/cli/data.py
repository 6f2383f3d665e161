"""Twin export for ``ranopt twin run --export FILE.parquet`` (wired in by ``ranopt.cli.twin``).

Usage in a command::

    export: ExportOpt = None, epoch: EpochOpt = DEFAULT_EPOCH_TEXT
    ...
    if export is not None:
        export_run(export, twin, kpis, epoch)
"""

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from ranopt.ingest.export import DEFAULT_EPOCH, export_twin_run
from ranopt.twin.model import Twin
from ranopt.twin.simulate import IntervalKpis

DEFAULT_EPOCH_TEXT = DEFAULT_EPOCH.isoformat()

ExportOpt = Annotated[
    Path | None,
    typer.Option(
        "--export",
        help="Write per-cell KPIs (wide Parquet) and FILE.topology.json beside it.",
        dir_okay=False,
    ),
]
EpochOpt = Annotated[
    str, typer.Option("--epoch", help="UTC time of the run's t=0 in the export (ISO 8601).")
]


def parse_epoch(text: str) -> datetime:
    """Return the export epoch; a time without offset is refused."""
    try:
        epoch = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"--epoch: {text!r} is not ISO 8601") from exc
    if epoch.tzinfo is None:
        raise typer.BadParameter(f"--epoch: {text!r} needs a UTC offset, e.g. Z")
    return epoch


def export_run(path: Path, twin: Twin, kpis: IntervalKpis, epoch: str = DEFAULT_EPOCH_TEXT) -> str:
    """Export the run; return a one-line summary for the console."""
    kpi_path, topo_path = export_twin_run(path, twin, kpis, epoch=parse_epoch(epoch))
    rows = kpis.num_intervals * twin.num_cells
    return f"exported {rows} samples to {kpi_path} and the topology to {topo_path}"
