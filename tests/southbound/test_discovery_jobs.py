"""Discovery as a job (202 + status URL) and discovery of the 271-site emulator.

The 271-site emulator runs ``--no-traffic`` (O1 only: its configuration and state do not
depend on the traffic simulation) with one NETCONF endpoint per gNB; its 271 endpoints make
ranopt expect more cells than ``sync_max_cells``, so the API discovers it as a job.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator_world import O1_USER, RanWorld, RunningEmulator
from ranopt.store.schemas import TopologyIn


def _one_site(topology: TopologyIn, name: str) -> dict[str, Any]:
    """The topology cut to its first site: what an operator holds before discovery."""
    site = topology.sites[0].name
    cut = topology.model_copy(update={
        "network": topology.network.model_copy(update={"name": name}),
        "sites": [s for s in topology.sites if s.name == site],
        "cells": [c for c in topology.cells if c.site == site],
    })  # fmt: skip
    return cut.model_dump(mode="json")


def _southbound(emulator: RunningEmulator, **change: Any) -> dict[str, Any]:
    endpoints = [
        {"host": e["host"], "port": e["port"], "username": O1_USER,
         "password": emulator.password, "host_key": emulator.info["host_key"], **change}
        for e in emulator.info["o1"]
    ]  # fmt: skip
    return {"kind": "o1", "o1": endpoints, "timeout_s": 30.0}


def _register(client: httpx.Client, emulator: RunningEmulator, name: str, **change: Any) -> int:
    created = client.post("/api/v2/networks", json=_one_site(emulator.topology, name))
    assert created.status_code == 201, created.text
    network_id: int = created.json()["id"]
    put = client.put(f"/api/v2/networks/{network_id}/southbound",
                     json=_southbound(emulator, **change))  # fmt: skip
    assert put.status_code == 200, put.text
    return network_id


def _accepted(answer: httpx.Response) -> str:
    """Check a 202 answer and return its status URL."""
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "queued"
    assert answer.headers["location"] == body["status_url"]
    assert body["status_url"].endswith(f"/discoveries/{body['id']}")
    status_url: str = body["status_url"]
    return status_url


def _finished(client: httpx.Client, status_url: str, timeout_s: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        job: dict[str, Any] = client.get(status_url).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        assert job["status"] in ("queued", "running"), job
        assert time.monotonic() < deadline, f"discovery job still {job['status']}"
        time.sleep(0.1)


def test_discovery_as_a_job_reports_through_its_status_url(ran_world: RanWorld) -> None:
    emulator = ran_world.emulator
    with ran_world.server.client() as client:
        network_id = _register(client, emulator, "job-discovered")
        other_id = _register(client, emulator, "job-other")
        broken_id = _register(client, emulator, "job-unreachable", port=1)
        status_url = _accepted(
            client.post(f"/api/v2/networks/{network_id}/discover", params={"background": True})
        )
        job = _finished(client, status_url)
        cells = client.get(f"/api/v2/networks/{network_id}/cells").json()
        # the job belongs to its network: under another one it does not exist
        elsewhere = client.get(status_url.replace(f"/{network_id}/", f"/{other_id}/"))
        failed = _finished(client, _accepted(
            client.post(f"/api/v2/networks/{broken_id}/discover", params={"background": True})
        ))  # fmt: skip
        alerts = client.get(f"/api/v2/networks/{broken_id}/alerts").json()
        broken_cells = client.get(f"/api/v2/networks/{broken_id}/cells").json()
    assert job["status"] == "succeeded", job
    report = job["report"]
    assert (report["num_elements"], report["num_cells"], len(report["added_cells"])) == (
        19, 114, 108,
    )  # fmt: skip
    assert job["finished_s"] >= job["created_s"]
    assert len(cells) == 114
    assert elsewhere.status_code == 404
    assert "job_id: no discovery job" in elsewhere.json()["detail"]
    assert failed["status"] == "failed"
    assert "127.0.0.1:1" in failed["error"]
    assert failed["report"] is None
    assert alerts[0]["kind"] == "discovery_failed"
    assert len(broken_cells) == 6  # nothing written


def test_a_network_without_o1_is_refused_before_a_job_is_queued(ran_world: RanWorld) -> None:
    with ran_world.server.client() as client:
        created = client.post("/api/v2/networks",
                              json=_one_site(ran_world.emulator.topology, "job-twin"))  # fmt: skip
        assert created.status_code == 201, created.text
        answer = client.post(f"/api/v2/networks/{created.json()['id']}/discover",
                             params={"background": True})  # fmt: skip
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "network_id"


@pytest.fixture(scope="module")
def large_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """The 271-site network (1 626 cells), O1 only, one NETCONF endpoint per gNB."""
    run_dir: Path = tmp_path_factory.mktemp("large-emulator")
    emulator = RunningEmulator(run_dir, ["--scenario", "large", "--no-traffic", "--pace", "0",
                                         "--no-pm-files"])  # fmt: skip
    try:
        yield emulator.start()
    finally:
        emulator.stop()


def test_discovery_of_the_271_site_emulator_builds_its_cells(
    ran_world: RanWorld, large_emulator: RunningEmulator
) -> None:
    truth = large_emulator.topology
    assert (len(truth.sites), len(truth.cells)) == (271, 1626)
    with ran_world.server.client() as client:
        network_id = _register(client, large_emulator, "large-discovered")
        # 271 endpoints: more cells expected than sync_max_cells, so a job without asking
        answer = client.post(f"/api/v2/networks/{network_id}/discover")
        job = _finished(client, _accepted(answer))
        cells = client.get(f"/api/v2/networks/{network_id}/cells").json()
    assert job["status"] == "succeeded", job
    assert (job["report"]["num_elements"], job["report"]["num_cells"]) == (271, 1626)
    assert job["report"]["missing_cells"] == []
    got = {c["dn"]: c for c in cells}
    assert set(got) == {c.dn for c in truth.cells}
    for cell in truth.cells:
        found = got[cell.dn]
        assert (found["name"], found["nci"], found["layer"]) == (cell.name, cell.nci, cell.layer)
        assert found["carrier_ghz"] == pytest.approx(cell.carrier_ghz, abs=1e-4)
        assert (found["bandwidth_mhz"], found["num_prb"]) == (cell.bandwidth_mhz, cell.num_prb)
