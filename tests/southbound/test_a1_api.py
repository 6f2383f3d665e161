"""A1 policies through ranopt's API, on the emulator's near-RT RIC (loopback)."""

import time
from typing import Any

import httpx

from emulator_world import O1_USER, RanWorld, RunningEmulator
from ranopt.southbound.a1_types import (
    SLICE_SLA,
    TRAFFIC_STEERING,
    slice_sla_policy,
    steering_policy,
    steering_preferences,
)
from ranopt.store import audit, runs
from spec_files import SPECS, require_specs


def _policies(client: httpx.Client, network_id: int) -> dict[str, dict[str, Any]]:
    listed = client.get(f"/api/v2/networks/{network_id}/a1/policies")
    assert listed.status_code == 200, listed.text
    return {f"{p['policy_type']}/{p['policy_id']}": p for p in listed.json()}


def _until_status(client: httpx.Client, network_id: int, key: str, want: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        policy = _policies(client, network_id).get(key)
        if policy is not None and policy["enforce_status"] == want:
            return policy
        assert time.monotonic() < deadline, f"no {want} status for {key}: {policy}"
        time.sleep(0.05)


def _one_site(emulator: RunningEmulator, name: str = "a1-api") -> dict[str, Any]:
    topology = emulator.topology
    return topology.model_copy(update={
        "network": topology.network.model_copy(update={"name": name}),
        "sites": topology.sites[:1], "cells": [c for c in topology.cells if c.site == "S000"],
    }).model_dump(mode="json")  # fmt: skip


def _with_a1(emulator: RunningEmulator) -> dict[str, Any]:
    o1 = emulator.info["o1"][0]
    return {"kind": "o1", "a1": {"url": emulator.info["a1"]["url"]},
            "o1": [{"host": o1["host"], "port": o1["port"], "username": O1_USER,
                    "password": emulator.password}]}  # fmt: skip


def test_a1_policies_are_created_updated_listed_and_deleted(ran_world: RanWorld) -> None:
    emulator, server = ran_world.emulator, ran_world.server
    if not emulator.info["a1"]["policy_types"]:  # the RIC registers the O-RAN types from it
        require_specs(SPECS / "a1" / "policy-types-oran")
    nci = {c.name: c.nci for c in emulator.topology.cells}
    steering = steering_policy(sst=1, cells_nci={nci["S001-1-cap"]: "PREFER"})
    sla = slice_sla_policy(sst=2, gua_dl_thpt_mbps=20.0, cells_nci=[nci["S001-1-cov"]])
    with server.client() as client:
        network_id = client.post("/api/v2/networks", json=_one_site(emulator)).json()["id"]
        base = f"/api/v2/networks/{network_id}/a1/policies"
        without = client.put(f"{base}/{TRAFFIC_STEERING}/ts-1", json=steering)
        assert client.put(f"/api/v2/networks/{network_id}/southbound",
                          json=_with_a1(emulator)).is_success  # fmt: skip
        created = client.put(f"{base}/{TRAFFIC_STEERING}/ts-1", json=steering)
        enforced = _until_status(client, network_id, f"{TRAFFIC_STEERING}/ts-1", "ENFORCED")
        moved = steering_policy(sst=1, cells_nci={nci["S002-1-cap"]: "AVOID"})
        updated = client.put(f"{base}/{TRAFFIC_STEERING}/ts-1", json=moved)
        broken = {**sla, "scope": {"sliceId": {"sst": "two", "plmnId": sla["scope"]["sliceId"]
                                               ["plmnId"]}}}  # fmt: skip
        refused = client.put(f"{base}/{SLICE_SLA}/sla-1", json=broken)
        unknown_type = client.put(f"{base}/ORAN_NoSuchType_1.0.0/x", json=sla)
        bad_id = client.put(f"{base}/{SLICE_SLA}/has space", json=sla)
        sla_created = client.put(f"{base}/{SLICE_SLA}/sla-1", json=sla)
        listed = _policies(client, network_id)
        deleted = client.delete(f"{base}/{TRAFFIC_STEERING}/ts-1")
        again = client.delete(f"{base}/{TRAFFIC_STEERING}/ts-1")
        after = _policies(client, network_id)
        client.delete(f"{base}/{SLICE_SLA}/sla-1")
    assert without.status_code == 422
    assert without.json()["field"] == "a1"
    assert created.status_code == 201, created.text
    assert created.json()["body"] == steering
    assert enforced["enforce_status"] == "ENFORCED"
    assert updated.status_code == 200, updated.text
    assert refused.status_code == 422
    assert refused.json()["field"] == "scope.sliceId.sst"
    assert unknown_type.status_code == 404
    assert bad_id.status_code == 422
    assert sla_created.status_code == 201, sla_created.text
    assert set(listed) == {f"{TRAFFIC_STEERING}/ts-1", f"{SLICE_SLA}/sla-1"}
    assert listed[f"{TRAFFIC_STEERING}/ts-1"]["body"] == moved
    assert deleted.status_code == 204
    assert again.status_code == 404
    assert set(after) == {f"{SLICE_SLA}/sla-1"}
    with server.store.transaction() as session:
        entries = audit.list_entries(session, tenant_id=server.tenant_id, limit=100)
    mine = [e for e in entries if e.target == f"network:{network_id}"]
    assert [e.action for e in mine if e.action.startswith("a1.policy")] == [
        "a1.policy.delete", "a1.policy.delete", "a1.policy.put", "a1.policy.put",
        "a1.policy.put",
    ]  # fmt: skip
    recorded = [e for e in mine if e.action == "southbound.a1.transaction"]
    assert {e.detail["outcome"] for e in recorded} >= {"applied", "refused"}


def _lb_run(world: RanWorld, network_id: int, cio_db: dict[str, float]) -> int:
    """A succeeded load-balancing run whose first interval sets these CIOs."""
    server = world.server
    actions = [{"t_min": 0, "cell": c, "action": "cio", "value": v} for c, v in cio_db.items()]
    with server.store.transaction() as session:
        run = runs.create_run(
            session, tenant_id=server.tenant_id, network_id=network_id,
            objective="load-balance", solver="exact", horizon_min=15, request={},
            created_by="test", now_s=0,
        )  # fmt: skip
        runs.finish_run(session, tenant_id=server.tenant_id, run_id=run.id, now_s=1,
                        plan={"actions": actions}, confidence=1.0, saving_pct=0.0)  # fmt: skip
    return run.id


def test_a_load_balancing_plan_goes_to_the_ric_as_steering(ran_world: RanWorld) -> None:
    emulator, server = ran_world.emulator, ran_world.server
    if not emulator.info["a1"]["policy_types"]:  # the RIC registers the O-RAN types from it
        require_specs(SPECS / "a1" / "policy-types-oran")
    nci = {c.name: c.nci for c in emulator.topology.cells}
    key = f"{TRAFFIC_STEERING}/ranopt-load-balance"
    with server.client() as client:
        network_id = client.post("/api/v2/networks",
                                 json=_one_site(emulator, "a1-apply")).json()["id"]  # fmt: skip
        o1_only = {**_with_a1(emulator), "a1": None}
        assert client.put(f"/api/v2/networks/{network_id}/southbound", json=o1_only).is_success
        # without an A1 endpoint the CIOs go to O1, which needs the relations discovery finds
        through_o1 = client.post(
            f"/api/v2/optimizations/{_lb_run(ran_world, network_id, {'S000-1-cap': 3.0})}/apply"
        )
        assert client.put(f"/api/v2/networks/{network_id}/southbound",
                          json=_with_a1(emulator)).is_success  # fmt: skip
        first = _lb_run(ran_world, network_id, {"S000-1-cap": 3.2, "S000-2-cap": -20.0})
        applied = client.post(f"/api/v2/optimizations/{first}/apply")
        policy = _until_status(client, network_id, key, "ENFORCED")
        recorded = client.get(f"/api/v2/networks/{network_id}/southbound/transactions",
                              params={"run_id": first}).json()  # fmt: skip
        # the next plan brings S000-1-cap back to 0 dB: its preference is withdrawn
        second = _lb_run(ran_world, network_id, {"S000-1-cap": 0.0})
        assert client.post(f"/api/v2/optimizations/{second}/apply").status_code == 200
        kept = _policies(client, network_id)[key]
        third = _lb_run(ran_world, network_id, {"S000-2-cap": 0.5})
        assert client.post(f"/api/v2/optimizations/{third}/apply").status_code == 200
        last = _policies(client, network_id)
    assert through_o1.status_code == 422, through_o1.text
    assert "NRCellRelation" in through_o1.json()["detail"]
    assert applied.status_code == 200, applied.text
    assert steering_preferences(policy["body"]) == {nci["S000-1-cap"]: "PREFER",
                                                    nci["S000-2-cap"]: "FORBID"}  # fmt: skip
    assert [(t["interface"], t["element"], t["outcome"], t["step"]) for t in recorded] == [
        ("a1", key, "applied", "put"),
    ]  # fmt: skip
    assert steering_preferences(kept["body"]) == {nci["S000-2-cap"]: "FORBID"}
    assert key not in last  # no preference left: the policy is deleted
    with server.store.transaction() as session:
        [entry] = audit.list_entries(session, tenant_id=server.tenant_id, limit=1,
                                     action="optimization.apply")  # fmt: skip
    assert entry.detail["a1"] == {"element": key, "outcome": "applied", "num_edits": 1,
                                  "preferences": 0}  # fmt: skip
