"""Energy actions: sleep depth by run length, and the schedule as plain action records."""

import numpy as np
import pytest

from ranopt.optimize.actions import (
    deep_sleep_min_run,
    interval_state,
    schedule_actions,
    sleep_states,
)
from ranopt.twin import Twin, evaluate_snapshot
from ranopt.twin.elements import LAYERS
from ranopt.twin.power import DEEP_SLEEP, LIGHT_SLEEP, WAKING, deep_sleep_break_even_intervals
from ranopt.twin.units import FloatArray

CAPACITY = LAYERS.index("capacity")


def test_deep_sleep_needs_seven_intervals_on_the_64t64r_cell(seven_site_twin: Twin):
    """TR 38.864 light 25, deep 1, zero load 145 units, one interval waking: break-even at
    (145 - 1) / (25 - 1) = 6 intervals, so runs of 7 or more go deep; EARTH coverage cells
    have no light sleep and never go deep."""
    arrays = seven_site_twin.arrays
    runs = deep_sleep_min_run(seven_site_twin)
    cap = arrays.layer == CAPACITY
    assert (runs[cap] == 7).all()
    n_star = deep_sleep_break_even_intervals(
        arrays.num_trx, arrays.p0_w, arrays.p_sleep_w, arrays.p_light_sleep_w, 1
    )
    np.testing.assert_allclose(n_star[cap], 6.0)
    assert (runs[~cap] > 10**9).all()


def test_sleep_states_by_run_length(seven_site_twin: Twin):
    twin = seven_site_twin
    cap = int(np.flatnonzero(twin.arrays.layer == CAPACITY)[0])
    active = np.ones((20, twin.num_cells), dtype=bool)
    active[0:6, cap] = False  # 6 intervals: light
    active[8:15, cap] = False  # 7 intervals: deep, the last one waking
    states = sleep_states(twin, active)
    assert (states[0:6, cap] == LIGHT_SLEEP).all()
    assert (states[8:14, cap] == DEEP_SLEEP).all()
    assert states[14, cap] == WAKING
    # the energy of each run as the twin draws it: deep (6 deep + 1 waking) beats 7 light
    power = twin.arrays.power
    per_chain = {
        LIGHT_SLEEP: power.p_light_sleep_w[cap],
        DEEP_SLEEP: power.p_sleep_w[cap],
        WAKING: power.p0_w[cap],
    }
    deep_run = sum(per_chain[int(s)] for s in states[8:15, cap])
    assert deep_run < 7 * per_chain[LIGHT_SLEEP]
    assert 6 * per_chain[DEEP_SLEEP] + per_chain[WAKING] > 6 * per_chain[LIGHT_SLEEP]


def test_a_waking_cell_serves_nobody_and_draws_idle_power(
    seven_site_twin: Twin, night_demand: FloatArray
):
    twin = seven_site_twin
    cap = twin.arrays.layer == CAPACITY
    active = ~cap
    waking = np.where(cap, WAKING, LIGHT_SLEEP)
    snap = evaluate_snapshot(twin, interval_state(active, sleep_state=waking), night_demand[8])
    assert not np.isin(snap.serving_cell, np.flatnonzero(cap)).any()
    supply = 1.0 - twin.arrays.supply_loss
    idle = twin.arrays.num_trx * twin.arrays.p0_w / supply + twin.arrays.site_overhead_w
    np.testing.assert_allclose(snap.power_w[cap], idle[cap], rtol=1e-12)


def test_actions_are_plain_records_that_replay_the_schedule(seven_site_twin: Twin):
    twin = seven_site_twin
    cells = np.flatnonzero(twin.arrays.layer == CAPACITY)[:3]
    full = twin.arrays.num_trx.astype(np.int64)
    active = np.ones((10, twin.num_cells), dtype=bool)
    trx = np.broadcast_to(full, active.shape).copy()
    active[1:9, cells[0]] = False  # a deep run
    active[2:4, cells[1]] = False  # a light run
    trx[:, cells[2]] = 32
    trx[5:, cells[2]] = 16
    trx[3:, cells[1]] = 16  # wakes muted
    states = sleep_states(twin, active)
    found = schedule_actions(
        active, twin.cell_names, 15, 60, trx=trx, num_trx=full, sleep_state=states
    )
    records = [(a.cell_index, a.t_min, a.action, a.value) for a in found]
    assert records == [
        (cells[2], 60, "mimo", 32.0),
        (cells[0], 75, "sleep", "deep"),
        (cells[1], 90, "sleep", "light"),
        (cells[1], 120, "wake", None),
        (cells[1], 120, "mimo", 16.0),
        (cells[2], 135, "mimo", 16.0),
        (cells[0], 180, "sleep", "waking"),  # unlocked ahead of the wake (O1)
        (cells[0], 195, "wake", None),
    ]
    assert all(a.cell == twin.cell_names[a.cell_index] for a in found)


@pytest.mark.parametrize("chains", [32, 16])
def test_a_muted_cell_costs_capacity_and_saves_power(
    seven_site_twin: Twin, day_demand: FloatArray, chains: int
):
    """The twin's QoS cost and power effect of muting every capacity cell at 10:00: more PRB
    load and less throughput on each muted cell's UEs, less power at equal traffic."""
    twin = seven_site_twin
    cap = twin.arrays.layer == CAPACITY
    on = np.ones(twin.num_cells, dtype=bool)
    full = twin.arrays.num_trx.astype(np.int64)
    muted_trx = np.where(cap, chains, full)
    demand = day_demand[40]
    before = evaluate_snapshot(twin, interval_state(on), demand)
    after = evaluate_snapshot(twin, interval_state(on, trx=muted_trx), demand)
    np.testing.assert_array_equal(after.serving_cell, before.serving_cell)  # SSB unchanged
    assert (after.prb_load[cap] >= before.prb_load[cap] - 1e-9).all()
    served = (before.serving_cell >= 0) & cap[np.maximum(before.serving_cell, 0)]
    assert after.ue_thp_mbps[served].mean() < before.ue_thp_mbps[served].mean()
    assert after.power_w[cap].sum() < before.power_total_w - before.power_w[~cap].sum()
    assert after.served_ratio == pytest.approx(before.served_ratio, abs=1e-9)
