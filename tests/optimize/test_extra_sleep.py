"""The extra-sleep pass: more sleep and muting only where the twin finds every checked set holding.

Every figure here is an independent whole-network replay (``evaluate_schedule``) of the pass's
input and output on each demand set, never the pass's own neighbourhood evaluations.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ranopt.errors import ValidationError
from ranopt.optimize.actions import full_trx, sleep_states
from ranopt.optimize.energy import (
    EXTRA_SLEEP_HEADROOM,
    EnergyConfig,
    ReferenceCache,
    always_on_snapshots,
    build_energy_problem,
    plan_energy,
    repair_schedule,
    surrogate_feasible,
)
from ranopt.optimize.evaluate import (
    EnergyConstraints,
    ScheduleEvaluation,
    evaluate_interval,
    evaluate_schedule,
)
from ranopt.optimize.extra_sleep import ExtraSleepResult, extra_sleep_pass, keeps_rules
from ranopt.optimize.switching import SwitchingRules, count_rule_violations
from ranopt.twin import Twin
from ranopt.twin.elements import LAYERS
from ranopt.twin.units import FloatArray

CAPACITY = LAYERS.index("capacity")

HORIZON = slice(32, 44)  # 08:00-11:00: sleeping every capacity cell breaks checks from 10:00


@pytest.fixture(scope="module")
def demand_sets(seven_site_twin: Twin, day_demand: FloatArray) -> list[FloatArray]:
    """The planning demand of the horizon and two scenarios around it (x1.15, log-normal)."""
    base = np.array(day_demand[HORIZON])
    rng = np.random.default_rng(7)
    noisy = base * rng.lognormal(0.0, 0.3, size=base.shape)
    return [base, base * 1.15, noisy]


def _references(twin: Twin, demand_sets: list[FloatArray]) -> ReferenceCache:
    cache = ReferenceCache(twin, demand_sets)
    cache.seed(0, always_on_snapshots(twin, demand_sets[0]))
    return cache


def _replay(
    twin: Twin,
    demand: FloatArray,
    schedule: np.ndarray,
    trx: np.ndarray,
    limits: EnergyConstraints,
) -> ScheduleEvaluation:
    return evaluate_schedule(
        twin, demand, schedule, limits, trx=trx, sleep_state=sleep_states(twin, schedule)
    )


@pytest.fixture(scope="module")
def repaired(
    seven_site_twin: Twin, demand_sets: list[FloatArray], limits: EnergyConstraints
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy's plan of the horizon, repaired on all three sets (the pass's usual input)."""
    plan = plan_energy(seven_site_twin, demand_sets[0], "greedy", limits=limits)
    assert plan.active_trx is not None
    schedule, trx, _ = repair_schedule(
        seven_site_twin, demand_sets, plan.active, plan.active_trx, limits,
        _references(seven_site_twin, demand_sets), EnergyConfig().repair_rounds,
    )  # fmt: skip
    return schedule, trx


@pytest.fixture(scope="module")
def extended(
    seven_site_twin: Twin,
    demand_sets: list[FloatArray],
    limits: EnergyConstraints,
    repaired: tuple[np.ndarray, np.ndarray],
) -> ExtraSleepResult:
    schedule, trx = repaired
    return extra_sleep_pass(
        seven_site_twin, demand_sets, schedule, trx, limits,
        _references(seven_site_twin, demand_sets),
    )  # fmt: skip


def _assert_never_worse(
    twin: Twin,
    demand_sets: list[FloatArray],
    limits: EnergyConstraints,
    before: tuple[np.ndarray, np.ndarray],
    after: ExtraSleepResult,
) -> None:
    """No new violation in any interval of any set; no more energy on the planning demand."""
    sleepable = twin.arrays.layer == CAPACITY
    ipd = twin.scenario.intervals_per_day
    # only sleeps and mutes are added: every cell asleep before is still asleep
    assert not (after.schedule & ~before[0]).any()
    assert (np.where(after.schedule, after.trx, 0) <= np.where(after.schedule, before[1], 0)).all()
    assert count_rule_violations(after.schedule, limits.rules, ipd, sleepable) <= (
        count_rule_violations(before[0], limits.rules, ipd, sleepable)
    )
    for d, demand in enumerate(demand_sets):
        old = _replay(twin, demand, before[0], before[1], limits)
        new = _replay(twin, demand, after.schedule, after.trx, limits)
        for t, (c_old, c_new) in enumerate(zip(old.checks, new.checks, strict=True)):
            assert set(c_new.violations) <= set(c_old.violations), (d, t, c_new.violations)
        if d == 0:
            assert new.plan.total_energy_kwh <= old.plan.total_energy_kwh + 1e-9


def test_pass_sleeps_more_and_breaks_nothing_on_any_set(
    seven_site_twin: Twin,
    demand_sets: list[FloatArray],
    limits: EnergyConstraints,
    repaired: tuple[np.ndarray, np.ndarray],
    extended: ExtraSleepResult,
):
    assert extended.cell_intervals_slept + extended.cell_intervals_muted > 0
    _assert_never_worse(seven_site_twin, demand_sets, limits, repaired, extended)
    for demand in demand_sets:
        assert not _replay(
            seven_site_twin, demand, extended.schedule, extended.trx, limits
        ).violating_intervals
    old = _replay(seven_site_twin, demand_sets[0], *repaired, limits)
    new = _replay(seven_site_twin, demand_sets[0], extended.schedule, extended.trx, limits)
    assert new.plan.total_energy_kwh < old.plan.total_energy_kwh


def test_pass_adds_sleep_the_bin_model_refuses(
    seven_site_twin: Twin,
    demand_sets: list[FloatArray],
    limits: EnergyConstraints,
    repaired: tuple[np.ndarray, np.ndarray],
    extended: ExtraSleepResult,
):
    """Where the bin model (first round: every cell at its limit) says no, the twin says yes."""
    references = always_on_snapshots(seven_site_twin, demand_sets[0])
    problem = build_energy_problem(seven_site_twin, demand_sets[0], limits, references)
    added = repaired[0] & ~extended.schedule  # [T, C] sleeps the pass added
    refused = [t for t in np.flatnonzero(added.any(axis=1)) if not surrogate_feasible(
        problem, int(t), extended.schedule[t]
    )]  # fmt: skip
    assert refused, "every added sleep was already feasible in the bin model"
    for demand in demand_sets:
        checks = _replay(seven_site_twin, demand, extended.schedule, extended.trx, limits).checks
        assert all(not checks[t].violations for t in refused)


def test_pass_is_deterministic(
    seven_site_twin: Twin,
    demand_sets: list[FloatArray],
    limits: EnergyConstraints,
    repaired: tuple[np.ndarray, np.ndarray],
    extended: ExtraSleepResult,
):
    again = extra_sleep_pass(
        seven_site_twin, demand_sets, *repaired, limits, _references(seven_site_twin, demand_sets)
    )
    np.testing.assert_array_equal(again.schedule, extended.schedule)
    np.testing.assert_array_equal(again.trx, extended.trx)
    assert again.detail() == extended.detail()


@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    sleep_share=st.floats(0.5, 0.95),
    repair_rounds=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_pass_never_lowers_saving_nor_adds_a_violation(
    seven_site_twin: Twin,
    demand_sets: list[FloatArray],
    limits: EnergyConstraints,
    sleep_share: float,
    repair_rounds: int,
    seed: int,
):
    """Random schedules, repaired with few rounds (violations may remain): never worse.

    On the last 8 intervals (09:00-11:00) of the first two sets, to keep the test short.
    """
    twin = seven_site_twin
    demand_sets = [demand[-8:] for demand in demand_sets[::2]]
    rng = np.random.default_rng(seed)
    num_t = demand_sets[0].shape[0]
    sleepable = twin.arrays.layer == CAPACITY
    # runs of 4 intervals so the switching rules keep most of them
    blocks = rng.random((num_t // 4 + 1, twin.num_cells)) < sleep_share
    schedule = ~np.repeat(blocks, 4, axis=0)[:num_t] | ~sleepable[None, :]
    trx = full_trx(twin, num_t)
    mutable = np.array([len(o) > 1 for o in twin.arrays.trx_options])
    mute = schedule & mutable[None, :] & (rng.random(schedule.shape) < 0.3)
    trx[mute] = [twin.arrays.trx_options[c][1] for c in np.nonzero(mute)[1]]
    references = _references(twin, demand_sets)
    before = repair_schedule(
        twin, demand_sets, schedule, trx, limits, references, repair_rounds
    )[:2]  # fmt: skip
    after = extra_sleep_pass(twin, demand_sets, *before, limits, references)
    _assert_never_worse(twin, demand_sets, limits, before, after)


def _loads(
    twin: Twin, demand: FloatArray, schedule: np.ndarray, trx: np.ndarray, limits: EnergyConstraints
) -> tuple[np.ndarray, np.ndarray]:
    """Whole-network PRB load of each active cell (0 asleep) and each cell's limit, ``[T, C]``."""
    state = [
        evaluate_interval(twin, demand[t], schedule[t], limits, trx=trx[t])
        for t in range(schedule.shape[0])
    ]
    load = np.stack([np.where(s.active, s.prb_load, 0.0) for s, _, _ in state])
    limit = np.stack([limits.prb_load_limit(ref.prb_load) for _, ref, _ in state])
    return load, limit


def test_pass_keeps_the_headroom_below_every_cell_limit(
    seven_site_twin: Twin,
    demand_sets: list[FloatArray],
    limits: EnergyConstraints,
    repaired: tuple[np.ndarray, np.ndarray],
    extended: ExtraSleepResult,
):
    """With the headroom each cell ends at most at limit - headroom, or at its input load.

    Without it the same input gets cells into that band: moves the margin refused.
    """
    twin = seven_site_twin
    bare = extra_sleep_pass(
        twin, demand_sets, *repaired, limits, _references(twin, demand_sets), headroom=0.0
    )
    assert extended.cell_intervals_slept + extended.cell_intervals_muted < (
        bare.cell_intervals_slept + bare.cell_intervals_muted
    )
    in_band = 0
    for demand in demand_sets:
        before, limit = _loads(twin, demand, *repaired, limits)
        after, _ = _loads(twin, demand, extended.schedule, extended.trx, limits)
        allowance = np.maximum(limit - EXTRA_SLEEP_HEADROOM, before)
        assert (after <= allowance + 1e-9).all()
        without, _ = _loads(twin, demand, bare.schedule, bare.trx, limits)
        in_band += int((without > allowance + 1e-9).sum())
        assert (without <= np.maximum(limit, before) + 1e-9).all()
    assert in_band > 0, "the margin refused nothing on this input"


def test_pass_with_no_room_left_raises_no_load(
    seven_site_twin: Twin,
    demand_sets: list[FloatArray],
    limits: EnergyConstraints,
    repaired: tuple[np.ndarray, np.ndarray],
):
    """A headroom above every limit leaves each cell its input load: no cell may gain any."""
    twin = seven_site_twin
    demand_sets = [demand[-4:] for demand in demand_sets[:2]]
    before = (repaired[0][-4:], repaired[1][-4:])
    after = extra_sleep_pass(
        twin, demand_sets, *before, limits, _references(twin, demand_sets), headroom=0.99
    )
    for demand in demand_sets:
        old, _ = _loads(twin, demand, *before, limits)
        new, _ = _loads(twin, demand, after.schedule, after.trx, limits)
        assert (new <= old + 1e-9).all()


@pytest.mark.parametrize("headroom", [-0.1, 1.0])
def test_extra_sleep_headroom_outside_zero_one_is_refused(headroom: float):
    with pytest.raises(ValidationError, match="extra_sleep_headroom"):
        EnergyConfig(extra_sleep_headroom=headroom)


def test_keeps_rules_reads_minimum_sleep_and_cycles():
    rules = SwitchingRules(min_sleep_intervals=2, max_cycles_per_day=1)
    on = np.ones(8, dtype=bool)
    run = on.copy()
    run[2:5] = False
    short = on.copy()
    short[3] = False
    two = run.copy()
    two[6:8] = False
    assert keeps_rules(on, rules, 8)
    assert keeps_rules(run, rules, 8)
    assert not keeps_rules(short, rules, 8)
    assert not keeps_rules(two, rules, 8)
