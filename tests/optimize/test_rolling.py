"""Rolling-horizon planning: pins, rules across the executed day, actions and window plans.

The pure helpers are checked on hand-written schedules, written one string per cell with
one character per interval ("1" on, "0" asleep). ``plan_window`` runs once on the shared
seven-site twin at night, with pins made by hand.
"""

import dataclasses

import numpy as np
import numpy.typing as npt
import pytest

from ranopt.errors import ValidationError
from ranopt.optimize.energy import EnergyConfig
from ranopt.optimize.evaluate import EnergyConstraints, evaluate_schedule
from ranopt.optimize.rolling import (
    WindowPins,
    apply_pins,
    count_switching_breaks,
    plan_window,
    sleep_cycles,
    trailing_sleep,
    window_actions,
    window_enforcer,
    window_pins,
)
from ranopt.optimize.switching import SwitchingRules
from ranopt.twin import Twin
from ranopt.twin.units import FloatArray

BoolArray = npt.NDArray[np.bool_]

RULES = SwitchingRules()  # minimum sleep 4 intervals, at most 4 cycles a day
IPD = 96


def sched(*columns: str) -> BoolArray:
    """Schedule ``[T, C]`` from one string per cell ("1" on, "0" asleep)."""
    assert len({len(c) for c in columns}) == 1
    return np.array([[ch == "1" for ch in col] for col in columns], dtype=bool).T


def cols(schedule: BoolArray) -> list[str]:
    """The schedule back as one string per cell."""
    return ["".join("1" if on else "0" for on in column) for column in schedule.T]


# -- trailing_sleep and sleep_cycles ------------------------------------------------------------


def test_trailing_sleep_counts_the_open_run_only() -> None:
    executed = sched("1100", "0000", "1111", "0101", "0110", "1000")
    assert trailing_sleep(executed).tolist() == [2, 4, 0, 0, 1, 3]


def test_trailing_sleep_of_an_empty_day_is_zero() -> None:
    assert trailing_sleep(np.ones((0, 3), dtype=bool)).tolist() == [0, 0, 0]


def test_sleep_cycles_counts_runs_including_one_open_at_the_start() -> None:
    executed = sched("11001", "00000", "11111", "01010", "10101", "00100")
    assert sleep_cycles(executed).tolist() == [1, 1, 0, 3, 2, 2]


def test_sleep_cycles_of_an_empty_day_is_zero() -> None:
    cycles = sleep_cycles(np.ones((0, 4), dtype=bool))
    assert cycles.tolist() == [0, 0, 0, 0]
    assert cycles.dtype == np.int64


# -- window_pins ----------------------------------------------------------------------------


EXECUTED = sched(
    "11111100",  # 0: asleep 2 intervals: 2 more to go
    "11110000",  # 1: asleep 4 intervals: may wake
    "11111111",  # 2: awake, no cycle used
    "01010101",  # 3: awake, 4 cycles used
    "11111100",  # 4: held (asleep 2, but held)
    "01010110",  # 5: 4 cycles used, asleep 1: 3 more to go
    "01010111",  # 6: awake, 3 cycles used
    "11111111",  # 7: held, awake
)
HELD = np.array([False, False, False, False, True, False, False, True])


def test_window_pins_force_a_cell_inside_its_minimum_sleep() -> None:
    pins = window_pins(EXECUTED, 4, RULES, HELD)
    assert pins.forced_asleep.shape == (4, 8)
    assert pins.forced_asleep[:, 0].tolist() == [True, True, False, False]
    assert pins.forced_asleep[:, 5].tolist() == [True, True, True, False]
    # a full minimum run, awake cells and held cells are not forced
    for cell in (1, 2, 3, 4, 6, 7):
        assert not pins.forced_asleep[:, cell].any(), cell


def test_window_pins_forcing_is_cut_at_the_horizon() -> None:
    pins = window_pins(EXECUTED, 2, RULES, HELD)
    assert pins.forced_asleep.shape == (2, 8)
    assert pins.forced_asleep[:, 5].tolist() == [True, True]


def test_window_pins_limit_sleep_starts_to_the_daily_cycles() -> None:
    pins = window_pins(EXECUTED, 4, RULES, HELD)
    # 3: four cycles used; 4, 7: held; 5: four cycles used; 6: three used, one left
    assert pins.may_start_sleep.tolist() == [True, True, True, False, False, False, True, False]


def test_window_pins_follow_the_rules_given() -> None:
    rules = SwitchingRules(min_sleep_intervals=3, max_cycles_per_day=3)
    pins = window_pins(EXECUTED, 4, rules, HELD)
    assert pins.forced_asleep[:, 0].tolist() == [True, False, False, False]
    assert pins.forced_asleep[:, 5].tolist() == [True, True, False, False]
    assert pins.may_start_sleep[6].item() is False


def test_window_pins_of_an_empty_day_force_nothing() -> None:
    pins = window_pins(np.ones((0, 3), dtype=bool), 3, RULES, np.array([False, True, False]))
    assert not pins.forced_asleep.any()
    assert pins.may_start_sleep.tolist() == [True, False, True]


def test_window_pins_reject_a_bad_horizon_or_shape() -> None:
    with pytest.raises(ValidationError, match="horizon"):
        window_pins(EXECUTED, 0, RULES, HELD)
    with pytest.raises(ValidationError, match="executed"):
        window_pins(EXECUTED[:, :5], 4, RULES, HELD)
    with pytest.raises(ValidationError, match="executed"):
        window_pins(EXECUTED[0], 4, RULES, HELD)


# -- apply_pins -----------------------------------------------------------------------------


def test_apply_pins_forces_and_blocks_on_a_plan_that_sleeps_everything() -> None:
    pins = window_pins(EXECUTED, 4, RULES, HELD)
    plan = np.zeros((4, 8), dtype=bool)
    pinned = apply_pins(plan, pins, ~EXECUTED[-1])
    assert cols(pinned[:, [0, 1, 2, 3, 5, 6, 7]]) == [
        "0000",  # forced then free to stay asleep
        "0000",
        "0000",  # may start
        "1111",  # cycles used up, awake now: blocked
        "0000",  # asleep now: continues its run
        "0000",
        "1111",  # held, awake now
    ]
    assert not plan.any()  # the input is not changed


def test_apply_pins_forces_asleep_on_a_plan_that_wakes_everything() -> None:
    pins = window_pins(EXECUTED, 4, RULES, HELD)
    plan = np.ones((4, 8), dtype=bool)
    pinned = apply_pins(plan, pins, ~EXECUTED[-1])
    assert np.array_equal(pinned, ~pins.forced_asleep)
    assert plan.all()


def test_apply_pins_takes_hand_made_pins() -> None:
    pins = WindowPins(
        forced_asleep=np.array([[True, False, False], [False, False, True]]),
        may_start_sleep=np.array([True, False, False]),
        held_on=np.array([False, False, False]),
    )
    plan = sched("11", "00", "11")
    asleep_now = np.array([False, False, True])
    # 0: forced at 0; 1: awake and may not start: blocked; 2: forced at 1
    assert cols(apply_pins(plan, pins, asleep_now)) == ["01", "11", "10"]


# -- window_enforcer ------------------------------------------------------------------------


def test_window_enforcer_keeps_a_run_that_continues_the_executed_one() -> None:
    executed = sched("11111100", "11111111", "11111000")
    enforce = window_enforcer(executed, RULES, IPD)
    # cell 0: 2 + 2 = 4 intervals; cell 1: a new run of 4; cell 2: 3 + 1 = 4
    window = sched("001111", "100001", "011111")
    assert cols(enforce(window)) == ["001111", "100001", "011111"]


def test_window_enforcer_drops_runs_shorter_than_the_minimum() -> None:
    executed = sched("11111111", "11111111", "11111110")
    enforce = window_enforcer(executed, RULES, IPD)
    # cell 0: a run of 3; cell 1: a run of 3 cut off at the window's end; cell 2: 1 + 2 = 3
    window = sched("100011", "111000", "001111")
    assert cols(enforce(window)) == ["111111", "111111", "111111"]


def test_window_enforcer_returns_only_the_window() -> None:
    executed = sched("0000111111", "1111111111")
    out = window_enforcer(executed, RULES, IPD)(sched("0000", "1111"))
    assert out.shape == (4, 2)
    assert cols(out) == ["0000", "1111"]


def test_window_enforcer_keeps_the_cycle_limit_with_the_executed_day() -> None:
    # four full cycles already run, awake now: a fifth run of the same length is dropped
    executed = sched("00001000010000100001")
    enforce = window_enforcer(executed, RULES, IPD)
    assert cols(enforce(sched("00001"))) == ["11111"]
    # with three cycles used the fourth is allowed
    three = sched("11111000010000100001")
    assert cols(window_enforcer(three, RULES, IPD)(sched("00001"))) == ["00001"]


def test_window_enforcer_never_sleeps_more_cells() -> None:
    rng = np.random.default_rng(7)
    executed = rng.random((20, 12)) < 0.6
    enforce = window_enforcer(executed, RULES, IPD)
    for _ in range(20):
        window = rng.random((8, 12)) < 0.5
        out = enforce(window)
        assert out.shape == window.shape
        assert out[window].all()  # an awake cell stays awake
        assert np.array_equal(enforce(out), out)  # a kept schedule is a fixed point


# -- window_actions -------------------------------------------------------------------------


def test_window_actions_report_changes_relative_to_the_previous_state() -> None:
    previous = np.array([True, False, True, False])
    window = sched("100", "001", "111", "000")
    actions = window_actions(previous, window, ("a", "b", "c", "d"), 15, 120)
    got = [(a.cell, a.cell_index, a.t_min, a.action) for a in actions]
    # cells b and d were asleep already: no sleep action at 120
    assert sorted(got, key=lambda x: (x[2], x[1])) == [
        ("a", 0, 135, "sleep"),
        ("b", 1, 150, "wake"),
    ]


def test_window_actions_wake_at_the_window_start() -> None:
    previous = np.array([False, True])
    window = sched("11", "01")
    actions = window_actions(previous, window, ("a", "b"), 15, 0)
    got = sorted((a.t_min, a.cell, a.action) for a in actions)
    assert got == [(0, "a", "wake"), (0, "b", "sleep"), (15, "b", "wake")]
    assert all(a.t_min >= 0 for a in actions)


def test_window_actions_of_an_unchanged_window_are_empty() -> None:
    previous = np.array([True, False])
    assert window_actions(previous, sched("11", "00"), ("a", "b"), 15, 60) == ()


# -- count_switching_breaks -----------------------------------------------------------------


def test_count_switching_breaks_of_an_empty_day_is_zero() -> None:
    assert count_switching_breaks(np.ones((0, 2), dtype=bool), np.array([True, False]), RULES) == 0


def test_count_switching_breaks_counts_an_early_wake() -> None:
    executed = sched("111100", "110000", "111100", "111111")
    # 0: woken after 2 (break); 1: woken after 4; 2: stays asleep; 3: awake
    assert count_switching_breaks(executed, np.array([True, True, False, True]), RULES) == 1
    assert count_switching_breaks(executed, np.array([False, True, False, True]), RULES) == 0


def test_count_switching_breaks_counts_a_start_over_the_cycle_limit() -> None:
    executed = sched("01010101", "01011111", "01010100", "01010101")
    # 0: a fifth start (break); 1: a third start; 2: already asleep; 3: stays awake
    state = np.array([False, False, False, True])
    assert count_switching_breaks(executed, state, RULES) == 1


def test_count_switching_breaks_adds_both_kinds() -> None:
    executed = sched("01010101", "11111100", "01010101", "11111111")
    state = np.array([False, True, False, False])
    assert count_switching_breaks(executed, state, RULES) == 3


# -- known holes: cells asleep at the window start ------------------------------------------


def test_apply_pins_keeps_a_held_cell_awake_that_is_asleep_now() -> None:
    # cell 4 is held (e.g. woken by a compensation in the interval just executed) but was
    # asleep in that interval: the plan may keep it asleep through the window
    pins = window_pins(EXECUTED, 4, RULES, HELD)
    pinned = apply_pins(np.zeros((4, 8), dtype=bool), pins, ~EXECUTED[-1])
    assert pinned[:, 4].all()


def test_window_pins_and_enforcer_block_a_fifth_cycle_of_a_sleeping_cell() -> None:
    # four runs of 4, the fourth still open: the cell may wake but not sleep again today
    executed = sched("0000100001000010000")
    pins = window_pins(executed, 7, RULES, np.zeros(1, dtype=bool))
    plan = sched("1100000")
    pinned = apply_pins(plan, pins, ~executed[-1])
    window = window_enforcer(executed, RULES, IPD)(pinned)
    assert sleep_cycles(np.vstack([executed, window])).tolist() == [4]


# -- plan_window on a small twin ------------------------------------------------------------

CAPACITY_CELLS = (3, 4, 5, 9, 10, 11)
WINDOW_START = 8  # 02:00: capacity cells can sleep
HORIZON = 4


@pytest.fixture(scope="module")
def window_setup(
    seven_site_twin: Twin, day_demand: FloatArray
) -> tuple[BoolArray, WindowPins, BoolArray, FloatArray]:
    """Executed 00:00-02:00 with a forced cell, a cell out of cycles and two held cells."""
    num_cells = seven_site_twin.num_cells
    layer = seven_site_twin.arrays.layer
    assert all(layer[c] == 1 for c in CAPACITY_CELLS)
    executed = np.ones((WINDOW_START, num_cells), dtype=bool)
    executed[6:, 3] = False  # asleep 2 intervals: forced 2 more
    executed[0:8:2, 9] = False  # 4 cycles used, awake now
    held = np.zeros(num_cells, dtype=bool)
    held[[4, 10]] = True
    pins = window_pins(executed, HORIZON, RULES, held)
    demand = np.array(day_demand[WINDOW_START : WINDOW_START + HORIZON])
    return executed, pins, held, demand


def test_plan_window_keeps_pins_and_the_qos(
    seven_site_twin: Twin,
    window_setup: tuple[BoolArray, WindowPins, BoolArray, FloatArray],
    limits: EnergyConstraints,
) -> None:
    executed, pins, held, demand = window_setup
    t0_min = WINDOW_START * seven_site_twin.scenario.interval_min
    plan = plan_window(
        seven_site_twin, demand, [demand * 1.2], "greedy", executed, pins,
        limits=limits, config=EnergyConfig(), rng=np.random.default_rng(3), t0_min=t0_min,
    )  # fmt: skip
    schedule = plan.active
    assert schedule.shape == (HORIZON, seven_site_twin.num_cells)
    # QoS holds on the planning demand (the window's own rule count is not meaningful)
    evaluation = evaluate_schedule(seven_site_twin, demand, schedule, limits, trx=plan.active_trx)
    kpis = dataclasses.replace(evaluation, rule_violations=0).kpis()
    assert kpis.constraint_violations == 0
    assert plan.expected is not None
    assert plan.expected.constraint_violations == 0
    # forced cell 3 stays asleep for the first 2 intervals (the night needs no repair)
    assert pins.forced_asleep[:, 3].tolist() == [True, True, False, False]
    assert not schedule[pins.forced_asleep].any()
    # held cells and the cell out of cycles stay awake; the plan does sleep others
    assert schedule[:, held].all()
    assert schedule[:, 9].all()
    assert not schedule[:, [5, 11]].all()
    # coverage cells are never put to sleep
    assert schedule[:, seven_site_twin.arrays.layer == 0].all()
    # the window keeps the rules with the executed day before it
    enforce = window_enforcer(executed, RULES, seven_site_twin.scenario.intervals_per_day)
    assert np.array_equal(enforce(schedule), schedule)
    # actions start at t0 and replay the schedule from the executed state
    assert plan.actions
    assert min(a.t_min for a in plan.actions) == t0_min
    state = executed[-1].copy()
    trx = seven_site_twin.arrays.num_trx.astype(np.int64)
    assert plan.active_trx is not None
    for t in range(HORIZON):
        for a in plan.actions:
            if a.t_min == t0_min + t * seven_site_twin.scenario.interval_min:
                if a.action == "mimo":
                    trx[a.cell_index] = int(a.value)  # type: ignore[arg-type]
                else:
                    state[a.cell_index] = a.action == "wake"
                    # a window cannot know a sleep will be long: light sleep only
                    assert a.action == "wake" or a.value == "light"
        assert np.array_equal(state, schedule[t]), t
        np.testing.assert_array_equal(trx[state], plan.active_trx[t, state])
    # held cells run all their chains
    assert (plan.active_trx[:, held] == seven_site_twin.arrays.num_trx[held]).all()
    assert not any(a.cell_index == 3 and a.action == "sleep" for a in plan.actions)
    assert plan.solve.detail["robust_scenarios"] == 1
    assert "cells_woken_by_scenarios" in plan.solve.detail
