"""The act stage of the O1 loop: from the state a plan gives an interval to O1 actions and edits.

Pure functions (``CellsState.from_window``, ``state_actions``) and the NRM mapping they feed
(``ranopt.southbound.actions.edits_for``); the real NETCONF path is
``test_southbound_loop.py``'s.
"""

import numpy as np
import pytest

from ranopt.errors import ValidationError
from ranopt.service.plan_network import window_states
from ranopt.service.stages import CellsState, Compensation, state_actions
from ranopt.southbound.actions import CellAction, CellTarget, edits_for
from ranopt.southbound.nrm import ObjectPath

NAMES = ["a-cov", "a-cap", "b-cap"]
NUM_TRX = [4, 64, 64]


def _kinds(actions: list[CellAction]) -> set[tuple[str, str, object]]:
    return {(a.cell, a.action, a.value) for a in actions}


def test_window_states_round_trip_sleep_depth_and_muting() -> None:
    schedule = np.array([[True, False, True], [True, True, True]])
    trx = np.array([[4, 64, 32], [4, 16, 64]])
    depth = np.array([[0, 1, 0], [0, 0, 0]])  # a-cap deep in the first interval
    window = window_states(schedule, trx, np.array(NUM_TRX), depth)
    assert window == {
        "asleep": [[1], []],
        "sleep_depth": [["deep"], []],
        "muted": [[[2, 32]], [[1, 16]]],
    }
    first = CellsState.from_window(window, 0)
    assert first == CellsState(asleep={1: "deep"}, chains={2: 32})
    # a window stored before depths and muting were planned: light sleeps, no muting
    old = CellsState.from_window({"asleep": [[1, 2]]}, 0)
    assert old == CellsState(asleep={1: "light", 2: "light"})


def test_first_send_states_every_cell_and_its_chains() -> None:
    target = CellsState(asleep={1: "light"}, chains={2: 32})
    actions, committed = state_actions(NAMES, target, None, NUM_TRX)
    assert _kinds(actions) == {
        ("a-cov", "wake", None), ("a-cov", "mimo", 4),
        ("a-cap", "sleep", "light"), ("a-cap", "mimo", 64),  # a sleeper's power: all chains
        ("b-cap", "wake", None), ("b-cap", "mimo", 32),
    }  # fmt: skip
    assert committed == CellsState(asleep={1: "light"}, chains={2: 32})


def test_only_changes_are_sent_and_a_sleeper_keeps_its_power() -> None:
    sent = CellsState(asleep={1: "light"}, chains={2: 32})
    # b-cap goes to sleep muted (its power is left as it was), a-cap wakes muted to 16
    target = CellsState(asleep={2: "light"}, chains={1: 16})
    actions, committed = state_actions(NAMES, target, sent, NUM_TRX)
    assert _kinds(actions) == {
        ("a-cap", "wake", None), ("a-cap", "mimo", 16), ("b-cap", "sleep", "light"),
    }  # fmt: skip
    assert committed == CellsState(asleep={2: "light"}, chains={1: 16, 2: 32})
    # b-cap wakes with every chain: its power is restored in the same transaction
    actions, committed = state_actions(NAMES, CellsState(chains={1: 16}), committed, NUM_TRX)
    assert _kinds(actions) == {("b-cap", "wake", None), ("b-cap", "mimo", 64)}
    assert committed == CellsState(chains={1: 16})
    # nothing changes: nothing is sent
    assert state_actions(NAMES, committed, committed, NUM_TRX)[0] == []


def test_depth_changes_and_cells_o1_cannot_mute() -> None:
    sent = CellsState(asleep={1: "deep"})
    actions, _ = state_actions(NAMES, CellsState(asleep={1: "waking"}), sent, NUM_TRX)
    assert _kinds(actions) == {("a-cap", "sleep", "waking")}
    # 0 chains: O1 cannot mute the cell (no NRSectorCarrier known): no mimo, ever
    actions, committed = state_actions(NAMES, CellsState(chains={1: 16}), None, [4, 0, 64])
    assert all(a.cell != "a-cap" or a.action != "mimo" for a in actions)
    assert committed.chains == {}


def test_compensation_cio_is_set_then_reset_to_zero() -> None:
    sent = CellsState()
    target = CellsState(cio_db={0: 3.0})
    actions, committed = state_actions(NAMES, target, sent, NUM_TRX)
    assert _kinds(actions) == {("a-cov", "cio", 3.0)}
    actions, committed = state_actions(NAMES, CellsState(), committed, NUM_TRX)
    assert _kinds(actions) == {("a-cov", "cio", 0.0)}
    assert committed == CellsState()
    # an unknown network state does not reset offsets ranopt never set
    actions, _ = state_actions(NAMES, CellsState(), None, NUM_TRX)
    assert all(a.action != "cio" for a in actions)


def test_the_actions_map_to_the_nrm_edits_of_action_rules() -> None:
    du = ObjectPath((("ManagedElement", "g"), ("GNBDUFunction", "1"), ("NRCellDU", "2")))
    cu = ObjectPath((("ManagedElement", "g"), ("GNBCUCPFunction", "1"), ("NRCellCU", "2")))
    carrier = ObjectPath((("ManagedElement", "g"), ("GNBDUFunction", "1"),
                          ("NRSectorCarrier", "2")))  # fmt: skip
    target = CellTarget(name="a-cap", du_path=du, cu_path=cu, carrier_path=carrier,
                        max_tx_power_mw=316_230, num_trx=64)  # fmt: skip
    sent = CellsState(asleep={1: "light"})
    actions, _ = state_actions(NAMES, CellsState(chains={1: 16}), sent, NUM_TRX)
    edits = edits_for(actions, {"a-cap": target}, "energy_saving")["g"]
    assert {(e.attribute.key, e.value) for e in edits} == {
        ("NRSectorCarrier.configuredMaxTxPower", "79058"),  # 16 of 64 chains of 316.23 W
        ("CESManagementFunction.energySavingControl", "toBeNotEnergySaving"),
        ("NRCellDU.administrativeState", "UNLOCKED"),
    }


REL_A = "ManagedElement=g,GNBCUCPFunction=1,NRCellCU=1,NRCellRelation=7"
REL_B = "ManagedElement=h,GNBCUCPFunction=1,NRCellCU=4,NRCellRelation=2"


def test_cio_is_raised_on_the_networks_own_offsets_and_restored_to_them() -> None:
    own = {0: {REL_A: 2, REL_B: -3}}  # each relation pointing at a-cov, as read over O1
    actions, committed = state_actions(NAMES, CellsState(cio_db={0: 4.0}), CellsState(),
                                       NUM_TRX, own)  # fmt: skip
    # each relation its own value plus the offset, at the nearest QOffsetRange value
    assert {(a.relation, a.value) for a in actions} == {(REL_A, 6), (REL_B, 1)}
    assert all(a.cell == "a-cov" and a.action == "cio" for a in actions)
    actions, committed = state_actions(NAMES, CellsState(), committed, NUM_TRX, own)
    assert {(a.relation, a.value) for a in actions} == {(REL_A, 2), (REL_B, -3)}
    # after a restart (state unknown) a cell whose own offsets are held is restored anyway
    actions, _ = state_actions(NAMES, CellsState(), None, NUM_TRX, own)
    assert {(a.relation, a.value) for a in actions if a.action == "cio"} == {
        (REL_A, 2), (REL_B, -3)}  # fmt: skip
    # past the range: the nearest value the YANG type admits
    actions, _ = state_actions(NAMES, CellsState(cio_db={0: 23.0}), CellsState(), NUM_TRX, own)
    assert {(a.relation, a.value) for a in actions} == {(REL_A, 24), (REL_B, 20)}


def test_a_relation_cio_edits_that_relation_only() -> None:
    du = ObjectPath((("ManagedElement", "g"), ("GNBDUFunction", "1"), ("NRCellDU", "2")))
    rel_a = ObjectPath((("ManagedElement", "g"), ("GNBCUCPFunction", "1"), ("NRCellCU", "1"),
                        ("NRCellRelation", "7")))  # fmt: skip
    rel_c = ObjectPath((("ManagedElement", "g"), ("GNBCUCPFunction", "1"), ("NRCellCU", "3"),
                        ("NRCellRelation", "1")))  # fmt: skip
    target = CellTarget(name="a-cov", du_path=du, incoming_relations=(rel_a, rel_c))
    one = edits_for([CellAction("a-cov", "cio", 6, relation=REL_A)], {"a-cov": target},
                    "energy_saving")["g"]  # fmt: skip
    assert [(e.path, e.value) for e in one] == [(rel_a, "6")]
    every = edits_for([CellAction("a-cov", "cio", 6)], {"a-cov": target}, "energy_saving")["g"]
    assert {e.path for e in every} == {rel_a, rel_c}
    with pytest.raises(ValidationError, match="does not point at this cell"):
        edits_for([CellAction("a-cov", "cio", 6, relation=REL_B)], {"a-cov": target},
                  "energy_saving")  # fmt: skip


def test_a_compensation_keeps_its_baseline_in_its_plan_and_is_rebuilt_from_it() -> None:
    comp = Compensation(cell=2, woken=frozenset({1}), cio_db={0: 4.0, 1: 2.0}, confidence=0.8,
                        recovered_ratio=0.9, unaided_ratio=0.5,
                        plan={"compensation": {"woken": [1], "cio_db": {"0": 4.0, "1": 2.0},
                                               "recovered_ratio": 0.9, "unaided_ratio": 0.5,
                                               "fault_id": 5}})  # fmt: skip
    # a cell whose own offsets could not be read is not raised: they could not be restored
    kept = comp.with_baseline({0: {REL_A: 2}})
    assert kept.cio_db == {0: 4.0}
    assert kept.plan["compensation"]["cio_baseline_db"] == {"0": {REL_A: 2}}
    assert kept.plan["compensation"]["cio_db"] == {"0": 4.0}
    rebuilt = Compensation.from_plan(kept.plan, 2, 0.8)
    assert (rebuilt.woken, rebuilt.cio_db, rebuilt.cio_baseline) == (
        frozenset({1}), {0: 4.0}, {0: {REL_A: 2}})  # fmt: skip
    # a run stored before baselines were read: its offsets go back to 0 dB, cell-wide
    legacy = Compensation.from_plan(comp.plan, 2, 0.8)
    assert legacy.cio_baseline == {0: {}, 1: {}}
    actions, _ = state_actions(NAMES, CellsState(), None, NUM_TRX, legacy.cio_baseline)
    assert {(a.cell, a.value, a.relation) for a in actions if a.action == "cio"} == {
        ("a-cov", 0.0, None), ("a-cap", 0.0, None)}  # fmt: skip
