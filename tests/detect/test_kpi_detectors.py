"""The streaming KPI detectors on a 7-site twin's counters: silent when clean, each fault found.

The twin plays 4 days (every cell on); anomalies are injected on day 3 the way they show in
the counters (``ranopt.detect.inject``); the detectors get one interval at a time, as the
store hook feeds them.
"""

from dataclasses import replace
from functools import cache

import numpy as np
import pytest

from ranopt.detect import inject
from ranopt.detect.kpi import (
    KINDS,
    PRB_AVAIL,
    RRC,
    CellContext,
    KpiBlock,
    KpiDetectorConfig,
    KpiState,
    KpiTransition,
    align_state,
    new_state,
    observe,
)
from ranopt.detect.neighbours import cell_context, csr_from_pairs, geometric_pairs
from ranopt.twin import CellState, build_twin, scenario_preset, simulate
from ranopt.twin.fault import with_failed_cells
from ranopt.twin.model import Twin
from ranopt.twin.traffic import demand_for_intervals

DAYS = 4
IPD = 96
START_S = 1_767_571_200  # a Monday, 00:00 UTC
INTERVAL_S = 900
T_INJECT = 2 * IPD + 40  # day 3, 10:00
LENGTH = 12


@cache
def _twin() -> Twin:
    return build_twin(scenario_preset("default", seed=3, num_sites=7, num_ues=700))


@cache
def _clean() -> np.ndarray:
    twin = _twin()
    demand = demand_for_intervals(twin.traffic, 3, 0, DAYS * IPD)
    return inject.twin_counters(twin, simulate(twin, demand, CellState.all_on(twin.num_cells)))


def _context() -> CellContext:
    a = _twin().arrays
    pairs = geometric_pairs(a.site.astype(np.int64), a.x_m, a.y_m)
    return cell_context(np.arange(a.num_cells), a.num_prb.astype(float), INTERVAL_S, pairs)


def _run(
    values: np.ndarray,
    reported: np.ndarray | None = None,
    asleep: np.ndarray | None = None,
    *,
    step: int = 1,
) -> tuple[list[KpiTransition], KpiState]:
    context = _context()
    state = new_state(context.cell_id)
    shape = values.shape[:2]
    reported = np.isfinite(values).any(axis=2) if reported is None else reported
    asleep = np.zeros(shape, dtype=bool) if asleep is None else asleep
    times = START_S + INTERVAL_S * np.arange(shape[0], dtype=np.int64)
    out: list[KpiTransition] = []
    for first in range(0, shape[0], step):
        part = slice(first, first + step)
        state, found = observe(
            state, KpiBlock(times[part], values[part], reported[part], asleep[part]), context
        )
        out.extend(found)
    return out, state


def _busy_cell() -> int:
    """A capacity cell with many users at the injection time."""
    users = _clean()[T_INJECT : T_INJECT + LENGTH, :, RRC].mean(axis=0)
    users[_twin().arrays.layer == 0] = -1
    return int(np.argmax(users))


def test_clean_days_raise_nothing() -> None:
    transitions, state = _run(_clean())
    assert [t for t in transitions if t.raised] == []
    assert state.newest_s == START_S + INTERVAL_S * (DAYS * IPD - 1)


def _injected(kind: str, cell: int) -> tuple[np.ndarray, np.ndarray]:
    values = _clean().copy()
    reported = np.ones(values.shape[:2], dtype=bool)
    stop = T_INJECT + LENGTH
    twin = _twin()
    if kind == "sleeping_cell":
        down = with_failed_cells(twin, frozenset({cell}))
        demand = demand_for_intervals(twin.traffic, 3, 0, stop)[T_INJECT:]
        rerun = inject.twin_counters(down, simulate(down, demand, CellState.all_on(twin.num_cells)))
        inject.sleeping_cell(values, rerun, cell, T_INJECT, stop, 50.0, INTERVAL_S)
    elif kind == "throughput_collapse":
        inject.throughput_collapse(values, cell, T_INJECT, stop, 0.2)
    elif kind == "interference_rise":
        bw = float(twin.arrays.dl_bandwidth_hz[cell] / twin.arrays.num_prb[cell])
        layers = int(twin.arrays.max_layers[cell])
        inject.interference_rise(values, cell, T_INJECT, stop, 10.0, bw, INTERVAL_S, layers=layers)
    elif kind == "counter_frozen":
        inject.frozen_counters(values, cell, T_INJECT, stop)
    elif kind == "counter_out_of_range":
        inject.out_of_range(values, cell, T_INJECT, stop, 0, 273.0, INTERVAL_S)
    else:
        inject.missing_counters(values, reported, cell, T_INJECT, stop)
    return values, reported


@pytest.mark.parametrize("kind", KINDS)
def test_each_injected_anomaly_is_raised_with_its_reason_and_cleared(kind: str) -> None:
    cell = _busy_cell()
    values, reported = _injected(kind, cell)
    transitions, _ = _run(values, reported)
    raised = [t for t in transitions if t.raised]
    mine = [t for t in raised if t.kind == kind and t.cell_id == cell]
    assert mine, f"{kind} not raised; raised: {[(t.kind, t.cell_id) for t in raised]}"
    first = mine[0]
    delay = (first.at_s - (START_S + T_INJECT * INTERVAL_S)) // INTERVAL_S
    assert 0 <= delay <= 8
    assert first.since_s <= first.at_s
    assert first.since_s >= START_S + (T_INJECT - 1) * INTERVAL_S
    assert first.counter
    assert first.reason
    if kind != "counter_missing":
        assert first.observed is not None
    # the condition clears once the cell is back to normal, within a few intervals
    cleared = [t for t in transitions if not t.raised and t.kind == kind and t.cell_id == cell]
    assert cleared, f"{kind} never cleared"
    end_s = START_S + (T_INJECT + LENGTH) * INTERVAL_S
    assert end_s <= cleared[0].at_s <= end_s + 8 * INTERVAL_S
    # nothing on cells the anomaly did not touch (a sleeping cell's neighbours take its users)
    others = [t for t in raised if t.cell_id != cell]
    assert others == []


def test_readable_reasons_name_counters_and_figures() -> None:
    cell = _busy_cell()
    values, reported = _injected("sleeping_cell", cell)
    transitions, _ = _run(values, reported)
    sleeping = next(t for t in transitions if t.raised and t.kind == "sleeping_cell")
    assert sleeping.counter == "RRC.ConnMean"
    assert "0 UE" in sleeping.reason
    assert "neighbours carry" in sleeping.reason
    assert sleeping.expected is not None
    assert sleeping.expected > 5
    values, reported = _injected("throughput_collapse", cell)
    collapse = next(t for t in _run(values, reported)[0] if t.raised)
    assert collapse.counter == "DRB.UEThpDl"
    assert collapse.observed is not None
    assert collapse.expected is not None
    assert collapse.observed < 0.4 * collapse.expected
    assert "unchanged load" in collapse.reason


def test_cells_the_plan_put_to_sleep_are_no_anomaly() -> None:
    """A cell asleep by the applied plan reports no users; with its PRBs shown as available
    only the plan's state tells energy saving from a sleeping cell."""
    cell = _busy_cell()
    values = _clean().copy()
    stop = T_INJECT + LENGTH
    twin = _twin()
    asleep = np.zeros(values.shape[:2], dtype=bool)
    asleep[T_INJECT:stop, cell] = True
    states = [CellState.all_on(twin.num_cells).with_active(~a) for a in asleep[T_INJECT:stop]]
    demand = demand_for_intervals(twin.traffic, 3, 0, stop)[T_INJECT:]
    values[T_INJECT:stop] = inject.twin_counters(twin, simulate(twin, demand, states))
    values[T_INJECT:stop, cell, PRB_AVAIL] = twin.arrays.num_prb[cell]  # reported as up
    with_plan, _ = _run(values, asleep=asleep)
    assert [t for t in with_plan if t.raised] == []
    without_plan, _ = _run(values)
    assert any(t.raised and t.kind == "sleeping_cell" and t.cell_id == cell for t in without_plan)


def test_batches_of_any_size_judge_alike_and_a_repeat_judges_nothing() -> None:
    values, reported = _injected("counter_frozen", _busy_cell())
    one, state = _run(values, reported, step=1)
    many, _ = _run(values, reported, step=96)
    assert [(t.kind, t.cell_id, t.raised, t.at_s) for t in one] == [
        (t.kind, t.cell_id, t.raised, t.at_s) for t in many
    ]
    # the same day again: every sample is older than the cell's newest judged one
    times = START_S + INTERVAL_S * np.arange(IPD, dtype=np.int64)
    block = KpiBlock(times, values[:IPD], reported[:IPD], np.zeros((IPD, values.shape[1]), bool))
    after, again = observe(state, block, _context())
    assert again == []
    np.testing.assert_array_equal(after.share_mean, state.share_mean)


def test_a_partial_interval_is_judged_when_the_rest_arrives() -> None:
    """One PM file per gNB: a cell's sample may come after its neighbours' of the interval."""
    values = _clean()[: IPD + 1]
    context = _context()
    times = START_S + INTERVAL_S * np.arange(IPD + 1, dtype=np.int64)
    reported = np.ones(values.shape[:2], dtype=bool)
    asleep = np.zeros_like(reported)
    state, _ = observe(new_state(context.cell_id), KpiBlock(
        times[:IPD], values[:IPD], reported[:IPD], asleep[:IPD]), context)  # fmt: skip
    first_half = reported[IPD:].copy()
    first_half[:, 21:] = False
    state, _ = observe(
        state, KpiBlock(times[IPD:], values[IPD:], first_half, asleep[IPD:]), context
    )
    assert (state.last_s[:21] == times[IPD]).all()
    assert (state.last_s[21:] == times[IPD - 1]).all()
    state, _ = observe(
        state, KpiBlock(times[IPD:], values[IPD:], reported[IPD:], asleep[IPD:]), context
    )
    assert (state.last_s == times[IPD]).all()


def test_align_state_keeps_known_cells_and_starts_new_ones() -> None:
    _transitions, state = _run(_clean()[: 2 * IPD])
    ids = state.cell_id
    moved = align_state(state, np.concatenate([ids[5:], [999]]))
    np.testing.assert_array_equal(moved.share_mean[:-1], state.share_mean[5:])
    np.testing.assert_array_equal(moved.stat_mean[:, :-1], state.stat_mean[:, 5:])
    assert moved.last_s[-1] == -1
    assert (moved.share_n[-1] == 0).all()
    assert moved.newest_s == state.newest_s
    round_trip = KpiState.from_arrays(state.arrays())
    np.testing.assert_array_equal(round_trip.stat_var, state.stat_var)
    assert round_trip.newest_s == state.newest_s


def test_geometric_neighbours_are_the_site_and_the_nearest_sites() -> None:
    site = np.array([0, 0, 1, 1, 2, 2])
    x = np.array([0.0, 0.0, 100.0, 100.0, 5000.0, 5000.0])
    pairs = geometric_pairs(site, x, np.zeros(6), num_sites=1)
    ptr, idx = csr_from_pairs(6, pairs)
    assert list(idx[ptr[0] : ptr[1]]) == [1, 2, 3]  # its site and the nearest one
    assert set(idx[ptr[4] : ptr[5]]) == {2, 3, 5}  # symmetric: site 2's nearest is site 1
    assert 0 not in idx[ptr[0] : ptr[1]]


def test_config_thresholds_are_what_decides() -> None:
    """A stricter silent-run evidence delays the sleeping-cell alert: the figure is live."""
    cell = _busy_cell()
    values, reported = _injected("sleeping_cell", cell)
    context = _context()
    times = START_S + INTERVAL_S * np.arange(values.shape[0], dtype=np.int64)
    block = KpiBlock(times, values, reported, np.zeros(values.shape[:2], dtype=bool))
    base = KpiDetectorConfig()
    strict = replace(base, sleeping_evidence=1e9)
    _, found = observe(new_state(context.cell_id, base), block, context, base)
    _, none = observe(new_state(context.cell_id, strict), block, context, strict)
    assert any(t.kind == "sleeping_cell" for t in found)
    assert not any(t.kind == "sleeping_cell" for t in none)
