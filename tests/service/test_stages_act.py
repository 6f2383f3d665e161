"""The act stage of the O1 loop: from the state a plan gives an interval to O1 actions and edits.

Pure functions (``CellsState.from_window``, ``state_actions``) and the NRM mapping they feed
(``ranopt.southbound.actions.edits_for``); the real NETCONF path is
``test_southbound_loop.py``'s.
"""

import numpy as np

from ranopt.service.plan_network import window_states
from ranopt.service.stages import CellsState, state_actions
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
