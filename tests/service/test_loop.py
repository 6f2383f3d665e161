"""The closed loop on a real store and twin: a simulated day, faults, approval, restart, CLI."""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from ranopt.cli.main import app
from ranopt.errors import ValidationError
from ranopt.ingest.export import twin_topology
from ranopt.optimize.energy import EnergyConfig
from ranopt.service.loop import LoopConfig, NetworkLoop, StepReport
from ranopt.service.optimize import cached_twin
from ranopt.store import loops, runs
from ranopt.store import repository as repo
from ranopt.store.engine import Store, open_store
from ranopt.store.tables import CellFault, KpiSample
from ranopt.twin.model import Twin

SITES, UES = 7, 700
# on/sleep plans only: muting every awake cell in every window makes each interval a twin
# evaluation in every scenario (test_the_loop_applies_and_restores_muted_windows covers it)
FAST = LoopConfig(
    robust_scenarios=4, confidence_scenarios=16, compensation_scenarios=8,
    energy=EnergyConfig(mimo_muting=False),
)  # fmt: skip
MUTING = LoopConfig(robust_scenarios=2, confidence_scenarios=8, compensation_scenarios=8)


@dataclass
class Bench:
    store: Store
    tenant_id: int
    network_id: int
    twin: Twin

    def loop(self, config: LoopConfig = FAST) -> NetworkLoop:
        return NetworkLoop(
            self.store, tenant_id=self.tenant_id, network_id=self.network_id, twin=self.twin,
            seed=0, config=config, clock=time.time,
        )  # fmt: skip

    def fault(self, cell: int) -> int:
        with self.store.transaction() as session:
            return loops.request_fault(
                session, tenant_id=self.tenant_id, network_id=self.network_id, cell_index=cell,
                cell_name=self.twin.cell_names[cell], by="test", at=time.time(),
            ).id  # fmt: skip

    def faults(self) -> list[loops.FaultOut]:
        with self.store.transaction() as session:
            return loops.faults(session, tenant_id=self.tenant_id, network_id=self.network_id)

    def runs(self) -> list[runs.RunOut]:
        with self.store.transaction() as session:
            return runs.list_runs(
                session, tenant_id=self.tenant_id, network_id=self.network_id, limit=1000
            )


def make_bench(url: str, *, auto_apply: bool = True) -> Bench:
    twin = cached_twin("default", 0, SITES, UES)
    store = open_store(url)
    with store.transaction() as session:
        tenant_id = repo.ensure_tenant(session, name="loop", now_s=0)
        net = repo.create_network(
            session, tenant_id=tenant_id, topology=twin_topology(twin), now_s=0
        )
        runs.bind_twin(
            session, tenant_id=tenant_id, network_id=net.id, scenario="default", seed=0,
            num_sites=SITES, num_ues=UES,
        )  # fmt: skip
        loops.configure_loop(
            session, tenant_id=tenant_id, network_id=net.id, enabled=True, auto_apply=auto_apply,
            confidence_threshold=0.9, solver="greedy", horizon_intervals=4, now_s=0,
        )  # fmt: skip
    return Bench(store, tenant_id, net.id, twin)


@pytest.fixture
def bench(tmp_path: Path) -> Bench:
    made = make_bench(f"sqlite:///{tmp_path / 'loop.db'}")
    yield made
    made.store.dispose()


def test_a_simulated_day_saves_energy_without_violations(bench: Bench) -> None:
    loop = bench.loop()
    first = loop.step()
    assert first.phase == "history"
    ipd = bench.twin.scenario.intervals_per_day
    reports: list[StepReport] = [loop.step() for _ in range(ipd)]
    assert {r.phase for r in reports} == {"loop"}
    energy = sum(r.energy_kwh for r in reports)
    always_on = sum(r.always_on_energy_kwh for r in reports)
    assert energy < 0.95 * always_on  # sleeping capacity cells at night saves energy
    assert sum(r.violations for r in reports) == 0
    # safety wakes inside the minimum sleep time count as switching breaks: a minority (the
    # benchmark reports their number; 8 of 55 sleep runs on this twin and day)
    with bench.store.transaction() as session:
        rows = loops.intervals(
            session, tenant_id=bench.tenant_id, network_id=bench.network_id,
            first=14 * ipd, stop=15 * ipd,
        )  # fmt: skip
    asleep = np.array([[c in r.asleep for c in range(bench.twin.num_cells)] for r in rows])
    sleep_starts = int((asleep[1:] & ~asleep[:-1]).sum() + asleep[0].sum())
    assert sleep_starts > 0
    assert sum(r.switching_breaks for r in reports) <= 0.2 * sleep_starts
    applied = [r for r in bench.runs() if r.status == "applied"]
    assert applied, "the loop applied no plan"
    assert all(r.confidence is not None and r.confidence >= 0.9 for r in applied)
    assert {r.status for r in bench.runs()} <= {"applied", "awaiting_approval"}
    # every window is a full hour, also those that cross midnight into the next day
    windows = [r.plan["window"] for r in bench.runs() if r.plan is not None]
    assert {len(w["asleep"]) for w in windows} == {4}
    assert max(w["first_interval"] for w in windows) == 15 * ipd
    # no false outage: traffic the plan moves (a coverage cell emptied by a waking capacity
    # cell) is not a failed cell
    with bench.store.transaction() as session:
        alerts = runs.list_alerts(session, tenant_id=bench.tenant_id)
    assert [a.message for a in alerts if a.kind == "cell_outage"] == []
    # the counters of every reporting cell and interval are in the store
    with bench.store.transaction() as session:
        samples = session.scalar(select(func.count()).select_from(KpiSample))
        settings = loops.loop_settings(
            session, tenant_id=bench.tenant_id, network_id=bench.network_id
        )
    assert samples == ipd * bench.twin.num_cells
    assert settings.next_interval == 15 * ipd
    assert settings.live is not None
    assert len(settings.live["cells"]) == bench.twin.num_cells


def _busiest_active(loop: NetworkLoop) -> int:
    live = loop.settings().live
    assert live is not None
    cells = live["cells"]
    active = [i for i, c in enumerate(cells) if c["state"] == "active"]
    return max(active, key=lambda i: cells[i]["prb_load"])


def test_a_fault_is_detected_and_compensated_on_its_first_telemetry(bench: Bench) -> None:
    loop = bench.loop()
    for _ in range(1 + 36):  # history, then to 09:00 (every capacity cell awake and busy)
        loop.step()
    cell = _busiest_active(loop)
    fault_id = bench.fault(cell)
    report = loop.step()
    assert report.compensations == (fault_id,)
    (fault,) = bench.faults()
    assert fault.status == "compensated"
    assert fault.compensated_interval == fault.fault_interval + 1 == report.interval + 1
    assert fault.first_telemetry_at is not None
    assert fault.detected_at is not None
    assert fault.compensated_at is not None
    assert fault.requested_at <= fault.first_telemetry_at <= fault.detected_at
    assert fault.detected_at <= fault.compensated_at
    assert fault.lost_mbit is not None
    # the dimensioned network's other n78 cells can take all of it: nothing may be lost
    assert fault.lost_mbit >= 0
    assert fault.recovered_ratio is not None
    assert fault.recovered_ratio > 0
    compensation = next(r for r in bench.runs() if r.objective == "compensation")
    assert compensation.status == "applied"
    assert compensation.plan is not None
    assert compensation.plan["compensation"]["failed_cell"] == bench.twin.cell_names[cell]
    with bench.store.transaction() as session:
        alerts = runs.list_alerts(session, tenant_id=bench.tenant_id)
    assert any(a.kind == "cell_outage" and bench.twin.cell_names[cell] in a.message for a in alerts)
    # a restarted loop holds the compensation's wakes and CIO again while the fault is open
    loop = bench.loop()
    assert loop.settings().next_interval == report.interval + 1
    # the failed cell stops reporting; the twin shows it failed
    after = loop.step()
    assert fault_id in loop._compensations
    assert after.violations == 0  # the first compensated interval keeps every QoS limit
    live = loop.settings().live
    assert live is not None
    assert live["cells"][cell]["state"] == "failed"
    assert after.compensations == ()  # already known: not compensated twice
    # repaired: back in service at the next interval
    with bench.store.transaction() as session:
        loops.update_fault(
            session, tenant_id=bench.tenant_id, network_id=bench.network_id, fault_id=fault_id,
            status="cleared", cleared_at=time.time(),
        )  # fmt: skip
    loop.step()
    live = loop.settings().live
    assert live is not None
    assert live["cells"][cell]["state"] != "failed"


def test_without_auto_apply_plans_wait_for_a_network_admin(tmp_path: Path) -> None:
    bench = make_bench(f"sqlite:///{tmp_path / 'manual.db'}", auto_apply=False)
    loop = bench.loop()
    for _ in range(1 + 4):
        loop.step()
    pending = [r for r in bench.runs() if r.objective == "energy"]
    assert pending
    assert all(r.status == "awaiting_approval" for r in pending)
    live = loop.settings().live
    assert live is not None
    assert all(c["state"] == "active" for c in live["cells"])  # nothing applied: all on
    # a person approves the newest plan: the loop runs it from the next interval
    newest = next(r for r in pending if r.plan and any(r.plan["window"]["asleep"]))
    with bench.store.transaction() as session:
        runs.decide_run(
            session, tenant_id=bench.tenant_id, run_id=newest.id, decision="applied",
            by="user:1", now_s=0,
        )  # fmt: skip
    loop.step()
    live = loop.settings().live
    assert live is not None
    asleep = {c["name"] for c in live["cells"] if c["state"] == "asleep"}
    assert newest.plan is not None
    expected = {bench.twin.cell_names[c] for c in newest.plan["window"]["asleep"][0]}
    assert asleep == expected
    bench.store.dispose()


def test_a_restarted_loop_resumes_from_the_store(bench: Bench) -> None:
    loop = bench.loop()
    for _ in range(1 + 30):
        loop.step()
    before = loop.settings().next_interval
    in_force = loop._applied[before]  # the plan the actuator runs next
    assert not in_force.all()  # cells sleep at 07:30 on this twin
    again = bench.loop()  # a new process: nothing in memory
    report = again.step()
    assert report.interval == before
    # the restarted loop runs the applied plan, not every cell on (no early wakes)
    assert report.switching_breaks == 0
    live = again.settings().live
    assert live is not None
    asleep = {c["name"] for c in live["cells"] if c["state"] == "asleep"}
    assert asleep == {bench.twin.cell_names[c] for c in np.flatnonzero(~in_force)}
    assert again.settings().next_interval == before + 1
    history_rows = np.array(again._executed[report.interval // 96])
    assert history_rows.shape == (31, bench.twin.num_cells)


def test_the_loop_applies_and_restores_muted_windows(bench: Bench) -> None:
    """With muting on, the applied windows mute awake n78 cells; the actuator runs them with
    fewer chains, the store keeps the muting, and a restarted loop runs it again."""
    loop = bench.loop(MUTING)
    loop.step()  # history
    reports = [loop.step() for _ in range(3)]  # 00:00-00:45
    assert sum(r.violations for r in reports) == 0
    applied = [r for r in bench.runs() if r.status == "applied" and r.plan is not None]
    assert applied
    windows = [r.plan["window"] for r in applied if r.plan is not None]
    assert any(row for w in windows for row in w["muted"])
    for window in windows:
        for muted in window["muted"]:
            for cell, chains in muted:
                assert chains in (32, 16)
                assert bench.twin.arrays.layer[cell] == 1
    k = loop.settings().next_interval
    in_force = loop._state_in_force(k, frozenset())
    assert in_force.active_trx is not None
    assert (in_force.active_trx < bench.twin.arrays.num_trx).any()
    again = bench.loop(MUTING)  # a new process: the store gives the muting back
    with bench.store.transaction() as session:
        again._resume(session, k)
    restored = again._state_in_force(k, frozenset())
    assert restored.active_trx is not None
    np.testing.assert_array_equal(restored.active_trx, in_force.active_trx)
    np.testing.assert_array_equal(restored.active, in_force.active)
    report = reports[-1]
    assert report.energy_kwh < report.always_on_energy_kwh


def test_twin_fault_cli_requests_and_clears(
    bench: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANOPT_DATABASE_URL", f"sqlite:///{tmp_path / 'loop.db'}")
    cli = CliRunner()
    name = bench.twin.cell_names[3]
    result = cli.invoke(app, ["twin", "fault", "--cell", name, "--tenant", "loop"])
    assert result.exit_code == 0, result.output
    assert f"{name} fails at the loop's next interval" in result.output
    (fault,) = bench.faults()
    assert (fault.cell_index, fault.status, fault.requested_by) == (
        3,
        "requested",
        "cli:twin-fault",
    )
    again = cli.invoke(app, ["twin", "fault", "--cell", name, "--tenant", "loop"])
    assert again.exit_code == 1
    assert "already has an open fault" in again.output
    unknown = cli.invoke(app, ["twin", "fault", "--cell", "nope", "--tenant", "loop"])
    assert unknown.exit_code == 1
    assert "--cell: no cell 'nope'" in unknown.output
    cleared = cli.invoke(app, ["twin", "fault", "--cell", name, "--tenant", "loop", "--clear"])
    assert cleared.exit_code == 0, cleared.output
    assert bench.faults()[0].status == "cleared"


def test_a_waiting_compensation_is_applied_when_a_network_admin_approves(tmp_path: Path) -> None:
    bench = make_bench(f"sqlite:///{tmp_path / 'approve.db'}", auto_apply=False)
    loop = bench.loop()
    for _ in range(1 + 8):
        loop.step()
    waiting_energy = [r.id for r in bench.runs() if r.status == "awaiting_approval"]
    assert waiting_energy
    fault_id = bench.fault(_busiest_active(loop))
    loop.step()
    (fault,) = bench.faults()
    assert fault.status == "active"  # detected, compensation waiting
    # plans made before the failure can no longer be approved
    statuses = {r.id: r.status for r in bench.runs()}
    assert {statuses[i] for i in waiting_energy} == {"superseded"}
    with bench.store.transaction() as session, pytest.raises(ValidationError, match="superseded"):
        runs.decide_run(
            session, tenant_id=bench.tenant_id, run_id=waiting_energy[0], decision="applied",
            by="user:1", now_s=0,
        )  # fmt: skip
    assert fault.detected_at is not None
    waiting = next(r for r in bench.runs() if r.objective == "compensation")
    assert waiting.status == "awaiting_approval"
    with bench.store.transaction() as session:
        runs.decide_run(
            session, tenant_id=bench.tenant_id, run_id=waiting.id, decision="applied",
            by="user:1", now_s=0,
        )  # fmt: skip
    loop.step()
    (fault,) = bench.faults()
    assert fault.status == "compensated"
    assert fault.compensation_run_id == waiting.id
    assert fault_id in loop._compensations
    bench.store.dispose()


def test_a_repair_is_never_undone_by_a_late_loop_write(bench: Bench) -> None:
    fault_id = bench.fault(3)
    with bench.store.transaction() as session:
        cleared = loops.update_fault(
            session, tenant_id=bench.tenant_id, network_id=bench.network_id, fault_id=fault_id,
            status="cleared", cleared_at=1.0,
        )  # fmt: skip
        late = loops.update_fault(
            session, tenant_id=bench.tenant_id, network_id=bench.network_id, fault_id=fault_id,
            expected=("active",), status="compensated", compensated_at=2.0,
        )  # fmt: skip
    assert cleared is not None
    assert late is None
    assert bench.faults()[0].status == "cleared"
    # one open fault per cell, even past the check: the database refuses a second
    with bench.store.transaction() as session:
        loops.request_fault(
            session, tenant_id=bench.tenant_id, network_id=bench.network_id, cell_index=3,
            cell_name=bench.twin.cell_names[3], by="test", at=3.0,
        )  # fmt: skip
    with pytest.raises(IntegrityError), bench.store.transaction() as session:
        session.add(
            CellFault(
                tenant_id=bench.tenant_id,
                network_id=bench.network_id,
                cell_index=3,
                cell_name=bench.twin.cell_names[3],
                status="requested",
                requested_by="x",
                requested_at=4.0,
            )
        )
