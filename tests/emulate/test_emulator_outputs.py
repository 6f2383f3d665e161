"""What ``ranopt emulate`` emits, taken in by ranopt: PM files through ``ranopt ingest``, VES
events through the listener, and a failed cell (O1 state, silence in the counters, a fault).

The session's emulator (``ran_world``) posts its VES events to the ranopt server's listener
for the network ``emulated``; its clock moves only by ``ranopt emulate advance``.
"""

import json
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from emulator_world import TENANT, RanWorld, RunningEmulator
from ranopt.cli.main import app as cli
from ranopt.emulate import output
from ranopt.emulate.topology import build_topology
from ranopt.southbound.nrm import parse_dn
from ranopt.southbound.o1 import O1Session
from ranopt.store import audit, runs
from ranopt.store.engine import Store
from ranopt.store.tables import Cell, KpiSample, Network
from ranopt.twin import build_twin, scenario_preset
from spec_files import SPECS, require_specs

FAILED_CELL = "S003-2-cap"


def _emulate(emulator: RunningEmulator, *args: str) -> dict[str, Any]:
    """Run ``ranopt emulate ...`` against the running emulator; its JSON answer."""
    done = CliRunner().invoke(cli, ["emulate", *args, "--run-dir", str(emulator.run_dir)])
    assert done.exit_code == 0, done.output
    result: dict[str, Any] = json.loads(done.output)
    return result


def _advance(emulator: RunningEmulator) -> dict[str, Any]:
    """Run one interval; its ground-truth line (which ranopt itself never reads)."""
    status = _emulate(emulator, "advance", "--intervals", "1")
    lines = (emulator.run_dir / "truth.jsonl").read_text().splitlines()
    truth: dict[str, Any] = json.loads(lines[-1])
    assert truth["interval"] == status["next_interval"] - 1
    return truth


def _samples(store: Store, network: str, start_s: int) -> dict[str, KpiSample]:
    with store.transaction() as session:
        rows = session.execute(
            select(Cell.name, KpiSample)
            .join(KpiSample, KpiSample.cell_id == Cell.id)
            .join(Network, Network.id == KpiSample.network_id)
            .where(Network.name == network, KpiSample.interval_start_s == start_s)
        ).all()
        session.expunge_all()
    return {name: sample for name, sample in rows}


def _ves_entries(world: RanWorld) -> list[audit.AuditOut]:
    with world.server.store.transaction() as session:
        return audit.list_entries(session, tenant_id=world.server.tenant_id, action="ves.ingest",
                                  limit=1000)  # fmt: skip


@pytest.fixture(scope="module")
def interval(ran_world: RanWorld) -> dict[str, Any]:
    """One interval run by the emulator: its ground truth."""
    return _advance(ran_world.emulator)


def test_pm_files_are_ingested_by_ranopt_ingest(
    ran_world: RanWorld, interval: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = ran_world.emulator
    monkeypatch.setenv("RANOPT_DATABASE_URL", ran_world.server.db_url)
    runner = CliRunner()
    topology = str(emulator.run_dir / "topology.json")
    created = runner.invoke(cli, ["network", "create", "emulated-pm", "--tenant", TENANT,
                                  "--topology", topology])  # fmt: skip
    assert created.exit_code == 0, created.output
    files = sorted((emulator.run_dir / "pm").glob("A*.xml"))
    [pm_file] = [f for f in files if _pm_start(f) == interval["start_s"]]
    ingested = runner.invoke(cli, ["ingest", str(pm_file), "--network", "emulated-pm",
                                   "--tenant", TENANT])  # fmt: skip
    assert ingested.exit_code == 0, ingested.output
    assert "114 samples from 114 records" in ingested.output
    samples = _samples(ran_world.server.store, "emulated-pm", interval["start_s"])
    _check_against_truth(emulator, samples, interval)


def _pm_start(path: Path) -> int:
    from datetime import UTC, datetime

    return int(datetime.strptime(path.name[1:14], "%Y%m%d.%H%M").replace(tzinfo=UTC).timestamp())


def _check_against_truth(
    emulator: RunningEmulator, samples: dict[str, KpiSample], truth: dict[str, Any]
) -> None:
    """The counters ranopt stored are the emulator's, in ranopt's units.

    PM files carry 6 significant digits, the ground truth 6 decimals (half a unit: 5e-7).
    """
    names = [c.name for c in emulator.topology.cells]  # truth is in topology order
    failed = {names[i] for i in truth["failed"]}
    assert set(samples) == set(names) - failed
    for i, name in enumerate(names):
        if name in failed:
            continue
        sample = samples[name]
        assert sample.pee_energy_kwh == pytest.approx(truth["energy_kwh"][i], rel=1e-5, abs=1e-6)
        assert sample.dl_volume_mbit == pytest.approx(truth["served_mbit"][i], rel=1e-5,
                                                      abs=1e-6)  # fmt: skip
        assert sample.offered_dl_volume_mbit == pytest.approx(truth["offered_mbit"][i],
                                                              rel=1e-5, abs=1e-6)  # fmt: skip


def test_ves_events_are_accepted_by_the_listener(
    ran_world: RanWorld, interval: dict[str, Any]
) -> None:
    samples = _samples(ran_world.server.store, "emulated", interval["start_s"])
    _check_against_truth(ran_world.emulator, samples, interval)
    prefix = ran_world.server.api_key.split(".")[0]
    entries = [e for e in _ves_entries(ran_world) if e.detail["num_samples"] == 114]
    assert entries
    assert {e.actor for e in entries} == {f"apikey:{prefix}"}
    assert {e.outcome for e in entries} == {"success"}


def _cell_state(emulator: RunningEmulator, name: str) -> tuple[str | None, str | None]:
    cell = next(c for c in emulator.topology.cells if c.name == name)
    path = parse_dn(cell.dn)[1]
    element = path.element or ""
    with O1Session(emulator.endpoints()[element]) as session:
        [me] = session.read_cell_states(element)
    [o1] = [c for c in me.cells if c.du_path == path]
    return o1.operational_state, o1.cell_state


def test_a_failed_cell_is_disabled_goes_silent_and_raises_a_fault(
    ran_world: RanWorld, interval: dict[str, Any]
) -> None:
    emulator = ran_world.emulator
    before = len(_ves_entries(ran_world))
    answer = _emulate(emulator, "fault", "--cell", FAILED_CELL)
    try:
        assert answer["failed"] is True
        assert _cell_state(emulator, FAILED_CELL) == ("DISABLED", "INACTIVE")
        faults = _ves_entries(ran_world)
        # the fault event reached the listener and was accepted (a fault carries no counters)
        assert len(faults) == before + 1
        assert (faults[0].outcome, faults[0].detail["num_records"]) == ("success", 0)
        assert faults[0].detail["num_faults"] == 1
        alarm = _alarms(ran_world)[0]  # stored as the cell's raised alarm
        assert alarm.message.startswith(f"{FAILED_CELL}: VES fault cellOutOfService (CRITICAL)")
        assert alarm.cleared_s is None
        truth = _advance(emulator)
        index = [c.name for c in emulator.topology.cells].index(FAILED_CELL)
        assert index in truth["failed"]
        ves = _samples(ran_world.server.store, "emulated", truth["start_s"])
        assert len(ves) == 113
        assert FAILED_CELL not in ves
        _check_against_truth(emulator, ves, truth)
        pm = max((emulator.run_dir / "pm").glob("A*.xml"), key=_pm_start)
        assert _pm_start(pm) == truth["start_s"]
        cell_dn = parse_dn(emulator.topology.cells[index].dn)[1].local_dn
        assert f'measObjLdn="{cell_dn}"' not in pm.read_text()
        assert 'measObjLdn="ManagedElement=' in pm.read_text()
    finally:
        cleared = _emulate(emulator, "fault", "--cell", FAILED_CELL, "--clear")
    assert cleared["failed"] is False
    assert _cell_state(emulator, FAILED_CELL)[0] == "ENABLED"
    cleared_event = _ves_entries(ran_world)  # fault, the interval's counters, clearing
    assert len(cleared_event) == before + 3
    assert (cleared_event[0].outcome, cleared_event[0].detail["num_records"]) == ("success", 0)
    assert _alarms(ran_world)[0].id == alarm.id
    assert _alarms(ran_world)[0].cleared_s is not None  # the repair's NORMAL event cleared it


def _alarms(world: RanWorld) -> list[runs.AlertOut]:
    """The failed cell's VES fault alarms (``ves_fault`` alerts), newest first."""
    with world.server.store.transaction() as session:
        found = runs.list_alerts(session, tenant_id=world.server.tenant_id)
    return [a for a in found if a.kind == "ves_fault" and a.message.startswith(FAILED_CELL)]


def test_an_unknown_cell_cannot_be_failed(ran_world: RanWorld) -> None:
    run_dir = str(ran_world.emulator.run_dir)
    done = CliRunner().invoke(cli, ["emulate", "fault", "--run-dir", run_dir, "--cell",
                                    "S999-9-cap"])  # fmt: skip
    assert done.exit_code == 1
    assert "404" in done.output
    assert "S999-9-cap" in done.output


def test_the_emulator_s_ves_events_match_the_ves_schema() -> None:
    schema_file = SPECS / "ves" / "schema" / "CommonEventFormat_30.2.1_ONAP.json"
    require_specs(schema_file)
    validator = jsonschema.Draft4Validator(json.loads(schema_file.read_text()))
    topo = build_topology(build_twin(scenario_preset("default", seed=1, num_sites=1)), "ves")
    counters = {n: np.linspace(0.0, 5.0, len(topo.cells)) for n in output.COUNTER_NAMES}
    perf = output.ves_perf3gpp(start_s=1_800_000_000, interval_s=900, dn_prefix=topo.dn_prefix,
                               cells=topo.cells, counters=counters, reporting=range(6),
                               sequence=1)  # fmt: skip
    fault = output.ves_fault(cell=topo.cells[0], dn_prefix=topo.dn_prefix, t_s=1_800_000_000,
                             cleared=False, sequence=2)  # fmt: skip
    for event in (perf, fault):
        assert [e.message for e in validator.iter_errors(event)] == []
    fault["event"]["faultFields"]["eventSeverity"] = "SEVERE"  # the check can fail
    assert [e.message for e in validator.iter_errors(fault)]
