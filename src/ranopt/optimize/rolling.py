"""Rolling-horizon energy planning: every interval, re-plan the next hour from the newest data.

Model predictive control: the closed loop observes interval ``k``, plans the window
``[k+1, k+H]`` on a forecast conditioned on today's observations, applies it, and re-plans
at the next interval. The day's executed schedule constrains the window: a cell inside its
minimum sleep time stays asleep, a cell that has used its daily sleep cycles does not start
another, and held cells (around a failed cell) stay awake. The window keeps the switching
rules together with the executed intervals before it, not on its own.
"""

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from ranopt.errors import ValidationError
from ranopt.optimize import actions
from ranopt.optimize.energy import (
    EnergyConfig,
    ReferenceCache,
    RuleEnforcer,
    always_on_snapshots,
    plan_energy,
    repair_schedule,
)
from ranopt.optimize.evaluate import EnergyConstraints, evaluate_schedule
from ranopt.optimize.plan import Action, Plan
from ranopt.optimize.switching import SwitchingRules, enforce_switching_rules, schedule_actions
from ranopt.twin.model import Twin
from ranopt.twin.units import FloatArray

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class WindowPins:
    """What the executed day fixes in the next window."""

    forced_asleep: BoolArray  # [H, C] cells still inside their minimum sleep time
    may_start_sleep: BoolArray  # [C] cells allowed to start a new sleep run in the window
    held_on: BoolArray  # [C] cells that stay awake whatever the plan (next to a failed cell)


def trailing_sleep(executed: BoolArray) -> IntArray:
    """Return each cell's sleep run length at the end of ``executed`` ``[k, C]`` (0: awake)."""
    num_cells = executed.shape[1]
    run = np.zeros(num_cells, dtype=np.int64)
    open_run = np.ones(num_cells, dtype=bool)
    for row in executed[::-1]:
        open_run &= ~row
        if not open_run.any():
            break
        run += open_run
    return run


def sleep_cycles(executed: BoolArray) -> IntArray:
    """Return the number of sleep runs each cell started in ``executed`` ``[k, C]``."""
    if executed.shape[0] == 0:
        return np.zeros(executed.shape[1], dtype=np.int64)
    asleep = ~executed
    starts = asleep[1:] & ~asleep[:-1]
    return np.asarray(asleep[0].astype(np.int64) + starts.sum(axis=0), dtype=np.int64)


def current_run(executed: BoolArray, carried_run: IntArray | None = None) -> IntArray:
    """Return each cell's ongoing sleep run, counting ``carried_run`` from before today."""
    run = trailing_sleep(executed)
    if carried_run is None:
        return run
    return np.where(run == executed.shape[0], run + carried_run, run)


def window_pins(
    executed: BoolArray,
    horizon: int,
    rules: SwitchingRules,
    held_on: BoolArray,
    carried_run: IntArray | None = None,
) -> WindowPins:
    """Pins of the window after today's executed intervals ``[k, C]``; ``held_on`` ``[C]``.

    ``carried_run`` ``[C]`` is the sleep run each cell was in at midnight (from yesterday).
    """
    if horizon < 1:
        msg = f"horizon must be >= 1 interval, got {horizon}"
        raise ValidationError(msg)
    num_cells = held_on.shape[0]
    if executed.ndim != 2 or executed.shape[1] != num_cells:
        msg = f"executed must have shape (k, {num_cells}), got {executed.shape}"
        raise ValidationError(msg)
    run = current_run(executed, carried_run)
    remaining = np.where(run > 0, np.maximum(rules.min_sleep_intervals - run, 0), 0)
    forced = (np.arange(horizon)[:, None] < remaining[None, :]) & ~held_on[None, :]
    may_start = (sleep_cycles(executed) < rules.max_cycles_per_day) & ~held_on
    return WindowPins(forced_asleep=forced, may_start_sleep=may_start, held_on=held_on.copy())


def window_enforcer(
    executed: BoolArray,
    rules: SwitchingRules,
    intervals_per_day: int,
    carried_run: IntArray | None = None,
) -> RuleEnforcer:
    """Switching rules for a window that follows today's executed intervals ``[k, C]``.

    The rules are applied to yesterday's carried sleep runs, the day so far and the window;
    only the window's part is returned (the past cannot change). A window's sleep run must fit
    its minimum length inside the window, so a cell starts sleeping only when it can sleep
    long enough.
    """
    num_cells = executed.shape[1]
    yesterday = np.ones((intervals_per_day, num_cells), dtype=bool)
    if carried_run is not None:
        tail = np.arange(intervals_per_day)[:, None] >= intervals_per_day - carried_run[None, :]
        yesterday &= ~tail
    prefix = np.vstack([yesterday, executed])
    done = prefix.shape[0]

    def enforce(window: BoolArray) -> BoolArray:
        full = np.vstack([prefix, window])
        return enforce_switching_rules(full, rules, intervals_per_day)[done:]

    return enforce


def apply_pins(schedule: BoolArray, pins: WindowPins, asleep_now: BoolArray) -> BoolArray:
    """Return the window ``[H, C]`` with the executed day's pins imposed.

    A cell that may not start a sleep run stays awake from its first awake interval on (an
    asleep one may finish its run, not begin another); a held cell is awake throughout.
    """
    pinned = schedule.copy()
    awake = np.logical_or.accumulate(pinned | ~asleep_now[None, :], axis=0)
    blocked = ~pins.may_start_sleep
    pinned[:, blocked] |= awake[:, blocked]
    pinned[pins.forced_asleep] = False
    pinned[:, pins.held_on] = True
    return pinned


def window_actions(
    previous: BoolArray,
    window: BoolArray,
    cell_names: tuple[str, ...],
    interval_min: int,
    t0_min: int,
    *,
    trx: IntArray | None = None,
    num_trx: IntArray | None = None,
    previous_trx: IntArray | None = None,
) -> tuple[Action, ...]:
    """Sleep, wake and MIMO actions of the window relative to the state in force before it.

    With ``trx`` ``[H, C]`` (chains in use; ``num_trx`` ``[C]`` all of them, ``previous_trx``
    those before the window, default all) muting changes are actions too; window sleeps are
    light (a one-hour window cannot know a sleep will be long enough for deep sleep).
    """
    if trx is None:
        stacked = np.vstack([previous[None, :], window])
        found = schedule_actions(stacked, cell_names, interval_min, t0_min - interval_min)
        return tuple(a for a in found if a.t_min >= t0_min)
    return actions.schedule_actions(
        window, cell_names, interval_min, t0_min, trx=trx, num_trx=num_trx,
        previous_active=previous, previous_trx=previous_trx,
    )  # fmt: skip


def count_switching_breaks(
    executed: BoolArray,
    state: BoolArray,
    rules: SwitchingRules,
    carried_run: IntArray | None = None,
) -> int:
    """Rule breaks of going from today's executed intervals ``[k, C]`` to ``state`` ``[C]``.

    A cell woken before its minimum sleep time, or starting a sleep run beyond the day's
    cycle limit, is one break each (safety wakes and manual plans can cause them).
    """
    run = current_run(executed, carried_run)
    early_wake = (run > 0) & (run < rules.min_sleep_intervals) & state
    if executed.shape[0] == 0:
        return int(early_wake.sum())
    starts = executed[-1] & ~state
    over_cycles = starts & (sleep_cycles(executed) >= rules.max_cycles_per_day)
    return int(early_wake.sum() + over_cycles.sum())


def plan_window(
    twin: Twin,
    demand_mbps: FloatArray,
    robust_demands: list[FloatArray],
    solver: str,
    executed: BoolArray,
    pins: WindowPins,
    *,
    limits: EnergyConstraints,
    config: EnergyConfig,
    rng: np.random.Generator,
    t0_min: int,
    carried_run: IntArray | None = None,
    previous: BoolArray | None = None,
    previous_trx: IntArray | None = None,
) -> Plan:
    """Plan the window ``demand_mbps`` ``[H, U]`` after today's executed intervals ``[k, C]``.

    The solver plans the window; the pins are imposed; the window is then replayed in the twin
    on the planning demand and on every ``robust_demands`` scenario, unmuting and waking cells
    where a constraint breaks (the scenario approach), with the rules checked across the day.
    ``previous`` is the state in force before the window (default: the last executed one),
    ``previous_trx`` its chains (default: all). Window sleeps are light.
    """
    window_config = replace(config, sleep_depths=False)
    # the window's always-on snapshots: planned on, repaired against and checked with once
    always_on = always_on_snapshots(twin, demand_mbps)
    plan = plan_energy(
        twin, demand_mbps, solver, limits=limits, config=window_config, rng=rng, t0_min=t0_min,
        references=always_on,
    )  # fmt: skip
    if previous is None:
        previous = executed[-1] if executed.shape[0] else np.ones(twin.num_cells, dtype=bool)
    num_trx = twin.arrays.num_trx.astype(np.int64)
    schedule = apply_pins(plan.active, pins, ~previous)
    trx = actions.full_trx(twin, schedule.shape[0]) if plan.active_trx is None else plan.active_trx
    trx = np.where(schedule & plan.active, trx, num_trx)
    trx[:, pins.held_on] = num_trx[pins.held_on]
    demand_sets = [demand_mbps, *robust_demands]
    ipd = twin.scenario.intervals_per_day
    enforce = window_enforcer(executed, limits.rules, ipd, carried_run)
    references = ReferenceCache(twin, demand_sets)
    references.seed(0, always_on)
    forced = pins.forced_asleep
    schedule, trx, woken = repair_schedule(
        twin, demand_sets, schedule, trx, limits, references, config.repair_rounds, enforce,
        forced, neighbourhood=config.neighbourhood_repair,
    )  # fmt: skip
    # a cell inside its minimum sleep time is woken early only for the planning demand itself,
    # not for a sampled scenario: resampled tails would otherwise make cells flap
    relocked = schedule & ~forced
    if (relocked != schedule).any():
        schedule, trx, _ = repair_schedule(
            twin, [demand_mbps], relocked, np.where(relocked, trx, num_trx), limits, references,
            config.repair_rounds, enforce, forced, neighbourhood=config.neighbourhood_repair,
        )  # fmt: skip
    evaluation = evaluate_schedule(twin, demand_mbps, schedule, limits, always_on, trx=trx)
    # the window's rules hold with the executed day before it (window_enforcer); its own
    # count would see a continued sleep run as too short
    evaluation = replace(evaluation, rule_violations=0)
    found = window_actions(
        previous, schedule, twin.cell_names, twin.scenario.interval_min, t0_min,
        trx=trx, num_trx=num_trx, previous_trx=previous_trx,
    )  # fmt: skip
    return replace(
        plan,
        active=schedule,
        active_trx=trx,
        sleep_state=None,
        actions=found,
        expected=evaluation.kpis(),
        solve=replace(
            plan.solve,
            detail={**plan.solve.detail, "robust_scenarios": len(robust_demands),
                    "cells_woken_by_scenarios": woken},
        ),
    )  # fmt: skip
