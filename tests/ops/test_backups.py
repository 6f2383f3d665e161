"""Backups on a schedule, retention by count and tiers, and restore drills (both backends)."""

import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ranopt.api.app import create_app
from ranopt.api.settings import Settings
from ranopt.cli.main import app
from ranopt.store import repository as repo
from ranopt.store.backup import manifest_path
from ranopt.store.backups import BackupCopy, drill, list_backups, retained, set_backup_tier
from ranopt.store.engine import Store

DAY = 86_400.0
NOW = 1_800_000_000.0  # 2027-01-15


def _copy(days_ago: float, tier: str = "90d") -> BackupCopy:
    return BackupCopy(path=Path(f"b-{days_ago}"), taken_s=NOW - days_ago * DAY, tier=tier)


def test_retention_keeps_the_newest_and_what_each_tier_needs() -> None:
    daily = [_copy(d) for d in (0.1, 0.2, 0.25, 1, 1.1, 2, 40, 100)]  # NOW is 08:00 UTC
    kept = retained(daily, keep=2, now_s=NOW)
    # the newest two; then the newest of each UTC day for 90 days (0.25 shares today with
    # the newer two, 1.1 the day of 1); day 100 is past every tier
    assert set(kept) == {Path("b-0.1"), Path("b-0.2"), Path("b-1"), Path("b-2"), Path("b-40")}
    assert kept[Path("b-40")] == "newest of its day (tier 90d)"
    long = [_copy(d, "7y") for d in (0.1, 100, 130, 400, 800, 3000)]
    kept = retained(long, keep=1, now_s=NOW)
    assert Path("b-100") in kept  # the newest of its month, within a year
    assert Path("b-400") in kept  # the newest of its year, within seven
    assert Path("b-3000") not in kept  # past seven years
    mixed = retained([_copy(0.1), _copy(100, "1y"), _copy(101, "90d")], keep=1, now_s=NOW)
    # a 1y copy is kept for its month; a 90d copy of the same age is not
    assert set(mixed) == {Path("b-0.1"), Path("b-100")}


def test_cli_backups_prune_and_drill(store: Store, tmp_path: Path, monkeypatch: object) -> None:
    url = str(store.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("RANOPT_DATABASE_URL", url)  # type: ignore[attr-defined]
    runner = CliRunner()
    with store.transaction() as session:
        tid = repo.ensure_tenant(session, name="acme", now_s=0)
        set_backup_tier(session, tenant_id=tid, tier="1y")
    folder = tmp_path / "backups"
    for _ in range(3):
        made = runner.invoke(app, ["db", "backup", "--dir", str(folder), "--keep", "2"])
        assert made.exit_code == 0, made.output
    copies = list_backups(folder)
    assert len(copies) == 2  # the third is neither among the newest two nor a period's newest
    assert all(c.tier == "1y" for c in copies)
    drilled = runner.invoke(app, ["db", "drill", "--dir", str(folder)])
    assert drilled.exit_code == 0, drilled.output
    assert f"{copies[0].path.name} restored into a scratch database and verified" in drilled.output
    # the newest copy is damaged: the drill says so and falls back to the older one
    newest = copies[0].path
    manifest = manifest_path(newest)
    manifest.write_text(manifest.read_text().replace('"rows": 1', '"rows": 2', 1))
    drilled = runner.invoke(app, ["db", "drill", "--dir", str(folder)])
    assert drilled.exit_code == 0, drilled.output
    assert f"{newest.name}: FAILED (backup does not match its manifest" in drilled.output
    assert f"{copies[1].path.name} restored" in drilled.output
    stale = runner.invoke(app, ["db", "drill", "--dir", str(folder), "--max-age-h", "0"])
    assert stale.exit_code == 1
    assert "drill FAILED: newest good backup is older than 0 h" in stale.output
    bad = runner.invoke(app, ["db", "tier", "3y", "--tenant", "acme"])
    assert bad.exit_code == 2
    assert "backup_tier: one of 90d, 1y, 7y" in bad.output


def test_replicas_back_up_once_per_interval_while_others_write(
    store: Store, tmp_path: Path
) -> None:
    url = store.engine.url.render_as_string(hide_password=False)
    folder = tmp_path / "scheduled"
    settings = Settings(
        database_url=url, backup_interval_s=2.0, backup_dir=folder, backup_keep=50,
        audit_checkpoint_interval_s=0, argon2_time_cost=1, argon2_memory_kib=1024,
    )  # fmt: skip
    stop = threading.Event()

    def write() -> None:  # the service keeps writing while backups are taken
        i = 0
        while not stop.is_set():
            with store.transaction() as session:
                repo.ensure_tenant(session, name=f"t{i}", now_s=0)
            i += 1
            time.sleep(0.01)

    writer = threading.Thread(target=write)
    writer.start()
    started = time.monotonic()
    try:
        with TestClient(create_app(settings, store=store)), TestClient(
            create_app(settings, store=store)
        ):  # fmt: skip
            time.sleep(5.0)
    finally:
        stop.set()
        writer.join()
    elapsed = time.monotonic() - started
    copies = list_backups(folder)
    # two replicas, one backup per interval between them (the lease), not one each
    assert 2 <= len(copies) <= elapsed / 2.0 + 1
    report = drill(store, folder, now_s=time.time())
    assert report.failures == []  # every copy matches its manifest, written meanwhile or not
    assert report.newest_good == copies[0].path
