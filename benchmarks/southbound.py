"""Southbound speed against ``ranopt emulate`` on loopback: O1 plan apply, discovery, A1.

Prints one JSON object. Every figure sits beside its floor measured in the same run:

1. **O1 plan**: the default network (19 gNBs, 114 cells); a plan that sleeps every cell
   (then one that wakes them all, alternately) mapped to NRM edits and applied with
   ``apply_edits``, one confirmed transaction per ManagedElement, every element committed.
   Twice: with one NETCONF endpoint per gNB (how O-RAN O1 reaches gNBs) and with one endpoint
   for all 19 (an EMS / domain manager in front). Floors: one SSH connect + ``<hello>``, one
   ``<get>`` round trip on an open session, one element's transaction on an open session.
2. **Discovery** of the 271-site emulator (1 626 cells) with ``service.southbound.discover``
   into a fresh SQLite store (the network registered with one site from a file, the rest
   from O1; then a second discovery that refreshes it). The emulator runs ``--no-traffic``:
   discovery reads configuration and state only, which does not depend on the traffic
   simulation, while building the 100 000-UE traffic twin would take ~25 s of emulator
   start-up (``docs/benchmarks.md``, Twin). Floor: ``read_elements`` alone (NETCONF + parse).
3. **A1 round trip**: create (PUT), status (GET), delete (DELETE) of a traffic-steering
   policy on the emulator's near-RT RIC with ``A1Client``; p50 / p95 / p99 over
   ``--a1-rounds``; floor: one ``GET /policytypes``. Also through ranopt's service
   (``put_a1_policy`` + ``delete_a1_policy``: schema fetched and checked, each write
   recorded with its audit entry in SQLite).

    python benchmarks/southbound.py [--repeats 5] [--a1-rounds 200] [--skip-large]
"""

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import SecretStr

from ranopt.api.settings import Settings
from ranopt.service.southbound import delete_a1_policy, discover, put_a1_policy, read_elements
from ranopt.southbound.a1 import A1Client
from ranopt.southbound.a1_types import TRAFFIC_STEERING, steering_policy
from ranopt.southbound.actions import CellAction, CellTarget, apply_edits, edits_for
from ranopt.southbound.nrm import parse_dn
from ranopt.southbound.o1 import O1Endpoint, O1Session, RetryPolicy
from ranopt.store import repository as repo
from ranopt.store import southbound as sb
from ranopt.store.engine import open_store
from ranopt.store.schemas import TopologyIn

PLAN_TARGET_S = 1.0
DISCOVERY_TARGET_S = 10.0
A1_P95_TARGET_S = 0.050


@contextmanager
def emulator(run_dir: Path, *args: str) -> Iterator[dict[str, Any]]:
    """Run ``ranopt emulate run`` until the block ends; yield its endpoints and start time."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ranopt.cli.main", "emulate", "run", "--run-dir", str(run_dir),
         "--pace", "0", "--no-pm-files", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        while not (run_dir / "endpoints.json").exists():
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"emulator exited: {err[-2000:]}")
            time.sleep(0.05)
        info = json.loads((run_dir / "endpoints.json").read_text())
        info["start_s"] = time.perf_counter() - started
        info["password"] = json.loads((run_dir / "credentials.json").read_text())["o1_password"]
        info["topology"] = TopologyIn.model_validate_json((run_dir / "topology.json").read_text())
        yield info
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()


def o1_endpoints(info: dict[str, Any]) -> list[tuple[O1Endpoint, list[str]]]:
    """Each NETCONF endpoint with the elements it serves."""
    return [
        (O1Endpoint(host=e["host"], port=e["port"], username="ranopt",
                    password=SecretStr(info["password"]), host_key=info["host_key"],
                    timeout_s=30.0, retry=RetryPolicy(attempts=1)), e["elements"])
        for e in info["o1"]
    ]  # fmt: skip


def by_element(info: dict[str, Any]) -> dict[str, O1Endpoint]:
    """ManagedElement id -> its endpoint."""
    return {el: endpoint for endpoint, elements in o1_endpoints(info) for el in elements}


def cell_targets(topology: TopologyIn) -> dict[str, CellTarget]:
    """Every cell's DU / CU paths from the emulator's topology file."""
    return {
        c.name: CellTarget(name=c.name, du_path=parse_dn(c.dn)[1],
                           cu_path=parse_dn(c.cu_dn or "")[1])
        for c in topology.cells
    }  # fmt: skip


def summary(values_s: list[float]) -> dict[str, float]:
    """Median, min, p95, max in seconds (rounded to 0.1 ms)."""
    arr = np.asarray(values_s)
    return {
        "median_s": round(float(np.median(arr)), 4), "min_s": round(float(arr.min()), 4),
        "p95_s": round(float(np.percentile(arr, 95)), 4), "max_s": round(float(arr.max()), 4),
        "n": len(values_s),
    }  # fmt: skip


def timed(fn: Callable[[], Any]) -> float:
    """Wall seconds of one call."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


# --- 1. O1 plan ----------------------------------------------------------------------------


def o1_floors(info: dict[str, Any], repeats: int) -> dict[str, Any]:
    """Connect + hello, one get round trip, one element's transaction on an open session."""
    endpoint, elements = o1_endpoints(info)[0]
    element = elements[0]

    def connect() -> None:
        with O1Session(endpoint):
            pass

    connects = [timed(connect) for _ in range(repeats * 4)]
    targets = cell_targets(info["topology"])
    mine = [n for n, t in targets.items() if t.du_path.element == element]
    gets, transactions = [], []
    with O1Session(endpoint) as session:
        for _ in range(repeats * 4):
            gets.append(timed(lambda: session.read_cell_states(element)))
        for i in range(repeats * 4):
            action = "sleep" if i % 2 == 0 else "wake"
            edits = edits_for([CellAction(n, action) for n in mine], targets, "energy_saving")
            outcome = session.transaction(element, edits[element])
            assert outcome.outcome == "applied", outcome
            transactions.append(outcome.seconds)
    return {
        "connect_and_hello": summary(connects),
        "get_round_trip": summary(gets),
        "one_element_transaction": {**summary(transactions), "cells": len(mine)},
    }


def o1_plan(info: dict[str, Any], repeats: int) -> dict[str, Any]:
    """Apply the 114-cell sleep plan (alternating with the wake plan) ``repeats`` times."""
    targets = cell_targets(info["topology"])
    endpoints = by_element(info)
    walls, per_element = [], []
    for i in range(repeats * 2):
        action = "sleep" if i % 2 == 0 else "wake"
        edits = edits_for([CellAction(n, action) for n in targets], targets, "energy_saving")
        started = time.perf_counter()
        outcomes = apply_edits(edits, endpoints)
        wall = time.perf_counter() - started
        bad = [o for o in outcomes if o.outcome != "applied"]
        if bad:
            raise RuntimeError(f"not every element committed: {bad[:3]}")
        if action == "sleep":
            walls.append(wall)
            per_element += [o.seconds for o in outcomes]
    # the last plan was a wake: read every cell back to check the plans took effect
    seen = set()
    for endpoint, _ in o1_endpoints(info):
        with O1Session(endpoint) as session:
            for element in session.read_cell_states():
                seen |= {c.energy_saving_control for c in element.cells}
    if seen != {"toBeNotEnergySaving"}:
        raise RuntimeError(f"cells read back {seen}")
    return {
        "cells": len(targets),
        "elements": len(edits),
        "endpoints": len(info["o1"]),
        "all_elements_committed": True,
        "plan_wall": summary(walls),
        "element_transaction": summary(per_element),
    }


# --- 2. discovery --------------------------------------------------------------------------


def discovery(info: dict[str, Any], repeats: int, work: Path) -> dict[str, Any]:
    """``read_elements`` alone, then ``discover`` into a fresh SQLite store (create, refresh)."""
    endpoints = [e for e, _ in o1_endpoints(info)]
    reads = []
    for _ in range(repeats):
        started = time.perf_counter()
        found = read_elements(endpoints)
        reads.append(time.perf_counter() - started)
    num_cells = sum(len(e.cells) for _, e in found)
    db = work / f"discovery-{len(endpoints)}.db"
    store = open_store(f"sqlite:///{db}")
    settings = Settings(database_url=f"sqlite:///{db}")
    keyring = settings.keyring()
    topo: TopologyIn = info["topology"]
    first_site = topo.sites[0].name
    cut = topo.model_copy(update={
        "sites": [s for s in topo.sites if s.name == first_site],
        "cells": [c for c in topo.cells if c.site == first_site],
    })  # fmt: skip
    now = int(time.time())
    with store.transaction() as session:
        tid = repo.ensure_tenant(session, name="bench", now_s=now)
        net = repo.create_network(session, tenant_id=tid, topology=cut, now_s=now)
        sb.set_southbound(session, tenant_id=tid, network_id=net.id, keyring=keyring, now_s=now,
                          settings=sb.SouthboundIn(kind="o1", timeout_s=30.0, o1=[
                              sb.O1EndpointIn(host=e.host, port=e.port, username=e.username,
                                              password=e.password, host_key=e.host_key)
                              for e in endpoints]))  # fmt: skip
    runs = []
    for i in range(repeats):
        started = time.perf_counter()
        report = discover(store, tenant_id=tid, network_id=net.id, keyring=keyring,
                          supplement=None, now_s=now + i, actor="bench")  # fmt: skip
        runs.append(time.perf_counter() - started)
        if i == 0:
            added = len(report.added_cells)
    store.dispose()
    return {
        "endpoints": len(endpoints), "elements": len(found), "cells": num_cells,
        "read_elements": summary(reads),
        "discover_create": round(runs[0], 4), "cells_added": added,
        "discover_refresh": summary(runs[1:]) if len(runs) > 1 else None,
        "emulator_start_s": round(info["start_s"], 2),
    }  # fmt: skip


# --- 3. A1 ---------------------------------------------------------------------------------


def a1_round_trips(info: dict[str, Any], rounds: int, work: Path) -> dict[str, Any]:
    """Create, status, delete over A1-P v2: raw client and through ranopt's service."""
    url = info["a1"]["url"]
    if TRAFFIC_STEERING not in info["a1"]["policy_types"]:
        return {"skipped": "the RIC has no O-RAN policy types (../shared/specs absent)"}
    ncis = [c.nci for c in info["topology"].cells]
    client = A1Client(url, retry=RetryPolicy(attempts=1))
    floor, trips, parts = [], [], {"create": [], "status": [], "delete": []}
    for _ in range(20):  # warm the connection pool and the server
        client.policy_types()
    for i in range(rounds):
        floor.append(timed(client.policy_types))
        body = steering_policy(sst=1, cells_nci={ncis[i % len(ncis)]: "PREFER"})
        t0 = time.perf_counter()
        created = client.put_policy(TRAFFIC_STEERING, f"bench-{i}", body)
        t1 = time.perf_counter()
        status = client.status(TRAFFIC_STEERING, f"bench-{i}")
        t2 = time.perf_counter()
        client.delete_policy(TRAFFIC_STEERING, f"bench-{i}")
        t3 = time.perf_counter()
        if not created or status.get("enforceStatus") != "ENFORCED":
            raise RuntimeError(f"policy bench-{i}: created {created}, status {status}")
        trips.append(t3 - t0)
        parts["create"].append(t1 - t0)
        parts["status"].append(t2 - t1)
        parts["delete"].append(t3 - t2)
    client.close()

    db = work / "a1.db"
    store = open_store(f"sqlite:///{db}")
    keyring = Settings(database_url=f"sqlite:///{db}").keyring()
    now = int(time.time())
    with store.transaction() as session:
        tid = repo.ensure_tenant(session, name="bench", now_s=now)
        net = repo.create_network(session, tenant_id=tid, topology=info["topology"], now_s=now)
        endpoint, _ = o1_endpoints(info)[0]
        sb.set_southbound(session, tenant_id=tid, network_id=net.id, keyring=keyring, now_s=now,
                          settings=sb.SouthboundIn(kind="o1", a1=sb.A1EndpointIn(url=url), o1=[
                              sb.O1EndpointIn(host=endpoint.host, port=endpoint.port,
                                              username="ranopt", password=endpoint.password)
                          ]))  # fmt: skip
    common: dict[str, Any] = {"store": store, "tenant_id": tid, "network_id": net.id,
                              "keyring": keyring, "actor": "bench", "now_s": now,
                              "policy_type": TRAFFIC_STEERING}  # fmt: skip
    service = []
    for i in range(max(20, rounds // 4)):
        body = steering_policy(sst=1, cells_nci={ncis[i % len(ncis)]: "PREFER"})
        t0 = time.perf_counter()
        put_a1_policy(policy_id=f"svc-{i}", body=body, notification_url=None, **common)
        delete_a1_policy(policy_id=f"svc-{i}", **common)
        service.append(time.perf_counter() - t0)
    store.dispose()
    return {
        "rounds": rounds,
        "floor_get_policytypes": summary(floor),
        "round_trip_create_status_delete": summary(trips),
        "create": summary(parts["create"]), "status": summary(parts["status"]),
        "delete": summary(parts["delete"]),
        "service_put_and_delete_recorded": summary(service),
    }  # fmt: skip


def main() -> None:
    """Run the three measurements and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--a1-rounds", type=int, default=200)
    parser.add_argument("--skip-large", action="store_true", help="no 271-site discovery")
    args = parser.parse_args()
    out: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count()},
        "targets": {"plan_wall_s": PLAN_TARGET_S, "discovery_s": DISCOVERY_TARGET_S,
                    "a1_round_trip_p95_s": A1_P95_TARGET_S},
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="ranopt-bench-sb-") as tmp:
        work = Path(tmp)
        with emulator(work / "per-gnb", "--no-traffic") as info:
            out["o1_floor"] = o1_floors(info, args.repeats)
            out["o1_plan_endpoint_per_gnb"] = o1_plan(info, args.repeats)
            out["a1"] = a1_round_trips(info, args.a1_rounds, work)
            out["discovery_19_sites"] = discovery(info, args.repeats, work)
        with emulator(work / "single", "--no-traffic", "--single-endpoint") as info:
            out["o1_plan_one_endpoint"] = o1_plan(info, args.repeats)
        if not args.skip_large:
            with emulator(work / "large", "--no-traffic", "--scenario", "large") as info:
                out["discovery_271_sites_endpoint_per_gnb"] = discovery(info, 3, work)
            with emulator(work / "large-single", "--no-traffic", "--scenario", "large",
                          "--single-endpoint") as info:  # fmt: skip
                out["discovery_271_sites_one_endpoint"] = discovery(info, 3, work)
    plan = out["o1_plan_endpoint_per_gnb"]["plan_wall"]["median_s"]
    single = out["o1_plan_one_endpoint"]["plan_wall"]["median_s"]
    verdict = {
        "plan_endpoint_per_gnb": plan <= PLAN_TARGET_S,
        "plan_one_endpoint": single <= PLAN_TARGET_S,
    }
    if "discovery_271_sites_endpoint_per_gnb" in out:
        for key in ("discovery_271_sites_endpoint_per_gnb", "discovery_271_sites_one_endpoint"):
            verdict[key] = out[key]["discover_create"] <= DISCOVERY_TARGET_S
    if "round_trip_create_status_delete" in out["a1"]:
        p95 = out["a1"]["round_trip_create_status_delete"]["p95_s"]
        verdict["a1_round_trip_p95"] = p95 <= A1_P95_TARGET_S
    out["met"] = verdict
    out["ratios"] = {
        "plan_per_gnb_over_one_element_transaction": round(
            plan / out["o1_floor"]["one_element_transaction"]["median_s"], 1
        ),
        "plan_one_endpoint_over_per_gnb": round(single / plan, 2),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
