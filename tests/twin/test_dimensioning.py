"""Dimensioning: with every cell on, each preset carries its busy hour like a planned network.

On 5 seeds, at the busy interval of the realised day 0: >= 99.5 % of the offered traffic is
served and the 95th percentile of the cells' PRB load is at most 85 %; in ``hotspot`` the
cells that carry mostly the three clusters' users are left out of that percentile. ``medium``
(4 s a seed) and ``large`` (25 s a seed) are checked on the same 5 seeds by
``benchmarks/twin.py --dimensioning`` (figures in docs/benchmarks.md); ``medium`` is also a
``slow`` test here.
"""

import numpy as np
import pytest

from ranopt.twin import CellState, Snapshot, Twin, build_twin, evaluate_snapshot, scenario_preset
from ranopt.twin.traffic import day_rng, realised_demand_mbps

SEEDS = range(5)
MIN_SERVED_RATIO = 0.995
MAX_P95_PRB_LOAD = 0.85


def busy_hour(twin: Twin) -> Snapshot:
    seed = twin.scenario.seed
    demand = realised_demand_mbps(twin.traffic, 0, day_rng(seed, 0))
    t = int(np.argmax(demand.sum(axis=1)))
    return evaluate_snapshot(twin, CellState.all_on(twin.num_cells), demand[t])


@pytest.mark.parametrize("seed", SEEDS)
def test_default_carries_its_busy_hour(seed: int) -> None:
    snap = busy_hour(build_twin(scenario_preset("default", seed=seed)))
    assert snap.served_ratio >= MIN_SERVED_RATIO
    assert np.percentile(snap.prb_load, 95) <= MAX_P95_PRB_LOAD


@pytest.mark.parametrize("seed", SEEDS)
def test_hotspot_overloads_only_its_clusters(seed: int) -> None:
    twin = build_twin(scenario_preset("hotspot", seed=seed))
    snap = busy_hour(twin)
    assert snap.served_ratio >= MIN_SERVED_RATIO
    served = snap.serving_cell >= 0
    cell = snap.serving_cell[served]
    clustered = np.bincount(
        cell,
        weights=np.where(twin.ues.hotspot[served] >= 0, snap.demand_mbps[served], 0.0),
        minlength=twin.num_cells,
    )
    cluster_cell = clustered > 0.5 * snap.cell_offered_mbps
    assert cluster_cell.any()
    assert np.percentile(snap.prb_load[~cluster_cell], 95) <= MAX_P95_PRB_LOAD
    # the clusters are where the load is
    assert snap.prb_load[cluster_cell].max() > np.percentile(snap.prb_load[~cluster_cell], 95)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_medium_carries_its_busy_hour(seed: int) -> None:
    snap = busy_hour(build_twin(scenario_preset("medium", seed=seed)))
    assert snap.served_ratio >= MIN_SERVED_RATIO
    assert np.percentile(snap.prb_load, 95) <= MAX_P95_PRB_LOAD
