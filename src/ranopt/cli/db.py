"""``ranopt db ...``: migrations, retention, backup and restore."""

from pathlib import Path
from typing import Annotated

import typer

from ranopt.cli.common import TenantOpt, cli_store, now_s
from ranopt.store import repository as repo
from ranopt.store.backup import BackupError, backup, restore
from ranopt.store.config import database_url
from ranopt.store.engine import current_revision, head_revision, make_engine, upgrade

app = typer.Typer(help="Database: migrations, retention, backup, restore.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd() -> None:
    """Migrate the database to the newest schema revision."""
    engine = make_engine(database_url())
    before = current_revision(engine)
    upgrade(engine)
    typer.echo(f"schema revision {before or '(empty)'} -> {head_revision()}")
    engine.dispose()


@app.command("prune")
def prune_cmd(
    tenant: TenantOpt = "default",
    raw_days: Annotated[
        int | None, typer.Option("--raw-days", min=1, help="Set days of raw samples kept.")
    ] = None,
    rollup_days: Annotated[
        int | None, typer.Option("--rollup-days", min=1, help="Set days of hourly rollups kept.")
    ] = None,
) -> None:
    """Roll up and delete raw samples past retention, delete expired rollups."""
    with cli_store() as store, store.transaction() as session:
        tid = repo.ensure_tenant(session, name=tenant, now_s=now_s())
        if raw_days is not None or rollup_days is not None:
            raw_now, rollup_now = repo.get_retention(session, tenant_id=tid)
            repo.set_retention(
                session, tenant_id=tid, raw_days=raw_days or raw_now,
                rollup_days=rollup_days or rollup_now,
            )  # fmt: skip
        result = repo.prune(session, tenant_id=tid, now_s=now_s())
    typer.echo(
        f"rolled up {result.rolled_up_hours} cell-hours, deleted {result.deleted_samples} raw "
        f"samples and {result.deleted_rollups} expired rollups"
    )


@app.command("backup")
def backup_cmd(path: Annotated[Path, typer.Argument(help="Backup file to write.")]) -> None:
    """Back the whole database up to PATH (and PATH.manifest.json)."""
    try:
        with cli_store() as store:
            digests = backup(store, path)
    except BackupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    rows = sum(d.rows for d in digests.values())
    typer.echo(f"backup {path}: {len(digests)} tables, {rows} rows")


@app.command("restore")
def restore_cmd(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Backup file.")],
) -> None:
    """Restore the backup at PATH into a new database, verify it, then swap it in.

    The live database changes only if the restored copy matches the backup's manifest; the
    replaced one is kept (its name is printed). Stop the servers first.
    """
    try:
        with cli_store() as store:
            result = restore(store, path)
    except BackupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    rows = sum(d.rows for d in result.digests.values())
    typer.echo(
        f"restored and verified {len(result.digests)} tables, {rows} rows; "
        f"the replaced database is kept as {result.previous}"
    )
