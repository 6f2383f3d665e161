"""The executor interface: confidence replays give the same result wherever they run."""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from executor_case import (
    SEED,
    UE_SIGMA,
    ConfidenceCase,
    assert_same_partitioned_plan,
    confidence_case,
    partition_case,
    plan_by_clusters,
)

from ranopt.errors import ValidationError
from ranopt.optimize.confidence import plan_confidence
from ranopt.service.executor import (
    InProcessExecutor,
    PoolExecutor,
    executor_from_env,
    snake_deal,
)


@pytest.fixture(scope="module")
def case() -> ConfidenceCase:
    return confidence_case()


def measure(case: ConfidenceCase, map_tasks=None) -> tuple[float, np.ndarray]:
    """The case's confidence with the fixed seed, on the given map (in process by default)."""
    extra = {} if map_tasks is None else {"map_tasks": map_tasks}
    return plan_confidence(
        case.twin, case.schedule, case.scenarios, case.disaggregation, case.limits,
        np.random.default_rng(SEED), UE_SIGMA, **extra,
    )  # fmt: skip


def test_case_has_scenarios_that_hold_and_scenarios_that_break(case: ConfidenceCase):
    confidence, held = measure(case)
    assert 0 < held.sum() < held.size
    assert confidence == pytest.approx(held.mean())


def test_each_scenario_has_its_own_seed_so_order_does_not_matter(case: ConfidenceCase):
    """Running the replays last to first gives the same answer scenario by scenario."""

    def backwards(
        fn: Callable[[Any, Any], Any], shared: Any, tasks: Sequence[Any], on_done=None
    ) -> list[Any]:
        return [fn(shared, t) for t in reversed(tasks)][::-1]

    np.testing.assert_array_equal(measure(case, backwards)[1], measure(case)[1])


@pytest.fixture(scope="module")
def pool() -> Iterator[PoolExecutor]:
    """Two worker processes for the module (started on the first map)."""
    executor = PoolExecutor(2)
    try:
        yield executor
    finally:
        executor.close()


def test_a_process_pool_gives_the_in_process_confidence(case: ConfidenceCase, pool: PoolExecutor):
    done: list[int] = []
    confidence, held = plan_confidence(
        case.twin, case.schedule, case.scenarios, case.disaggregation, case.limits,
        np.random.default_rng(SEED), UE_SIGMA, on_scenario=lambda: done.append(1),
        map_tasks=pool.map,
    )  # fmt: skip
    # a second map on the same processes gets its own shared input, not the first one's
    assert pool.map(_add, 10, [1, 2, 3]) == [11, 12, 13]
    expected_confidence, expected_held = measure(case, InProcessExecutor().map)
    np.testing.assert_array_equal(held, expected_held)
    assert confidence == expected_confidence
    assert len(done) == len(case.scenarios)


def test_a_process_pool_plans_the_clusters_of_the_in_process_plan(pool: PoolExecutor):
    """Clusters planned on two processes stitch and verify into the in-process plan."""
    case = partition_case()
    assert case.partition.num_clusters >= 2
    there = plan_by_clusters(case, pool.map)
    here = plan_by_clusters(case, InProcessExecutor().map)
    assert_same_partitioned_plan(there, here)
    assert (~here.plan.active).any()


def _add(shared: int, task: int) -> int:
    return shared + task


def test_environment_picks_the_executor():
    assert isinstance(executor_from_env({}), InProcessExecutor)
    assert isinstance(executor_from_env({"RANOPT_WORKERS": "1"}), InProcessExecutor)
    pool = executor_from_env({"RANOPT_WORKERS": "3"})
    assert isinstance(pool, PoolExecutor)
    assert pool.workers == 3


@pytest.mark.parametrize("value", ["two", "0", "-1"])
def test_a_bad_worker_count_names_the_variable(value: str):
    with pytest.raises(ValidationError, match="RANOPT_WORKERS"):
        executor_from_env({"RANOPT_WORKERS": value})


def test_the_embedded_default_never_imports_ray():
    """The service's planner, run in process, leaves ray unimported (it is an optional extra)."""
    script = (
        "import sys\n"
        "import ranopt.service.optimize\n"
        "from ranopt.service.executor import configured_executor\n"
        "assert configured_executor().map(lambda s, t: s + t, 1, [1, 2]) == [2, 3]\n"
        "print('ray' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("RANOPT_RAY_ADDRESS", "RANOPT_WORKERS")}
    out = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "False"


def test_the_pool_deals_its_chunks_in_snake_order():
    """Largest-first tasks dealt 0, 1, 1, 0, 0, 1, ...: every task once, sizes within one."""
    assert snake_deal(7, 2) == [[0, 3, 4], [1, 2, 5, 6]]
    assert snake_deal(5, 3) == [[0], [1, 4], [2, 3]]
    assert snake_deal(1, 4) == [[0]]
    assert snake_deal(0, 2) == []
    for count, parts in ((10, 2), (9, 4), (3, 3)):
        hands = snake_deal(count, parts)
        assert sorted(i for hand in hands for i in hand) == list(range(count))
        assert max(map(len, hands)) - min(map(len, hands)) <= 1
