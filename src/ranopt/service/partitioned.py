"""A day-ahead energy plan by clusters, run on the configured executor, with its report.

The user path to ``ranopt.optimize.partitioned`` (issue 16): the twin is cut into clusters of
at most ``max_cells`` cells by interference coupling, a sector's cells never apart
(``ranopt.twin.partition.partition_network``), each cluster is planned as one task of the
process's executor (in process, ``RANOPT_WORKERS`` pool or ``RANOPT_RAY_ADDRESS`` cluster),
and the stitched plan is verified and measured on the whole network.
``ranopt optimize --partition-cells N`` plans this way.
"""

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ranopt.errors import ValidationError
from ranopt.optimize.energy import EnergyConfig
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.optimize.partitioned import PartitionedPlan, plan_partitioned
from ranopt.service.executor import Executor, configured_executor
from ranopt.twin.model import Twin
from ranopt.twin.partition import Partition, partition_network
from ranopt.twin.snapshot import Snapshot
from ranopt.twin.units import FloatArray

# the smallest cluster cap accepted: a sector's two cells (coverage and capacity), one sector
# per cluster, planned alone against a border of its neighbours (sectors are never split, so a
# smaller cap changes nothing); large networks want hundreds (docs/scale.md: 200-400)
MIN_PARTITION_CELLS = 2
# the largest accepted at the API boundary (a bound on input, not on what planning allows)
MAX_PARTITION_CELLS = 1_000_000


@dataclass(frozen=True)
class ClusteredPlan:
    """The verified partitioned plan, the executor that ran it and the partition's CPU time."""

    result: PartitionedPlan
    executor: str
    workers: int
    partition_cpu_s: float  # coupling matrix plus clustering, this process's CPU seconds


def check_partition_cells(max_cells: int) -> None:
    """Refuse a cluster cap below ``MIN_PARTITION_CELLS``, naming the option."""
    if max_cells < MIN_PARTITION_CELLS:
        msg = f"partition_cells: must be at least {MIN_PARTITION_CELLS}, got {max_cells}"
        raise ValidationError(msg)


def partition_twin(twin: Twin, max_cells: int) -> tuple[Partition, float]:
    """Partition the twin's cells into clusters of at most ``max_cells``; return the CPU seconds.

    Each sector's cells stay together (``partition_network``), so a cap below a sector's
    cells gives clusters of one sector each.
    """
    check_partition_cells(max_cells)
    started = time.process_time()
    partition = partition_network(twin, max_cells)
    return partition, time.process_time() - started


def plan_by_clusters(
    twin: Twin,
    demand_mbps: FloatArray,
    solver: str,
    max_cells: int,
    limits: EnergyConstraints,
    config: EnergyConfig,
    rng: np.random.Generator,
    executor: Executor | None = None,
    references: list[Snapshot] | None = None,
) -> ClusteredPlan:
    """Partition, plan every cluster on ``executor`` (the configured one by default), verify.

    The plan's figures are measured on the whole twin (``plan_partitioned``); ``rng`` is
    consumed exactly as ``plan_partitioned`` consumes it, so a direct call with the same
    Generator state gives the same plan.
    """
    partition, cpu_s = partition_twin(twin, max_cells)
    runner = executor or configured_executor()
    result = plan_partitioned(
        twin, demand_mbps, solver, partition, limits=limits, config=config, rng=rng,
        map_tasks=runner.map, references=references,
    )  # fmt: skip
    return ClusteredPlan(
        result=result, executor=runner.name, workers=runner.workers, partition_cpu_s=cpu_s
    )


def partition_summary(planned: ClusteredPlan) -> dict[str, Any]:
    """Return what the partition was and what the whole-network check changed, JSON-ready."""
    result = planned.result
    partition = result.partition
    own = [int(c.size) for c in partition.clusters]
    border = [int(g.size) for g in partition.guards]
    return {
        "clusters": partition.num_clusters,
        "cells": sum(own),
        "largest_cluster_cells": max(own, default=0),
        "border_cells": sum(border),  # summed over clusters (a cell may border several)
        "largest_border_cells": max(border, default=0),
        "guard_threshold": partition.threshold,
        "partition_cpu_s": round(planned.partition_cpu_s, 3),
        "executor": planned.executor,
        "workers": planned.workers,
        "cells_woken_in_clusters": result.cluster_cells_woken,
        "cells_woken_by_whole_network_check": result.cells_woken,
        "cell_intervals_changed_by_whole_network_check": result.changed_cell_intervals,
    }
