"""Issue 11, in process: one credential limiter, constant work, privileges, strict input,
bounded work, a true OpenAPI document. (Memory, timing and kill -9 need a real server:
``test_hardening_server.py``.)"""

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_world import PASSWORD, World, api_settings, build_world, store_url
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from pm_history import write_history
from ranopt.api import authn
from ranopt.cli.main import app as cli
from ranopt.counters import COUNTER_COLUMNS
from ranopt.store import audit
from ranopt.store import repository as repo
from ranopt.store.engine import Store, open_store
from ranopt.store.samples import SampleBatch
from ranopt.store.schemas import TopologyIn
from ranopt.store.tables import AuditEntry

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
TOKEN = "/api/v2/auth/token"  # noqa: S105 - a path
NETWORKS = "/api/v2/networks"


@pytest.fixture
def lite(
    tmp_path: Path, topology_factory: Callable[..., TopologyIn]
) -> Iterator[Callable[..., World]]:
    """Worlds on a SQLite file (for what does not depend on the database)."""
    made: list[tuple[World, Store]] = []

    def make(**overrides: Any) -> World:
        store = open_store(f"sqlite:///{tmp_path / f'h{len(made)}.db'}")
        world = build_world(store, api_settings(store_url(store), **overrides), topology_factory)
        made.append((world, store))
        return world

    yield make
    for world, store in made:
        world.client.close()
        store.dispose()


def _basic(login: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


def _form(tenant: str, username: str, password: str = PASSWORD) -> dict[str, str]:
    return {"tenant": tenant, "username": username, "password": password}


@pytest.fixture
def argon2_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every argon2 verification the authenticator runs (the real one, counted)."""
    seen: list[str] = []
    real = authn.verify_password

    def counted(hasher: Any, password_hash: str, password: str) -> bool:
        seen.append(password_hash)
        return real(hasher, password_hash, password)

    monkeypatch.setattr(authn, "verify_password", counted)
    return seen


# --- 2: one limiter for every credential path, back-off, no lock anyone can trigger ---------


def test_one_back_off_for_basic_and_token_but_not_for_the_owner_elsewhere(
    lite: Callable[..., World], argon2_checks: list[str]
) -> None:
    world = lite(auth_backoff_base_s=60)
    attacker = TestClient(world.app, client=("203.0.113.7", 40000))
    wrong = _basic("acme/viewer-user", "guess")
    codes = [attacker.get(NETWORKS, headers=wrong).status_code for _ in range(30)]
    free = world.services.settings.auth_free_failures
    assert codes[: free + 1] == [401] * (free + 1)
    assert set(codes[free + 1 :]) == {429}
    # in back-off no password hash is computed at all
    assert len(argon2_checks) == free + 1
    throttled = attacker.get(NETWORKS, headers=wrong)
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    assert throttled.headers["content-type"] == "application/problem+json"
    # the right password from there, over Basic or the token route, waits too: one limiter
    assert attacker.get(NETWORKS, headers=_basic("acme/viewer-user", PASSWORD)).status_code == 429
    assert attacker.post(TOKEN, data=_form("acme", "viewer-user")).status_code == 429
    # the account's owner at another address is not locked out
    owner = TestClient(world.app, client=("198.51.100.2", 40000))
    assert owner.post(TOKEN, data=_form("acme", "viewer-user")).status_code == 200
    assert owner.get(NETWORKS, headers=_basic("acme/viewer-user", PASSWORD)).status_code == 200
    attacker.close()
    owner.close()


def test_an_address_spraying_accounts_backs_off(lite: Callable[..., World]) -> None:
    world = lite(auth_backoff_base_s=60)
    sprayer = TestClient(world.app, client=("203.0.113.9", 40000))
    codes = [
        sprayer.post(TOKEN, data=_form("acme", f"user{i}", "guess")).status_code for i in range(40)
    ]
    per_address = world.services.settings.auth_free_failures_per_address
    assert codes[: per_address + 1] == [401] * (per_address + 1)
    assert set(codes[per_address + 1 :]) == {429}
    # API keys go through the same guard
    key = {"X-API-Key": "rk_0123456789ab.not-the-secret"}
    assert sprayer.get(NETWORKS, headers=key).status_code == 429
    sprayer.close()


def test_failed_credentials_are_audited_in_aggregate(lite: Callable[..., World]) -> None:
    world = lite(auth_free_failures=1000, auth_free_failures_per_address=1000)
    for _ in range(40):
        assert world.client.get(NETWORKS, headers=_basic("acme/nobody", "x")).status_code == 401
        assert world.client.post(TOKEN, data=_form("acme", "viewer-user", "x")).status_code == 401
    world.services.failures.flush_all()
    with world.store.transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.outcome == "failure")).all()
    by_action: dict[str, list[int]] = {}
    for row in rows:
        by_action.setdefault(row.action, []).append(int(row.detail["count"]))
    # one row at the first failure, one summary with the rest: not one row per attempt
    assert by_action == {"auth.rejected": [1, 39], "auth.login": [1, 39]}
    with world.store.transaction() as session:
        assert audit.verify_chain(session).ok


# --- 4: constant work for known and unknown identities ---------------------------------------


def test_every_credential_costs_one_argon2_check(
    lite: Callable[..., World], argon2_checks: list[str]
) -> None:
    world = lite(auth_free_failures=1000, auth_free_failures_per_address=1000)
    admin = world.headers("acme", "network_admin")
    key = world.client.post(
        "/api/v2/api-keys", headers=admin, json={"name": "k", "role": "viewer"}
    ).json()
    prefix = key["prefix"]
    revoked = world.client.post(
        "/api/v2/api-keys", headers=admin, json={"name": "r", "role": "viewer"}
    ).json()
    assert world.client.delete(f"/api/v2/api-keys/{revoked['id']}", headers=admin).is_success
    cases = {
        "basic, unknown tenant": _basic("initech/viewer-user", "guess"),
        "basic, unknown user": _basic("acme/nobody", "guess"),
        "basic, known user": _basic("acme/viewer-user", "guess"),
        "api key, unknown prefix": {"X-API-Key": "rk_0123456789ab.guess"},
        "api key, known prefix": {"X-API-Key": f"{prefix}.guess"},
        "api key, revoked": {"X-API-Key": revoked["key"]},
    }
    for name, headers in cases.items():
        argon2_checks.clear()
        assert world.client.get(NETWORKS, headers=headers).status_code == 401, name
        assert len(argon2_checks) == 1, name
    for form in (_form("initech", "x", "guess"), _form("acme", "nobody", "guess"),
                 _form("acme", "viewer-user", "guess")):  # fmt: skip
        argon2_checks.clear()
        assert world.client.post(TOKEN, data=form).status_code == 401
        assert len(argon2_checks) == 1, form


def test_a_second_factor_is_mentioned_only_after_the_right_password(
    lite: Callable[..., World],
) -> None:
    world = lite()
    viewer = world.user_ids["acme", "viewer"]
    enrolled = world.client.post(
        f"/api/v2/users/{viewer}/totp", headers=world.headers("acme", "network_admin")
    )
    assert enrolled.status_code == 201
    wrong = world.client.get(NETWORKS, headers=_basic("acme/viewer-user", "guess"))
    assert wrong.status_code == 401
    assert "second factor" not in wrong.json()["detail"]
    right = world.client.get(NETWORKS, headers=_basic("acme/viewer-user", PASSWORD))
    assert right.status_code == 401
    assert "second factor" in right.json()["detail"]


# --- 5: no principal grants or touches more than its own role --------------------------------


def test_no_one_grants_a_role_beyond_its_own(lite: Callable[..., World]) -> None:
    world = lite()
    admin = world.headers("acme", "network_admin")
    user = {"username": "eve", "password": "x" * 16, "role": "security_analyst"}
    refused = world.client.post("/api/v2/users", headers=admin, json=user)
    assert refused.status_code == 403
    assert refused.json()["field"] == "body.role"
    assert "investigate" in refused.json()["detail"]
    key = world.client.post(
        "/api/v2/api-keys", headers=admin, json={"name": "k", "role": "security_analyst"}
    )
    assert key.status_code == 403
    made = world.client.post("/api/v2/users", headers=admin, json={**user, "role": "network_admin"})
    assert made.status_code == 201  # within its own role: allowed
    analyst = world.headers("acme", "security_analyst")
    assert world.client.post("/api/v2/users", headers=analyst, json=user).status_code == 403


def test_replacing_someone_s_second_factor_is_an_explicit_audited_reset(
    lite: Callable[..., World],
) -> None:
    world = lite()
    admin = world.headers("acme", "network_admin")
    viewer = world.user_ids["acme", "viewer"]
    analyst = world.user_ids["acme", "security_analyst"]
    # the viewer enrols its own factor
    own = world.client.post("/api/v2/me/totp", headers=world.headers("acme", "viewer"))
    assert own.status_code == 201
    assert own.json()["user_id"] == viewer
    assert (
        world.client.post("/api/v2/me/totp", headers=world.headers("acme", "viewer")).status_code
        == 409
    )
    # an administrator cannot silently re-enrol it
    again = world.client.post(f"/api/v2/users/{viewer}/totp", headers=admin)
    assert again.status_code == 409
    assert "reset" in again.json()["detail"]
    # an explicit reset is allowed, and audited
    reset = world.client.delete(f"/api/v2/users/{viewer}/totp", headers=admin)
    assert reset.status_code == 200
    assert reset.json()["mfa_enabled"] is False
    entries = world.client.get(
        "/api/v2/audit", headers=world.headers("acme", "security_analyst"),
        params={"action": "user.totp.reset"},
    ).json()  # fmt: skip
    assert [e["target"] for e in entries] == [f"user:{viewer}"]
    # nor can it touch the factor of a role stronger than its own in any permission
    assert world.client.post(f"/api/v2/users/{analyst}/totp", headers=admin).status_code == 403
    assert world.client.delete(f"/api/v2/users/{analyst}/totp", headers=admin).status_code == 403
    # the platform operator can, from the command line
    env = {"RANOPT_DATABASE_URL": store_url(world.store)}
    result = CliRunner().invoke(cli, ["admin", "reset-totp", "acme", "viewer-user"], env=env)
    assert result.exit_code == 0, result.output


# --- 8, 9: every bad input a 4xx naming its field; strict types ------------------------------


def _network(world: World) -> int:
    assert world.topology is not None
    body = world.topology(1, name="lab").model_dump(mode="json")
    made = world.client.post(NETWORKS, headers=world.headers("acme", "network_admin"), json=body)
    assert made.status_code == 201, made.text
    network_id: int = made.json()["id"]
    return network_id


def _record(**changes: Any) -> dict[str, Any]:
    record = {"cell": "S000-1-cov", "interval_start_s": T0, "counters": {"RRU.PrbUsedDl": 1.0}}
    record.update(changes)
    return record


BAD_RECORDS = {
    "year 36812, on the grid": (_record(interval_start_s=(2**40 // 900) * 900), "interval_start_s"),
    "counter true": (_record(counters={"RRU.PrbUsedDl": True}), "counters.RRU.PrbUsedDl"),
    "counter '5'": (_record(counters={"RRU.PrbUsedDl": "5"}), "counters.RRU.PrbUsedDl"),
    "time true": (_record(interval_start_s=True), "interval_start_s"),
    "time as a float": (_record(interval_start_s=float(T0)), "interval_start_s"),
    "suspect 0": (_record(suspect=0), "suspect"),
    "cell with NUL": (_record(cell="S000-1-cov\x00"), "cell"),
    "counter name with a newline": (_record(counters={"RRU.PrbUsedDl\n": 1.0}), "counters"),
}


def test_bad_telemetry_values_are_422_naming_the_field(lite: Callable[..., World]) -> None:
    world = lite()
    network_id = _network(world)
    for case, (record, field) in BAD_RECORDS.items():
        response = world.client.post(
            f"{NETWORKS}/{network_id}/telemetry", headers=world.headers("acme", "network_admin"),
            json={"records": [record]},
        )  # fmt: skip
        assert response.status_code == 422, (case, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"].startswith(f"body.records[0].{field}"), case
    with world.store.transaction() as session:
        assert repo.count_samples(session, tenant_id=world.tenant_ids["acme"]) == 0


def test_non_finite_numbers_are_refused_not_stored_as_absent(lite: Callable[..., World]) -> None:
    world = lite()
    network_id = _network(world)
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
        body = b'{"records": [{"cell": "S000-1-cov", "interval_start_s": %d, ' % T0
        body += b'"counters": {"RRU.PrbUsedDl": ' + literal + b"}}]}"
        response = world.client.post(
            f"{NETWORKS}/{network_id}/telemetry", content=body,
            headers={**world.headers("acme", "network_admin"), "content-type": "application/json"},
        )  # fmt: skip
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "body.records[0].counters.RRU.PrbUsedDl"
    with world.store.transaction() as session:
        assert repo.count_samples(session, tenant_id=world.tenant_ids["acme"]) == 0


def _ves(start_us: int | float, value: str = "12") -> dict[str, Any]:
    return {"event": {
        "commonEventHeader": {"domain": "measurement", "sourceName": "gNB",
                              "startEpochMicrosec": start_us,
                              "lastEpochMicrosec": start_us + 900_000_000},
        "measurementFields": {"measurementInterval": 900, "additionalMeasurements": [
            {"name": "S000-1-cov", "hashMap": {"RRU.PrbUsedDl": value}}]},
    }}  # fmt: skip


def test_bad_ves_events_are_4xx_naming_the_field(lite: Callable[..., World]) -> None:
    world = lite()
    network_id = _network(world)
    url = f"/eventListener/v7?network_id={network_id}"
    admin = {**world.headers("acme", "network_admin"), "content-type": "application/json"}
    deep = b'{"event": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    response = world.client.post(url, headers=admin, content=deep)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "body"
    assert "nested" in response.json()["detail"]
    # without a JSON content type the guard lets it through: the VES parser refuses it
    plain = {**admin, "content-type": "text/plain"}
    response = world.client.post(url, headers=plain, content=deep)
    assert response.status_code == 422, response.text
    assert response.json()["problems"][0]["field"] == "json"
    for start, field in ((10**19, "commonEventHeader.startEpochMicrosec"),
                         (T0 * 10**6 + 0.5, "commonEventHeader.startEpochMicrosec")):  # fmt: skip
        response = world.client.post(url, headers=admin, content=json.dumps(_ves(start)))
        assert response.status_code == 422, response.text
        assert response.json()["problems"][0]["field"] == field
    response = world.client.post(url, headers=admin, content=json.dumps(_ves(T0 * 10**6, "NaN")))
    assert response.status_code == 422
    assert "finite" in response.json()["problems"][0]["message"]
    assert (
        world.client.post(url, headers=admin, content=json.dumps(_ves(T0 * 10**6))).status_code
        == 202
    )


def test_deep_json_to_any_route_is_400_not_500(lite: Callable[..., World]) -> None:
    world = lite()
    response = world.client.post(
        NETWORKS, content=b"[" * 5000 + b"]" * 5000,
        headers={**world.headers("acme", "network_admin"), "content-type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["field"] == "body"


def _topology(world: World, **cell_changes: Any) -> dict[str, Any]:
    assert world.topology is not None
    body: dict[str, Any] = world.topology(1, name="lab").model_dump(mode="json")
    body["cells"][1].update(cell_changes)
    return body


BAD_TOPOLOGIES = [
    ("network", "lab\x00", "body.network.name"),
    ("network", "   ", "body.network.name"),
    ("name", "\u202eS000-1-cov", "body.cells[1].name"),
    ("name", "S000\u200b", "body.cells[1].name"),
    ("dn", "DC=ranopt.test,SubNetwork=other,ManagedElement=gNB-S000,GNBDUFunction=1,NRCellDU=2",
     "body"),
    ("azimuth_deg", True, "body.cells[1].azimuth_deg"),
    ("num_prb", "106", "body.cells[1].num_prb"),
]  # fmt: skip


def test_bad_names_dns_and_types_in_a_topology(lite: Callable[..., World]) -> None:
    world = lite()
    admin = world.headers("acme", "network_admin")
    for where, value, field in BAD_TOPOLOGIES:
        if where == "network":
            body = _topology(world)
            body["network"]["name"] = value
        else:
            body = _topology(world, **{where: value})
        response = world.client.post(NETWORKS, headers=admin, json=body)
        assert response.status_code == 422, (where, value, response.text)
        assert response.json()["field"] == field, (where, value)
        if where == "dn":
            assert "dn_prefix" in response.json()["detail"]


def test_a_dn_of_another_subnetwork_names_no_local_cell(lite: Callable[..., World]) -> None:
    world = lite()
    network_id = _network(world)
    foreign = "DC=ranopt.test,SubNetwork=other,ManagedElement=gNB-S000,GNBDUFunction=1,NRCellDU=1"
    local = "ManagedElement=gNB-S000,GNBDUFunction=1,NRCellDU=1"
    admin = world.headers("acme", "network_admin")
    url = f"{NETWORKS}/{network_id}/telemetry"
    response = world.client.post(url, headers=admin, json={"records": [_record(cell=foreign)]})
    assert response.status_code == 422
    assert "not in this network" in response.json()["problems"][0]["message"]
    assert (
        world.client.post(url, headers=admin, json={"records": [_record(cell=local)]}).status_code
        == 201
    )


def test_strict_booleans_and_names_elsewhere(lite: Callable[..., World]) -> None:
    world = lite()
    admin = world.headers("acme", "network_admin")
    assert (
        world.client.put("/api/v2/tenant/mfa", headers=admin, json={"mfa_required": 0}).status_code
        == 422
    )
    named = world.client.post(
        "/api/v2/api-keys", headers=admin, json={"name": "\u202ekey", "role": "viewer"}
    )
    assert named.status_code == 422
    assert named.json()["field"] == "body.name"


# --- 10: every request's work is bounded -----------------------------------------------------


def _fill(world: World, network_id: int, num_intervals: int) -> None:
    tid = world.tenant_ids["acme"]
    with world.store.transaction() as session:
        ids = np.array(
            [c.id for c in repo.network_cells(session, tenant_id=tid, network_id=network_id)]
        )
        n = ids.size * num_intervals
        batch = SampleBatch(
            cell_id=np.tile(ids, num_intervals),
            interval_start_s=T0 + 900 * np.repeat(np.arange(num_intervals), ids.size),
            values={c: np.full(n, 1.0) for c in COUNTER_COLUMNS},
            suspect=np.zeros(n, dtype=np.bool_),
        )
        repo.upsert_samples(session, tenant_id=tid, network_id=network_id, batch=batch)


def test_series_and_aggregate_answer_422_past_their_bounds(lite: Callable[..., World]) -> None:
    world = lite()
    network_id = _network(world)
    viewer = world.headers("acme", "viewer")
    base = f"{NETWORKS}/{network_id}/kpis"
    days_2000 = {"start_s": T0, "end_s": T0 + 2000 * 86_400}
    response = world.client.get(f"{base}/series", headers=viewer, params=days_2000)
    assert response.status_code == 422
    assert response.json()["field"] == "bucket_s"
    # monthly buckets over 20 000 days: few points, but far too many samples to read
    response = world.client.get(
        f"{base}/series", headers=viewer,
        params={"start_s": T0, "end_s": T0 + 20_000 * 86_400, "bucket_s": 31 * 86_400},
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json()["field"] == "end_s"
    response = world.client.get(f"{base}/aggregate", headers=viewer, params=days_2000)
    assert response.status_code == 422
    assert response.json()["field"] == "end_s"
    week = {"start_s": T0, "end_s": T0 + 7 * 86_400, "bucket_s": 3600}
    assert world.client.get(f"{base}/series", headers=viewer, params=week).status_code == 200


def test_a_query_past_its_time_budget_is_stopped(world_factory: Callable[..., World]) -> None:
    world = world_factory(max_query_s=1e-6)
    network_id = _network(world)
    _fill(world, network_id, 4000)  # 24 000 samples
    response = world.client.get(
        f"{NETWORKS}/{network_id}/kpis/series", headers=world.headers("acme", "viewer"),
        params={"start_s": T0, "end_s": T0 + 4000 * 900, "bucket_s": 86_400},
    )  # fmt: skip
    assert response.status_code == 422, response.text
    assert "database time" in response.json()["detail"]


def test_heavy_work_is_a_job_with_a_status_url(lite: Callable[..., World]) -> None:
    world = lite(sync_max_twin_ues=50, sync_max_cell_intervals=0)
    admin = world.headers("acme", "network_admin")
    made = world.client.post(
        f"{NETWORKS}/from-twin", headers=admin, json={"name": "big", "num_sites": 1, "num_ues": 60}
    )
    assert made.status_code == 202, made.text
    location = made.headers["location"]
    assert location == made.json()["status_url"]
    assert location.startswith("/api/v2/jobs/")
    job = _poll(world, location)
    assert job["status"] == "succeeded", job
    network_id = job["result"]["network_id"]
    assert world.client.get(f"{NETWORKS}/{network_id}", headers=admin).json()["name"] == "big"
    write_history(world.store, tenant_id=world.tenant_ids["acme"], network_id=network_id, days=8)
    run = world.client.post(
        "/api/v2/cognitive/optimize", headers=admin,
        json={"network_id": network_id, "horizon_min": 60},
    )  # fmt: skip
    assert run.status_code == 202
    assert _poll(world, run.headers["location"])["status"] == "awaiting_approval"


def _poll(world: World, url: str) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + 60
    while True:
        body: dict[str, Any] = world.client.get(url, headers=world.headers("acme", "viewer")).json()
        # a job ends succeeded or failed; a run's plan ends awaiting approval (or failed)
        if body["status"] in ("succeeded", "awaiting_approval", "failed"):
            return body
        if time.monotonic() > deadline:
            return body
        time.sleep(0.05)


# --- 3 (in process) and 11: caps and a true OpenAPI document ---------------------------------


def test_a_body_over_the_cap_is_413_before_authentication(lite: Callable[..., World]) -> None:
    world = lite(max_body_bytes=1000)
    big = b"x" * 2000
    for headers in ({}, world.headers("acme", "network_admin")):
        response = world.client.post(
            NETWORKS, content=big, headers={**headers, "content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["field"] == "body"
    small = world.client.post(NETWORKS, content=b"{}", headers={"content-type": "application/json"})
    assert small.status_code == 401


def test_the_openapi_document_lists_every_problem_as_problem_json(
    lite: Callable[..., World],
) -> None:
    world = lite()
    document = world.client.get("/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(document)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "500" in responses, (method, path)
            for code, response in responses.items():
                if int(code) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (path, code)
            if path != TOKEN and not path.startswith(("/health", "/ready", "/metrics", "/.well")):
                assert {"401", "403", "429"} <= set(responses), (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= set(responses), (method, path)
    links = document["paths"][NETWORKS]["post"]["responses"]["201"]["links"]
    assert links["get_network"]["parameters"] == {"network_id": "$response.body#/id"}
    allowed = world.client.put(NETWORKS, headers=world.headers("acme", "viewer"))
    assert allowed.status_code == 405
    assert {"GET", "POST"} <= set(allowed.headers["allow"].replace(" ", "").split(","))


def test_every_request_scoped_session_commits_before_the_answer(lite: Callable[..., World]) -> None:
    """Structural: a dependency that yields (a session) must close with the route function.

    FastAPI's default ``scope="request"`` runs the code after ``yield`` once the answer is on
    the wire, so a 201 could go out before its commit: every yield dependency of every route
    must be ``scope="function"``.
    """
    import inspect

    from fastapi.dependencies.models import Dependant

    from ranopt.api.metrics import leaf_routes

    world = lite()

    def walk(dependant: Dependant) -> Iterator[Dependant]:
        for dep in dependant.dependencies:
            yield dep
            yield from walk(dep)

    checked = 0
    for route in leaf_routes(world.app.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        for dep in walk(dependant):
            if inspect.isgeneratorfunction(dep.call) or inspect.isasyncgenfunction(dep.call):
                checked += 1
                assert dep.scope == "function", f"{route.path}: {dep.call} commits after the answer"
    assert checked >= 30
