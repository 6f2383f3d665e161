"""A day-ahead energy plan by clusters: stitched, verified on the whole network."""

import numpy as np
import pytest

from ranopt.optimize.energy import plan_energy
from ranopt.optimize.partitioned import (
    PartitionedPlan,
    cluster_tasks,
    plan_partitioned,
    task_weight,
)
from ranopt.optimize.plan import Plan
from ranopt.twin import Twin, build_twin, scenario_preset
from ranopt.twin.partition import Partition, partition_network
from ranopt.twin.traffic import expected_demand_mbps
from ranopt.twin.units import FloatArray

NIGHT = slice(0, 12)  # 00:00-03:00
MAX_CELLS = 40
# the clusters' plan may save less than the whole network's by at most this (points); more is
# allowed: it is the whole twin that says the plan holds
SAVING_TOLERANCE_PTS = 1.0
SEED = 5


@pytest.fixture(scope="module")
def twin() -> Twin:
    """19 sites (114 cells, 57 capacity cells), 600 UEs, each UE's 24 strongest cells."""
    return build_twin(scenario_preset("default", seed=2, num_sites=19, num_ues=600, top_k=24))


@pytest.fixture(scope="module")
def demand(twin: Twin) -> FloatArray:
    return expected_demand_mbps(twin.traffic, 0)[NIGHT]


@pytest.fixture(scope="module")
def partition(twin: Twin) -> Partition:
    return partition_network(twin, MAX_CELLS)


@pytest.fixture(scope="module")
def partitioned(twin: Twin, demand: FloatArray, partition: Partition) -> PartitionedPlan:
    return plan_partitioned(twin, demand, "greedy", partition, rng=np.random.default_rng(SEED))


@pytest.fixture(scope="module")
def whole(twin: Twin, demand: FloatArray) -> Plan:
    return plan_energy(twin, demand, "greedy", rng=np.random.default_rng(SEED))


def test_the_verified_stitched_plan_keeps_every_limit(partitioned: PartitionedPlan):
    assert partitioned.partition.num_clusters >= 3
    assert partitioned.plan.expected.constraint_violations == 0
    assert partitioned.plan.solver == "partitioned-greedy"
    # verification only wakes and unmutes what the clusters planned
    assert (partitioned.plan.active >= partitioned.stitched_active).all()
    assert partitioned.plan.active_trx is not None
    assert (partitioned.plan.active_trx >= partitioned.stitched_trx).all()
    # here the stitched plan broke a limit in the whole twin: the verification repaired it
    assert partitioned.changed_cell_intervals > 0
    assert (~partitioned.plan.active).sum() > 0


def test_the_saving_is_within_tolerance_of_the_whole_network_plan(
    partitioned: PartitionedPlan, whole: Plan
):
    assert whole.expected.constraint_violations == 0
    assert partitioned.plan.expected.always_on_energy_kwh == pytest.approx(
        whole.expected.always_on_energy_kwh
    )
    assert partitioned.plan.expected.saving_pct >= whole.expected.saving_pct - SAVING_TOLERANCE_PTS


def test_one_cluster_is_the_whole_network_plan(twin: Twin, demand: FloatArray, whole: Plan):
    single = partition_network(twin, twin.num_cells)
    assert single.num_clusters == 1
    assert single.guards[0].size == 0
    plan = plan_partitioned(twin, demand, "greedy", single, rng=np.random.default_rng(SEED))
    np.testing.assert_array_equal(plan.plan.active, whole.active)
    np.testing.assert_array_equal(plan.plan.active_trx, whole.active_trx)
    assert plan.changed_cell_intervals == 0
    assert plan.plan.expected == whole.expected


def test_cluster_tasks_come_largest_first(twin: Twin, demand: FloatArray, partition: Partition):
    """Tasks in falling ``task_weight`` (own cells x the cluster twin's UEs), each cluster once."""
    tasks = cluster_tasks(twin, demand, partition, np.random.default_rng(SEED))
    assert sorted(t.index for t in tasks) == list(range(partition.num_clusters))
    weights = [task_weight(t) for t in tasks]
    assert weights == sorted(weights, reverse=True)
    for task in tasks:
        assert task.planned.size == partition.clusters[task.index].size
        assert task_weight(task) == task.planned.size * task.twin.num_ues
