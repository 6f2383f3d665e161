"""Switching rules: sleep runs, rule enforcement, violation counts and schedule-to-actions.

Each function is checked on hand-written schedules and, with hypothesis, against a plain
loop re-implementation on random boolean schedules.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ranopt.optimize.switching import (
    SwitchingRules,
    count_rule_violations,
    enforce_switching_rules,
    schedule_actions,
    sleep_runs,
)

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)
IPD = 8  # a short "day" so that random schedules span several days


def loop_runs(column: np.ndarray) -> list[tuple[int, int]]:
    """Sleep runs of one cell by walking the column (independent of ``sleep_runs``)."""
    runs: list[tuple[int, int]] = []
    start = None
    for t, on in enumerate(column):
        if not on and start is None:
            start = t
        elif on and start is not None:
            runs.append((start, t))
            start = None
    if start is not None:
        runs.append((start, len(column)))
    return runs


def loop_violations(active: np.ndarray, rules: SwitchingRules, ipd: int) -> int:
    """Rule violations of every cell, counted by a plain loop."""
    total = 0
    for cell in range(active.shape[1]):
        runs = loop_runs(active[:, cell])
        total += sum(1 for a, b in runs if b - a < rules.min_sleep_intervals)
        per_day: dict[int, int] = {}
        for a, _ in runs:
            per_day[a // ipd] = per_day.get(a // ipd, 0) + 1
        total += sum(max(0, n - rules.max_cycles_per_day) for n in per_day.values())
    return total


schedules = hnp.arrays(
    np.bool_,
    st.tuples(st.integers(1, 3 * IPD), st.integers(1, 4)),
    elements=st.booleans(),
)
rules_strategy = st.builds(
    SwitchingRules,
    min_sleep_intervals=st.integers(1, 5),
    max_cycles_per_day=st.integers(1, 3),
)


def col(text: str) -> np.ndarray:
    """A one-cell schedule from a string: ``1`` on, ``0`` asleep."""
    return np.array([c == "1" for c in text], dtype=bool)


# --- sleep_runs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "runs"),
    [
        ("1111", []),
        ("0000", [(0, 4)]),
        ("1001", [(1, 3)]),
        ("0110", [(0, 1), (3, 4)]),
        ("1010100", [(1, 2), (3, 4), (5, 7)]),
        ("", []),
    ],
)
def test_sleep_runs_examples(text: str, runs: list[tuple[int, int]]):
    assert sleep_runs(col(text)) == runs


@PROPERTY_SETTINGS
@given(column=hnp.arrays(np.bool_, st.integers(0, 40)))
def test_sleep_runs_match_loop(column: np.ndarray):
    runs = sleep_runs(column)
    assert runs == loop_runs(column)
    assert sum(b - a for a, b in runs) == int((~column).sum())


# --- enforce_switching_rules -------------------------------------------------------------------


def test_enforce_drops_short_runs():
    rules = SwitchingRules(min_sleep_intervals=3, max_cycles_per_day=4)
    active = col("1001000011").reshape(-1, 1)
    fixed = enforce_switching_rules(active, rules, intervals_per_day=10)
    # the 2-interval run is woken, the 4-interval run stays
    np.testing.assert_array_equal(fixed[:, 0], col("1111000011"))


def test_enforce_keeps_longest_runs_per_day():
    rules = SwitchingRules(min_sleep_intervals=1, max_cycles_per_day=2)
    # day 0 (intervals 0-9): runs of 1, 3, 2 -> keep 3 and 2; day 1: runs of 1, 1 -> keep both
    active = col("1011000100" + "1010111111").reshape(-1, 1)
    fixed = enforce_switching_rules(active, rules, intervals_per_day=10)
    np.testing.assert_array_equal(fixed[:, 0], col("1111000100" + "1010111111"))


def test_enforce_run_across_midnight_counts_for_its_start_day():
    rules = SwitchingRules(min_sleep_intervals=2, max_cycles_per_day=1)
    # day 0 has a run of 2 starting at 1 and a run of 4 starting at 6 (crossing into day 1);
    # day 1 has a run of 2 starting at 12
    active = col("10011100" + "00110011").reshape(-1, 1)
    fixed = enforce_switching_rules(active, rules, intervals_per_day=8)
    np.testing.assert_array_equal(fixed[:, 0], col("11111100" + "00110011"))
    assert count_rule_violations(fixed, rules, 8, np.array([True])) == 0


def test_enforce_does_not_modify_its_input():
    active = col("1011").reshape(-1, 1)
    before = active.copy()
    enforce_switching_rules(active, SwitchingRules(), intervals_per_day=96)
    np.testing.assert_array_equal(active, before)


@PROPERTY_SETTINGS
@given(active=schedules, rules=rules_strategy)
def test_enforce_only_wakes_and_keeps_the_rules(active: np.ndarray, rules: SwitchingRules):
    fixed = enforce_switching_rules(active, rules, IPD)
    assert fixed.shape == active.shape
    assert fixed.dtype == np.bool_
    # never sleeps a cell that was active: active_out >= active_in
    assert np.all(fixed | ~active)
    every_cell = np.ones(active.shape[1], dtype=bool)
    assert count_rule_violations(fixed, rules, IPD, every_cell) == 0
    # what survives are whole runs of the input, none shorter than the minimum
    for cell in range(active.shape[1]):
        kept = sleep_runs(fixed[:, cell])
        original = sleep_runs(active[:, cell])
        assert set(kept) <= set(original)
        assert all(b - a >= rules.min_sleep_intervals for a, b in kept)


@PROPERTY_SETTINGS
@given(active=schedules, rules=rules_strategy)
def test_enforce_keeps_the_most_sleep_per_day(active: np.ndarray, rules: SwitchingRules):
    """Per cell and day, the kept sleep is the sum of the longest allowed runs."""
    fixed = enforce_switching_rules(active, rules, IPD)
    for cell in range(active.shape[1]):
        long_runs = [
            (a, b) for a, b in loop_runs(active[:, cell]) if b - a >= rules.min_sleep_intervals
        ]
        kept_runs = loop_runs(fixed[:, cell])
        for day in range(-(-active.shape[0] // IPD)):
            lengths = sorted((b - a for a, b in long_runs if a // IPD == day), reverse=True)
            best = sum(lengths[: rules.max_cycles_per_day])
            kept = sum(b - a for a, b in kept_runs if a // IPD == day)
            assert kept == best


@PROPERTY_SETTINGS
@given(active=schedules, rules=rules_strategy)
def test_enforce_is_idempotent_and_a_fixed_point_of_valid_schedules(
    active: np.ndarray, rules: SwitchingRules
):
    fixed = enforce_switching_rules(active, rules, IPD)
    np.testing.assert_array_equal(enforce_switching_rules(fixed, rules, IPD), fixed)
    every_cell = np.ones(active.shape[1], dtype=bool)
    if count_rule_violations(active, rules, IPD, every_cell) == 0:
        np.testing.assert_array_equal(fixed, active)


# --- count_rule_violations ---------------------------------------------------------------------


def test_count_rule_violations_examples():
    rules = SwitchingRules(min_sleep_intervals=2, max_cycles_per_day=1)
    active = np.stack(
        [
            col("10111111"),  # one run of 1: too short
            col("10011001"),  # two runs of 2 in one day: one cycle too many
            col("10100111"),  # runs of 1 and 2: one too short, one cycle too many
            col("11111111"),  # never sleeps
        ],
        axis=1,
    )
    every_cell = np.ones(4, dtype=bool)
    assert count_rule_violations(active, rules, 8, every_cell) == 1 + 1 + 2
    # only sleepable cells count
    assert count_rule_violations(active, rules, 8, np.array([False, True, False, False])) == 1
    # with two 4-interval days, the two runs of cell 1 fall in different days
    assert count_rule_violations(active, rules, 4, np.array([False, True, False, False])) == 0


@PROPERTY_SETTINGS
@given(active=schedules, rules=rules_strategy)
def test_count_rule_violations_matches_loop(active: np.ndarray, rules: SwitchingRules):
    every_cell = np.ones(active.shape[1], dtype=bool)
    assert count_rule_violations(active, rules, IPD, every_cell) == loop_violations(
        active, rules, IPD
    )
    assert count_rule_violations(active, rules, IPD, ~every_cell) == 0


# --- schedule_actions --------------------------------------------------------------------------


def test_schedule_actions_example():
    active = np.stack([col("1001"), col("0011"), col("1111")], axis=1)
    names = ("a", "b", "c")
    actions = schedule_actions(active, names, interval_min=15, t0_min=60)
    got = [(a.cell, a.cell_index, a.t_min, a.action) for a in actions]
    assert got == [
        ("b", 1, 60, "sleep"),  # asleep from the first interval: relative to all on at t0
        ("a", 0, 75, "sleep"),
        ("b", 1, 90, "wake"),
        ("a", 0, 105, "wake"),
    ]
    assert all(a.value is None for a in actions)


def test_schedule_actions_none_when_all_on():
    assert schedule_actions(np.ones((6, 3), dtype=bool), ("a", "b", "c"), 15) == ()


@PROPERTY_SETTINGS
@given(active=schedules, t0_min=st.integers(0, 1440))
def test_schedule_actions_replay_to_the_schedule(active: np.ndarray, t0_min: int):
    num_t, num_c = active.shape
    names = tuple(f"cell{i}" for i in range(num_c))
    actions = schedule_actions(active, names, interval_min=15, t0_min=t0_min)
    # times are non-decreasing interval starts inside the horizon
    times = [a.t_min for a in actions]
    assert times == sorted(times)
    assert all((t - t0_min) % 15 == 0 and 0 <= t - t0_min < 15 * num_t for t in times)
    # replaying the actions from "all on" at t0 rebuilds the schedule
    state = np.ones(num_c, dtype=bool)
    replayed = np.empty_like(active)
    by_interval: dict[int, list] = {}
    for a in actions:
        by_interval.setdefault((a.t_min - t0_min) // 15, []).append(a)
    for t in range(num_t):
        for a in by_interval.get(t, []):
            assert names[a.cell_index] == a.cell
            # every action changes the state it acts on
            assert state[a.cell_index] == (a.action == "sleep")
            state[a.cell_index] = a.action == "wake"
        replayed[t] = state
    np.testing.assert_array_equal(replayed, active)
    # one action per state change
    changes = int((~active[0]).sum()) + int((active[1:] != active[:-1]).sum())
    assert len(actions) == changes
