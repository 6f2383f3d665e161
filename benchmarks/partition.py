"""Benchmark issue 16 (past one machine): a day-ahead energy plan by clusters, on 1-2 workers.

Run from the repository root::

    nice -n 10 .venv/bin/python benchmarks/partition.py workers [--cells 1000]
    nice -n 10 .venv/bin/python benchmarks/partition.py big [--cells 10000]

Prints one JSON object on stdout (progress on stderr). Every network is a synthetic irregular
one (``ranopt.twin.shapes.synthetic_records``: a hexagonal lattice with sites missing, the
rest moved, turned, tilted and raised), built in a fresh single-threaded child process whose
peak RSS is its own; the plan is the greedy day-ahead energy plan of ``--intervals`` intervals
of the expected day 0 from interval ``--start`` (15 min each), with the default limits.

``workers``: on one network (``--cells``), the stages of ``plan_partitioned`` timed one by
one (coupling matrix and partition, cutting the cluster twins, the clusters' plans as one map,
the whole network's always-on day, stitching with verification and repair on the whole
network) with the clusters planned in process, on the local process pool with 1 and 2
workers and on a local Ray cluster on 127.0.0.1 with one and then two one-CPU nodes; in the
same run main's partitioner before 16l (``agglomerative_partition``, Kruskal's capped
agglomeration: the baseline of the partition) in process, pure CPU work on the same pools (the
1 -> 2 ceiling of the machine at that moment) and the whole-network plan (``plan_energy``, one
process: the baseline of the plan) on the same twin and demand. Reported: each stage's time
and CPU seconds, each cluster task's CPU seconds and ``task_weight`` in submission order and
what they allow two workers (longest first, in submission order, the pool's snake chunks),
the 1 -> 2 worker speed-up of the cluster map and of the whole partitioned plan per executor,
both partitions' cluster sizes, borders, cluster CPU and savings, the whole-network plan's,
whether every executor's plan is identical to the in-process one, the peak RSS (VmHWM) of each
worker process, and ``uptime`` at start and end.

``big``: one network (``--cells``, 10 000 by default) planned through the local Ray cluster
of two one-CPU nodes, once per partitioner (``--partitioners``: ``spectral``, the default,
and ``agglomerative_baseline``) and guard threshold (``--guard-thresholds``), then the
whole-network plan in one process (the baseline; ``--no-whole`` skips it): the same stages,
peak RSS of the driver and of each Ray worker process, the CPU seconds of each cluster's plan,
each stage's CPU seconds per cell, and an extrapolation to ``--extrapolate-cells`` cells on N
workers from those per-cell costs (plainly marked as one).

Wall times and CPU seconds are both reported: on a shared machine a process waits for a core,
and the CPU seconds are the work.

The machine is shared: the load averages at start and end and the number of CPUs are printed
with the figures.
"""

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import coo_array

from machine import run_child as run_single_threaded
from ranopt.optimize.confidence import MapTasks
from ranopt.optimize.energy import EnergyConfig, always_on_snapshots, plan_energy
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.optimize.partitioned import (
    ClusterSettings,
    ClusterTask,
    PartitionedPlan,
    cluster_tasks,
    finish_partitioned,
    plan_cluster,
    task_weight,
)
from ranopt.service.executor import InProcessExecutor, PoolExecutor, RayExecutor, snake_deal
from ranopt.twin import Twin
from ranopt.twin.partition import (
    GUARD_THRESHOLD,
    Partition,
    coupling_matrix,
    guard_border,
    partition_cells,
    sector_groups,
)
from ranopt.twin.shapes import synthetic_records
from ranopt.twin.topology import build_topology_twin, topology_layout, topology_scenario
from ranopt.twin.traffic import expected_demand_mbps
from ranopt.twin.units import FloatArray
from scale import _spin, _timed_map

CHILD_TIMEOUT_S = 4 * 3600
NETWORK_SEED = 16
TWIN_SEED = 1
PLAN_SEED = 5
WARM_TASK_S = 0.2  # long enough for every worker of the cluster to take a warm-up task


def log(message: str) -> None:
    """Progress on stderr, with the 1-minute load average."""
    print(f"[{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.1f}] {message}",
          file=sys.stderr, flush=True)  # fmt: skip


def synthetic_twin(num_cells: int, ues_per_site: int) -> Twin:
    """The benchmark's irregular network of about ``num_cells`` cells."""
    sites, cells = synthetic_records(num_cells, np.random.default_rng(NETWORK_SEED))
    layout = topology_layout(sites, cells)
    scenario = topology_scenario(
        layout, name="synthetic", seed=TWIN_SEED, num_ues=ues_per_site * len(layout.sites)
    )
    return build_topology_twin(layout, scenario)


def _peak_rss_mib(pid: int) -> float | None:
    """Peak resident set (VmHWM) of a live process, MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        return None
    return None


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def pool_worker_rss() -> list[float | None]:
    """Peak RSS of this process's pool workers (``spawn`` children), MiB."""
    return [_peak_rss_mib(p) for p in _children(os.getpid()) if "spawn_main" in _cmdline(p)]


def ray_worker_rss(raylets: list[int]) -> list[float | None]:
    """Peak RSS of the Ray worker processes under the given raylets, MiB."""
    return [
        _peak_rss_mib(p) for r in raylets for p in _children(r) if _cmdline(p).startswith("ray::")
    ]


def _self_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def agglomerative_partition(
    coupling: Any, max_cells: int, threshold: float = GUARD_THRESHOLD, groups: Any = None
) -> Partition:
    """The partitioner before compact clusters (main at 35a1333), kept as this benchmark's baseline.

    ``groups`` is ignored: it cut cells, not sectors.

    Kruskal's agglomeration with a size cap, strongest pair first (ties by cell index), then
    clusters under half the cap join their most coupled neighbour within the cap, and those
    under a tenth of it within the cap plus a tenth; borders as ``guard_border`` draws them.
    """
    num_cells = int(coupling.shape[0])
    upper = coo_array(coupling)
    keep = upper.row < upper.col
    i_all, j_all, w_all = upper.row[keep], upper.col[keep], upper.data[keep]
    order = np.lexsort((j_all, i_all, -w_all))
    parent = list(range(num_cells))
    size = [1] * num_cells

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def merge(a: int, b: int) -> None:
        a, b = min(a, b), max(a, b)
        parent[b] = a
        size[a] += size[b]

    for i, j in zip(i_all[order].tolist(), j_all[order].tolist(), strict=True):
        a, b = find(i), find(j)
        if a != b and size[a] + size[b] <= max_cells:
            merge(a, b)
    for small, cap in ((max_cells / 2, max_cells), (max_cells / 10, max_cells + max_cells // 10)):
        for root in sorted({find(c) for c in range(num_cells)}, key=lambda r: (size[r], r)):
            if find(root) != root or size[root] >= small:
                continue
            labels = np.array([find(c) for c in range(num_cells)])
            row = coupling[np.flatnonzero(labels == root)].tocoo()
            towards = np.bincount(labels[row.col], weights=row.data, minlength=num_cells)
            towards[root] = 0.0
            fits = (labels == np.arange(num_cells)) & (np.asarray(size) + size[root] <= cap)
            towards = np.where(fits, towards, 0.0)
            if towards.max(initial=0.0) > 0:
                merge(root, int(np.argmax(towards)))
    labels = np.array([find(c) for c in range(num_cells)], dtype=np.int64)
    clusters = tuple(
        np.flatnonzero(labels == r).astype(np.int64) for r in sorted(set(labels.tolist()))
    )
    return Partition(
        clusters=clusters,
        guards=tuple(guard_border(coupling, cells, threshold) for cells in clusters),
        threshold=threshold,
    )


PARTITIONERS = {"spectral": partition_cells, "agglomerative_baseline": agglomerative_partition}


class Stages:
    """Times each stage of one partitioned plan: wall clock, and this process's CPU time."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.task_cpu: list[float] = []  # CPU seconds of each cluster's plan, in task order
        self.task_weight: list[int] = []  # task_weight of each task, in task order
        self.task_cluster: list[int] = []  # cluster index of each task, in task order

    def run(self, name: str, fn: Any, *args: Any) -> Any:
        start, cpu = time.perf_counter(), time.process_time()
        result = fn(*args)
        self.seconds[name] = round(time.perf_counter() - start, 3)
        self.cpu[name.replace("_s", "_cpu_s", 1)] = round(time.process_time() - cpu, 3)
        return result


def timed_plan_cluster(settings: ClusterSettings, task: ClusterTask) -> tuple[Any, float]:
    """``plan_cluster`` with the CPU seconds its worker spent on it."""
    start = time.process_time()
    schedule = plan_cluster(settings, task)
    return schedule, time.process_time() - start


def partitioned_plan(
    twin: Twin,
    demand: FloatArray,
    max_cells: int,
    map_tasks: MapTasks,
    stages: Stages,
    references: list[Any] | None = None,
    threshold: float = GUARD_THRESHOLD,
    partitioner: str = "spectral",
) -> tuple[PartitionedPlan, list[Any]]:
    """``plan_partitioned`` stage by stage (the same functions in the same order), timed."""
    limits, config = EnergyConstraints(), EnergyConfig()
    coupling = stages.run("coupling_s", coupling_matrix, twin)
    partition = stages.run(
        "partition_s", PARTITIONERS[partitioner], coupling, max_cells, threshold,
        sector_groups(twin),
    )  # fmt: skip
    tasks = stages.run("cut_clusters_s", cluster_tasks, twin, demand, partition,
                       np.random.default_rng(PLAN_SEED))  # fmt: skip
    stages.task_weight = [task_weight(t) for t in tasks]
    stages.task_cluster = [t.index for t in tasks]
    timed = stages.run(
        "cluster_map_s", map_tasks, timed_plan_cluster, ClusterSettings("greedy", limits, config),
        tasks,
    )  # fmt: skip
    schedules = [schedule for schedule, _ in timed]
    stages.cpu["cluster_tasks_cpu_s_sum"] = round(sum(cpu for _, cpu in timed), 3)
    stages.cpu["cluster_tasks_cpu_s_max"] = round(max(cpu for _, cpu in timed), 3)
    stages.task_cpu = [round(cpu, 3) for _, cpu in timed]
    if references is None:
        references = stages.run("always_on_whole_s", always_on_snapshots, twin, demand)
    plan = stages.run(
        "verify_and_measure_whole_s", finish_partitioned, twin, demand, partition, schedules,
        "greedy", limits, config, references,
    )  # fmt: skip
    stages.seconds["total_s"] = round(sum(stages.seconds.values()), 3)
    stages.seconds["partition_overhead_s"] = round(
        stages.seconds["coupling_s"] + stages.seconds["partition_s"]
        + stages.seconds["cut_clusters_s"], 3
    )  # fmt: skip
    return plan, references


def describe(plan: PartitionedPlan) -> dict[str, Any]:
    """The plan's figures and the partition's shape: sizes, their spread, the borders."""
    part = plan.partition
    sizes = [int(c.size) for c in part.clusters]
    guards = [int(g.size) for g in part.guards]
    return {
        "clusters": part.num_clusters,
        "cluster_cells_min_median_max": [min(sizes), int(np.median(sizes)), max(sizes)],
        "cluster_cells_max_over_min": round(max(sizes) / min(sizes), 3),
        "guard_cells_min_median_max": [min(guards), int(np.median(guards)), max(guards)],
        "guard_over_cluster_cells": round(sum(guards) / sum(sizes), 3),
        "cells_planned_over_network_cells": round((sum(guards) + sum(sizes)) / sum(sizes), 3),
        "saving_pct": round(plan.plan.expected.saving_pct, 3),
        "violations": plan.plan.expected.constraint_violations,
        "cells_woken_by_whole_network_check": plan.cells_woken,
        "cell_intervals_changed_by_whole_network_check": plan.changed_cell_intervals,
        "cell_intervals_asleep": int((~plan.plan.active).sum()),
    }


def partition_shapes(twin: Twin, max_cells: int, thresholds: list[float]) -> dict[str, Any]:
    """Both partitioners' clusters and borders at each guard threshold, with their CPU seconds."""
    coupling = coupling_matrix(twin)
    groups = sector_groups(twin)
    shapes: dict[str, Any] = {}
    for name, partitioner in PARTITIONERS.items():
        for threshold in thresholds:
            cpu = time.process_time()
            part = partitioner(coupling, max_cells, threshold, groups)
            cpu = time.process_time() - cpu
            sizes = [int(c.size) for c in part.clusters]
            guards = [int(g.size) for g in part.guards]
            shapes[f"{name}@{threshold}"] = {
                "clusters": part.num_clusters,
                "cluster_cells_min_median_max": [min(sizes), int(np.median(sizes)), max(sizes)],
                "guard_cells_min_median_max": [min(guards), int(np.median(guards)), max(guards)],
                "guard_over_cluster_cells": round(sum(guards) / sum(sizes), 3),
                "largest_cluster_plus_border": max(
                    a + b for a, b in zip(sizes, guards, strict=True)
                ),
                "partition_cpu_s": round(cpu, 3),
            }
    return shapes


def task_figures(stages: "Stages") -> dict[str, Any]:
    """Each cluster task's CPU seconds and weight, in submission order, and what 2 workers allow.

    ``lpt_bound``: the tasks' CPU seconds dealt longest first to the least loaded of two
    workers (the best list schedule). ``in_submission_order``: dealt in the order submitted
    (largest ``task_weight`` first) to whichever worker is free, as Ray deals them.
    ``pool_snake_chunks``: the pool's two chunks (``executor.snake_deal``). Each is the sum of the
    CPU seconds over the two-worker finish time: the most a second worker can gain.
    """
    cpu = stages.task_cpu
    total = sum(cpu)
    snake = [sum(cpu[i] for i in hand) for hand in snake_deal(len(cpu), 2)]
    weights = np.asarray(stages.task_weight, dtype=float)
    return {
        "cluster_task_cpu_s": cpu,
        "cluster_task_weight": stages.task_weight,
        "cluster_task_index": stages.task_cluster,
        "weight_cpu_rank_correlation": (
            round(
                float(
                    np.corrcoef(np.argsort(np.argsort(weights)), np.argsort(np.argsort(cpu)))[0, 1]
                ),
                3,
            )
            if len(cpu) > 2
            else None
        ),
        "ideal_1_to_2_speedup": {
            "lpt_bound": round(total / makespan(sorted(cpu, reverse=True), 2), 3),
            "in_submission_order": round(total / makespan(cpu, 2), 3),
            "pool_snake_chunks": round(total / max(snake), 3),
        },
    }


def same_plan(a: PartitionedPlan, b: PartitionedPlan) -> bool:
    """Identical stitched and verified schedules and figures."""
    return (
        bool(np.array_equal(a.stitched_active, b.stitched_active))
        and bool(np.array_equal(a.plan.active, b.plan.active))
        and bool(np.array_equal(a.plan.active_trx, b.plan.active_trx))
        and a.plan.expected == b.plan.expected
    )


def _ray_env() -> str:
    """Keep the Ray nodes on 127.0.0.1 (tests/service/conftest.py says why); set before import."""
    temp = tempfile.mkdtemp(prefix="ranopt-ray-", dir="/tmp")
    os.environ.update(
        {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
         "RAY_TMPDIR": temp}
    )  # fmt: skip
    return temp


def _warm(shared: int, task: int) -> int:
    """Start a worker with the plan's modules loaded, as a running cluster's workers are.

    Each task holds its worker a moment so that every node gets some: a fresh Ray worker
    otherwise imports ranopt inside the first timed map.
    """
    import ranopt.optimize.partitioned  # noqa: F401, PLC0415 (loaded in the worker)

    time.sleep(WARM_TASK_S)
    return shared + task


def makespan(costs: list[float], workers: int) -> float:
    """Finish time of tasks dealt in the given order to the least loaded of ``workers``."""
    loads = [0.0] * workers
    for cost in costs:
        loads[loads.index(min(loads))] += cost
    return max(loads)


def whole_network_plan(
    twin: Twin, demand: FloatArray, references: list[Any], always_on_s: float
) -> dict[str, Any]:
    """The baseline: ``plan_energy`` on the whole network in this process, timed."""
    start, cpu = time.perf_counter(), time.process_time()
    whole = plan_energy(twin, demand, "greedy", rng=np.random.default_rng(PLAN_SEED),
                        references=references)  # fmt: skip
    whole_s = round(time.perf_counter() - start, 2)
    whole_cpu_s = round(time.process_time() - cpu, 2)
    log(f"whole network: {whole_s} s")
    return {
        "seconds_without_always_on": whole_s,
        "seconds_with_always_on": round(whole_s + always_on_s, 2),
        "cpu_seconds_without_always_on": whole_cpu_s,
        "saving_pct": round(whole.expected.saving_pct, 3),
        "violations": whole.expected.constraint_violations,
        "cell_intervals_asleep": int((~whole.active).sum()),
    }


def network(spec: dict[str, Any]) -> tuple[Twin, FloatArray, dict[str, Any]]:
    """The measured network: its twin, the planned demand, and its description."""
    start = time.perf_counter()
    twin = synthetic_twin(spec["cells"], spec["ues_per_site"])
    out: dict[str, Any] = {
        "num_cells": twin.num_cells, "num_sites": len(twin.sites), "num_ues": twin.num_ues,
        "link_k": twin.link.k, "build_twin_s": round(time.perf_counter() - start, 2),
        "driver_rss_after_build_mib": _self_rss_mib(),
    }  # fmt: skip
    log(f"twin {twin} in {out['build_twin_s']} s")
    window = slice(spec["start"], spec["start"] + spec["intervals"])
    return twin, expected_demand_mbps(twin.traffic, 0)[window], out


def _run_figures(stages: Stages, **extra: Any) -> dict[str, Any]:
    """One run's stage times, CPU seconds, tasks and the load it ran at."""
    return {
        "seconds": stages.seconds,
        "cpu_seconds": stages.cpu,
        **task_figures(stages),
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        **extra,
    }


def compare_runs(runs: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """The 1 -> 2 worker speed-ups, and the spectral partition against the baseline's."""
    found: dict[str, Any] = {}
    found["speedup_1_to_2"] = {
        kind: {
            "cluster_map_wall": round(
                runs[f"{kind}_1"]["seconds"]["cluster_map_s"]
                / runs[f"{kind}_2"]["seconds"]["cluster_map_s"], 3
            ),
            "partitioned_plan_wall": round(
                runs[f"{kind}_1"]["seconds"]["total_s"] / runs[f"{kind}_2"]["seconds"]["total_s"],
                3,
            ),
        }
        for kind in ("pool", "ray")
    }  # fmt: skip
    base, new = runs["in_process_agglomerative_baseline"], runs["in_process"]
    found["spectral_against_baseline"] = {
        "cluster_tasks_cpu_s_sum": [
            new["cpu_seconds"]["cluster_tasks_cpu_s_sum"],
            base["cpu_seconds"]["cluster_tasks_cpu_s_sum"],
        ],
        "cluster_cpu_saved_pct": round(
            100
            * (
                1
                - new["cpu_seconds"]["cluster_tasks_cpu_s_sum"]
                / base["cpu_seconds"]["cluster_tasks_cpu_s_sum"]
            ),
            1,
        ),
        "partition_cpu_s": [
            new["cpu_seconds"]["partition_cpu_s"],
            base["cpu_seconds"]["partition_cpu_s"],
        ],
        "lpt_bound_1_to_2": [
            new["ideal_1_to_2_speedup"]["lpt_bound"],
            base["ideal_1_to_2_speedup"]["lpt_bound"],
        ],
        "saving_pct": [
            out["partition"]["saving_pct"],
            out["partition_agglomerative_baseline"]["saving_pct"],
        ],
    }
    return found


def measure_workers(spec: dict[str, Any]) -> dict[str, Any]:
    """In process (both partitioners), pool 1/2, Ray 1/2 nodes, the whole network (in the child)."""
    temp = _ray_env()
    from ray.cluster_utils import Cluster  # noqa: PLC0415 (after its environment)

    twin, demand, out = network(spec)
    runs: dict[str, Any] = {}
    plans: dict[str, PartitionedPlan] = {}
    stages = Stages()
    plans["in_process"], references = partitioned_plan(
        twin, demand, spec["max_cells"], InProcessExecutor().map, stages
    )
    runs["in_process"] = _run_figures(stages)
    out["partition"] = describe(plans["in_process"])
    log(f"in process: {stages.seconds}")
    # main's partitioner (the baseline), in process on the same twin and demand
    stages = Stages()
    baseline, _ = partitioned_plan(
        twin, demand, spec["max_cells"], InProcessExecutor().map, stages, references,
        partitioner="agglomerative_baseline",
    )  # fmt: skip
    runs["in_process_agglomerative_baseline"] = _run_figures(stages)
    out["partition_agglomerative_baseline"] = describe(baseline)
    log(f"in process, baseline partitioner: {stages.seconds}")
    spin: dict[int, float] = {}
    for workers in (1, 2):
        pool = PoolExecutor(workers)
        pool.map(_warm, 0, list(range(workers)))  # start the processes
        # the machine's ceiling at this moment: pure CPU work on the same pool, 8 equal tasks
        spin[workers] = min(_timed_map(pool, _spin, 3_000_000, list(range(8))) for _ in range(2))
        stages = Stages()
        plans[f"pool_{workers}"], _ = partitioned_plan(
            twin, demand, spec["max_cells"], pool.map, stages, references
        )
        runs[f"pool_{workers}"] = _run_figures(stages, worker_peak_rss_mib=pool_worker_rss())
        pool.close()
        log(f"pool {workers}: {stages.seconds}")
    cluster: Any = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    try:
        executor = RayExecutor(cluster.address)
        raylets = [cluster.head_node.all_processes["raylet"][0].process.pid]
        for workers in (1, 2):
            if workers == 2:
                node = cluster.add_node(num_cpus=1)
                cluster.wait_for_nodes()
                raylets.append(node.all_processes["raylet"][0].process.pid)
            executor.map(_warm, 0, list(range(4 * workers)))
            stages = Stages()
            plans[f"ray_{workers}"], _ = partitioned_plan(
                twin, demand, spec["max_cells"], executor.map, stages, references
            )
            runs[f"ray_{workers}"] = _run_figures(
                stages, worker_peak_rss_mib=ray_worker_rss(raylets)
            )
            log(f"ray {workers}: {stages.seconds}")
        executor.close()
    finally:
        cluster.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
    out["runs"] = runs
    out["whole_network_plan"] = whole_network_plan(
        twin, demand, references, runs["in_process"]["seconds"]["always_on_whole_s"]
    )
    out["identical_to_in_process"] = {
        k: same_plan(p, plans["in_process"]) for k, p in plans.items()
    }
    out["cpu_ceiling_speedup_1_to_2"] = round(spin[1] / spin[2], 3)
    out.update(compare_runs(runs, out))
    out["partitioned_in_process_over_whole_network_time"] = round(
        runs["in_process"]["seconds"]["total_s"]
        / out["whole_network_plan"]["seconds_with_always_on"],
        3,
    )
    out["driver_peak_rss_mib"] = _self_rss_mib()
    return out


def runs_of(spec: dict[str, Any]) -> list[tuple[str, float]]:
    """The big part's runs: each partitioner at each guard threshold, in that order."""
    return [(name, t) for name in spec["partitioners"] for t in spec["guard_thresholds"]]


def measure_big(spec: dict[str, Any]) -> dict[str, Any]:
    """One large network through a two-node local Ray cluster (in the child)."""
    temp = _ray_env()
    from ray.cluster_utils import Cluster  # noqa: PLC0415 (after its environment)

    twin, demand, out = network(spec)
    out["partition_shapes"] = partition_shapes(twin, spec["max_cells"], spec["guard_thresholds"])
    cluster: Any = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    try:
        node = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        raylets = [n.all_processes["raylet"][0].process.pid for n in (cluster.head_node, node)]
        executor = RayExecutor(cluster.address)
        executor.map(_warm, 0, list(range(8)))
        runs: dict[str, Any] = {}
        references: list[Any] | None = None
        for name, threshold in runs_of(spec):
            stages = Stages()
            plan, references = partitioned_plan(
                twin, demand, spec["max_cells"], executor.map, stages, references, threshold, name
            )
            runs[f"{name}@{threshold}"] = _run_figures(
                stages, partition=describe(plan), worker_peak_rss_mib=ray_worker_rss(raylets)
            )
            log(f"ray 2, {name}, guard threshold {threshold}: {stages.seconds}")
        executor.close()
    finally:
        cluster.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
    out["runs"] = runs
    if spec["whole"] and references is not None:
        always_on_s = runs["{}@{}".format(*runs_of(spec)[0])]["seconds"]["always_on_whole_s"]
        out["whole_network_plan"] = whole_network_plan(twin, demand, references, always_on_s)
    out["driver_peak_rss_mib"] = _self_rss_mib()
    first = runs["{}@{}".format(*runs_of(spec)[0])]
    c = first["cpu_seconds"]  # CPU seconds: the machine is shared, wall time is not the work
    out["extrapolation_from_run"] = "{}@{}".format(*runs_of(spec)[0])
    cells = twin.num_cells
    per_cell = {
        # serial in the driver (this run): partitioning, cutting, whole-network check
        "partition_overhead_cpu_s_per_cell": (
            c["coupling_cpu_s"] + c["partition_cpu_s"] + c["cut_clusters_cpu_s"]
        ) / cells,
        "whole_network_cpu_s_per_cell": (
            c.get("always_on_whole_cpu_s", 0.0) + c["verify_and_measure_whole_cpu_s"]
        ) / cells,
        # parallel: the clusters' plans, CPU seconds summed over the tasks
        "cluster_plans_cpu_s_per_cell": c["cluster_tasks_cpu_s_sum"] / cells,
    }  # fmt: skip
    out["per_cell_seconds"] = {k: round(v, 6) for k, v in per_cell.items()}
    target = spec["extrapolate_cells"]
    out["EXTRAPOLATION_not_measured"] = {
        "cells": target,
        "assumes": "each stage's CPU seconds per cell as measured here, linear in cells (same "
        "cluster size cap, guard share, UEs per site, horizon); N dedicated cores, the "
        "clusters' plans spread evenly over them; partitioning and the whole-network check "
        "serial in one driver as in this run; no scheduling, transfer or start-up cost",
        "seconds_by_workers": {
            str(n): round(
                target
                * (
                    per_cell["partition_overhead_cpu_s_per_cell"]
                    + per_cell["whole_network_cpu_s_per_cell"]
                    + per_cell["cluster_plans_cpu_s_per_cell"] / n
                ),
                1,
            )
            for n in (2, 8, 32, 128)
        },
    }
    return out


def _uptime() -> str:
    """``uptime``'s line (the load averages the run met), or why there is none."""
    found = shutil.which("uptime")
    if found is None:
        return "no uptime command"
    return subprocess.run([found], capture_output=True, text=True, check=False).stdout.strip()


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh single-threaded interpreter (stderr passes through)."""
    return run_single_threaded(__file__, spec, CHILD_TIMEOUT_S, show_stderr=True)


def main() -> None:
    """Parse arguments and print the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", choices=["workers", "big"], default="workers")
    parser.add_argument("--cells", type=int, default=None, help="network size (about)")
    parser.add_argument("--ues-per-site", type=int, default=20)
    parser.add_argument("--max-cells", type=int, default=None, help="cluster size cap")
    parser.add_argument("--start", type=int, default=16, help="first interval (04:00)")
    parser.add_argument("--intervals", type=int, default=16, help="plan horizon")
    parser.add_argument("--extrapolate-cells", type=int, default=100_000)
    parser.add_argument("--guard-thresholds", default=str(GUARD_THRESHOLD), help="big: each")
    parser.add_argument(
        "--partitioners", default="spectral",
        help=f"big: each of {','.join(PARTITIONERS)} (the first is extrapolated from)",
    )  # fmt: skip
    parser.add_argument("--no-whole", action="store_true", help="big: skip the whole-network plan")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        measure = measure_workers if spec["part"] == "workers" else measure_big
        print(json.dumps(measure(spec)))
        return
    cells = args.cells or (1000 if args.part == "workers" else 10_000)
    spec = {
        "part": args.part, "cells": cells, "ues_per_site": args.ues_per_site,
        "max_cells": args.max_cells or (200 if args.part == "workers" else 400),
        "guard_thresholds": [float(x) for x in args.guard_thresholds.split(",")],
        "partitioners": args.partitioners.split(","),
        "whole": not args.no_whole,
        "start": args.start, "intervals": args.intervals,
        "extrapolate_cells": args.extrapolate_cells,
    }  # fmt: skip
    result: dict[str, Any] = {
        "part": args.part,
        "spec": spec,
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
            "uptime_at_start": _uptime(),
        },
    }
    result[args.part] = run_child(spec)
    result["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["machine"]["uptime_at_end"] = _uptime()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
