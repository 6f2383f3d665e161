"""``ranopt db ...``: migrations, retention, backup (on a schedule), restore, drills."""

import time
from pathlib import Path
from typing import Annotated

import typer

from ranopt.cli.common import TenantOpt, cli_store, now_s
from ranopt.errors import ValidationError
from ranopt.store import repository as repo
from ranopt.store.backup import BackupError, backup, read_digests, restore
from ranopt.store.backups import drill, scheduled_backup, set_backup_tier
from ranopt.store.config import database_url
from ranopt.store.engine import current_revision, head_revision, make_engine, upgrade

app = typer.Typer(
    help="Database: migrations, retention, backups, restore, drills.", no_args_is_help=True
)


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
def backup_cmd(
    path: Annotated[
        Path | None, typer.Argument(help="Backup file to write (or --dir for a stamped one).")
    ] = None,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", file_okay=False, help="Write ranopt-<UTC stamp> here; prune."),
    ] = None,
    keep: Annotated[
        int, typer.Option("--keep", min=1, help="With --dir: newest copies always kept.")
    ] = 7,
) -> None:
    """Back the whole database up to PATH (and PATH.manifest.json), or into --dir.

    With --dir (what a cron job or the Kubernetes CronJob runs) the copy is stamped and the
    folder pruned: the newest --keep copies stay, and older ones the tenants' backup tiers
    need (90d: newest of each day for 90 days; 1y: of each month for a year; 7y: of each year
    for seven years).
    """
    if (path is None) == (directory is None):
        typer.echo("give PATH or --dir (one of them)", err=True)
        raise typer.Exit(2)
    removed: list[Path] = []
    try:
        with cli_store() as store:
            if directory is not None:
                path, removed = scheduled_backup(store, directory, keep=keep)
            assert path is not None  # noqa: S101 - one of them was given
            digests = backup(store, path) if directory is None else read_digests(path)
    except BackupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    rows = sum(d.rows for d in digests.values())
    typer.echo(f"backup {path}: {len(digests)} tables, {rows} rows")
    for old in removed:
        typer.echo(f"pruned {old.name} (past retention)")


@app.command("drill")
def drill_cmd(
    directory: Annotated[
        Path, typer.Option("--dir", exists=True, file_okay=False, help="The backup folder.")
    ],
    max_age_h: Annotated[
        float, typer.Option("--max-age-h", min=0, help="Fail when the newest good is older.")
    ] = 26.0,
) -> None:
    """Restore the newest backup into a scratch database, verify it, report its age.

    The live database is not touched. A copy that does not verify is reported and the next
    older one tried. Exit 1 when no copy verifies or the newest good one is older than
    --max-age-h hours (a schedule that stopped).
    """
    try:
        with cli_store() as store:
            report = drill(store, directory, now_s=time.time())
    except BackupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    for bad, why in report.failures:
        typer.echo(f"{bad.name}: FAILED ({why})", err=True)
    if report.newest_good is None or report.age_s is None:
        typer.echo(f"drill FAILED: no backup in {directory} verifies", err=True)
        raise typer.Exit(1)
    age_h = report.age_s / 3600.0
    typer.echo(
        f"drill: {report.newest_good.name} restored into a scratch database and verified "
        f"({report.tables} tables, {report.rows} rows); newest good backup is {age_h:.2f} h old"
    )
    if age_h > max_age_h:
        typer.echo(f"drill FAILED: newest good backup is older than {max_age_h:g} h", err=True)
        raise typer.Exit(1)


@app.command("tier")
def tier_cmd(
    tier: Annotated[str, typer.Argument(help="Backup tier: 90d, 1y or 7y.")],
    tenant: TenantOpt = "default",
) -> None:
    """Set how long backups holding the tenant's data are kept."""
    try:
        with cli_store() as store, store.transaction() as session:
            tid = repo.ensure_tenant(session, name=tenant, now_s=now_s())
            set_backup_tier(session, tenant_id=tid, tier=tier)
    except ValidationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"tenant {tenant}: backup tier {tier}")


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
