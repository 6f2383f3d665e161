"""Give a registered network days of stored PM history, played by a twin of its own topology.

The twin is built from the network's stored topology with its own seed (a ground truth the
planner never sees) and simulated with every cell on; its counters are written the way the
twin export reports them (TS 28.552 names, stored units), through the repository's upsert.
Tests that are about the export and ingest path itself use ``export_twin_run`` and
``ingest_file`` instead (tests/calibrate).
"""

import numpy as np

from ranopt.ingest.export import DEFAULT_EPOCH
from ranopt.store import calibration as store_cal
from ranopt.store import repository as repo
from ranopt.store.engine import Store
from ranopt.store.samples import SampleBatch
from ranopt.twin import CellState, simulate
from ranopt.twin.model import Twin
from ranopt.twin.simulate import IntervalKpis
from ranopt.twin.topology import build_topology_twin, topology_layout, topology_scenario
from ranopt.twin.traffic import demand_for_intervals

EPOCH_S = int(DEFAULT_EPOCH.timestamp())  # a Monday, 00:00 UTC


def network_truth(
    store: Store, *, tenant_id: int, network_id: int, seed: int, num_ues: int
) -> Twin:
    """A twin of the stored topology with its own seed and UE drop (the ground truth)."""
    with store.transaction() as session:
        sites, cells = store_cal.topology_records(
            session, tenant_id=tenant_id, network_id=network_id
        )
    layout = topology_layout(sites, cells)
    return build_topology_twin(
        layout, topology_scenario(layout, name="truth", seed=seed, num_ues=num_ues)
    )


def kpi_batch(twin: Twin, kpis: IntervalKpis, cell_ids: list[int], start_s: int) -> SampleBatch:
    """The run's counters as one batch (every interval and cell), as the export writes them."""
    num_t, num_c = kpis.prb_load.shape
    interval_s = kpis.interval_min * 60
    num_prb = twin.arrays.num_prb.astype(np.float64)
    values = {
        "prb_used_dl": kpis.prb_load * num_prb,
        "prb_avail_dl": kpis.active * num_prb,
        "prb_tot_dl_pct": 100.0 * kpis.prb_load,
        "ue_thp_dl_mbps": kpis.ue_thp_mbps,
        "rrc_conn_mean": kpis.num_ues.astype(np.float64),
        "pee_avg_power_w": kpis.power_w,
        "pee_energy_kwh": kpis.energy_kwh,
        "dl_volume_mbit": kpis.served_mbps * interval_s,
    }
    return SampleBatch(
        cell_id=np.tile(np.array(cell_ids, dtype=np.int64), num_t),
        interval_start_s=np.repeat(start_s + interval_s * np.arange(num_t, dtype=np.int64), num_c),
        values={
            k: np.ascontiguousarray(v, dtype=np.float64).reshape(-1) for k, v in values.items()
        },
        suspect=np.zeros(num_t * num_c, dtype=bool),
    )


def write_history(
    store: Store,
    *,
    tenant_id: int,
    network_id: int,
    days: float,
    seed: int = 11,
    num_ues: int = 60,
    start_s: int = EPOCH_S,
) -> Twin:
    """Store ``days`` of always-on counters from ``start_s``; return the truth twin."""
    truth = network_truth(
        store, tenant_id=tenant_id, network_id=network_id, seed=seed, num_ues=num_ues
    )
    num_t = round(days * truth.scenario.intervals_per_day)
    demand = demand_for_intervals(truth.traffic, seed, 0, num_t)
    kpis = simulate(truth, demand, CellState.all_on(truth.num_cells))
    with store.transaction() as session:
        cell_ids = [
            c.id for c in repo.network_cells(session, tenant_id=tenant_id, network_id=network_id)
        ]
        repo.upsert_samples(
            session, tenant_id=tenant_id, network_id=network_id,
            batch=kpi_batch(truth, kpis, cell_ids, start_s),
        )  # fmt: skip
    return truth
