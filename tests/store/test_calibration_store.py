"""What calibration reads from the store (both backends): topology, PM arrays, applied sleep."""

import numpy as np

from pm_history import EPOCH_S, write_history
from ranopt.store import calibration as store_cal
from ranopt.store import loops
from ranopt.store import repository as repo
from ranopt.store.engine import Store
from ranopt.store.samples import SampleBatch
from ranopt.store.schemas import TopologyIn


def test_pm_history_arrays_applied_sleep_and_reports(
    store: Store, three_site_topology: TopologyIn
) -> None:
    with store.transaction() as session:
        tid = repo.ensure_tenant(session, name="lab", now_s=0)
        net = repo.create_network(session, tenant_id=tid, topology=three_site_topology, now_s=0)
        cell_ids = [c.id for c in repo.network_cells(session, tenant_id=tid, network_id=net.id)]
    write_history(store, tenant_id=tid, network_id=net.id, days=1.5)
    interval = 2 * 96 - 10  # in the second day's unreported part: no counters, a known state
    with store.transaction() as session:
        # one sample with RRU.PrbTotDl only, one flagged suspect (left out)
        repo.upsert_samples(
            session, tenant_id=tid, network_id=net.id,
            batch=SampleBatch(
                cell_id=np.array(cell_ids[:2], dtype=np.int64),
                interval_start_s=np.full(2, EPOCH_S + 150 * 900, dtype=np.int64),
                values={
                    "prb_tot_dl_pct": np.array([50.0, 10.0]),
                    "dl_volume_mbit": np.array([100.0, 10.0]),
                },
                suspect=np.array([False, True]),
            ),
        )  # fmt: skip
        loops.configure_loop(
            session, tenant_id=tid, network_id=net.id, enabled=False, auto_apply=True,
            confidence_threshold=0.9, solver="greedy", horizon_intervals=4, now_s=0,
        )  # fmt: skip
        loops.record_interval(
            session, tenant_id=tid, network_id=net.id, now_s=0, live=None,
            row=loops.LoopIntervalRow(
                interval=interval, phase="loop", offered_mbps=1.0, served_mbps=1.0,
                power_w=1.0, always_on_served_mbps=1.0, always_on_power_w=1.0, violations=0,
                switching_breaks=0, home_demand_mbps=[0.0] * 18, asleep=[4, 5], failed=[],
                tick_s=None,
            ),
        )  # fmt: skip
        window = store_cal.history_window(
            session, tenant_id=tid, network_id=net.id, interval_s=900, max_days=14
        )
        history = store_cal.pm_history(
            session, tenant_id=tid, network_id=net.id, start_s=window[0], end_s=window[1]
        )
        sites, cells = store_cal.topology_records(session, tenant_id=tid, network_id=net.id)
    assert window == (EPOCH_S, EPOCH_S + 2 * 86_400)
    assert history.prb_used.shape == (192, 18)
    assert history.cell_names == tuple(c.name for c in three_site_topology.cells)
    assert history.days_found() == (144 * 18 + 1) / (96 * 18)  # 1.5 days and the extra sample
    # PRB used derived from RRU.PrbTotDl and the carrier's PRBs; the suspect one is absent
    assert history.prb_used[150, 0] == 0.5 * 106
    assert np.isnan(history.prb_used[150, 1])
    assert np.isnan(history.volume_mbit[150, 1])
    # the loop's applied sleep mask lands on its interval, cells in id order
    assert history.applied_asleep.sum() == 2
    assert history.applied_asleep[interval, [4, 5]].all()
    assert history.asleep[interval].sum() == 2
    assert [c.name for c in cells] == [c.name for c in three_site_topology.cells]
    assert cells[0].tilt_deg is None
    assert cells[0].x_m is None
    assert sites[1].x_m == 500.0
    with store.transaction() as session:
        assert store_cal.latest_report(session, tenant_id=tid, network_id=net.id) is None
        for k in range(2):
            store_cal.save_report(
                session, tenant_id=tid, network_id=net.id, report={"k": k},
                data_end_s=window[1], days_found=1.5, prb_load_wape=None, now_s=10 + k,
            )  # fmt: skip
        latest = store_cal.latest_report(session, tenant_id=tid, network_id=net.id)
        assert latest is not None
        assert latest.report == {"k": 1}
