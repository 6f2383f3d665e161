"""Planning through a real two-node Ray cluster on 127.0.0.1 (tests/service/conftest.py).

The plan and its confidence come out identical to the in-process ones for the same seed, and
a worker process killed while it runs a confidence scenario costs a retry, not a result.
"""

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from executor_case import (
    SEED,
    UE_SIGMA,
    ConfidenceCase,
    RayCluster,
    assert_same_partitioned_plan,
    confidence_case,
    partition_case,
    plan_by_clusters,
)

from ranopt.optimize.confidence import plan_confidence
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.service.executor import RAY_TASK_NAME, InProcessExecutor, RayExecutor
from ranopt.service.optimize import EnergyRequest, optimize_energy

TASK_TITLE = f"ray::{RAY_TASK_NAME}"
# a 7-site, one-hour plan with 16 confidence scenarios (about two seconds in process)
REQUEST = EnergyRequest(
    scenario="default", seed=3, num_sites=7, num_ues=300, solver="greedy", horizon_min=60,
    history_days=3, confidence_scenarios=16, limits=EnergyConstraints(),
)  # fmt: skip


@pytest.fixture(scope="module")
def ray_executor(ray_cluster: RayCluster) -> RayExecutor:
    return RayExecutor(ray_cluster.address)


@pytest.fixture(scope="module")
def case() -> ConfidenceCase:
    return confidence_case()


def measure(case: ConfidenceCase, executor) -> tuple[float, np.ndarray]:
    return plan_confidence(
        case.twin, case.schedule, case.scenarios, case.disaggregation, case.limits,
        np.random.default_rng(SEED), UE_SIGMA, map_tasks=executor.map,
    )  # fmt: skip


def test_the_cluster_has_two_nodes_of_one_cpu(ray_executor: RayExecutor):
    import ray

    assert ray_executor.workers == 2
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2


def test_a_plan_through_ray_is_the_in_process_plan(ray_executor: RayExecutor):
    here = optimize_energy(REQUEST, np.random.default_rng(SEED), InProcessExecutor())
    there = optimize_energy(REQUEST, np.random.default_rng(SEED), ray_executor)
    assert there.plan == here.plan
    assert there.confidence == here.confidence
    assert there.saving_pct == here.saving_pct


def test_confidence_through_ray_is_the_in_process_confidence(
    ray_executor: RayExecutor, case: ConfidenceCase
):
    confidence, held = measure(case, ray_executor)
    expected_confidence, expected_held = measure(case, InProcessExecutor())
    assert 0 < expected_held.sum() < expected_held.size  # both outcomes occur
    np.testing.assert_array_equal(held, expected_held)
    assert confidence == expected_confidence


def test_clusters_planned_through_ray_stitch_into_the_in_process_plan(
    ray_executor: RayExecutor,
):
    case = partition_case()
    assert case.partition.num_clusters >= 2
    there = plan_by_clusters(case, ray_executor.map)
    here = plan_by_clusters(case, InProcessExecutor().map)
    assert_same_partitioned_plan(there, here)
    assert (~here.plan.active).any()


def _descendants(roots: tuple[int, ...]) -> list[int]:
    """Every live process below the given pids (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            found.append(child)
            todo.append(child)
    return found


def _title(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode().strip()
    except OSError:
        return ""


def _kill_a_running_task(raylets: tuple[int, ...], stop: threading.Event) -> list[int]:
    """SIGKILL the first worker process of our raylets seen running a ranopt task."""
    while not stop.is_set():
        for pid in _descendants(raylets):
            if _title(pid) == TASK_TITLE:
                os.kill(pid, signal.SIGKILL)
                return [pid]
        time.sleep(0.002)
    return []


def test_a_killed_worker_costs_a_retry_not_a_result(
    ray_cluster: RayCluster, ray_executor: RayExecutor, case: ConfidenceCase
):
    stop = threading.Event()
    killed: list[int] = []
    killer = threading.Thread(
        target=lambda: killed.extend(_kill_a_running_task(ray_cluster.raylet_pids, stop))
    )
    killer.start()
    try:
        confidence, held = measure(case, ray_executor)
    finally:
        stop.set()
        killer.join()
    assert killed, "no worker was seen running a task"
    assert not Path(f"/proc/{killed[0]}").exists()
    expected_confidence, expected_held = measure(case, InProcessExecutor())
    np.testing.assert_array_equal(held, expected_held)
    assert confidence == expected_confidence


def test_without_retries_the_same_kill_loses_the_task(
    ray_cluster: RayCluster, ray_executor: RayExecutor, case: ConfidenceCase
):
    """The retry is what saves the plan: with ``max_retries=0`` the kill surfaces."""
    import ray

    fragile = RayExecutor(ray_cluster.address, max_retries=0)
    stop = threading.Event()
    killed: list[int] = []
    killer = threading.Thread(
        target=lambda: killed.extend(_kill_a_running_task(ray_cluster.raylet_pids, stop))
    )
    killer.start()
    try:
        with pytest.raises(ray.exceptions.WorkerCrashedError):
            measure(case, fragile)
    finally:
        stop.set()
        killer.join()
    assert killed
