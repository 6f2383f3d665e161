"""A confidence measurement whose scenarios partly hold, for the executor tests.

(Also the shape of the session's Ray test cluster, ``RayCluster``: tests/service/conftest.py,
and a partitioned day-ahead plan whose clusters the executors plan: ``PartitionCase``.)

A night plan of the seven-site twin replayed on the expected night scaled by factors from
comfortable to eight times the demand, with per-UE dispersion drawn from each scenario's own
seed: some scenarios hold and some break, so an executor that mixed up tasks or seeds would
show.
"""

from dataclasses import dataclass

import numpy as np

from ranopt.optimize.confidence import DemandDisaggregation, MapTasks, cell_demand, home_cells
from ranopt.optimize.energy import plan_energy
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.optimize.partitioned import PartitionedPlan, plan_partitioned
from ranopt.twin import Twin, build_twin, scenario_preset
from ranopt.twin.partition import Partition, partition_network
from ranopt.twin.traffic import expected_demand_mbps
from ranopt.twin.units import FloatArray

NIGHT = slice(0, 12)  # 00:00-03:00 at 15 min
FACTORS = (1.0, 2.0, 4.0, 1.5, 3.0, 8.0, 1.2, 2.5, 6.0, 1.0, 3.5, 5.0)
UE_SIGMA = 0.3
SEED = 11


@dataclass(frozen=True)
class RayCluster:
    """The test cluster's address and the raylet pid of each node (head first)."""

    address: str
    raylet_pids: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class ConfidenceCase:
    """Everything ``plan_confidence`` takes, but the rng and the map."""

    twin: Twin
    schedule: np.ndarray  # [T, C]
    scenarios: FloatArray  # [K, T, C]
    disaggregation: DemandDisaggregation
    limits: EnergyConstraints


def confidence_case() -> ConfidenceCase:
    """Build the case (about a second on two shared cores)."""
    twin = build_twin(scenario_preset("default", seed=1, num_sites=7, num_ues=300))
    expected = expected_demand_mbps(twin.traffic, 0)[NIGHT]
    home = home_cells(twin)
    plan = plan_energy(twin, expected, "greedy")
    cells = cell_demand(expected, home, twin.num_cells)
    return ConfidenceCase(
        twin=twin,
        schedule=plan.active,
        scenarios=np.stack([f * cells for f in FACTORS]),
        disaggregation=DemandDisaggregation.from_expected(expected, home, twin.num_cells),
        limits=EnergyConstraints(),
    )


@dataclass(frozen=True, eq=False)
class PartitionCase:
    """A night of a seven-site twin (24 strongest cells per UE) cut into clusters."""

    twin: Twin
    demand: FloatArray  # [T, U]
    partition: Partition


PARTITION_MAX_CELLS = 16


def partition_case() -> PartitionCase:
    """Build the case (well under a second)."""
    twin = build_twin(scenario_preset("default", seed=4, num_sites=7, num_ues=300, top_k=24))
    return PartitionCase(
        twin=twin,
        demand=expected_demand_mbps(twin.traffic, 0)[NIGHT],
        partition=partition_network(twin, PARTITION_MAX_CELLS),
    )


def plan_by_clusters(case: PartitionCase, map_tasks: MapTasks) -> PartitionedPlan:
    """The case's partitioned greedy plan with the fixed seed, clusters run by ``map_tasks``."""
    return plan_partitioned(
        case.twin, case.demand, "greedy", case.partition, rng=np.random.default_rng(SEED),
        map_tasks=map_tasks,
    )  # fmt: skip


def assert_same_partitioned_plan(a: PartitionedPlan, b: PartitionedPlan) -> None:
    """Two partitioned plans are the same: stitched, verified, measured."""
    np.testing.assert_array_equal(a.stitched_active, b.stitched_active)
    np.testing.assert_array_equal(a.stitched_trx, b.stitched_trx)
    np.testing.assert_array_equal(a.plan.active, b.plan.active)
    np.testing.assert_array_equal(a.plan.active_trx, b.plan.active_trx)
    assert a.plan.actions == b.plan.actions
    assert a.plan.expected == b.plan.expected
