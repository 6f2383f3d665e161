"""The KPI detectors' store hook: every sample write is judged; alerts dedup, clear, and know plans.

A 3-site network gets 3 days of counters from a twin of its topology (``pm_history``), then
faulty intervals through the same ``upsert_samples`` every ingestion path uses.
"""

import numpy as np
from sqlalchemy import select

from pm_history import EPOCH_S, write_history
from ranopt.detect.inject import twin_counters
from ranopt.store import kpi_watch, runs
from ranopt.store import repository as repo
from ranopt.store.engine import Store
from ranopt.store.samples import SampleBatch
from ranopt.store.schemas import TopologyIn
from ranopt.store.tables import Alert, DetectorState
from ranopt.twin import CellState, simulate
from ranopt.twin.model import Twin
from ranopt.twin.traffic import demand_for_intervals

DAYS = 3
IPD = 96


def _setup(store: Store, topology: TopologyIn) -> tuple[int, int, list[int], Twin]:
    with store.transaction() as s:
        tid = repo.ensure_tenant(s, name="default", now_s=EPOCH_S)
        net = repo.create_network(s, tenant_id=tid, topology=topology, now_s=EPOCH_S)
        cell_ids = [c.id for c in repo.network_cells(s, tenant_id=tid, network_id=net.id)]
    truth = write_history(store, tenant_id=tid, network_id=net.id, days=DAYS, num_ues=120)
    return tid, net.id, cell_ids, truth


def _next_intervals(truth: Twin, first: int, count: int) -> np.ndarray:
    """The twin's counters of intervals ``[first, first + count)`` ``[T, C, K]``."""
    demand = demand_for_intervals(truth.traffic, 11, 0, first + count)[first:]
    return twin_counters(truth, simulate(truth, demand, CellState.all_on(truth.num_cells)))


def _write(
    store: Store, tid: int, net: int, cell_ids: list[int], first: int, values: np.ndarray,
    *, skip: tuple[int, ...] = (),
) -> None:  # fmt: skip
    from ranopt.counters import COUNTER_COLUMNS

    keep = [c for c in range(len(cell_ids)) if c not in skip]
    num_t = values.shape[0]
    batch = SampleBatch(
        cell_id=np.tile(np.array(cell_ids)[keep], num_t),
        interval_start_s=np.repeat(EPOCH_S + 900 * (first + np.arange(num_t)), len(keep)),
        values={col: values[:, keep, k].reshape(-1) for k, col in enumerate(COUNTER_COLUMNS)},
        suspect=np.zeros(num_t * len(keep), dtype=bool),
    )
    with store.transaction() as s:
        repo.upsert_samples(s, tenant_id=tid, network_id=net, batch=batch)


def _alerts(store: Store, tid: int) -> list[Alert]:
    with store.transaction() as s:
        rows = list(s.scalars(select(Alert).where(Alert.tenant_id == tid).order_by(Alert.id)))
        s.expunge_all()
    return rows


def test_history_is_judged_and_a_fault_raises_one_alert_until_it_clears(
    store: Store, three_site_topology: TopologyIn
) -> None:
    tid, net, cell_ids, truth = _setup(store, three_site_topology)
    assert _alerts(store, tid) == []  # three clean days: nothing
    with store.transaction() as s:
        state = s.get(DetectorState, kpi_watch.state_key(net))
        assert state is not None
        judged = kpi_watch.decode_state(state.blob)
    assert judged.newest_s == EPOCH_S + 900 * (DAYS * IPD - 1)
    first = DAYS * IPD
    values = _next_intervals(truth, first, 6)
    bad = 4  # a capacity cell: PRBs used above the available ones for three intervals
    values[:3, bad, 0] = np.minimum(values[:3, bad, 1] + 40.0, 275.0)  # within its range
    for i in range(6):  # one interval per batch, as the loop and VES collectors write
        _write(store, tid, net, cell_ids, first + i, values[i : i + 1])
    rows = [a for a in _alerts(store, tid) if a.kind == "counter_out_of_range"]
    assert len(rows) == 1, [a.message for a in rows]  # one alert, however long it lasts
    [alert] = rows
    assert alert.cell_id == cell_ids[bad]
    assert alert.network_id == net
    assert alert.severity == "minor"
    assert alert.since_s == EPOCH_S + 900 * first
    assert alert.cleared_s == EPOCH_S + 900 * (first + 4)  # two consistent intervals later
    assert three_site_topology.cells[bad].name in alert.message
    assert "RRU.PrbUsedDl" in alert.message
    assert "exceeds RRU.PrbAvailDl" in alert.message
    assert "since 2026-01-08 00:00 UTC" in alert.message
    assert "Cleared (back to normal)" in alert.message
    assert alert.detail is not None
    assert alert.detail["counter"] == "RRU.PrbUsedDl"
    assert alert.detail["observed"] > alert.detail["expected"]
    assert [a.kind for a in _alerts(store, tid)] == ["counter_out_of_range"]  # nothing else
    # the same batch again judges nothing: no new alert, state unchanged
    _write(store, tid, net, cell_ids, first + 5, values[5:6])
    assert len(_alerts(store, tid)) == len(rows), "\n".join(a.message for a in _alerts(store, tid))


def test_a_cell_that_stops_reporting_is_missing_until_it_reports(
    store: Store, three_site_topology: TopologyIn
) -> None:
    tid, net, cell_ids, truth = _setup(store, three_site_topology)
    first = DAYS * IPD
    values = _next_intervals(truth, first, 4)
    for i in range(3):
        _write(store, tid, net, cell_ids, first + i, values[i : i + 1], skip=(7,))
    with store.transaction() as s:
        active = kpi_watch.list_anomalies(s, tenant_id=tid, network_id=net, active=True)
    [missing] = active
    assert missing.kind == "counter_missing"
    assert missing.cell_id == cell_ids[7]
    assert missing.since_s == EPOCH_S + 900 * first
    assert "no counters for 2 intervals" in missing.message
    _write(store, tid, net, cell_ids, first + 3, values[3:4])
    with store.transaction() as s:
        assert kpi_watch.list_anomalies(s, tenant_id=tid, network_id=net, active=True) == []
        [cleared] = kpi_watch.list_anomalies(s, tenant_id=tid, network_id=net, active=False)
    assert cleared.cleared_s == EPOCH_S + 900 * (first + 3)


def test_cells_an_applied_plan_put_to_sleep_raise_nothing(
    store: Store, three_site_topology: TopologyIn
) -> None:
    """Capacity cells asleep by an applied plan carry nothing, report their PRBs as available,
    and raise no alert (tests/detect shows the same counters without the plan's state do)."""
    tid, net, cell_ids, truth = _setup(store, three_site_topology)
    first = DAYS * IPD + 40  # 10:00 on day 4
    sleepers = [3, 4, 5]  # the first site's capacity cells
    names = [three_site_topology.cells[c].name for c in sleepers]
    with store.transaction() as s:
        run = runs.create_run(
            s, tenant_id=tid, network_id=net, objective="energy", solver="greedy",
            horizon_min=120, request={}, created_by="test", now_s=EPOCH_S,
        )  # fmt: skip
        plan = {
            "window": {"start_s": EPOCH_S + 900 * first, "asleep": [sleepers] * 8},
            "actions": [{"cell": n, "cell_index": c, "t_min": 600, "action": "sleep"}
                        for n, c in zip(names, sleepers, strict=True)],
        }  # fmt: skip
        runs.finish_run(s, tenant_id=tid, run_id=run.id, now_s=EPOCH_S, plan=plan,
                        confidence=0.95, saving_pct=10.0)  # fmt: skip
        runs.decide_run(s, tenant_id=tid, run_id=run.id, decision="applied", by="test",
                    now_s=EPOCH_S)  # fmt: skip
        times = EPOCH_S + 900 * (first - 1 + np.arange(10))
        mask = kpi_watch.planned_asleep(
            s, tenant_id=tid, network_id=net, times=times, cell_ids=np.array(cell_ids),
            names={i: c.name for i, c in zip(cell_ids, three_site_topology.cells, strict=True)},
            interval_s=900,
        )  # fmt: skip
    assert not mask[0].any()
    assert not mask[9].any()
    assert (mask[1:9][:, sleepers]).all()
    assert mask[1:9].sum() == 8 * len(sleepers)
    # the intervals before the plan: normal; then the sleepers carry nothing
    _write(store, tid, net, cell_ids, DAYS * IPD, _next_intervals(truth, DAYS * IPD, 40))
    demand = demand_for_intervals(truth.traffic, 11, 0, first + 8)[first:]
    active = np.ones(truth.num_cells, dtype=bool)
    active[sleepers] = False
    values = twin_counters(truth, simulate(truth, demand, CellState.all_on(truth.num_cells)
                                           .with_active(active)))  # fmt: skip
    values[:, sleepers, 1] = truth.arrays.num_prb[sleepers]  # reported as available
    for i in range(8):
        _write(store, tid, net, cell_ids, first + i, values[i : i + 1])
    assert [a.message for a in _alerts(store, tid)] == []
