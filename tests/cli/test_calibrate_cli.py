"""``ranopt network calibrate`` and ``ranopt optimize --network`` on a stored network."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pm_history import write_history
from ranopt.cli.main import app
from ranopt.store import calibration as store_cal
from ranopt.store import repository as repo
from ranopt.store.engine import open_store
from ranopt.store.schemas import TopologyIn


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("RANOPT_DATABASE_URL", f"sqlite:///{tmp_path / 'ranopt.db'}")
    monkeypatch.setenv("RANOPT_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


def _network(tmp_path: Path, topology: TopologyIn, days: float) -> int:
    store = open_store(f"sqlite:///{tmp_path / 'ranopt.db'}")
    try:
        with store.transaction() as session:
            tid = repo.ensure_tenant(session, name="default", now_s=0)
            net = repo.create_network(session, tenant_id=tid, topology=topology, now_s=0)
        write_history(store, tenant_id=tid, network_id=net.id, days=days, num_ues=300)
        return net.id
    finally:
        store.dispose()


def test_calibrate_reports_the_held_out_fit_and_stores_it(
    cli: CliRunner, tmp_path: Path, three_site_topology: TopologyIn
) -> None:
    network_id = _network(tmp_path, three_site_topology, days=8)
    result = cli.invoke(app, ["network", "calibrate", "three-site", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["days_found"] == 8.0
    assert report["heldout_days"] == ["2026-01-12"]
    assert len(report["train_days"]) == 7
    heldout = report["heldout"]["observed_demand"]
    assert 0.0 <= heldout["prb_load_wape"] <= 0.15
    assert report["target"]["met"] is True
    assert {s["layer"] for s in heldout["layer_shares"]} == {"coverage", "capacity"}
    assert len(report["cells"]) == 18
    # the topology file gave no tilts: one warning per cell names the field
    assert report["num_warnings"] == 18
    assert all("tilt_deg" in w for w in report["warnings"])
    store = open_store(f"sqlite:///{tmp_path / 'ranopt.db'}")
    try:
        with store.transaction() as session:
            stored = store_cal.latest_report(session, tenant_id=1, network_id=network_id)
        assert stored is not None
        assert stored.id == report["id"]
    finally:
        store.dispose()
    table = cli.invoke(app, ["network", "calibrate", "three-site"])
    assert table.exit_code == 0, table.output
    assert "PRB load per cell" in table.output
    assert "target: PRB-load WAPE <= 15.0 %" in table.output


def test_too_little_telemetry_exits_3_with_what_is_missing(
    cli: CliRunner, tmp_path: Path, three_site_topology: TopologyIn
) -> None:
    _network(tmp_path, three_site_topology, days=3.2)
    for args in (
        ["network", "calibrate", "three-site"],
        ["optimize", "--network", "three-site", "--horizon-min", "60"],
    ):
        result = cli.invoke(app, args)
        assert result.exit_code == 3, result.output
        assert "7 days of PM history needed, 3.2 found" in result.output


def test_optimize_plans_a_network_on_its_calibrated_model(
    cli: CliRunner, tmp_path: Path, three_site_topology: TopologyIn
) -> None:
    _network(tmp_path, three_site_topology, days=8)
    result = cli.invoke(
        app,
        ["optimize", "--network", "three-site", "--horizon-min", "120", "--scenarios", "8",
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["num_intervals"] == 8
    assert plan["window"]["start"] == "2026-01-13T00:00:00+00:00"
    assert plan["model"]["source"] == "calibrated"
    assert 0.0 <= plan["confidence"] <= 1.0
    assert round(plan["confidence"] * 8) == plan["confidence"] * 8
    assert plan["calibration"]["observed_demand"]["prb_load_wape"] is not None
