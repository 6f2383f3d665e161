"""Every route x every role x own / other tenant answers exactly what the permission table says.

The cases are generated from the app's route table: a route that is neither public nor
guarded by ``require(permission)``, or that has no request recipe here, fails the test.
"""

import itertools
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from api_world import World
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from pm_history import write_history
from ranopt.api.permissions import PUBLIC_PATHS, ROLE_PERMISSIONS, Permission, Role
from ranopt.service.optimize import cached_twin
from ranopt.store import accounts, loops, runs, southbound
from ranopt.store import calibration as store_cal
from ranopt.store import jobs as job_store
from ranopt.store import repository as repo
from ranopt.store.schemas import TopologyIn
from ranopt.store.tables import Alert, RequestLogEntry


@dataclass
class Call:
    """One prepared request and what it answers when allowed on the owner's resource."""

    method: str
    url: str
    success: int
    json: Any = None
    content: bytes | None = None
    # a resource of the owner tenant is in the path, query or body: another tenant gets 404
    resource: bool = True
    # for list routes: text of the owner's data that another tenant's answer must not contain
    owner_marker: str | None = None


def _network(world: World, tenant: str, name: str | None = None, *, twin: bool = False) -> int:
    assert world.topology is not None
    topology: TopologyIn = world.topology(num_sites=1, name=name or f"net-{uuid.uuid4().hex[:8]}")
    with world.store.transaction() as session:
        net = repo.create_network(
            session, tenant_id=world.tenant_ids[tenant], topology=topology, now_s=0
        )
        if twin:
            runs.bind_twin(
                session, tenant_id=world.tenant_ids[tenant], network_id=net.id,
                scenario="default", seed=0, num_sites=1, num_ues=60,
            )  # fmt: skip
    return net.id


_WITH_HISTORY: dict[tuple[int, str], int] = {}


def _network_with_history(world: World, tenant: str) -> int:
    """A one-site network with 8 days of stored counters (one per world and tenant)."""
    key = (id(world), tenant)
    if key not in _WITH_HISTORY:
        network_id = _network(world, tenant)
        write_history(
            world.store, tenant_id=world.tenant_ids[tenant], network_id=network_id, days=8
        )
        _WITH_HISTORY[key] = network_id
    return _WITH_HISTORY[key]


def _calibrated_network(world: World, tenant: str) -> int:
    """A network with a stored calibration report (written directly: reading is tested)."""
    network_id = _network(world, tenant)
    with world.store.transaction() as session:
        store_cal.save_report(
            session, tenant_id=world.tenant_ids[tenant], network_id=network_id,
            report={"network_id": network_id}, data_end_s=T0, days_found=8.0,
            prb_load_wape=0.05, now_s=T0,
        )  # fmt: skip
    return network_id


def _waiting_run(world: World, tenant: str) -> int:
    network_id = _network(world, tenant, twin=True)
    tid = world.tenant_ids[tenant]
    with world.store.transaction() as session:
        run = runs.create_run(
            session, tenant_id=tid, network_id=network_id, objective="energy", solver="greedy",
            horizon_min=60, request={}, created_by="test", now_s=0,
        )  # fmt: skip
        runs.finish_run(
            session, tenant_id=tid, run_id=run.id, now_s=1, plan={"actions": []},
            confidence=1.0, saving_pct=0.0,
        )  # fmt: skip
    return run.id


def _loop_network(world: World, tenant: str) -> int:
    """A twin-bound network with a configured loop that has run one interval."""
    network_id = _network(world, tenant, twin=True)
    tid = world.tenant_ids[tenant]
    with world.store.transaction() as session:
        loops.configure_loop(
            session, tenant_id=tid, network_id=network_id, enabled=False, auto_apply=True,
            confidence_threshold=0.9, solver="greedy", horizon_intervals=4, now_s=0,
        )  # fmt: skip
        row = loops.LoopIntervalRow(
            interval=0, phase="loop", offered_mbps=1.0, served_mbps=1.0, power_w=1.0,
            always_on_served_mbps=1.0, always_on_power_w=2.0, violations=0, switching_breaks=0,
            home_demand_mbps=[1.0], asleep=[], failed=[], tick_s=0.1,
        )  # fmt: skip
        loops.record_interval(
            session, tenant_id=tid, network_id=network_id, row=row,
            live={"network_id": network_id, "cells": []}, now_s=0,
        )  # fmt: skip
    return network_id


def _alert_call(world: World, tenant: str, verb: str) -> Call:
    network_id = _network(world, tenant)
    with world.store.transaction() as session:
        alert_id = runs.add_alert(
            session, tenant_id=world.tenant_ids[tenant], network_id=network_id,
            severity="warning", kind="low_confidence", message="test", now_s=0,
        )  # fmt: skip
    return Call("POST", f"/api/v2/networks/{network_id}/alerts/{alert_id}/{verb}", 200)


def _twin_cell() -> str:
    return cached_twin("default", 0, 1, 60).cell_names[0]


def _fault(world: World, tenant: str) -> tuple[int, int]:
    network_id = _loop_network(world, tenant)
    with world.store.transaction() as session:
        fault = loops.request_fault(
            session, tenant_id=world.tenant_ids[tenant], network_id=network_id, cell_index=0,
            cell_name=_twin_cell(), by="test", at=0.0,
        )  # fmt: skip
    return network_id, fault.id


def _fault_call(world: World, tenant: str) -> Call:
    network_id, fault_id = _fault(world, tenant)
    return Call("DELETE", f"/api/v2/networks/{network_id}/faults/{fault_id}", 200)


def _api_key(world: World, tenant: str) -> int:
    with world.store.transaction() as session:
        key = accounts.create_api_key(
            session, tenant_id=world.tenant_ids[tenant], name="k",
            prefix=f"rk_{uuid.uuid4().hex[:12]}", secret_hash="not-a-hash",  # noqa: S106
            role="viewer", now_s=0,
        )  # fmt: skip
    return key.id


def _user(world: World, tenant: str, *, with_factor: bool = False) -> int:
    """A fresh viewer of the tenant, with a (sealed) second factor if asked."""
    with world.store.transaction() as session:
        user = accounts.create_user(
            session, tenant_id=world.tenant_ids[tenant], username=f"u{uuid.uuid4().hex[:8]}",
            password_hash="not-a-hash", role="viewer", now_s=0,  # noqa: S106
        )  # fmt: skip
        if with_factor:
            accounts.set_totp_secret(
                session, tenant_id=world.tenant_ids[tenant], user_id=user.id,
                totp_secret_enc="1.sealed-elsewhere",  # noqa: S106 - not read here
            )  # fmt: skip
    return user.id


def _job(world: World, tenant: str) -> int:
    with world.store.transaction() as session:
        job = job_store.create_job(
            session, tenant_id=world.tenant_ids[tenant], kind="network.from_twin", request={},
            created_by="test", now_s=0,
        )  # fmt: skip
    return job.id


def _sample(t_s: int = 1_767_225_600) -> dict[str, Any]:
    return {"cell": "S000-1-cov", "interval_start_s": t_s, "counters": {"RRU.PrbUsedDl": 10.0}}


def _ves_event(t_s: int = 1_767_225_600) -> bytes:
    import json

    us = t_s * 1_000_000
    return json.dumps({"event": {
        "commonEventHeader": {"domain": "measurement", "sourceName": "gNB",
                              "startEpochMicrosec": us, "lastEpochMicrosec": us + 900_000_000},
        "measurementFields": {"measurementInterval": 900, "additionalMeasurements": [
            {"name": "S000-1-cov", "hashMap": {"RRU.PrbUsedDl": "12"}}]},
    }}).encode()  # fmt: skip


TSP = "ORAN_TrafficSteeringPreference_2.0.0"
POLICY_ROUTE = "/api/v2/networks/{network_id}/a1/policies/{policy_type}/{policy_id}"


def _policy_network(world: World, tenant: str) -> int:
    """A network holding the A1 policy ``TSP/p1``."""
    network_id = _network(world, tenant)
    with world.store.transaction() as session:
        southbound.upsert_policy(
            session, tenant_id=world.tenant_ids[tenant], network_id=network_id,
            policy_type=TSP, policy_id="p1", body={}, now_s=0,
        )  # fmt: skip
    return network_id


def _a1_notification_call(world: World, tenant: str) -> Call:
    network_id = _policy_network(world, tenant)
    return Call(
        "POST",
        f"/api/v2/networks/{network_id}/a1/notifications"
        "?policy_type=ORAN_TrafficSteeringPreference_2.0.0&policy_id=p1",
        204, json={"enforceStatus": "ENFORCED"},
    )  # fmt: skip


def _discovery_job_call(world: World, tenant: str) -> Call:
    network_id = _network(world, tenant)
    with world.store.transaction() as session:
        job = southbound.create_discovery_job(
            session, tenant_id=world.tenant_ids[tenant], network_id=network_id,
            created_by="test", now_s=0,
        )  # fmt: skip
    return Call("GET", f"/api/v2/networks/{network_id}/discoveries/{job.id}", 200)


def _cell_call(world: World, tenant: str) -> Call:
    network_id = _network(world, tenant)
    with world.store.transaction() as session:
        cell_id = repo.network_cells(
            session, tenant_id=world.tenant_ids[tenant], network_id=network_id
        )[0].id
    return Call("GET", f"/api/v2/networks/{network_id}/cells/{cell_id}", 200)


def _security_alert(world: World, tenant: str) -> int:
    """A brute-force finding of the tenant (its message carries a marker of the tenant)."""
    with world.store.transaction() as session:
        row = Alert(
            tenant_id=world.tenant_ids[tenant], network_id=None, created_s=T0,
            severity="major", kind="brute_force", message="", dedup_key=None,
            detail={"evidence": {"audit": [], "requests": []}},
        )  # fmt: skip
        session.add(row)
        session.flush()
        row.message = f"finding-of-{tenant}-{row.id}"
        return row.id


def _request_row(world: World, tenant: str) -> str:
    """A request-log row of the tenant; returns the marker its route carries."""
    marker = f"/marker-of-{tenant}-{uuid.uuid4().hex[:8]}"
    with world.store.transaction() as session:
        session.add(
            RequestLogEntry(
                ts_s=T0, tenant_id=world.tenant_ids[tenant], principal="user:1", via="jwt",
                method="GET", route=marker, network_id=None, status=200, client="127.0.0.1",
            )
        )  # fmt: skip
    return marker


Recipe = Callable[[World, str], Call]
T0 = 1_767_225_600
R, W, X, INV = Permission.READ, Permission.WRITE, Permission.EXECUTE, Permission.INVESTIGATE

# What each route must need: written here, independently of the routes' own declarations.
EXPECTED_PERMISSION: dict[tuple[str, str], Permission] = {
    ("GET", "/api/v2/users"): R,
    ("POST", "/api/v2/users"): W,
    ("POST", "/api/v2/users/{user_id}/totp"): W,
    ("DELETE", "/api/v2/users/{user_id}/totp"): W,
    ("POST", "/api/v2/me/totp"): R,
    ("GET", "/api/v2/jobs/{job_id}"): R,
    ("PUT", "/api/v2/tenant/mfa"): W,
    ("GET", "/api/v2/api-keys"): R,
    ("POST", "/api/v2/api-keys"): W,
    ("DELETE", "/api/v2/api-keys/{key_id}"): W,
    ("GET", "/api/v2/networks"): R,
    ("POST", "/api/v2/networks"): W,
    ("POST", "/api/v2/networks/from-twin"): W,
    ("GET", "/api/v2/networks/{network_id}"): R,
    ("DELETE", "/api/v2/networks/{network_id}"): W,
    ("GET", "/api/v2/networks/{network_id}/sites"): R,
    ("GET", "/api/v2/networks/{network_id}/cells"): R,
    ("GET", "/api/v2/networks/{network_id}/cells/{cell_id}"): R,
    ("POST", "/api/v2/networks/{network_id}/telemetry"): W,
    ("GET", "/api/v2/networks/{network_id}/kpis/series"): R,
    ("GET", "/api/v2/networks/{network_id}/kpis/aggregate"): R,
    ("POST", "/api/v2/cognitive/optimize"): W,
    ("POST", "/api/v2/networks/{network_id}/calibration"): W,
    ("GET", "/api/v2/networks/{network_id}/calibration"): R,
    ("GET", "/api/v2/optimizations"): R,
    ("GET", "/api/v2/optimizations/{run_id}"): R,
    ("POST", "/api/v2/optimizations/{run_id}/apply"): X,
    ("POST", "/api/v2/optimizations/{run_id}/reject"): X,
    ("GET", "/api/v2/alerts"): INV,
    ("GET", "/api/v2/networks/{network_id}/loop"): R,
    ("PUT", "/api/v2/networks/{network_id}/loop"): W,
    ("GET", "/api/v2/networks/{network_id}/live"): R,
    ("GET", "/api/v2/networks/{network_id}/loop/kpis"): R,
    ("GET", "/api/v2/networks/{network_id}/loop/energy"): R,
    ("GET", "/api/v2/networks/{network_id}/faults"): R,
    ("POST", "/api/v2/networks/{network_id}/faults"): X,
    ("DELETE", "/api/v2/networks/{network_id}/faults/{fault_id}"): X,
    ("GET", "/api/v2/networks/{network_id}/alerts"): R,
    ("POST", "/api/v2/networks/{network_id}/alerts/{alert_id}/acknowledge"): W,
    ("POST", "/api/v2/networks/{network_id}/alerts/{alert_id}/resolve"): W,
    ("GET", "/api/v2/audit"): INV,
    ("GET", "/api/v2/networks/{network_id}/anomalies"): R,
    ("GET", "/api/v2/security/alerts"): INV,
    ("GET", "/api/v2/security/alerts/{alert_id}"): INV,
    ("GET", "/api/v2/security/requests"): INV,
    ("POST", "/api/v2/security/alerts/{alert_id}/triage"): INV,
    ("GET", "/api/v2/secrets"): R,
    ("PUT", "/api/v2/secrets/{name}"): W,
    ("POST", "/eventListener/v7"): W,
    ("POST", "/eventListener/v7/eventBatch"): W,
    ("GET", "/api/v2/networks/{network_id}/southbound"): R,
    ("PUT", "/api/v2/networks/{network_id}/southbound"): W,
    ("POST", "/api/v2/networks/{network_id}/discover"): W,
    ("GET", "/api/v2/networks/{network_id}/discoveries/{job_id}"): R,
    ("GET", "/api/v2/networks/{network_id}/southbound/transactions"): R,
    ("POST", "/api/v2/networks/{network_id}/a1/notifications"): W,
    ("GET", "/api/v2/networks/{network_id}/a1/policies"): R,
    ("PUT", POLICY_ROUTE): W,
    ("DELETE", POLICY_ROUTE): W,
}

RECIPES: dict[tuple[str, str], Recipe] = {
    ("GET", "/api/v2/users"): lambda w, t: Call(
        "GET", "/api/v2/users", 200, resource=False, owner_marker=f'"tenant_id":{w.tenant_ids[t]}'
    ),
    ("POST", "/api/v2/users"): lambda w, t: Call(
        "POST", "/api/v2/users", 201, resource=False,
        json={"username": f"u{uuid.uuid4().hex[:8]}", "password": "x" * 16, "role": "viewer"},
    ),
    ("POST", "/api/v2/users/{user_id}/totp"): lambda w, t: Call(
        "POST", f"/api/v2/users/{_user(w, t)}/totp", 201
    ),
    ("DELETE", "/api/v2/users/{user_id}/totp"): lambda w, t: Call(
        "DELETE", f"/api/v2/users/{_user(w, t, with_factor=True)}/totp", 200
    ),
    # each caller enrols its own factor once (one call per role and tenant in the matrix)
    ("POST", "/api/v2/me/totp"): lambda w, t: Call("POST", "/api/v2/me/totp", 201, resource=False),
    ("GET", "/api/v2/jobs/{job_id}"): lambda w, t: Call("GET", f"/api/v2/jobs/{_job(w, t)}", 200),
    ("PUT", "/api/v2/tenant/mfa"): lambda w, t: Call(
        "PUT", "/api/v2/tenant/mfa", 200, json={"mfa_required": False}, resource=False
    ),
    ("GET", "/api/v2/api-keys"): lambda w, t: Call(
        "GET", "/api/v2/api-keys", 200, resource=False
    ),
    ("POST", "/api/v2/api-keys"): lambda w, t: Call(
        "POST", "/api/v2/api-keys", 201, json={"name": "ci", "role": "viewer"}, resource=False
    ),
    ("DELETE", "/api/v2/api-keys/{key_id}"): lambda w, t: Call(
        "DELETE", f"/api/v2/api-keys/{_api_key(w, t)}", 200
    ),
    ("GET", "/api/v2/networks"): lambda w, t: Call(
        "GET", "/api/v2/networks", 200, resource=False, owner_marker=f"owned-by-{t}"
    ),
    ("POST", "/api/v2/networks"): lambda w, t: Call(
        "POST", "/api/v2/networks", 201, resource=False,
        json=w.topology(1, name=f"n{uuid.uuid4().hex[:8]}").model_dump(mode="json"),  # type: ignore[misc]
    ),
    ("POST", "/api/v2/networks/from-twin"): lambda w, t: Call(
        "POST", "/api/v2/networks/from-twin", 201, resource=False,
        json={"name": f"t{uuid.uuid4().hex[:8]}", "num_sites": 1, "num_ues": 60},
    ),
    ("GET", "/api/v2/networks/{network_id}"): lambda w, t: Call(
        "GET", f"/api/v2/networks/{_network(w, t)}", 200
    ),
    ("DELETE", "/api/v2/networks/{network_id}"): lambda w, t: Call(
        "DELETE", f"/api/v2/networks/{_network(w, t)}", 204
    ),
    ("GET", "/api/v2/networks/{network_id}/sites"): lambda w, t: Call(
        "GET", f"/api/v2/networks/{_network(w, t)}/sites", 200
    ),
    ("GET", "/api/v2/networks/{network_id}/cells"): lambda w, t: Call(
        "GET", f"/api/v2/networks/{_network(w, t)}/cells", 200
    ),
    ("GET", "/api/v2/networks/{network_id}/cells/{cell_id}"): _cell_call,
    ("POST", "/api/v2/networks/{network_id}/telemetry"): lambda w, t: Call(
        "POST", f"/api/v2/networks/{_network(w, t)}/telemetry", 201,
        json={"records": [_sample()]},
    ),
    ("GET", "/api/v2/networks/{network_id}/kpis/series"): lambda w, t: Call(
        "GET", f"/api/v2/networks/{_network(w, t)}/kpis/series?start_s={T0}&end_s={T0 + 3600}",
        200,
    ),
    ("GET", "/api/v2/networks/{network_id}/kpis/aggregate"): lambda w, t: Call(
        "GET",
        f"/api/v2/networks/{_network(w, t)}/kpis/aggregate?start_s={T0}&end_s={T0 + 3600}",
        200,
    ),
    ("POST", "/api/v2/cognitive/optimize"): lambda w, t: Call(
        "POST", "/api/v2/cognitive/optimize", 200,
        json={"network_id": _network_with_history(w, t), "horizon_min": 60},
    ),
    ("POST", "/api/v2/networks/{network_id}/calibration"): lambda w, t: Call(
        "POST", f"/api/v2/networks/{_network_with_history(w, t)}/calibration", 200
    ),
    ("GET", "/api/v2/networks/{network_id}/calibration"): lambda w, t: Call(
        "GET", f"/api/v2/networks/{_calibrated_network(w, t)}/calibration", 200
    ),
    ("GET", "/api/v2/optimizations"): lambda w, t: Call(
        "GET", f"/api/v2/optimizations?network_id={_network(w, t)}", 200
    ),
    ("GET", "/api/v2/optimizations/{run_id}"): lambda w, t: Call(
        "GET", f"/api/v2/optimizations/{_waiting_run(w, t)}", 200
    ),
    ("GET", "/api/v2/networks/{network_id}/loop"): lambda w, t: Call(
        "GET", f"/api/v2/networks/{_loop_network(w, t)}/loop", 200
    ),
    ("PUT", "/api/v2/networks/{network_id}/loop"): lambda w, t: Call(
        "PUT", f"/api/v2/networks/{_network(w, t, twin=True)}/loop", 200,
        json={"enabled": False},
    ),
    ("GET", "/api/v2/networks/{network_id}/live"): lambda w, t: Call(
        "GET", f"/api/v2/networks/{_loop_network(w, t)}/live", 200
    ),
    ("GET", "/api/v2/networks/{network_id}/loop/kpis"): lambda w, t: Call(
        "GET", f"/api/v2/networks/{_loop_network(w, t)}/loop/kpis", 200
    ),
    ("GET", "/api/v2/networks/{network_id}/loop/energy"): lambda w, t: Call(
        "GET", f"/api/v2/networks/{_loop_network(w, t)}/loop/energy", 200
    ),
    ("GET", "/api/v2/networks/{network_id}/faults"): lambda w, t: Call(
        "GET", f"/api/v2/networks/{_fault(w, t)[0]}/faults", 200
    ),
    ("POST", "/api/v2/networks/{network_id}/faults"): lambda w, t: Call(
        "POST", f"/api/v2/networks/{_loop_network(w, t)}/faults", 202,
        json={"cell": _twin_cell()},
    ),
    ("DELETE", "/api/v2/networks/{network_id}/faults/{fault_id}"): _fault_call,
    ("GET", "/api/v2/networks/{network_id}/alerts"): lambda w, t: Call(
        "GET", f"/api/v2/networks/{_network(w, t)}/alerts", 200
    ),
    ("POST", "/api/v2/networks/{network_id}/alerts/{alert_id}/acknowledge"): lambda w, t: (
        _alert_call(w, t, "acknowledge")
    ),
    ("POST", "/api/v2/networks/{network_id}/alerts/{alert_id}/resolve"): lambda w, t: (
        _alert_call(w, t, "resolve")
    ),
    ("POST", "/api/v2/optimizations/{run_id}/apply"): lambda w, t: Call(
        "POST", f"/api/v2/optimizations/{_waiting_run(w, t)}/apply", 200
    ),
    ("POST", "/api/v2/optimizations/{run_id}/reject"): lambda w, t: Call(
        "POST", f"/api/v2/optimizations/{_waiting_run(w, t)}/reject", 200
    ),
    ("GET", "/api/v2/alerts"): lambda w, t: Call("GET", "/api/v2/alerts", 200, resource=False),
    ("GET", "/api/v2/audit"): lambda w, t: Call(
        "GET", "/api/v2/audit", 200, resource=False, owner_marker=f'"tenant_id":{w.tenant_ids[t]}'
    ),
    ("GET", "/api/v2/networks/{network_id}/anomalies"): lambda w, t: Call(
        "GET", f"/api/v2/networks/{_network(w, t)}/anomalies", 200
    ),
    ("GET", "/api/v2/security/alerts"): lambda w, t: Call(
        "GET", "/api/v2/security/alerts", 200, resource=False,
        owner_marker=f"finding-of-{t}-{_security_alert(w, t)}",
    ),
    ("GET", "/api/v2/security/alerts/{alert_id}"): lambda w, t: Call(
        "GET", f"/api/v2/security/alerts/{_security_alert(w, t)}", 200
    ),
    ("POST", "/api/v2/security/alerts/{alert_id}/triage"): lambda w, t: Call(
        "POST", f"/api/v2/security/alerts/{_security_alert(w, t)}/triage", 200,
        json={"verdict": "benign"},
    ),
    ("GET", "/api/v2/security/requests"): lambda w, t: Call(
        "GET", "/api/v2/security/requests", 200, resource=False,
        owner_marker=_request_row(w, t),
    ),
    ("GET", "/api/v2/secrets"): lambda w, t: Call("GET", "/api/v2/secrets", 200, resource=False),
    ("PUT", "/api/v2/secrets/{name}"): lambda w, t: Call(
        "PUT", "/api/v2/secrets/ric-token", 200, resource=False,
        json={"kind": "actuator_credential", "value": "s3cret-value"},
    ),
    ("POST", "/eventListener/v7"): lambda w, t: Call(
        "POST", f"/eventListener/v7?network_id={_network(w, t)}", 202, content=_ves_event()
    ),
    ("POST", "/eventListener/v7/eventBatch"): lambda w, t: Call(
        "POST", f"/eventListener/v7/eventBatch?network_id={_network(w, t)}", 202,
        content=b'{"eventList": [' + _ves_event()[9:-1] + b"]}",
    ),
    ("GET", "/api/v2/networks/{network_id}/southbound"): lambda w, t: Call(
        "GET", f"/api/v2/networks/{_network(w, t)}/southbound", 200
    ),
    ("PUT", "/api/v2/networks/{network_id}/southbound"): lambda w, t: Call(
        "PUT", f"/api/v2/networks/{_network(w, t)}/southbound", 200,
        json={"kind": "o1", "o1": [{"host": "127.0.0.1", "port": 830, "username": "ranopt",
                                    "password": "o1-s3cret"}]},
    ),
    # allowed on a twin-southbound network, discovery answers 422 naming what is missing;
    # tests/southbound/test_southbound_api.py discovers a real emulator through this route
    ("POST", "/api/v2/networks/{network_id}/discover"): lambda w, t: Call(
        "POST", f"/api/v2/networks/{_network(w, t)}/discover", 422
    ),
    ("GET", "/api/v2/networks/{network_id}/discoveries/{job_id}"): _discovery_job_call,
    ("GET", "/api/v2/networks/{network_id}/southbound/transactions"): lambda w, t: Call(
        "GET", f"/api/v2/networks/{_network(w, t)}/southbound/transactions", 200
    ),
    ("POST", "/api/v2/networks/{network_id}/a1/notifications"): _a1_notification_call,
    ("GET", "/api/v2/networks/{network_id}/a1/policies"): lambda w, t: Call(
        "GET", f"/api/v2/networks/{_policy_network(w, t)}/a1/policies", 200,
    ),
    # allowed on a network without an A1 endpoint, the change answers 422 naming ``a1``;
    # tests/southbound/test_a1_api.py drives a real RIC through these routes
    ("PUT", POLICY_ROUTE): lambda w, t: Call(
        "PUT", f"/api/v2/networks/{_network(w, t)}/a1/policies/{TSP}/p1", 422,
        json={"scope": {}},
    ),
    ("DELETE", POLICY_ROUTE): lambda w, t: Call(
        "DELETE", f"/api/v2/networks/{_policy_network(w, t)}/a1/policies/{TSP}/p1", 422,
    ),
}  # fmt: skip


def _permission_of(dependant: Dependant) -> Permission | None:
    for dep in dependant.dependencies:
        permission = getattr(dep.call, "permission", None)
        if isinstance(permission, Permission):
            return permission
        found = _permission_of(dep)
        if found is not None:
            return found
    return None


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route, also inside included routers (FastAPI nests them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes)


def _guarded_routes(world: World) -> list[tuple[str, str, Permission]]:
    guarded = []
    routes = list(_api_routes(world.app.routes))
    documented = {
        (method.upper(), path)
        for path, item in world.app.openapi()["paths"].items()
        for method in item
    }
    walked = {(m, r.path) for r in routes for m in r.methods}
    assert documented == walked, f"route walk and OpenAPI disagree: {documented ^ walked}"
    for route in routes:
        permission = _permission_of(route.dependant)
        for method in sorted(route.methods):
            if route.path in PUBLIC_PATHS:
                assert permission is None, f"{route.path} is public but requires {permission}"
                continue
            assert permission is not None, f"{method} {route.path}: no require(permission)"
            guarded.append((method, route.path, permission))
    return guarded


def test_every_route_is_public_or_guarded_and_has_a_recipe(world: World) -> None:
    guarded = _guarded_routes(world)
    missing = [(m, p) for m, p, _ in guarded if (m, p) not in RECIPES]
    assert not missing, f"routes without a permission-matrix recipe: {missing}"
    stale = set(RECIPES) - {(m, p) for m, p, _ in guarded}
    assert not stale, f"recipes for routes that do not exist: {stale}"
    assert set(EXPECTED_PERMISSION) == set(RECIPES)
    wrong = [
        f"{m} {p}: declares {declared.value}, must need {EXPECTED_PERMISSION[m, p].value}"
        for m, p, declared in guarded
        if EXPECTED_PERMISSION.get((m, p)) != declared
    ]
    assert not wrong, "\n".join(wrong)


def test_routes_outside_the_api_are_public_and_listed(world: World) -> None:
    """Plain routes and mounts (docs, the dashboard's ``/`` and ``/ui``) carry no API data.

    They are not ``APIRoute``s, so the matrix above does not walk them: each must be listed in
    ``PUBLIC_PATHS``, and the only mount is the dashboard's static files.
    """
    from starlette.routing import Mount

    from ranopt.api.routes.web import DashboardFiles

    others = [
        route
        for route in world.app.routes
        if not isinstance(route, APIRoute) and not hasattr(route, "original_router")
    ]
    paths = {getattr(route, "path", None) for route in others}
    assert {"/", "/ui"} <= paths
    unlisted = paths - PUBLIC_PATHS
    assert not unlisted, f"routes outside the API that PUBLIC_PATHS does not list: {unlisted}"
    mounts = [route for route in others if isinstance(route, Mount)]
    assert [m.path for m in mounts] == ["/ui"]
    assert isinstance(mounts[0].app, DashboardFiles)
    for path in ("/", "/ui/", "/ui/app.js", "/ui/vendor/vendor.json"):
        assert world.client.get(path).status_code == 200, path


def test_permission_matrix(world: World) -> None:
    # a network of each tenant so that list answers have something to leak
    _network(world, "acme", name="owned-by-acme")
    _network(world, "globex", name="owned-by-globex")
    failures = []
    cases = 0
    for (method, path, _declared), role, mode in itertools.product(
        _guarded_routes(world), list(Role), ("own", "other")
    ):
        call = RECIPES[method, path](world, "acme")
        caller = "acme" if mode == "own" else "globex"
        response = world.client.request(
            call.method, call.url, headers={
                **world.headers(caller, role.value),
                **({"content-type": "application/json"} if call.content else {}),
            },
            json=call.json, content=call.content,
        )  # fmt: skip
        cases += 1
        allowed = EXPECTED_PERMISSION[method, path] in ROLE_PERMISSIONS[role]
        if not allowed:
            expected = 403
        elif mode == "own" or not call.resource:
            expected = call.success
        else:
            expected = 404
        if response.status_code != expected:
            failures.append(
                f"{method} {path} as {role.value} ({mode}): {response.status_code} "
                f"!= {expected}: {response.text[:200]}"
            )
        elif expected >= 400:
            assert response.headers["content-type"] == "application/problem+json"
        elif mode == "other" and call.owner_marker:
            assert call.owner_marker not in response.text, f"{path} leaks acme's data"
    assert not failures, "\n".join(failures)
    assert cases >= 3 * 2 * 41


def test_unauthenticated_requests_get_401_on_every_guarded_route(world: World) -> None:
    for method, path, _ in _guarded_routes(world):
        call = RECIPES[method, path](world, "acme")
        response = world.client.request(call.method, call.url, json=call.json, content=call.content)
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_role_table_is_the_issue_s_table() -> None:
    assert {
        Role.NETWORK_ADMIN: {Permission.READ, Permission.WRITE, Permission.EXECUTE},
        Role.SECURITY_ANALYST: {Permission.READ, Permission.INVESTIGATE},
        Role.VIEWER: {Permission.READ},
    } == ROLE_PERMISSIONS
