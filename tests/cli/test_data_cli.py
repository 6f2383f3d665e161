"""``ranopt network``, ``ranopt ingest``, ``ranopt db`` end to end, on both backends."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ranopt.cli.data import export_run
from ranopt.cli.main import app
from ranopt.store import repository as repo
from ranopt.store.backup import manifest_path
from ranopt.store.engine import head_revision, open_store
from ranopt.twin.model import Twin
from ranopt.twin.simulate import IntervalKpis


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("RANOPT_DATABASE_URL", db_url)
    monkeypatch.setenv("RANOPT_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


def test_export_create_ingest_backup_restore(
    cli: CliRunner, db_url: str, small_twin_run: tuple[Twin, IntervalKpis], tmp_path: Path
) -> None:
    twin, kpis = small_twin_run
    summary = export_run(tmp_path / "run.parquet", twin, kpis, "2026-03-02T00:00:00Z")
    assert summary.startswith("exported 336 samples to ")
    result = cli.invoke(
        app, ["network", "create", "lab", "--topology", str(tmp_path / "run.topology.json")]
    )
    assert result.exit_code == 0, result.output
    assert "network lab: 42 cells, interval 900 s" in result.output
    for _ in range(2):
        result = cli.invoke(app, ["ingest", str(tmp_path / "run.parquet"), "--network", "lab"])
        assert result.exit_code == 0, result.output
        assert "run.parquet: 336 samples from 336 records" in result.output
    result = cli.invoke(app, ["network", "list"])
    assert "lab" in result.output
    # another tenant sees no network called lab
    result = cli.invoke(
        app, ["ingest", str(tmp_path / "run.parquet"), "--network", "lab", "--tenant", "other"]
    )
    assert result.exit_code == 2
    assert "no network 'lab'" in result.output
    backup_path = tmp_path / "backups" / "ranopt.bak"
    result = cli.invoke(app, ["db", "backup", str(backup_path)])
    assert result.exit_code == 0, result.output
    result = cli.invoke(app, ["db", "restore", str(backup_path)])
    assert result.exit_code == 0, result.output
    assert "restored and verified" in result.output
    store = open_store(db_url)
    with store.transaction() as s:
        tid = repo.ensure_tenant(s, name="default", now_s=0)
        assert repo.count_samples(s, tenant_id=tid) == 336
    store.dispose()
    # a tampered backup: refused before anything changes
    manifest = manifest_path(backup_path)
    manifest.write_text(manifest.read_text().replace('"rows": 336', '"rows": 335'))
    result = cli.invoke(app, ["db", "restore", str(backup_path)])
    assert result.exit_code == 1
    assert "did not verify" in result.output
    assert "live database is unchanged" in result.output
    store = open_store(db_url)
    with store.transaction() as s:
        assert repo.count_samples(s, tenant_id=tid) == 336
    store.dispose()


def test_rejected_file_reports_and_exits_1(
    cli: CliRunner, small_twin_run: tuple[Twin, IntervalKpis], tmp_path: Path
) -> None:
    twin, kpis = small_twin_run
    export_run(tmp_path / "run.parquet", twin, kpis)
    cli.invoke(app, ["network", "create", "lab", "--topology", str(tmp_path / "run.topology.json")])
    bad = tmp_path / "bad.csv"
    bad.write_text("cell,time,RRU.PrbTotDl\nS000-1-cov,2026-01-05T00:05:00Z,10\n")
    result = cli.invoke(app, ["ingest", str(bad), "--network", "lab"])
    assert result.exit_code == 1
    assert "batch rejected, nothing written: 1 problem(s)" in result.output
    assert (
        "line 2: time: interval start 2026-01-05T00:05:00Z is off the 900 s grid" in result.output
    )


def test_prune_and_retention_options(cli: CliRunner) -> None:
    result = cli.invoke(app, ["db", "prune", "--raw-days", "30", "--rollup-days", "365"])
    assert result.exit_code == 0, result.output
    assert "deleted 0 raw samples" in result.output


def test_db_upgrade_on_an_empty_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RANOPT_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"schema revision (empty) -> {head_revision()}" in result.output


def test_bad_epoch_is_refused(small_twin_run: tuple[Twin, IntervalKpis], tmp_path: Path) -> None:
    import typer

    twin, kpis = small_twin_run
    with pytest.raises(typer.BadParameter, match="needs a UTC offset"):
        export_run(tmp_path / "run.parquet", twin, kpis, "2026-01-05T00:00:00")


def _prune_due_again(db_url: str) -> None:
    """Make the automatic daily prune due (as if the last one ran a day ago)."""
    from sqlalchemy import update

    from ranopt.store.tables import RetentionPolicy

    store = open_store(db_url)
    with store.transaction() as s:
        s.execute(update(RetentionPolicy).values(last_prune_s=None))
    store.dispose()


def test_a_rejected_ingest_prunes_nothing_and_an_old_network_time_is_kept(
    cli: CliRunner, db_url: str, small_twin_run: tuple[Twin, IntervalKpis], tmp_path: Path
) -> None:
    """A network whose clock is years behind the wall clock (a replay, the demo's twin)."""
    twin, kpis = small_twin_run
    export_run(tmp_path / "run.parquet", twin, kpis, "2020-01-06T00:00:00Z")
    result = cli.invoke(
        app, ["network", "create", "lab", "--topology", str(tmp_path / "run.topology.json")]
    )
    assert result.exit_code == 0, result.output
    result = cli.invoke(app, ["ingest", str(tmp_path / "run.parquet"), "--network", "lab"])
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("cell,interval_start_s,RRU.PrbUsedDl\nS999-9-cap,1578268800,10\n")
    _prune_due_again(db_url)
    result = cli.invoke(app, ["ingest", str(bad), "--network", "lab"])
    assert result.exit_code == 1, result.output
    assert "pruned" not in result.output
    _prune_due_again(db_url)
    result = cli.invoke(app, ["ingest", str(tmp_path / "run.parquet"), "--network", "lab"])
    assert result.exit_code == 0, result.output
    assert "pruned" not in result.output  # 2020 data is the network's present, not its past
    store = open_store(db_url)
    with store.transaction() as s:
        tid = repo.ensure_tenant(s, name="default", now_s=0)
        assert repo.count_samples(s, tenant_id=tid) == 336
    store.dispose()
    # a mistyped network name is answered with the near ones
    result = cli.invoke(app, ["ingest", str(tmp_path / "run.parquet"), "--network", "lba"])
    assert result.exit_code == 2
    assert "no network 'lba' for this tenant; did you mean 'lab'?" in result.output
