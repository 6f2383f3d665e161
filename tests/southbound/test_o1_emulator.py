"""O1 transactions against a real ``ranopt emulate`` process over SSH on loopback."""

import json
from dataclasses import fields, replace
from typing import Any

import pytest
from pydantic import SecretStr

from emulator_world import RunningEmulator
from ranopt.southbound.actions import CellAction, CellTarget, apply_edits, edits_for
from ranopt.southbound.nrm import CELL_INDIVIDUAL_OFFSET, parse_dn
from ranopt.southbound.o1 import O1Session
from ranopt.southbound.o1_xml import Edit
from ranopt.store.schemas import TopologyIn
from ranopt.twin import build_twin, scenario_preset
from ranopt.twin.power import DEEP_SLEEP, LIGHT_SLEEP, WAKING, CellPowerArrays, cell_power_w


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


def _discovered_targets(emulator: RunningEmulator, element: str) -> dict[str, CellTarget]:
    """One element's cells as O1 shows them, with their sector carriers and full power."""
    with O1Session(emulator.endpoints()[element]) as session:
        [me] = session.read_elements(element)
    layers = {c.name: c.layer for c in emulator.topology.cells}
    return {
        cell.user_label or "": CellTarget(
            name=cell.user_label or "", du_path=cell.du_path, cu_path=cell.cu_path,
            carrier_path=cell.carrier_path,
            max_tx_power_mw=round((cell.max_tx_power_w or 0.0) * 1000.0),
            num_trx=64 if layers[cell.user_label or ""] == "capacity" else 2,
        )
        for cell in me.cells
    }  # fmt: skip


def _next_truth(emulator: RunningEmulator) -> dict[str, Any]:
    """Finish the interval in progress and run the next (the first under the new configuration)."""
    emulator.admin("/advance", {"intervals": 2})
    truth: dict[str, Any] = json.loads(
        (emulator.run_dir / "truth.jsonl").read_text().splitlines()[-1]
    )
    return truth


def test_deep_sleep_waking_and_muting_reach_the_emulated_network(
    emulator: RunningEmulator,
) -> None:
    """Light and deep sleep, the waking interval and MIMO muting, sent over O1, change the
    emulated cells' PEE energy from the next interval exactly as the twin's power model says."""
    element = "gNB-S004"
    targets = _discovered_targets(emulator, element)
    light, deep, muted = "S004-1-cap", "S004-2-cap", "S004-3-cap"
    assert targets[muted].max_tx_power_mw == 316_230  # TR 38.864 55 dBm, every chain on
    actions = [CellAction(light, "sleep", "light"), CellAction(deep, "sleep", "deep"),
               CellAction(muted, "mimo", 16.0)]  # fmt: skip
    edits = edits_for(actions, targets, "energy_saving")
    assert {o.outcome for o in apply_edits(edits, emulator.endpoints())} == {"applied"}
    with O1Session(emulator.endpoints()[element]) as session:
        [me] = session.read_elements(element)
    shown = {c.user_label: c for c in me.cells}
    assert shown[deep].administrative_state == "LOCKED"
    assert shown[light].administrative_state == "UNLOCKED"
    assert shown[muted].max_tx_power_w == pytest.approx(316.230 / 4, abs=1e-3)  # 16 of 64

    twin = build_twin(scenario_preset("default"))
    names = [c.name for c in emulator.topology.cells]
    index = {name: names.index(name) for name in (light, deep, muted)}

    def sleeping_kwh(cell: str, state: int) -> float:
        power = twin.arrays.power
        c = index[cell]
        one = CellPowerArrays(**{f.name: getattr(power, f.name)[c : c + 1]
                                 for f in fields(power)})  # fmt: skip
        return float(cell_power_w(one, 0.0, False, 1.0, state)[0]) * 0.25 / 1000.0

    truth = _next_truth(emulator)  # the ground truth carries 6 decimals of a kWh
    assert {index[light], index[deep]} <= set(truth["asleep"])
    energy = truth["energy_kwh"]
    assert energy[index[light]] == pytest.approx(sleeping_kwh(light, LIGHT_SLEEP), abs=1e-6)
    assert energy[index[deep]] == pytest.approx(sleeping_kwh(deep, DEEP_SLEEP), abs=1e-6)
    # a muted cell carries its traffic on 16 chains and draws less than with all 64
    assert index[muted] not in truth["asleep"]
    assert energy[index[muted]] < truth["always_on_energy_kwh"][index[muted]]

    # the interval before the deep-sleeping cell serves again: unlocked, still saving energy
    waking = edits_for([CellAction(deep, "sleep", "waking")], targets, "energy_saving")
    assert [len(e) for e in waking.values()] == [1]
    assert {o.outcome for o in apply_edits(waking, emulator.endpoints())} == {"applied"}
    truth = _next_truth(emulator)
    assert index[deep] in truth["asleep"]
    assert truth["energy_kwh"][index[deep]] == pytest.approx(sleeping_kwh(deep, WAKING), rel=1e-5)
    back = [CellAction(light, "wake"), CellAction(deep, "wake"), CellAction(muted, "mimo", 64.0)]
    restored = edits_for(back, targets, "energy_saving")
    assert {o.outcome for o in apply_edits(restored, emulator.endpoints())} == {"applied"}
    truth = _next_truth(emulator)
    assert not {index[light], index[deep]} & set(truth["asleep"])
    assert truth["energy_kwh"][index[muted]] == pytest.approx(
        truth["always_on_energy_kwh"][index[muted]], rel=1e-6
    )
