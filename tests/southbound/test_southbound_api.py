"""A network's southbound through the API and the CLI, against the session's emulator.

Settings keep credentials write-only (never answered, logged or audited); discovery through
the API builds the network's cells from O1; applying an optimization run pushes its first
interval through O1 and records every element's outcome and an audit entry.
"""

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from emulator_world import RanWorld, RunningEmulator
from ranopt.cli.main import app as cli
from ranopt.service.southbound import apply_actions
from ranopt.southbound.actions import CellAction
from ranopt.southbound.nrm import parse_dn
from ranopt.southbound.o1 import O1Session
from ranopt.store import audit, runs
from ranopt.store import repository as repo
from ranopt.store.schemas import TopologyIn
from ranopt.store.tables import StoredSecret

SECRETS = ("pw-alpha-Zq81", "pw-beta-Zq82", "ric-token-Zq83")


def _one_site(topology: TopologyIn, name: str, site: str = "S000") -> dict[str, Any]:
    """The emulator's topology cut to one site: what an operator might hold before discovery."""
    cut = topology.model_copy(update={
        "network": topology.network.model_copy(update={"name": name}),
        "sites": [s for s in topology.sites if s.name == site],
        "cells": [c for c in topology.cells if c.site == site],
    })  # fmt: skip
    return cut.model_dump(mode="json")


def _o1_settings(emulator: RunningEmulator, **overrides: Any) -> dict[str, Any]:
    endpoints = [
        {"host": e["host"], "port": e["port"], "username": "ranopt",
         "password": emulator.password, "host_key": emulator.info["host_key"]}
        for e in emulator.info["o1"]
    ]  # fmt: skip
    return {"kind": "o1", "o1": endpoints, "timeout_s": 5.0, **overrides}


def test_settings_keep_credentials_write_only(
    ran_world: RanWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = ran_world.server
    alpha, beta, token = SECRETS
    with server.client() as client:
        network_id = client.post(
            "/api/v2/networks", json=_one_site(ran_world.emulator.topology, "settings")
        ).json()["id"]
        url = f"/api/v2/networks/{network_id}/southbound"
        assert client.get(url).json()["kind"] == "twin"  # never configured
        settings = {
            "kind": "o1", "sleep_method": "administrative_state",
            "o1": [{"host": "10.0.0.1", "username": "ops", "password": alpha},
                   {"host": "10.0.0.2", "port": 1830, "username": "ops", "password": beta}],
            "a1": {"url": "http://127.0.0.1:9/A1-P/v2", "token": token},
        }  # fmt: skip
        put = client.put(url, json=settings)
        got = client.get(url)
        # a password left out keeps the stored one; a new endpoint without one is refused
        kept = client.put(url, json={**settings, "o1": [
            {"host": "10.0.0.1", "username": "ops"},
            {"host": "10.0.0.2", "port": 1830, "username": "ops"},
        ]})  # fmt: skip
        missing = client.put(url, json={**settings, "o1": [
            *settings["o1"], {"host": "10.0.0.3", "username": "ops"}]})  # fmt: skip
        bad_port = client.put(url, json={**settings, "o1": [{**settings["o1"][0], "port": 0}]})
        listed = client.get("/api/v2/secrets")
    assert put.status_code == got.status_code == kept.status_code == 200, put.text
    assert got.json()["o1"][1] == {"host": "10.0.0.2", "port": 1830, "username": "ops",
                                   "host_key": None, "has_password": True}  # fmt: skip
    assert got.json()["a1_has_token"] is True
    assert kept.json()["o1"] == got.json()["o1"]
    assert missing.status_code == 422
    assert missing.json()["field"] == "o1[2].password"
    assert bad_port.status_code == 422
    assert "o1.0.port" in bad_port.text or "o1[0].port" in bad_port.text
    names = {s["name"] for s in listed.json()}
    assert {f"southbound.{network_id}.o1.0", f"southbound.{network_id}.o1.1",
            f"southbound.{network_id}.a1"} <= names  # fmt: skip
    with server.store.transaction() as session:
        sealed = session.scalars(select(StoredSecret.sealed)).all()
        entries = audit.list_entries(session, tenant_id=server.tenant_id, limit=50)
    assert next(e.detail for e in entries if e.action == "southbound.set") == {
        "kind": "o1", "o1_endpoints": 2, "a1": True,
    }  # fmt: skip
    audited = json.dumps([e.model_dump() for e in entries])
    for text in (put.text, got.text, kept.text, missing.text, listed.text, audited, caplog.text,
                 *sealed):  # fmt: skip
        for secret in SECRETS:
            assert secret not in text


@pytest.fixture(scope="module")
def discovered(ran_world: RanWorld) -> Iterator[tuple[int, httpx.Response]]:
    """The network ``discovered``: one site registered from a file, the rest from O1."""
    emulator = ran_world.emulator
    with ran_world.server.client() as client:
        created = client.post("/api/v2/networks", json=_one_site(emulator.topology, "discovered"))
        network_id = created.json()["id"]
        put = client.put(f"/api/v2/networks/{network_id}/southbound", json=_o1_settings(emulator))
        assert put.status_code == 200, put.text
        yield network_id, client.post(f"/api/v2/networks/{network_id}/discover")


def test_discovery_through_the_api_creates_the_network_s_cells(
    ran_world: RanWorld, discovered: tuple[int, httpx.Response]
) -> None:
    network_id, answer = discovered
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["num_elements"], report["num_cells"]) == (19, 114)
    assert len(report["added_cells"]) == 108
    assert report["missing_cells"] == []
    with ran_world.server.client() as client:
        cells = {c["dn"]: c for c in client.get(f"/api/v2/networks/{network_id}/cells").json()}
    truth = {c.dn: c for c in ran_world.emulator.topology.cells}
    assert set(cells) == set(truth)
    for dn, cell in truth.items():
        got = cells[dn]
        assert (got["name"], got["nci"]) == (cell.name, cell.nci)
        assert got["carrier_ghz"] == pytest.approx(cell.carrier_ghz, abs=1e-4)
        assert (got["bandwidth_mhz"], got["num_prb"]) == (cell.bandwidth_mhz, cell.num_prb)
        assert got["max_tx_power_w"] == pytest.approx(cell.max_tx_power_w, rel=1e-3)
        assert got["layer"] == cell.layer
        if cell.site == "S000":  # from the file: O1 does not carry the azimuth
            assert got["azimuth_deg"] == cell.azimuth_deg
    # sites land in the network's own x/y frame (the file's site S000 fixes it); O1 carries
    # positions to 4 decimals (about 11 m of latitude, 7 m of longitude here)
    with ran_world.server.client() as client:
        sites = {s["name"]: s for s in client.get(f"/api/v2/networks/{network_id}/sites").json()}
    for site in ran_world.emulator.topology.sites:
        got = sites[site.name]
        tolerance = 0.0 if site.name == "S000" else 8.0
        assert abs(got["x_m"] - site.x_m) <= tolerance, (site.name, got["x_m"], site.x_m)
        assert abs(got["y_m"] - site.y_m) <= tolerance, (site.name, got["y_m"], site.y_m)
    with ran_world.server.store.transaction() as session:
        stored = repo.network_cells(session, tenant_id=ran_world.server.tenant_id,
                                    network_id=network_id)  # fmt: skip
        [entry] = audit.list_entries(session, tenant_id=ran_world.server.tenant_id, limit=1,
                                     action="southbound.discover")  # fmt: skip
    assert entry.detail == {"elements": 19, "cells": 114, "added": 108, "missing": 0}
    assert {c.dn: c.cu_dn for c in stored} == {c.dn: c.cu_dn for c in truth.values()}


def _run(ran_world: RanWorld, network_id: int, actions: list[dict[str, Any]]) -> int:
    server = ran_world.server
    with server.store.transaction() as session:
        run = runs.create_run(
            session, tenant_id=server.tenant_id, network_id=network_id, objective="energy",
            solver="greedy", horizon_min=60, request={}, created_by="test", now_s=0,
        )  # fmt: skip
        runs.finish_run(session, tenant_id=server.tenant_id, run_id=run.id, now_s=1,
                        plan={"actions": actions}, confidence=1.0, saving_pct=1.0)  # fmt: skip
    return run.id


def _energy_saving(emulator: RunningEmulator, element: str) -> dict[str, str | None]:
    """Each cell's energySavingControl as O1 shows it, by cell name."""
    names = {parse_dn(c.dn)[1].local_dn: c.name for c in emulator.topology.cells}
    with O1Session(emulator.endpoints()[element]) as session:
        [me] = session.read_cell_states(element)
    return {names[c.du_path.local_dn]: c.energy_saving_control for c in me.cells}


def test_applying_a_run_goes_through_o1_element_by_element(
    ran_world: RanWorld, discovered: tuple[int, httpx.Response]
) -> None:
    network_id, _ = discovered
    server, emulator = ran_world.server, ran_world.emulator
    run_id = _run(ran_world, network_id, [
        {"t_min": 0, "cell": "S002-1-cap", "action": "sleep"},
        {"t_min": 0, "cell": "S005-2-cap", "action": "sleep"},
        {"t_min": 15, "cell": "S002-1-cap", "action": "wake"},
    ])  # fmt: skip
    # gNB-S005's endpoint now points at a closed port: its element is unreachable
    settings = _o1_settings(emulator)
    index = next(i for i, e in enumerate(emulator.info["o1"]) if e["elements"] == ["gNB-S005"])
    settings["o1"][index]["port"] = 1
    with server.client() as client:
        assert client.put(f"/api/v2/networks/{network_id}/southbound", json=settings).is_success
        applied = client.post(f"/api/v2/optimizations/{run_id}/apply")
        recorded = client.get(f"/api/v2/networks/{network_id}/southbound/transactions",
                              params={"run_id": run_id}).json()  # fmt: skip
        alerts = client.get(f"/api/v2/networks/{network_id}/alerts").json()
        restored = client.put(f"/api/v2/networks/{network_id}/southbound",
                              json=_o1_settings(emulator))  # fmt: skip
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "applied"
    assert {(t["element"], t["outcome"], t["num_edits"]) for t in recorded} == {
        ("gNB-S002", "applied", 1), ("gNB-S005", "unreachable", 1),
    }  # fmt: skip
    unreachable = next(t for t in recorded if t["outcome"] == "unreachable")
    assert "127.0.0.1:1" in unreachable["error"]
    assert alerts[0]["kind"] == "southbound_failed"
    assert "gNB-S005 unreachable" in alerts[0]["message"]
    assert restored.is_success
    assert _energy_saving(emulator, "gNB-S002")["S002-1-cap"] == "toBeEnergySaving"
    assert _energy_saving(emulator, "gNB-S005")["S005-2-cap"] == "toBeNotEnergySaving"
    with server.store.transaction() as session:
        entries = audit.list_entries(session, tenant_id=server.tenant_id, limit=20)
    per_element = [e for e in entries if e.action == "southbound.o1.transaction"][:2]
    assert {(e.detail["element"], e.outcome, e.detail["run_id"]) for e in per_element} == {
        ("gNB-S002", "success", run_id), ("gNB-S005", "failure", run_id),
    }  # fmt: skip
    [apply] = [e for e in entries if e.action == "optimization.apply"][:1]
    assert apply.detail["o1"] == {"t_min": 0, "num_actions": 2, "later_actions": 1,
                                  "applied": 1, "rolled_back": 0, "unreachable": 1}  # fmt: skip
    # put the emulated network back as it was
    [woken] = apply_actions(
        server.store, tenant_id=server.tenant_id, network_id=network_id,
        actions=[CellAction("S002-1-cap", "wake")], keyring=server.settings.keyring(),
        actor="test", now_s=2,
    )  # fmt: skip
    assert woken.outcome == "applied"


def test_cli_points_a_network_at_o1_and_discovers_it(
    ran_world: RanWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = ran_world.emulator
    monkeypatch.setenv("RANOPT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    one_site = tmp_path / "one-site.json"
    one_site.write_text(json.dumps(_one_site(emulator.topology, "cli-net", site="S003")))
    password = tmp_path / "o1-password"
    password.write_text(emulator.password + "\n")
    created = runner.invoke(cli, ["network", "create", "cli-net", "--topology", str(one_site)])
    assert created.exit_code == 0, created.output
    o1 = [arg for e in emulator.info["o1"] for arg in ("--o1", f"{e['host']}:{e['port']}")]
    bad = runner.invoke(cli, ["network", "southbound", "cli-net", "--o1", "127.0.0.1",
                              "--password-file", str(password)])  # fmt: skip
    assert bad.exit_code == 2
    key = emulator.info["host_key"]
    pointed = runner.invoke(cli, ["network", "southbound", "cli-net", *o1, "--password-file",
                                  str(password), "--host-key", key])  # fmt: skip
    assert pointed.exit_code == 0, pointed.output
    assert "19 endpoint(s)" in pointed.output
    found = runner.invoke(cli, ["network", "discover", "cli-net", "--topology",
                                str(emulator.run_dir / "topology.json")])  # fmt: skip
    assert found.exit_code == 0, found.output
    report = json.loads(found.output)
    assert (report["elements"], report["cells"], report["added"]) == (19, 114, 108)
    assert report["warnings"] == []  # the file supplies all that O1 lacks
    listed = runner.invoke(cli, ["network", "list"])
    assert "114" in listed.output
    for output in (bad.output, pointed.output, found.output):
        assert emulator.password not in output
