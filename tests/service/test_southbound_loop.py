"""The closed loop through the network's interfaces, with real processes end to end.

``ranopt emulate`` (a 7-site network, its own seed) back-fills 8 days of PM files, serves O1
NETCONF and posts its live counters as VES events to a real ``ranopt serve`` whose loop runs
in its own process. The operator ingests the back-filled files, points the network at the
emulator's O1 endpoints, discovers it and switches the loop on. The emulator's clock is
advanced one interval at a time (at night), each time once the loop has accounted the last
one. The planner sees only the topology and the stored counters; the emulator's ground truth
(``truth.jsonl``) and datastore are what the test judges by.
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from emulator_world import RunningEmulator
from ops.ops_world import Serve, free_port, wait_for
from ranopt.api.security import new_api_key, password_hasher
from ranopt.api.settings import Settings
from ranopt.emulate.topology import build_topology
from ranopt.ingest.pipeline import ingest_files
from ranopt.service import stages
from ranopt.service.runner import loop_lease_name
from ranopt.service.southbound import cell_targets, read_relation_offsets
from ranopt.southbound.actions import nearest_q_offset_db
from ranopt.southbound.nrm import CELL_INDIVIDUAL_OFFSET, ObjectPath, parse_dn
from ranopt.southbound.o1 import O1Session
from ranopt.southbound.o1_xml import Edit
from ranopt.store import accounts, audit, leases, loops
from ranopt.store import repository as repo
from ranopt.store import runs as runs_store
from ranopt.store import southbound as southbound_store
from ranopt.store.engine import Store, open_store
from ranopt.store.tables import Cell, KpiSample
from ranopt.twin import build_twin, scenario_preset

EMULATOR_SEED = 23  # the emulated network's own seed: the planner never reads it
SITES, UES = 7, 300
BACKFILL_DAYS = 8
LIVE_INTERVALS = 6


def _start() -> datetime:
    """Yesterday 01:00 UTC: a night to plan sleep in, recent enough for retention."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1) + timedelta(hours=1)


class World:
    """The store, the API key, the emulator and the server of the test."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"sqlite:///{root / 'ranopt.db'}"
        self.store: Store = open_store(self.url)
        topology = build_topology(
            build_twin(scenario_preset("default", seed=EMULATOR_SEED, num_sites=SITES,
                                       num_ues=UES)), "emulated",
        ).topology  # fmt: skip
        settings = Settings(database_url=self.url, argon2_time_cost=1, argon2_memory_kib=1024)
        made = new_api_key(password_hasher(settings))
        with self.store.transaction() as session:
            self.tenant_id = repo.ensure_tenant(session, name="acme", now_s=0)
            self.network_id = repo.create_network(
                session, tenant_id=self.tenant_id, topology=topology, now_s=0
            ).id
            accounts.create_api_key(
                session, tenant_id=self.tenant_id, name="noc", prefix=made.prefix,
                secret_hash=made.secret_hash, role="network_admin", now_s=0,
            )  # fmt: skip
        self.headers = {"X-API-Key": made.token}
        key_file = root / "api-key"
        key_file.write_text(made.token)
        key_file.chmod(0o600)
        port = free_port()
        self.serve = Serve({
            "RANOPT_DATABASE_URL": self.url, "RANOPT_DATA_DIR": str(root),
            "RANOPT_LOOP_ENABLED": "true", "RANOPT_LOOP_TICK_S": "0.2",
        }, root / "serve.log", port=port)  # fmt: skip
        ves = f"http://127.0.0.1:{port}/eventListener/v7?network_id={self.network_id}"
        self.emulator = RunningEmulator(root / "emu", [
            "--pace", "0", "--seed", str(EMULATOR_SEED), "--sites", str(SITES), "--ues",
            str(UES), "--start", _start().isoformat(), "--backfill-days", str(BACKFILL_DAYS),
            "--ves-url", ves, "--api-key-file", str(key_file),
        ])  # fmt: skip
        self.topology = topology

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.serve.base, headers=self.headers, timeout=60.0)

    def next_interval(self) -> int:
        with self.store.transaction() as session:
            return loops.loop_settings(
                session, tenant_id=self.tenant_id, network_id=self.network_id
            ).next_interval


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    made = World(tmp_path_factory.mktemp("southbound-loop"))
    try:
        made.serve.start()
        made.emulator.start()
        assert made.emulator.topology == made.topology
        made.serve.wait_healthy()
        yield made
    finally:
        made.emulator.stop()
        made.serve.stop()
        made.store.dispose()


def _truth(run_dir: Path) -> list[dict[str, object]]:
    lines = (run_dir / "truth.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if '"live"' in line]


@pytest.fixture(scope="module")
def looping(world: World) -> int:
    """Ingest the back-fill, point the network at the emulator, discover, switch the loop on.

    Returns the loop interval its clock starts at (the first live one).
    """
    emulator = world.emulator
    files = sorted((emulator.run_dir / "pm").glob("*.xml"))
    assert len(files) == BACKFILL_DAYS * 96
    ingest_files(world.store, files, tenant_id=world.tenant_id, network="emulated")
    net = f"/api/v2/networks/{world.network_id}"
    with world.client() as client:
        endpoints = [
            {"host": e["host"], "port": e["port"], "username": "ranopt",
             "password": emulator.password, "host_key": emulator.info["host_key"]}
            for e in emulator.info["o1"]
        ]  # fmt: skip
        put = client.put(f"{net}/southbound", json={"kind": "o1", "o1": endpoints})
        assert put.is_success, put.text
        discovered = client.post(f"{net}/discover")
        assert discovered.is_success, discovered.text
        loop = client.put(f"{net}/loop", json={
            "enabled": True, "auto_apply": True, "confidence_threshold": 0.9,
            "solver": "greedy", "horizon_intervals": 4,
        })  # fmt: skip
        assert loop.is_success, loop.text
    # the loop starts its clock after the newest counters: the first live interval
    wait_for(lambda: world.next_interval() > 0, 30, "the loop's clock")
    return world.next_interval()


def _advance(world: World) -> None:
    """Run one emulator interval and wait until the loop has accounted it (and acted)."""
    before = world.next_interval()
    world.emulator.admin("/advance", {"intervals": 1})
    wait_for(lambda: world.next_interval() > before, 90, f"loop interval {before}")


def test_loop_plans_on_counters_and_sleeps_cells_over_o1(world: World, looping: int) -> None:
    emulator = world.emulator
    start = looping
    first = emulator.info["next_interval"]
    with world.client() as client:
        asleep_seen: set[str] = set()
        muted_seen: dict[str, float] = {}
        full_w = {parse_dn(c.dn)[1].local_dn: float(c.max_tx_power_w or 0.0)
                  for c in world.topology.cells}  # fmt: skip
        for _ in range(LIVE_INTERVALS):
            _advance(world)
            states = emulator_states(world)
            asleep_seen |= {dn for dn, es in states.items() if es == "toBeEnergySaving"}
            muted_seen |= {dn: w for dn, w in emulator_powers(world).items()
                           if w < full_w[dn] - 1e-3}  # fmt: skip
        runs = client.get(
            "/api/v2/optimizations", params={"network_id": world.network_id, "limit": 50}
        ).json()
    truth = _truth(emulator.run_dir)[:LIVE_INTERVALS]
    assert len(truth) == LIVE_INTERVALS
    # the plan reached the network over O1: the emulator's datastore showed cells asleep
    assert asleep_seen, "no cell was ever put to sleep over O1"
    # the planned muting reached it too: awake cells' configuredMaxTxPower below full, read
    # back with get-config, at a whole number of the cell's chains (powers of two of 64)
    assert muted_seen, "no cell was ever muted over O1"
    for dn, watts in muted_seen.items():
        chains = round(64 * watts / full_w[dn], 2)  # configuredMaxTxPower is in mW
        assert chains in (8.0, 16.0, 32.0), (dn, watts, full_w[dn])
    slept = [t for t in truth if t["asleep"]]
    assert slept, "the emulator ran no interval with a cell asleep"
    # by the emulator's own judgement: no QoS violation, and energy below always-on
    assert all(not t["violations"] for t in truth), [t["violations"] for t in truth]
    energy = sum(sum(t["energy_kwh"]) for t in truth)  # type: ignore[arg-type]
    always_on = sum(sum(t["always_on_energy_kwh"]) for t in truth)  # type: ignore[arg-type]
    assert energy < always_on
    # the counters ranopt stored say the same: PEE energy of the live intervals below always-on
    live_start = int(_start().timestamp())
    with world.store.transaction() as session:
        stored = session.scalar(
            select(func.sum(KpiSample.pee_energy_kwh)).where(
                KpiSample.network_id == world.network_id,
                KpiSample.interval_start_s >= live_start,
            )
        )
        rows = loops.intervals(session, tenant_id=world.tenant_id, network_id=world.network_id,
                               first=start, stop=start + LIVE_INTERVALS)  # fmt: skip
    assert stored is not None
    assert float(stored) == pytest.approx(energy, rel=1e-6)
    assert float(stored) < always_on
    assert [r.phase for r in rows] == ["loop"] * LIVE_INTERVALS
    assert any(r.asleep for r in rows)
    assert sum(r.violations for r in rows) == 0
    assert first == emulator.info["next_interval"]
    items = runs["items"] if isinstance(runs, dict) else runs
    applied = [r for r in items if r["status"] == "applied"]
    assert applied
    assert all(r["confidence"] >= 0.9 for r in applied)
    assert np.isfinite([r["confidence"] for r in applied]).all()


FAILED_CELL = "S004-3-cov"  # its UEs at the edge need the sleeping S004-3-cap woken


def test_outage_is_compensated_over_o1_and_reverted_when_the_cell_reports(
    world: World, looping: int
) -> None:
    """A cell failed through the emulator's admin interface (outside ranopt, as on a RAN)."""
    emulator = world.emulator
    assert looping > 0
    emulator.admin("/fault", {"cell": FAILED_CELL})
    _advance(world)  # the cell's first silent interval: detected, compensation sent
    alerts, items = _alerts_and_runs(world)
    outage = [a for a in alerts if a["kind"] == "cell_outage" and FAILED_CELL in a["message"]]
    assert outage, alerts
    # the emulator's own VES fault event reached the listener before the cell fell silent:
    # stored as the cell's raised alarm, and the loop's evidence (no O1 read needed)
    assert "silent, VES fault raised" in outage[0]["message"], outage
    alarm = _alarm(alerts, FAILED_CELL, cleared=False)
    assert alarm["severity"] == "critical", alarm
    assert "cellOutOfService (CRITICAL): cell out of service" in alarm["message"], alarm
    comps = [r for r in items if r["objective"] == "compensation"]
    assert len(comps) == 1, [(r["objective"], r["status"]) for r in items]
    comp = comps[0]
    assert comp["status"] == "applied", comp
    assert comp["confidence"] >= 0.9, comp
    with world.store.transaction() as session:
        plan = runs_store.get_run(session, tenant_id=world.tenant_id, run_id=comp["id"]).plan
    assert plan is not None
    held = plan["compensation"]
    assert held["failed_cell"] == FAILED_CELL
    assert held["recovered_ratio"] >= held["unaided_ratio"], held
    # what it holds depends on the model's demand that night: often nothing helps (the
    # neighbours serve the orphans, or those lost are beyond every other cell's reach)
    acts = bool(held["woken"] or held["cio_db"])
    assert acts == (held["recovered_ratio"] > held["unaided_ratio"]), held
    names = [c.name for c in sorted_cells(world)]
    dn_of = {c.name: parse_dn(c.dn)[1].local_dn for c in world.topology.cells}
    # the emulator's O1 datastore shows the compensation: woken cells out of energy saving,
    # the CIO that every neighbour applies toward each raised cell
    states = emulator_states(world)
    for c in held["woken"]:
        assert states[dn_of[names[c]]] == "toBeNotEnergySaving", names[c]
    offsets = incoming_cio(world)
    for c, value in held["cio_db"].items():
        assert set(offsets[dn_of[names[int(c)]]]) == {round(value)}, (names[int(c)], offsets)
    # the network runs the interval after the one it ran at detection with the compensation:
    # the failed cell down, the woken cells on
    _advance(world)
    _advance(world)
    last = _truth(emulator.run_dir)[-1]
    emulated = [c.name for c in world.topology.cells]  # the emulator's cell order
    assert [emulated[i] for i in last["failed"]] == [FAILED_CELL]  # type: ignore[attr-defined]
    asleep = {emulated[i] for i in last["asleep"]}  # type: ignore[attr-defined]
    assert not {names[c] for c in held["woken"]} & asleep
    # repaired (outside ranopt): the cell reports again, the compensation's CIO is reverted
    emulator.admin("/fault", {"cell": FAILED_CELL, "clear": True})
    _advance(world)
    offsets = incoming_cio(world)  # no offset ranopt set is left anywhere
    assert all(set(v) <= {0, None} for v in offsets.values()), offsets
    with world.store.transaction() as session:
        faults = loops.faults(session, tenant_id=world.tenant_id, network_id=world.network_id)
    assert [(f.cell_name, f.status) for f in faults] == [(FAILED_CELL, "cleared")]
    assert faults[0].compensation_run_id == comp["id"]
    assert faults[0].requested_by == "ranopt:loop (VES fault)"
    alerts, _ = _alerts_and_runs(world)
    assert any("reports again" in a["message"] and FAILED_CELL in a["message"] for a in alerts)
    # the emulator's NORMAL event on repair cleared the alarm
    assert _alarm(alerts, FAILED_CELL, cleared=True)["id"] == alarm["id"]


ALARMED_CELL = "S001-1-cov"  # keeps reporting: only its VES fault says it is out


def _fault_event(
    world: World, cell: str, t_s: int, severity: str = "CRITICAL", **fields: object
) -> dict[str, Any]:
    """A VES 7 fault event as a RAN's VES agent sends it, the cell named by its DN."""
    dn = next(c.dn for c in world.topology.cells if c.name == cell)
    us = t_s * 1_000_000
    return {"event": {
        "commonEventHeader": {"domain": "fault", "eventName": "Fault_NRCellDU_VSWR",
                              "eventId": f"fault-{cell}-{t_s}-{severity}", "sourceName": dn,
                              "startEpochMicrosec": us, "lastEpochMicrosec": us,
                              "version": "4.1", "vesEventListenerVersion": "7.2.1"},
        "faultFields": {"faultFieldsVersion": "4.0", "alarmCondition": "vswrHigh",
                        "eventSeverity": severity, "specificProblem": "antenna VSWR above 3.0",
                        "eventSourceType": "NRCellDU", "vfStatus": "Active",
                        "alarmInterfaceA": dn, **fields},
    }}  # fmt: skip


def test_ves_fault_from_the_listener_compensates_a_cell_that_still_reports(
    world: World, looping: int
) -> None:
    """Fault events posted over HTTP to the server's VES listener, as a RAN would."""
    assert looping > 0
    url = f"/eventListener/v7?network_id={world.network_id}"
    with world.store.transaction() as session:
        newest = session.scalar(select(func.max(KpiSample.interval_start_s))
                                .where(KpiSample.network_id == world.network_id))  # fmt: skip
    assert newest is not None
    t_s = int(newest) + 900  # in the interval the emulator runs now
    with world.client() as client:
        # malformed: a 422 naming the field, and nothing stored (one transaction per batch)
        bad = client.post(url, json=_fault_event(world, ALARMED_CELL, t_s, severity="FATAL"))
        assert bad.status_code == 422, bad.text
        assert [p["field"] for p in bad.json()["problems"]] == ["eventSeverity"], bad.json()
        batch = {"eventList": [
            _fault_event(world, ALARMED_CELL, t_s)["event"],
            _fault_event(world, ALARMED_CELL, t_s, alarmInterfaceA="ManagedElement=nowhere,"
                         "GNBDUFunction=1,NRCellDU=9")["event"],
        ]}  # fmt: skip
        unknown = client.post(f"/eventListener/v7/eventBatch?network_id={world.network_id}",
                              json=batch)  # fmt: skip
        assert unknown.status_code == 422, unknown.text
        problems = unknown.json()["problems"]
        assert [(p["record"], p["field"]) for p in problems] == [
            ("eventList[1]", "faultFields.alarmInterfaceA")], problems  # fmt: skip
        no_text = client.post(url, json=_fault_event(world, ALARMED_CELL, t_s,
                                                     specificProblem=""))  # fmt: skip
        assert no_text.status_code == 422
        assert no_text.json()["problems"][0]["field"] == "specificProblem"
        alerts, _ = _alerts_and_runs(world)
        assert not _alarms(alerts, ALARMED_CELL)
        # raised: stored as the cell's alarm, naming the cell and the specific problem
        raised = client.post(url, json=_fault_event(world, ALARMED_CELL, t_s))
        assert raised.status_code == 202, raised.text
        assert raised.json()["num_faults"] == raised.json()["faults_raised"] == 1
        again = client.post(url, json=_fault_event(world, ALARMED_CELL, t_s))  # repeated
        assert again.status_code == 202
    alerts, _ = _alerts_and_runs(world)
    alarm = _alarm(alerts, ALARMED_CELL, cleared=False)
    assert "vswrHigh (CRITICAL): antenna VSWR above 3.0" in alarm["message"], alarm
    assert alarm["since_s"] == t_s
    assert len(_alarms(alerts, ALARMED_CELL)) == 1  # a repeated event refreshes it
    # the loop's next step takes the alarm as outage evidence while the cell still reports
    _advance(world)
    alerts, _ = _alerts_and_runs(world)
    outage = [a for a in alerts if a["kind"] == "cell_outage" and ALARMED_CELL in a["message"]]
    assert outage, alerts
    assert "still reporting" in outage[0]["message"], outage
    with world.store.transaction() as session:
        faults = loops.faults(session, tenant_id=world.tenant_id, network_id=world.network_id,
                              open_only=True)  # fmt: skip
    assert [(f.cell_name, f.requested_by) for f in faults] == [
        (ALARMED_CELL, "ranopt:loop (VES fault)")]  # fmt: skip
    # NORMAL clears the alarm; the cell reports, so the outage ends at the next step
    with world.client() as client:
        normal = client.post(url, json=_fault_event(world, ALARMED_CELL, t_s + 900, "NORMAL"))
    assert normal.status_code == 202, normal.text
    assert normal.json()["faults_cleared"] == 1
    alerts, _ = _alerts_and_runs(world)
    assert _alarm(alerts, ALARMED_CELL, cleared=True)["cleared_s"] == t_s + 900
    _advance(world)
    with world.store.transaction() as session:
        faults = loops.faults(session, tenant_id=world.tenant_id, network_id=world.network_id)
    assert (ALARMED_CELL, "cleared") in [(f.cell_name, f.status) for f in faults]


def _alarms(alerts: list[dict[str, Any]], cell: str) -> list[dict[str, Any]]:
    """The ``ves_fault`` alarms of ``cell``, newest first."""
    return [a for a in alerts if a["kind"] == "ves_fault" and a["message"].startswith(cell)]


def _alarm(alerts: list[dict[str, Any]], cell: str, *, cleared: bool) -> dict[str, Any]:
    """The newest ``ves_fault`` alarm of ``cell``, raised (open) or cleared (resolved)."""
    found = _alarms(alerts, cell)
    assert found, alerts
    alarm = found[0]
    assert (alarm["cleared_s"] is not None) == cleared, alarm
    assert alarm["status"] == ("resolved" if cleared else "open"), alarm
    return alarm


def _alerts_and_runs(world: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The network's alerts and its newest optimization runs, from the API."""
    with world.client() as client:
        alerts = client.get(f"/api/v2/networks/{world.network_id}/alerts").json()
        items = client.get("/api/v2/optimizations",
                           params={"network_id": world.network_id, "limit": 50}).json()  # fmt: skip
    return (alerts["items"] if isinstance(alerts, dict) else alerts,
            items["items"] if isinstance(items, dict) else items)  # fmt: skip


def sorted_cells(world: World) -> list[Cell]:
    """The network's cells in id order: the cell index of plans and loop rows."""
    with world.store.transaction() as session:
        return list(session.scalars(select(Cell).where(Cell.network_id == world.network_id)
                                    .order_by(Cell.id)))  # fmt: skip


def incoming_cio(world: World) -> dict[str, list[int | None]]:
    """For each cell (NRCellDU local DN), the CIO of every relation pointing at it (get-config)."""
    cu_to_du: dict[str, str] = {}
    relations: list[tuple[str, int | None]] = []
    for endpoint in {id(e): e for e in world.emulator.endpoints().values()}.values():
        with O1Session(endpoint) as session:
            for element in session.read_elements(state=False):
                for cell in element.cells:
                    if cell.cu_path is not None:
                        cu_to_du[cell.cu_path.local_dn] = cell.du_path.local_dn
                    relations += [(parse_dn(r.adjacent_dn)[1].local_dn, r.cio_db)
                                  for r in cell.relations]  # fmt: skip
    out: dict[str, list[int | None]] = {}
    for adjacent, cio in relations:
        out.setdefault(cu_to_du.get(adjacent, adjacent), []).append(cio)
    return out


def emulator_powers(world: World) -> dict[str, float]:
    """Each cell's configured power (W, its NRSectorCarrier) from the running configuration."""
    powers: dict[str, float] = {}
    for endpoint in {id(e): e for e in world.emulator.endpoints().values()}.values():
        with O1Session(endpoint) as session:
            for element in session.read_elements(state=False):
                for cell in element.cells:
                    if cell.max_tx_power_w is not None:
                        powers[cell.du_path.local_dn] = cell.max_tx_power_w
    return powers


def emulator_states(world: World) -> dict[str, str | None]:
    """Each cell's energySavingControl as the emulator's O1 datastore shows it now."""
    states: dict[str, str | None] = {}
    for endpoint in {id(e): e for e in world.emulator.endpoints().values()}.values():
        with O1Session(endpoint) as session:
            for element in session.read_cell_states():
                for cell in element.cells:
                    states[cell.du_path.local_dn] = cell.energy_saving_control
    return states


APPROVED_CELL, REJECTED_CELL = "S004-3-cov", "S005-1-cov"
AWAITING = "awaiting_approval"


def _relations(
    world: World, only: set[str] | None = None
) -> dict[str, tuple[str, ObjectPath, int]]:
    """Every NRCellRelation: local DN -> (element, path, its CIO read with get-config).

    ``only``: the relations (local DNs) wanted; only the elements holding them are read.
    """
    endpoints = world.emulator.endpoints()
    wanted = None if only is None else {dn.split(",")[0].split("=")[1] for dn in only}
    out: dict[str, tuple[str, ObjectPath, int]] = {}
    for endpoint in {id(e): e for e in endpoints.values()}.values():
        elements = [e for e, at in endpoints.items() if at is endpoint
                    and (wanted is None or e in wanted)]  # fmt: skip
        if not elements:
            continue
        with O1Session(endpoint) as session:
            for name in elements:
                for element in session.read_elements(name, state=False):
                    for cell in element.cells:
                        for rel in cell.relations if cell.cu_path is not None else ():
                            path = cell.cu_path.child("NRCellRelation", rel.id)  # type: ignore[union-attr]
                            if only is None or path.local_dn in only:
                                out[path.local_dn] = (element.id, path, rel.cio_db or 0)
    return out


def _set_own_offsets(world: World) -> dict[str, int]:
    """Configure the network's own CIO on every relation (1 or 2 dB), as its operator would."""
    own: dict[str, int] = {}
    edits: dict[str, list[Edit]] = {}
    for i, (dn, (element, path, _)) in enumerate(sorted(_relations(world).items())):
        own[dn] = 1 + i % 2
        edits.setdefault(element, []).append(Edit(path, CELL_INDIVIDUAL_OFFSET, str(own[dn])))
    endpoints = world.emulator.endpoints()
    for element, element_edits in edits.items():
        with O1Session(endpoints[element]) as session:
            assert session.transaction(element, element_edits).outcome == "applied"
    return own


def _fault(world: World, fault_id: int) -> loops.FaultOut:
    with world.store.transaction() as session:
        found = loops.faults(session, tenant_id=world.tenant_id, network_id=world.network_id)
    return next(f for f in found if f.id == fault_id)


def test_approved_compensation_restart_and_the_networks_own_offsets(
    world: World, looping: int
) -> None:
    """A person decides two compensations; the loop restarts after the cells came back."""
    assert looping > 0
    net = f"/api/v2/networks/{world.network_id}"
    own = _set_own_offsets(world)  # a non-zero baseline: ranopt must read it, not assume 0 dB
    _raise_and_restore(world, own, "S003-1-cov")
    with world.client() as client:
        assert client.put(f"{net}/loop", json={"auto_apply": False}).is_success
    for cell in (APPROVED_CELL, REJECTED_CELL):
        world.emulator.admin("/fault", {"cell": cell})
    _advance(world)  # detected: one compensation each, both waiting for a person
    _, items = _alerts_and_runs(world)
    comps = {r["plan"]["compensation"]["failed_cell"]: r for r in items
             if r["objective"] == "compensation" and r["status"] == AWAITING}  # fmt: skip
    assert set(comps) == {APPROVED_CELL, REJECTED_CELL}, [
        (r["objective"], r["status"]) for r in items]  # fmt: skip
    names = [c.name for c in sorted_cells(world)]
    targets = _incoming(world)
    for comp in comps.values():
        held = comp["plan"]["compensation"]
        # each raised cell's own offsets were read over O1 before anything was sent
        assert set(held["cio_baseline_db"]) == set(held["cio_db"]), held
        for c, baseline in held["cio_baseline_db"].items():
            assert baseline == {dn: own[dn] for dn in targets[names[int(c)]]}, (c, baseline)
    assert {dn: v for dn, (_, _, v) in _relations(world).items()} == own  # nothing sent yet
    approved, rejected = comps[APPROVED_CELL], comps[REJECTED_CELL]
    faults = {c["id"]: c["plan"]["compensation"]["fault_id"] for c in comps.values()}
    clock = world.next_interval()
    with world.client() as client:
        done = client.post(f"/api/v2/optimizations/{approved['id']}/apply")
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "applied"
        no = client.post(f"/api/v2/optimizations/{rejected['id']}/reject")
        assert no.status_code == 200, no.text
    # the loop takes the approval up at its next step, without waiting for counters
    wait_for(lambda: _fault(world, faults[approved["id"]]).status == "compensated", 30,
             "the approved compensation")  # fmt: skip
    fault = _fault(world, faults[approved["id"]])
    assert fault.compensation_run_id == approved["id"]
    assert fault.compensated_interval == clock + 1  # the state sent next, no interval later
    assert world.next_interval() == clock
    alerts, _ = _alerts_and_runs(world)
    assert any(f"compensation (run {approved['id']}) approved by" in a["message"]
               for a in alerts), alerts  # fmt: skip
    assert _fault(world, faults[rejected["id"]]).status == "active"  # never applied
    held = approved["plan"]["compensation"]
    wait_for(lambda: _raised(world, own) == _expected(held, names, targets, own), 30,
             "the approved compensation's offsets in the running configuration")  # fmt: skip
    states = emulator_states(world)
    dn_of = {c.name: parse_dn(c.dn)[1].local_dn for c in world.topology.cells}
    for c in held["woken"]:
        assert states[dn_of[names[c]]] == "toBeNotEnergySaving", names[c]
    with world.store.transaction() as session:
        sent = southbound_store.list_transactions(
            session, tenant_id=world.tenant_id, network_id=world.network_id,
            run_id=approved["id"],
        )  # fmt: skip
        audited = audit.list_entries(session, tenant_id=world.tenant_id,
                                     action="optimization.apply")  # fmt: skip
    assert all(t.outcome == "applied" for t in sent)
    if held["cio_db"]:  # recorded against the compensation's run (woken cells may be awake)
        assert sent, held
    entry = next(e for e in audited if e.target == f"run:{approved['id']}")
    assert entry.detail["o1"] == {"sent_by": "ranopt:loop"}, entry.detail
    _restart_after_repair(world, own, list(faults.values()))
    assert _fault(world, faults[rejected["id"]]).compensated_at is None


def _raise_and_restore(world: World, own: dict[str, int], cell: str) -> None:
    """The act stage's CIO on its own: read the cell's own offsets, raise 3 dB, restore them."""
    keyring = Settings(database_url=world.url).keyring()
    common = {"tenant_id": world.tenant_id, "network_id": world.network_id, "keyring": keyring}
    baseline = read_relation_offsets(world.store, cells=[cell], **common)[cell]
    assert baseline == {dn: own[dn] for dn in _incoming(world)[cell]}
    assert len(set(baseline.values())) == 2  # relations of their own values, 1 and 2 dB
    for offset in (3.0, 0.0):
        assert stages.act(world.store, actions=stages.cio_actions(cell, offset, baseline),
                          run_id=None, now_s=0, **common)  # fmt: skip
        now = {dn: v for dn, (_, _, v) in _relations(world, set(baseline)).items()}
        assert now == {dn: own[dn] + int(offset) for dn in baseline}, (offset, now)


def _restart_after_repair(world: World, own: dict[str, int], fault_ids: list[int]) -> None:
    """Stop the loop, repair both cells in the RAN, start the loop: it reconciles the faults."""
    net = f"/api/v2/networks/{world.network_id}"
    with world.client() as client:
        assert client.put(f"{net}/loop", json={"enabled": False}).is_success
    # the runner gives the lease up at its next tick, once any step under way has ended
    wait_for(lambda: _lease_released(world), 30, "the loop's lease given up")
    stopped_at = world.next_interval()
    for cell in (APPROVED_CELL, REJECTED_CELL):
        world.emulator.admin("/fault", {"cell": cell, "clear": True})
    newest = _newest_s(world)
    world.emulator.admin("/advance", {"intervals": 1})
    wait_for(lambda: _newest_s(world) > newest, 60, "the counters of the cells' return")
    assert world.next_interval() == stopped_at  # nothing accounted while it was down
    with world.client() as client:
        assert client.put(f"{net}/loop", json={"enabled": True, "auto_apply": True}).is_success
    wait_for(lambda: all(_fault(world, f).status == "cleared" for f in fault_ids), 60,
             "the faults reconciled at start")  # fmt: skip
    # the offsets go back to the network's own values, not to 0 dB
    wait_for(lambda: {dn: v for dn, (_, _, v) in _relations(world).items()} == own, 30,
             "the network's own offsets restored")  # fmt: skip
    alerts, _ = _alerts_and_runs(world)
    back = [a for a in alerts if "back in service when the loop started" in a["message"]]
    assert {a["message"].split(":")[0] for a in back} == {APPROVED_CELL, REJECTED_CELL}, back
    with world.client() as client:  # the module's last test: the loop stops before the RAN
        assert client.put(f"{net}/loop", json={"enabled": False}).is_success
    wait_for(lambda: _lease_released(world), 60, "the loop's lease given up")


def _incoming(world: World) -> dict[str, list[str]]:
    """Each cell's incoming relations (local DNs), as discovery stored them."""
    with world.store.transaction() as session:
        targets = cell_targets(session, tenant_id=world.tenant_id, network_id=world.network_id)
    return {name: [r.local_dn for r in t.incoming_relations] for name, t in targets.items()}


def _expected(
    held: dict[str, Any], names: list[str], targets: dict[str, list[str]], own: dict[str, int]
) -> dict[str, int]:
    """The relations a compensation raises: each its own offset plus the cell's."""
    raised = {dn: nearest_q_offset_db(own[dn] + v) for c, v in held["cio_db"].items()
              for dn in targets[names[int(c)]]}  # fmt: skip
    return {dn: v for dn, v in raised.items() if v != own[dn]}


def _lease_released(world: World) -> bool:
    with world.store.transaction() as session:
        held = leases.leases(session, prefix=loop_lease_name(world.network_id))
    return all(lease.expires_s == 0.0 for lease in held)


def _raised(world: World, own: dict[str, int]) -> dict[str, int]:
    """The relations whose offset differs from the network's own now."""
    return {dn: v for dn, (_, _, v) in _relations(world).items() if v != own[dn]}


def _newest_s(world: World) -> int:
    with world.store.transaction() as session:
        newest = session.scalar(select(func.max(KpiSample.interval_start_s))
                                .where(KpiSample.network_id == world.network_id))  # fmt: skip
    return int(newest or 0)
