"""A day-ahead energy plan cluster by cluster, stitched, then verified on the whole network.

Past one machine (issue 16): the network is cut into clusters by interference coupling
(``ranopt.twin.partition``); each cluster's energy plan (``plan_energy`` on the twin of the
cluster and its frozen guard border) is one task of a ``MapTasks`` map (in process, a local
pool or a Ray cluster: ``ranopt.service.executor``), the cluster schedules are stitched into
one network schedule, and that schedule is replayed on the whole network and repaired where it
breaks a limit (``repair_schedule``: the verification every plan gets), so the plan's figures
are the whole twin's. Each cluster's rng is its own ``SeedSequence`` child: the same plan
whichever executor runs the clusters and in whatever order.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.errors import ValidationError
from ranopt.optimize.actions import full_trx
from ranopt.optimize.confidence import MapTasks, map_in_process
from ranopt.optimize.energy import (
    ENERGY_SOLVERS,
    EnergyConfig,
    ReferenceCache,
    always_on_snapshots,
    assemble_plan,
    plan_energy,
    repair_schedule,
)
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.optimize.plan import Plan, SolveInfo, SolveStatus
from ranopt.twin.model import Twin
from ranopt.twin.partition import Partition, always_on_serving, cluster_twin, cluster_ues
from ranopt.twin.snapshot import Snapshot
from ranopt.twin.units import FloatArray

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ClusterSettings:
    """What every cluster's plan shares (the map's shared input: small)."""

    solver: str
    limits: EnergyConstraints
    config: EnergyConfig


@dataclass(frozen=True, eq=False)
class ClusterTask:
    """One cluster's planning input: its twin (cluster plus frozen border), demand and seed."""

    index: int
    twin: Twin
    demand_mbps: FloatArray  # [T, U'] demand of the cluster twin's UEs
    planned: IntArray  # positions of the cluster's own cells in the cluster twin
    seed: np.random.SeedSequence


@dataclass(frozen=True, eq=False)
class ClusterSchedule:
    """One cluster's plan for its own cells: on/sleep and chains ``[T, n]``."""

    index: int
    active: BoolArray
    trx: IntArray
    cells_woken: int  # by the cluster plan's own twin check


def plan_cluster(settings: ClusterSettings, task: ClusterTask) -> ClusterSchedule:
    """Plan one cluster (a map task: pure, seeded by the task)."""
    plan = plan_energy(
        task.twin, task.demand_mbps, settings.solver, limits=settings.limits,
        config=settings.config, rng=np.random.default_rng(task.seed),
    )  # fmt: skip
    trx = plan.active_trx
    if trx is None:
        trx = full_trx(task.twin, plan.active.shape[0])
    return ClusterSchedule(
        index=task.index,
        active=plan.active[:, task.planned],
        trx=np.asarray(trx[:, task.planned], dtype=np.int64),
        cells_woken=int(plan.solve.detail.get("cells_woken_by_twin_check", 0)),
    )


def cluster_tasks(
    twin: Twin, demand_mbps: FloatArray, partition: Partition, rng: np.random.Generator
) -> list[ClusterTask]:
    """One task per cluster: its twin with the guard border frozen, its UEs' demand, a seed.

    Largest first (``task_weight``, ties by cluster index), so that an executor dealing the
    tasks in order gives each worker the largest one left (longest processing time first,
    Graham 1969); each task keeps its cluster's index and seed, so the order changes no plan.
    """
    seeds = np.random.SeedSequence(int(rng.integers(2**63))).spawn(partition.num_clusters)
    serving = always_on_serving(twin)
    tasks = []
    for index, (own, guard) in enumerate(zip(partition.clusters, partition.guards, strict=True)):
        cells = np.union1d(own, guard).astype(np.int64)
        ues = cluster_ues(serving, cells, twin.num_cells)
        tasks.append(
            ClusterTask(
                index=index,
                twin=cluster_twin(twin, cells, guard, ues),
                demand_mbps=np.ascontiguousarray(demand_mbps[:, ues]),
                planned=np.searchsorted(cells, own).astype(np.int64),
                seed=seeds[index],
            )
        )
    return sorted(tasks, key=lambda task: (-task_weight(task), task.index))


def task_weight(task: ClusterTask) -> int:
    """Return the expected work of a cluster's plan: its own cells times its twin's UEs.

    The greedy planner weighs each of its own cells (the candidates) against an evaluation
    of the cluster twin, which grows with the UEs in it.
    """
    return int(task.planned.size) * task.twin.num_ues


def stitch(
    twin: Twin, num_intervals: int, partition: Partition, schedules: list[ClusterSchedule]
) -> tuple[BoolArray, IntArray]:
    """Return the network schedule ``[T, C]`` and chains from the clusters' own cells."""
    active = np.ones((num_intervals, twin.num_cells), dtype=bool)
    trx = full_trx(twin, num_intervals)
    for schedule in schedules:
        cells = partition.clusters[schedule.index]
        active[:, cells] = schedule.active
        trx[:, cells] = schedule.trx
    return active, trx


@dataclass(frozen=True, eq=False)
class PartitionedPlan:
    """The verified network plan and what stitching and verification did."""

    plan: Plan
    partition: Partition
    stitched_active: BoolArray  # [T, C] before the whole-network verification
    stitched_trx: IntArray  # [T, C]
    cells_woken: int  # cell wake-ups the whole-network verification made
    changed_cell_intervals: int  # cell-intervals the verification woke or unmuted
    cluster_cells_woken: int  # wake-ups the clusters' own checks made, summed


def verify_stitched(
    twin: Twin,
    demand_mbps: FloatArray,
    active: BoolArray,
    trx: IntArray,
    limits: EnergyConstraints,
    config: EnergyConfig,
    references: list[Snapshot],
) -> tuple[BoolArray, IntArray, int]:
    """Replay a stitched schedule on the whole network; unmute and wake until it holds."""
    cache = ReferenceCache(twin, [demand_mbps])
    cache.seed(0, references)
    fixed, chains, woken = repair_schedule(
        twin, [demand_mbps], active, trx, limits, cache, config.repair_rounds,
        neighbourhood=config.neighbourhood_repair,
    )  # fmt: skip
    return fixed, chains, woken


def plan_partitioned(
    twin: Twin,
    demand_mbps: FloatArray,
    solver: str,
    partition: Partition,
    *,
    limits: EnergyConstraints | None = None,
    config: EnergyConfig | None = None,
    rng: np.random.Generator | None = None,
    map_tasks: MapTasks = map_in_process,
    references: list[Snapshot] | None = None,
) -> PartitionedPlan:
    """Plan each cluster as one task of ``map_tasks``, stitch, verify on the whole network.

    ``references`` are the whole network's always-on snapshots of ``demand_mbps`` when the
    caller has them. The returned plan's figures are measured on the whole twin.
    """
    if solver not in ENERGY_SOLVERS:
        msg = f"solver must be one of {ENERGY_SOLVERS}, got {solver!r}"
        raise ValidationError(msg)
    limits = limits or EnergyConstraints()
    config = config or EnergyConfig()
    rng = rng or np.random.default_rng(0)
    tasks = cluster_tasks(twin, demand_mbps, partition, rng)
    schedules = map_tasks(plan_cluster, ClusterSettings(solver, limits, config), tasks)
    if references is None:
        references = always_on_snapshots(twin, demand_mbps)
    return finish_partitioned(
        twin, demand_mbps, partition, schedules, solver, limits, config, references
    )


def finish_partitioned(
    twin: Twin,
    demand_mbps: FloatArray,
    partition: Partition,
    schedules: list[ClusterSchedule],
    solver: str,
    limits: EnergyConstraints,
    config: EnergyConfig,
    references: list[Snapshot],
) -> PartitionedPlan:
    """Stitch the cluster schedules, verify and repair on the whole network, measure the plan."""
    stitched, stitched_trx = stitch(twin, demand_mbps.shape[0], partition, schedules)
    active, trx, woken = verify_stitched(
        twin, demand_mbps, stitched, stitched_trx, limits, config, references
    )
    changed = int(((active != stitched) | (trx != stitched_trx)).sum())
    cluster_woken = sum(s.cells_woken for s in schedules)
    info = SolveInfo(
        status=SolveStatus.FEASIBLE,
        iterations=partition.num_clusters,
        detail={
            "clusters": partition.num_clusters,
            "guard_threshold": partition.threshold,
            "cells_woken_by_twin_check": woken,
            "cells_woken_in_clusters": cluster_woken,
        },
    )
    plan = assemble_plan(
        twin, demand_mbps, active, trx, limits, config, solver=f"partitioned-{solver}",
        solve=info, references=references,
    )  # fmt: skip
    return PartitionedPlan(
        plan=plan,
        partition=partition,
        stitched_active=stitched,
        stitched_trx=stitched_trx,
        cells_woken=woken,
        changed_cell_intervals=changed,
        cluster_cells_woken=cluster_woken,
    )
