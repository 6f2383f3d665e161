"""The planner's speed-ups change no figure: memoised replays and BLAS-free interference.

A day-ahead plan replays the same intervals several times (repair's last check, the round's
replay with sleep depths, the final replay); ``SnapshotMemo`` reuses those solves. These
tests check that a plan made with it is the plan made without it, bit for bit, and that the
dense interference product and per-entry broadcast give what the gathers gave.
"""

import dataclasses

import numpy as np
import pytest

from ranopt.optimize.day_ahead import DayAheadConfig, plan_with_solver, prepare_day_ahead
from ranopt.optimize.energy import EnergyConfig
from ranopt.optimize.evaluate import EnergyConstraints, SnapshotMemo
from ranopt.optimize.plan import Plan
from ranopt.twin import Twin
from ranopt.twin.power import DEEP_SLEEP
from ranopt.twin.snapshot import (
    CellState,
    _interference_operator,
    _interference_weights,
    apply_interference,
    associate,
    evaluate_snapshot,
    per_entry,
)

SEED = 1
DAY = 14


def _plan(twin: Twin, config: EnergyConfig) -> Plan:
    inputs = prepare_day_ahead(twin, SEED, DAY, DayAheadConfig(history_days=14))
    return plan_with_solver(
        twin, inputs, "greedy", EnergyConstraints(), config, np.random.default_rng(SEED), 1
    )


@pytest.fixture(scope="module")
def plans(seven_site_twin: Twin) -> dict[bool, Plan]:
    """The day-ahead greedy plan of day 14 (1 robust scenario), memo on and off."""
    return {
        reuse: _plan(seven_site_twin, EnergyConfig(reuse_snapshots=reuse))
        for reuse in (True, False)
    }


def test_memoised_plan_is_the_plan(plans: dict[bool, Plan]):
    """Same schedule, chains, depths, actions and figures, bit for bit."""
    memo, fresh = plans[True], plans[False]
    assert (~fresh.active).sum() > 0  # something sleeps: the comparison says something
    np.testing.assert_array_equal(memo.active, fresh.active)
    np.testing.assert_array_equal(memo.active_trx, fresh.active_trx)
    np.testing.assert_array_equal(memo.sleep_state, fresh.sleep_state)
    assert memo.actions == fresh.actions
    assert memo.expected == fresh.expected
    assert memo.solve.detail == fresh.solve.detail


def test_memo_hit_recomputes_power_for_the_sleep_depth(seven_site_twin: Twin, day_demand):
    """A stored snapshot asked again with deep sleep has a new solve's power, exactly."""
    twin = seven_site_twin
    demand = day_demand[8]
    active = twin.arrays.layer == 0  # every capacity cell asleep
    start = evaluate_snapshot(twin, CellState.all_on(twin.num_cells), demand).prb_load
    memo = SnapshotMemo(size=4)
    light = CellState(active=active, cio_db=np.zeros(twin.num_cells))
    deep = dataclasses.replace(light, sleep_state=np.where(active, 0, DEEP_SLEEP).astype(np.int64))
    memo.evaluate(twin, light, demand, start)
    reused = memo.evaluate(twin, deep, demand, start)
    solved = evaluate_snapshot(twin, deep, demand, initial_load=start)
    assert (memo.hits, memo.misses) == (1, 1)
    for field in dataclasses.fields(solved):
        np.testing.assert_array_equal(getattr(reused, field.name), getattr(solved, field.name))
    assert reused.power_total_w < memo.evaluate(twin, light, demand, start).power_total_w


def test_memo_tells_states_apart(seven_site_twin: Twin, day_demand):
    """Another chain count, demand or starting load is another solve."""
    twin = seven_site_twin
    memo = SnapshotMemo(size=8)
    state = CellState.all_on(twin.num_cells)
    muted = dataclasses.replace(state, active_trx=np.maximum(twin.arrays.num_trx // 2, 1))
    start = np.zeros(twin.num_cells)
    for s, d, load in (
        (state, day_demand[40], start),
        (muted, day_demand[40], start),
        (state, day_demand[41], start),
        (state, day_demand[40], start + 0.5),
    ):
        memo.evaluate(twin, s, d, load)
    assert (memo.hits, memo.misses) == (0, 4)


def test_dense_product_and_broadcast_match_the_gathers(seven_site_twin: Twin, day_demand):
    """einsum agrees with the matrix product to rounding; the broadcast is the gather."""
    twin = seven_site_twin
    assert twin.link.dense
    rng = np.random.default_rng(3)
    active = rng.random(twin.num_cells) > 0.3
    state = CellState(
        active=active,
        cio_db=np.zeros(twin.num_cells),
        active_trx=np.where(rng.random(twin.num_cells) > 0.5, 2, twin.arrays.num_trx).astype(
            np.int64
        ),
    )
    for values in (active, twin.arrays.carrier, state.trx_fraction(twin.arrays.num_trx)):
        np.testing.assert_array_equal(
            np.broadcast_to(per_entry(twin, values), twin.link.cell_idx.shape),
            values[twin.link.cell_idx],
        )
    weights = _interference_weights(twin, state, associate(twin, state))
    operator = _interference_operator(twin, weights)
    load = rng.random(twin.num_cells)
    np.testing.assert_allclose(apply_interference(operator, load), weights @ load, rtol=1e-12)
    assert evaluate_snapshot(twin, state, day_demand[40]).converged
