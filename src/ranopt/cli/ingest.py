"""``ranopt ingest FILE --network NAME``: load PM data, all or nothing, with progress."""

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ranopt.cli.common import TenantOpt, cli_store, now_s, tenant_id
from ranopt.errors import ValidationError
from ranopt.ingest.batch import BatchRejectedError
from ranopt.ingest.pipeline import IngestOptions, ingest_file
from ranopt.store import repository as repo
from ranopt.store.engine import Store


def ingest(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="PM file to load.")],
    network: Annotated[str, typer.Option("--network", help="Network the cells belong to.")],
    tenant: TenantOpt = "default",
    fmt: Annotated[
        str, typer.Option("--format", help="auto (from suffix), pm-xml, ves, csv, parquet.")
    ] = "auto",
    clock_tolerance_s: Annotated[
        int,
        typer.Option("--clock-tolerance-s", min=0, help="Snap times this close to the grid."),
    ] = 0,
    epoch_unit: Annotated[
        str, typer.Option("--epoch-unit", help="VES epoch fields: us (standard) or ms.")
    ] = "us",
    chunk_rows: Annotated[
        int, typer.Option("--chunk-rows", min=1, help="Samples per write chunk.")
    ] = 50_000,
) -> None:
    """Ingest a PM file (TS 28.532 XML, VES JSON, CSV, Parquet) into a network."""
    if fmt not in ("auto", "pm-xml", "ves", "csv", "parquet"):
        raise typer.BadParameter(f"--format: unknown {fmt!r}")
    if epoch_unit not in ("us", "ms"):
        raise typer.BadParameter(f"--epoch-unit must be us or ms, got {epoch_unit!r}")
    options = IngestOptions(
        format=fmt,  # type: ignore[arg-type]
        clock_tolerance_s=clock_tolerance_s,
        epoch_unit="us" if epoch_unit == "us" else "ms",
        chunk_rows=chunk_rows,
    )
    with cli_store() as store:
        _ingest(store, file, network, tenant, options)


def _ingest(store: Store, file: Path, network: str, tenant: str, options: IngestOptions) -> None:
    console = Console(stderr=True)
    tid = tenant_id(store, tenant)
    progress = Progress(
        TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=not console.is_terminal,
    )  # fmt: skip
    task = progress.add_task("samples", total=None)
    done = [0]

    def on_total(total: int) -> None:
        progress.update(task, total=total)
        done.append(total)

    def on_chunk(count: int) -> None:
        progress.advance(task, count)
        done[0] += count
        if not console.is_terminal:  # plain progress lines for logs
            print(f"wrote {done[0]}/{done[-1]} samples", file=sys.stderr, flush=True)

    try:
        with progress:
            result = ingest_file(
                store, file, tenant_id=tid, network=network, options=options,
                on_total=on_total, progress=on_chunk,
            )  # fmt: skip
    except BatchRejectedError as exc:
        typer.echo(f"{file.name}: {exc}", err=True)
        raise typer.Exit(1) from exc
    except (ValidationError, repo.NotFoundError) as exc:
        typer.echo(f"{file.name}: {exc}", err=True)
        raise typer.Exit(2) from exc
    skipped = ", ".join(f"{v} {k}" for k, v in sorted(result.skipped.items()))
    typer.echo(
        f"{file.name}: {result.num_samples} samples from {result.num_records} records"
        + (f" (skipped: {skipped})" if skipped else "")
    )
    # the automatic daily prune runs only once the new data is in: a rejected file changes
    # nothing, and each network's age counts from its own newest sample
    with store.transaction() as session:
        pruned = repo.prune_if_due(session, tenant_id=tid, now_s=now_s())
    if pruned is not None and pruned.deleted_samples:
        console.print(f"pruned {pruned.deleted_samples} samples past retention")
