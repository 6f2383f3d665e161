"""A network that names an A1 Policy Management Service instead of its near-RT RIC.

The PMS is a fake on loopback (``fake_pms.py``): a PMS lies outside ranopt, in the SMO.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_pms import FakePms, fake_pms
from typer.testing import CliRunner

from emulator_world import RanWorld
from ranopt.cli.main import app as cli
from ranopt.southbound.a1 import A1RefusedError
from ranopt.southbound.a1_types import TRAFFIC_STEERING, steering_policy
from ranopt.southbound.a1pms import PmsClient
from ranopt.southbound.o1 import RetryPolicy

O1 = {"host": "127.0.0.1", "port": 1, "username": "ranopt", "password": "o1-pw-Zq9"}


@pytest.fixture
def pms(specs: Path) -> Iterator[FakePms]:
    """A fake PMS in front of the near-RT RIC ``ric-1`` with the O-RAN policy types."""
    with fake_pms(specs / "a1" / "policy-types-oran") as started:
        yield started


def _settings(pms: FakePms, **a1: Any) -> dict[str, Any]:
    return {"kind": "o1", "o1": [O1],
            "a1": {"url": pms.base, "kind": "pms", "ric_id": "ric-1", **a1}}  # fmt: skip


def test_policies_go_through_the_pms(ran_world: RanWorld, pms: FakePms) -> None:
    server = ran_world.server
    body = steering_policy(sst=1, cells_nci={4242: "PREFER"})
    moved = steering_policy(sst=1, cells_nci={4243: "AVOID"})
    with server.client() as client:
        topology = ran_world.emulator.topology
        cut = topology.model_copy(update={
            "network": topology.network.model_copy(update={"name": "through-pms"}),
            "sites": topology.sites[:1], "cells": [c for c in topology.cells if c.site == "S000"],
        })  # fmt: skip
        network_id = client.post("/api/v2/networks", json=cut.model_dump(mode="json")).json()["id"]
        southbound = f"/api/v2/networks/{network_id}/southbound"
        no_ric = client.put(southbound, json=_settings(pms, ric_id=None))
        shown = client.put(southbound, json=_settings(pms))
        base = f"/api/v2/networks/{network_id}/a1/policies/{TRAFFIC_STEERING}"
        created = client.put(f"{base}/ts-1", json=body)
        updated = client.put(f"{base}/ts-1", json=moved)
        refused = client.put(f"{base}/ts-2", json={**body, "tspResources": []})
        listed = client.get(f"/api/v2/networks/{network_id}/a1/policies").json()
        held = dict(pms.policies["ts-1"])
        deleted = client.delete(f"{base}/ts-1")
    assert no_ric.status_code == 422
    assert "ric_id" in no_ric.text
    assert shown.status_code == 200, shown.text
    assert (shown.json()["a1_kind"], shown.json()["a1_ric_id"]) == ("pms", "ric-1")
    assert created.status_code == 201, created.text
    assert updated.status_code == 200, updated.text
    assert refused.status_code == 422
    assert refused.json()["field"] == "tspResources"
    assert held == {"policyId": "ts-1", "nearRtRicId": "ric-1", "policyTypeId": TRAFFIC_STEERING,
                    "policyObject": moved, "serviceId": f"ranopt-network-{network_id}",
                    "transient": False}  # fmt: skip
    # the PMS does not notify: ranopt read the status after each write
    assert [(p["policy_id"], p["enforce_status"]) for p in listed] == [("ts-1", "ENFORCED")]
    assert deleted.status_code == 204
    assert pms.policies == {}
    assert [r for r in pms.requests if r[0] != "GET"] == [
        ("PUT", "/policies/ts-1"), ("POST", "/policies"),  # not there yet: created
        ("PUT", "/policies/ts-1"), ("DELETE", "/policies/ts-1"),
    ]  # fmt: skip


def test_the_pms_client_names_its_ric(pms: FakePms) -> None:
    client = PmsClient(pms.base, ric_id="ric-1", retry=RetryPolicy(attempts=1))
    elsewhere = PmsClient(pms.base, ric_id="ric-9", retry=RetryPolicy(attempts=1))
    body = steering_policy(sst=1, cells_nci={7: "SHALL"})
    try:
        assert TRAFFIC_STEERING in client.policy_types()
        assert client.put_policy(TRAFFIC_STEERING, "p1", body) is True
        assert client.policy_ids(TRAFFIC_STEERING) == ["p1"]
        assert client.get_policy(TRAFFIC_STEERING, "p1") == body
        assert client.status(TRAFFIC_STEERING, "p1") == {"enforceStatus": "ENFORCED"}
        with pytest.raises(A1RefusedError, match="no near-RT RIC ric-9") as refused:
            elsewhere.put_policy(TRAFFIC_STEERING, "p2", body)
        assert refused.value.status == 404
        client.delete_policy(TRAFFIC_STEERING, "p1")
        assert client.policy_ids(TRAFFIC_STEERING) == []
    finally:
        client.close()
        elsewhere.close()
    with pytest.raises(ValueError, match="ric_id"):
        PmsClient(pms.base)


def test_cli_points_a_network_at_a_pms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology_factory: Any
) -> None:
    monkeypatch.setenv("RANOPT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    topology = tmp_path / "topology.json"
    topology.write_text(topology_factory(1, name="pms-net").model_dump_json())
    password = tmp_path / "pw"
    password.write_text("o1-secret")
    token = tmp_path / "token"
    token.write_text("pms-token-Zq7")
    assert runner.invoke(cli, ["network", "create", "pms-net", "--topology",
                               str(topology)]).exit_code == 0  # fmt: skip
    common = ["network", "southbound", "pms-net", "--o1", "127.0.0.1:830", "--password-file",
              str(password), "--a1-url", "http://127.0.0.1:9/a1-policy-management/v1",
              "--a1-pms", "--a1-token-file", str(token)]  # fmt: skip
    missing = runner.invoke(cli, common)
    pointed = runner.invoke(cli, [*common, "--a1-ric-id", "ric-1"])
    assert missing.exit_code == 2
    assert "ric_id" in missing.output
    assert pointed.exit_code == 0, pointed.output
    assert "A1 through a PMS" in pointed.output
    for output in (missing.output, pointed.output):
        assert "pms-token-Zq7" not in output
