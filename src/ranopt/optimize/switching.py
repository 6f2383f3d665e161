"""Sleep-schedule rules (minimum sleep time, maximum cycles) and schedule-to-action conversion."""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.optimize.plan import Action

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SwitchingRules:
    """Limits on how often a cell may sleep (hardware wear, alarms, UE re-selection storms)."""

    min_sleep_intervals: int = 4  # a cell sleeps at least this long once asleep (60 min)
    max_cycles_per_day: int = 4  # sleep/wake cycles per cell per day


def sleep_runs(active_column: BoolArray) -> list[tuple[int, int]]:
    """Return the ``(start, stop)`` interval ranges in which one cell sleeps."""
    asleep = np.concatenate(([False], ~active_column, [False]))
    edges = np.flatnonzero(np.diff(asleep.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def enforce_switching_rules(
    active: BoolArray, rules: SwitchingRules, intervals_per_day: int
) -> BoolArray:
    """Return a schedule ``[T, C]`` that keeps the rules by waking cells, never by sleeping more.

    Sleep runs shorter than the minimum are dropped; where a cell has more runs in a day than
    allowed, its longest runs are kept. Waking a cell only adds capacity, so the result is as
    safe as the input.
    """
    fixed = active.copy()
    for cell in range(active.shape[1]):
        runs = [r for r in sleep_runs(active[:, cell]) if r[1] - r[0] >= rules.min_sleep_intervals]
        kept: list[tuple[int, int]] = []
        for day_start in range(0, active.shape[0], intervals_per_day):
            day_runs = [r for r in runs if day_start <= r[0] < day_start + intervals_per_day]
            day_runs.sort(key=lambda r: r[1] - r[0], reverse=True)
            kept.extend(day_runs[: rules.max_cycles_per_day])
        fixed[:, cell] = True
        for start, stop in kept:
            fixed[start:stop, cell] = False
    return fixed


def count_rule_violations(
    active: BoolArray, rules: SwitchingRules, intervals_per_day: int, sleepable: BoolArray
) -> int:
    """Count sleep runs that break the minimum sleep time or the daily cycle limit."""
    violations = 0
    for cell in np.flatnonzero(sleepable):
        runs = sleep_runs(active[:, cell])
        violations += sum(1 for a, b in runs if b - a < rules.min_sleep_intervals)
        for day_start in range(0, active.shape[0], intervals_per_day):
            in_day = sum(1 for a, _ in runs if day_start <= a < day_start + intervals_per_day)
            violations += max(0, in_day - rules.max_cycles_per_day)
    return violations


def schedule_actions(
    active: BoolArray, cell_names: tuple[str, ...], interval_min: int, t0_min: int = 0
) -> tuple[Action, ...]:
    """Turn an on/sleep schedule into sleep and wake actions (relative to all cells on at t0)."""
    previous = np.ones(active.shape[1], dtype=bool)
    actions: list[Action] = []
    for t in range(active.shape[0]):
        changed = np.flatnonzero(active[t] != previous)
        for cell in changed:
            actions.append(
                Action(
                    cell=cell_names[cell],
                    cell_index=int(cell),
                    t_min=t0_min + t * interval_min,
                    action="wake" if active[t, cell] else "sleep",
                )
            )
        previous = active[t]
    return tuple(actions)
