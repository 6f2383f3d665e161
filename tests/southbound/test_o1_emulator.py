"""O1 transactions against a real ``ranopt emulate`` process over SSH on loopback."""

from dataclasses import replace

import pytest
from pydantic import SecretStr

from emulator_world import RunningEmulator
from ranopt.southbound.actions import CellAction, CellTarget, apply_edits, edits_for
from ranopt.southbound.nrm import CELL_INDIVIDUAL_OFFSET, parse_dn
from ranopt.southbound.o1 import O1Session
from ranopt.southbound.o1_xml import Edit
from ranopt.store.schemas import TopologyIn


def _targets(emulator: RunningEmulator) -> dict[str, CellTarget]:
    topo = TopologyIn.model_validate_json((emulator.run_dir / "topology.json").read_text())
    out = {}
    for cell in topo.cells:
        out[cell.name] = CellTarget(name=cell.name, du_path=parse_dn(cell.dn)[1],
                                    cu_path=parse_dn(cell.cu_dn or "")[1])  # fmt: skip
    return out


def _states(emulator: RunningEmulator) -> dict[str, str | None]:
    out = {}
    for endpoint in {e.name: e for e in emulator.endpoints().values()}.values():
        with O1Session(endpoint) as session:
            for element in session.read_cell_states():
                for cell in element.cells:
                    out[cell.du_path.local_dn] = cell.energy_saving_control
    return out


def test_114_cell_sleep_plan_is_applied_on_every_element(emulator: RunningEmulator) -> None:
    targets = _targets(emulator)
    assert len(targets) == 114
    actions = [CellAction(name, "sleep") for name in targets]
    edits = edits_for(actions, targets, "energy_saving")
    assert len(edits) == 19
    outcomes = apply_edits(edits, emulator.endpoints())
    assert [o.outcome for o in outcomes] == ["applied"] * 19
    states = _states(emulator)
    assert set(states.values()) == {"toBeEnergySaving"}
    wake = apply_edits(edits_for([CellAction(n, "wake") for n in targets], targets,
                                 "energy_saving"), emulator.endpoints())  # fmt: skip
    assert {o.outcome for o in wake} == {"applied"}
    assert set(_states(emulator).values()) == {"toBeNotEnergySaving"}


def test_value_the_yang_forbids_is_refused_and_the_element_is_unchanged(
    emulator: RunningEmulator,
) -> None:
    targets = _targets(emulator)
    cell = targets["S001-1-cap"]
    relation = cell.cu_path.child("NRCellRelation", "1")  # type: ignore[union-attr]
    # the client's own check refuses 7 dB (QOffsetRange skips odd values above 5)
    with pytest.raises(ValueError, match=r"rsrpOffsetSsb: value '7' is not allowed"):
        Edit(relation, CELL_INDIVIDUAL_OFFSET, "7")
    # a client that did not know the type: the device refuses, nothing of the element changes
    lax = replace(CELL_INDIVIDUAL_OFFSET, allowed=(*CELL_INDIVIDUAL_OFFSET.allowed, "7"))
    sleep = edits_for([CellAction("S001-1-cap", "sleep")], targets, "energy_saving")["gNB-S001"]
    edits = [*sleep, Edit(relation, lax, "7")]
    [outcome] = apply_edits({"gNB-S001": edits}, emulator.endpoints())
    assert outcome.outcome == "rolled_back"
    assert "invalid-value" in (outcome.error or "")
    assert "gNB-S001" in (outcome.error or "")
    assert _states(emulator)[cell.du_path.local_dn] == "toBeNotEnergySaving"


def test_wrong_password_names_the_endpoint(emulator: RunningEmulator) -> None:
    endpoints = emulator.endpoints()
    bad = {k: replace(v, password=SecretStr("Xq-not-it")) for k, v in endpoints.items()}
    targets = _targets(emulator)
    edits = edits_for([CellAction("S002-1-cap", "sleep")], targets, "energy_saving")
    [outcome] = apply_edits(edits, bad)
    assert outcome.outcome == "unreachable"
    assert "authentication failed" in (outcome.error or "")
    assert endpoints["gNB-S002"].name in (outcome.error or "")
    assert "Xq-not-it" not in (outcome.error or "")


def test_unreachable_endpoint_is_recorded_not_raised(emulator: RunningEmulator) -> None:
    endpoints = emulator.endpoints()
    closed = {k: replace(v, port=1) for k, v in endpoints.items()}
    edits = edits_for([CellAction("S003-1-cap", "sleep")], _targets(emulator), "energy_saving")
    [outcome] = apply_edits(edits, closed)
    assert outcome.outcome == "unreachable"
    assert "127.0.0.1:1" in (outcome.error or "")


def test_killed_mid_plan_leaves_a_recorded_partial_state_then_reconnects(
    emulator: RunningEmulator,
) -> None:
    targets = _targets(emulator)
    edits = edits_for([CellAction(n, "sleep") for n in targets], targets, "energy_saving")
    first = {e: edits[e] for e in sorted(edits)[:5]}
    assert {o.outcome for o in apply_edits(first, emulator.endpoints())} == {"applied"}
    clock = emulator.admin("/advance", {"intervals": 1})["next_interval"]
    emulator.kill()  # the network goes away before the rest of the plan
    rest = {e: edits[e] for e in sorted(edits)[5:]}
    outcomes = apply_edits(rest, emulator.endpoints())
    assert {o.outcome for o in outcomes} == {"unreachable"}
    assert all(o.element in (o.error or "") or "127.0.0.1" in (o.error or "") for o in outcomes)
    emulator.start()  # restart: the committed configuration and the clock survived
    assert emulator.admin("/status")["next_interval"] == clock  # not back at --start
    states = _states(emulator)
    asleep = {dn.split(",")[0] for dn, v in states.items() if v == "toBeEnergySaving"}
    assert asleep == {f"ManagedElement={e}" for e in first}
    again = apply_edits(rest, emulator.endpoints())
    assert {o.outcome for o in again} == {"applied"}
    wake = edits_for([CellAction(n, "wake") for n in targets], targets, "energy_saving")
    assert {o.outcome for o in apply_edits(wake, emulator.endpoints())} == {"applied"}
