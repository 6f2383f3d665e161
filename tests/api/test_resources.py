"""Networks, telemetry, KPI queries, optimization runs, VES listener, secrets, errors."""

import base64
import json
import time
from collections.abc import Callable

import numpy as np
import pytest
from api_world import PASSWORD, World
from pydantic import ValidationError as PydanticError
from sqlalchemy import select, text
from typer.testing import CliRunner

from pm_history import write_history
from ranopt.api.settings import DEV_SECRET_KEYS, Settings
from ranopt.cli.main import app as cli
from ranopt.store import repository as repo
from ranopt.store import runs, secrets
from ranopt.store.engine import head_revision
from ranopt.store.secrets import Keyring, SecretError
from ranopt.store.tables import StoredSecret

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


def _create(world: World, name: str = "lab", sites: int = 1) -> dict[str, object]:
    assert world.topology is not None
    body = world.topology(sites, name=name).model_dump(mode="json")
    response = world.client.post(
        "/api/v2/networks", headers=world.headers("acme", "network_admin"), json=body
    )
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def test_topology_import_sites_and_cells(world: World) -> None:
    net = _create(world, sites=2)
    viewer = world.headers("acme", "viewer")
    assert net["num_cells"] == 12
    sites = world.client.get(f"/api/v2/networks/{net['id']}/sites", headers=viewer).json()
    assert [s["name"] for s in sites] == ["S000", "S001"]
    cells = world.client.get(f"/api/v2/networks/{net['id']}/cells", headers=viewer).json()
    assert len(cells) == 12
    one = world.client.get(f"/api/v2/networks/{net['id']}/cells/{cells[3]['id']}", headers=viewer)
    assert one.json()["name"] == cells[3]["name"]
    listed = world.client.get("/api/v2/networks", headers=viewer).json()
    assert [n["name"] for n in listed] == ["lab"]
    again = world.client.post(
        "/api/v2/networks", headers=world.headers("acme", "network_admin"),
        json=world.topology(1, name="lab").model_dump(mode="json"),  # type: ignore[misc]
    )  # fmt: skip
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]
    assert again.json()["field"] == "network.name"


def test_invalid_topology_names_the_field(world: World) -> None:
    assert world.topology is not None
    body = world.topology(1).model_dump(mode="json")
    body["cells"][2]["layer"] = "umbrella"
    response = world.client.post(
        "/api/v2/networks", headers=world.headers("acme", "network_admin"), json=body
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == "body.cells[2].layer"


def _records(cells: list[str], num_intervals: int) -> list[dict[str, object]]:
    return [
        {
            "cell": cell,
            "interval_start_s": T0 + 900 * t,
            "counters": {"RRU.PrbUsedDl": float(10 * i + t), "PEE.AvgPower": 100.0 + t},
        }
        for i, cell in enumerate(cells)
        for t in range(num_intervals)
    ]


def test_telemetry_batch_and_kpi_queries(world: World) -> None:
    net = _create(world)
    admin = world.headers("acme", "network_admin")
    viewer = world.headers("acme", "viewer")
    base = f"/api/v2/networks/{net['id']}"
    cells = world.client.get(f"{base}/cells", headers=viewer).json()
    names = [c["name"] for c in cells[:2]]
    response = world.client.post(
        f"{base}/telemetry", headers=admin, json={"records": _records(names, 4)}
    )
    assert response.status_code == 201, response.text
    assert response.json()["num_samples"] == 8
    series = world.client.get(
        f"{base}/kpis/series",
        headers=viewer,
        params={"start_s": T0, "end_s": T0 + 3600, "bucket_s": 3600, "counter": "prb_used_dl",
                "cell_id": [cells[0]["id"], cells[1]["id"]]},
    )  # fmt: skip
    assert series.status_code == 200, series.text
    body = series.json()
    assert body["cell_id"] == [cells[0]["id"], cells[1]["id"]]
    assert body["num_samples"] == [4, 4]
    # PRB usage is a gauge: the hour is the mean of its four quarters
    assert body["values"]["prb_used_dl"] == pytest.approx([1.5, 11.5])
    aggregate = world.client.get(
        f"{base}/kpis/aggregate", headers=viewer, params={"start_s": T0, "end_s": T0 + 3600}
    ).json()
    assert aggregate["num_cells"] == [2, 2, 2, 2]
    # power adds up over cells
    assert aggregate["values"]["pee_avg_power_w"] == pytest.approx([200.0, 202.0, 204.0, 206.0])
    bad_counter = world.client.get(
        f"{base}/kpis/series", headers=viewer,
        params={"start_s": T0, "end_s": T0 + 3600, "counter": "bogus"},
    )  # fmt: skip
    assert bad_counter.status_code == 422
    assert bad_counter.json()["field"] == "counter"


def test_telemetry_batch_is_all_or_nothing(world: World) -> None:
    net = _create(world)
    admin = world.headers("acme", "network_admin")
    records = _records(["S000-1-cov", "S000-2-cov"], 2)
    records.append(
        {"cell": "no-such-cell", "interval_start_s": T0, "counters": {"RRU.PrbUsedDl": 1.0}}
    )
    records.append(
        {"cell": "S000-3-cov", "interval_start_s": T0 + 7, "counters": {"RRU.PrbUsedDl": 1.0}}
    )
    response = world.client.post(
        f"/api/v2/networks/{net['id']}/telemetry", headers=admin, json={"records": records}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["num_problems"] == 2
    fields = {p["field"] for p in problem["problems"]}
    assert fields == {"cell", "interval_start_s"}
    assert any("records[4]" in p["record"] for p in problem["problems"])
    with world.store.transaction() as session:
        assert repo.count_samples(session, tenant_id=world.tenant_ids["acme"]) == 0


def _twin_network(world: World, name: str = "twin-net", history_days: float = 8.0) -> int:
    """A twin-born network with ``history_days`` of stored counters (its telemetry)."""
    response = world.client.post(
        "/api/v2/networks/from-twin",
        headers=world.headers("acme", "network_admin"),
        json={"name": name, "num_sites": 1, "num_ues": 80},
    )
    assert response.status_code == 201, response.text
    network_id: int = response.json()["id"]
    if history_days:
        write_history(
            world.store, tenant_id=world.tenant_ids["acme"], network_id=network_id,
            days=history_days,
        )  # fmt: skip
    return network_id


def test_optimize_sync_run_apply_reject_and_metrics(world: World) -> None:
    network_id = _twin_network(world)
    admin = world.headers("acme", "network_admin")
    response = world.client.post(
        "/api/v2/cognitive/optimize", headers=admin,
        json={"network_id": network_id, "objective": "energy", "solver": "greedy",
              "horizon_min": 120, "constraints": {"max_prb_load": 0.8}},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "awaiting_approval"
    assert 0.0 <= run["confidence"] <= 1.0
    plan = run["plan"]
    assert plan["num_intervals"] == 8
    assert plan["confidence"] == run["confidence"]
    assert plan["expected"]["max_prb_load"] <= 1.0
    assert len(plan["sleeping_cells_per_interval"]) == 8
    # the confidence is measured: K scenarios, so a multiple of 1/K
    k = world.services.settings.confidence_scenarios
    assert run["confidence"] * k == pytest.approx(round(run["confidence"] * k))
    viewer = world.headers("acme", "viewer")
    listed = world.client.get(
        "/api/v2/optimizations", headers=viewer, params={"network_id": network_id}
    ).json()
    assert [r["id"] for r in listed] == [run["id"]]
    applied = world.client.post(f"/api/v2/optimizations/{run['id']}/apply", headers=admin)
    assert applied.status_code == 200
    assert applied.json()["status"] == "applied"
    again = world.client.post(f"/api/v2/optimizations/{run['id']}/reject", headers=admin)
    assert again.status_code == 409  # a decided run: a conflict with its state
    assert again.json()["field"] == "status"
    # planned by clusters of at most 3 cells (issue 16): the plan says how it was cut
    second = world.client.post(
        "/api/v2/cognitive/optimize", headers=admin,
        json={"network_id": network_id, "horizon_min": 60, "partition_cells": 3},
    ).json()  # fmt: skip
    assert second["status"] == "awaiting_approval", second
    assert second["request"]["partition_cells"] == 3
    assert second["plan"]["solver"] == "partitioned-greedy"
    assert second["plan"]["num_intervals"] == 4
    partition = second["plan"]["partition"]
    assert partition["cells"] == 6  # one site: every cell in exactly one cluster
    assert partition["clusters"] >= 2
    assert partition["largest_cluster_cells"] <= 3
    assert partition["executor"] == "in-process"
    rejected = world.client.post(f"/api/v2/optimizations/{second['id']}/reject", headers=admin)
    assert rejected.json()["status"] == "rejected"
    metrics = world.client.get("/metrics").text
    assert 'ranopt_optimization_runs_total{solver="greedy",status="succeeded"} 2.0' in metrics
    assert f'ranopt_optimization_last_confidence{{network_id="{network_id}"}}' in metrics
    assert 'route="/api/v2/optimizations/{run_id}/apply"' in metrics


def test_optimize_needs_telemetry_and_valid_input(world: World) -> None:
    net = _create(world)
    admin = world.headers("acme", "network_admin")
    response = world.client.post(
        "/api/v2/cognitive/optimize", headers=admin, json={"network_id": net["id"]}
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["field"] == "network_id"
    assert "7 days of PM history needed, 0.0 found" in problem["detail"]
    # a twin-born network is no exception: it is planned from its counters too
    short = _twin_network(world, "short-history", history_days=3.2)
    response = world.client.post(
        "/api/v2/cognitive/optimize", headers=admin, json={"network_id": short}
    )
    assert response.status_code == 409
    assert "7 days of PM history needed, 3.2 found" in response.json()["detail"]
    assert response.json()["found_days"] == pytest.approx(3.2, abs=0.01)
    with world.store.transaction() as session:
        assert runs.list_runs(session, tenant_id=world.tenant_ids["acme"], network_id=short) == []
    bad = world.client.post(
        "/api/v2/cognitive/optimize", headers=admin,
        json={"network_id": net["id"], "solver": "quantum-magic"},
    )  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["field"] == "body.solver"
    for cap in (1, 0, "3", 2.5):  # below the minimum cluster cap (2), or not a whole number
        bad = world.client.post(
            "/api/v2/cognitive/optimize", headers=admin,
            json={"network_id": net["id"], "partition_cells": cap},
        )  # fmt: skip
        assert bad.status_code == 422, (cap, bad.text)
        assert bad.json()["field"] == "body.partition_cells"


def test_large_network_optimizes_as_a_job(world_factory: Callable[..., World]) -> None:
    world = world_factory(sync_max_cells=0)
    network_id = _twin_network(world)
    admin = world.headers("acme", "network_admin")
    response = world.client.post(
        "/api/v2/cognitive/optimize", headers=admin,
        json={"network_id": network_id, "horizon_min": 60},
    )  # fmt: skip
    assert response.status_code == 202
    status_url = response.json()["status_url"]
    assert response.headers["location"] == status_url
    deadline = time.monotonic() + 60
    while True:
        run = world.client.get(status_url, headers=admin).json()
        if run["status"] in ("awaiting_approval", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert run["status"] == "awaiting_approval", run
    assert run["plan"]["num_intervals"] == 4


def _ves_event(cell: str, t_s: int, value: str = "12") -> dict[str, object]:
    us = t_s * 1_000_000
    return {
        "commonEventHeader": {"domain": "measurement", "sourceName": "gNB-S000",
                              "startEpochMicrosec": us, "lastEpochMicrosec": us + 900_000_000},
        "measurementFields": {"measurementInterval": 900, "additionalMeasurements": [
            {"name": cell, "hashMap": {"RRU.PrbUsedDl": value}}]},
    }  # fmt: skip


def test_ves_listener_with_basic_auth_and_api_key(world: World) -> None:
    net = _create(world)
    url = f"/eventListener/v7?network_id={net['id']}"
    basic = base64.b64encode(f"acme/network_admin-user:{PASSWORD}".encode()).decode()
    response = world.client.post(
        url, headers={"Authorization": f"Basic {basic}"},
        content=json.dumps({"event": _ves_event("S000-1-cov", T0)}),
    )  # fmt: skip
    assert response.status_code == 202, response.text
    assert response.json()["num_samples"] == 1
    key = world.client.post(
        "/api/v2/api-keys", headers=world.headers("acme", "network_admin"),
        json={"name": "ves", "role": "network_admin"},
    ).json()["key"]  # fmt: skip
    batch = {"eventList": [_ves_event("S000-2-cov", T0), _ves_event("S000-3-cov", T0 + 900)]}
    response = world.client.post(
        f"/eventListener/v7/eventBatch?network_id={net['id']}",
        headers={"X-API-Key": key}, content=json.dumps(batch),
    )  # fmt: skip
    assert response.status_code == 202
    assert response.json()["num_samples"] == 2
    viewer_basic = base64.b64encode(f"acme/viewer-user:{PASSWORD}".encode()).decode()
    forbidden = world.client.post(
        url, headers={"Authorization": f"Basic {viewer_basic}"},
        content=json.dumps({"event": _ves_event("S000-1-cov", T0)}),
    )  # fmt: skip
    assert forbidden.status_code == 403
    wrong = base64.b64encode(b"acme/network_admin-user:guess").decode()
    assert (
        world.client.post(
            url, headers={"Authorization": f"Basic {wrong}"}, content=b"{}"
        ).status_code
        == 401
    )
    broken = world.client.post(
        url, headers={"X-API-Key": key},
        content=json.dumps({"event": _ves_event("S000-1-cov", T0, value="lots")}),
    )  # fmt: skip
    assert broken.status_code == 422
    assert broken.json()["problems"][0]["field"] == "hashMap.RRU.PrbUsedDl"
    with world.store.transaction() as session:
        assert repo.count_samples(session, tenant_id=world.tenant_ids["acme"]) == 3


def test_secrets_are_sealed_and_keys_rotate(world: World) -> None:
    admin = world.headers("acme", "network_admin")
    value = "ric-password-4711"
    response = world.client.put(
        "/api/v2/secrets/near-rt-ric", headers=admin,
        json={"kind": "actuator_credential", "value": value},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json()["key_version"] == 1
    assert value not in world.client.get("/api/v2/secrets", headers=admin).text
    with world.store.transaction() as session:
        sealed = session.scalar(select(StoredSecret.sealed))
    assert sealed is not None
    assert value not in sealed
    new_key = base64.b64encode(np.random.default_rng(1).bytes(32)).decode()
    keys = f"2:{new_key},{DEV_SECRET_KEYS}"
    env = {
        "RANOPT_DATABASE_URL": world.store.engine.url.render_as_string(hide_password=False),
        "RANOPT_SECRET_KEYS": keys,
    }
    result = CliRunner().invoke(cli, ["keys", "rotate"], env=env)
    assert result.exit_code == 0, result.output
    assert "version 2" in result.output
    with world.store.transaction() as session:
        row = session.scalars(select(StoredSecret)).one()
        assert row.key_version == 2
        assert row.sealed.startswith("2.")
        tid = world.tenant_ids["acme"]
        reopened = secrets.read_secret(
            session, tenant_id=tid, name="near-rt-ric", keyring=Keyring.parse(keys)
        )
        assert reopened == value
        with pytest.raises(SecretError):
            secrets.read_secret(
                session, tenant_id=tid, name="near-rt-ric", keyring=Keyring.parse(DEV_SECRET_KEYS)
            )
    # signing keys and TOTP secrets were re-sealed too: login still works with the new keyring
    result = CliRunner().invoke(cli, ["keys", "rotate"], env=env)
    assert "0 secret(s)" in result.output


def test_problem_json_for_client_mistakes(world: World) -> None:
    viewer = world.headers("acme", "viewer")
    missing = world.client.get("/api/v2/networks/999999", headers=viewer)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["instance"] == "/api/v2/networks/999999"
    assert world.client.get("/nowhere").status_code == 404
    assert world.client.put("/health").status_code == 405
    garbage = world.client.post(
        "/api/v2/networks", headers={**world.headers("acme", "network_admin"),
                                     "content-type": "application/json"},
        content=b"{not json",
    )  # fmt: skip
    assert garbage.status_code == 400  # unreadable: 400; readable but wrong: 422
    assert garbage.headers["content-type"] == "application/problem+json"
    assert garbage.json()["field"].startswith("body")
    wrong_type = world.client.get("/api/v2/networks/abc", headers=viewer)
    assert wrong_type.status_code == 422
    assert wrong_type.json()["field"] == "path.network_id"


def test_health_ready_and_schema_revision(world: World) -> None:
    assert world.client.get("/health").json() == {"status": "ok"}
    assert world.client.get("/ready").json()["status"] == "ready"
    head = head_revision()
    with world.store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        response = world.client.get("/ready")
        assert response.status_code == 503
        assert "0001" in response.json()["detail"]
    finally:
        with world.store.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})


def test_settings_refuse_default_secrets_outside_development() -> None:
    with pytest.raises(PydanticError, match="RANOPT_SECRET_KEYS"):
        Settings(environment="production", database_url="sqlite://")
    key = base64.b64encode(bytes(range(32))).decode()
    assert Settings(environment="production", database_url="sqlite://", secret_keys=f"1:{key}")
    with pytest.raises(PydanticError, match="bytes"):
        Settings(database_url="sqlite://", secret_keys="1:c2hvcnQ=")  # noqa: S106
