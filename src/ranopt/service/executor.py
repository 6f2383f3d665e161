"""Where pure tasks run: in this process, in a local process pool, or on a Ray cluster.

One small interface (``Executor.map``: a pure function over tasks with one shared read-only
input, put once) behind the planner's Monte Carlo confidence scenarios. In process is the
default and needs nothing beyond ranopt; ``RANOPT_WORKERS=N`` runs a pool of N processes on
this machine; ``RANOPT_RAY_ADDRESS=host:port`` runs the tasks on that Ray cluster (ray is the
optional ``distributed`` extra, imported only then). Every task is seeded by the caller, so the
results are the same whichever executor runs them and however many workers it has.
"""

import concurrent.futures
import functools
import itertools
import logging
import multiprocessing
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from ranopt.errors import ValidationError
from ranopt.optimize.confidence import map_in_process

Shared = TypeVar("Shared")
Task = TypeVar("Task")
Result = TypeVar("Result")

RAY_ADDRESS_ENV = "RANOPT_RAY_ADDRESS"
WORKERS_ENV = "RANOPT_WORKERS"
# a task whose worker process dies (killed, out of memory, node lost) is run again this often
RAY_MAX_RETRIES = 3
# name of the Ray task, shown as the worker's process title while it runs one
RAY_TASK_NAME = "ranopt-task"


class Executor(Protocol):
    """Runs a pure function over tasks; ``map`` has the shape of ``confidence.MapTasks``."""

    name: str

    @property
    def workers(self) -> int:
        """How many tasks can run at once."""
        ...

    def map(
        self,
        fn: Callable[[Shared, Task], Result],
        shared: Shared,
        tasks: Sequence[Task],
        on_done: Callable[[], None] | None = None,
    ) -> list[Result]:
        """Return ``[fn(shared, task) for task in tasks]``; ``shared`` is sent once."""
        ...

    def close(self) -> None:
        """Release the workers (a no-op where there are none)."""
        ...


class InProcessExecutor:
    """The tasks one after another in this process (the embedded default)."""

    name = "in-process"

    @property
    def workers(self) -> int:
        """One: this process."""
        return 1

    def map(
        self,
        fn: Callable[[Shared, Task], Result],
        shared: Shared,
        tasks: Sequence[Task],
        on_done: Callable[[], None] | None = None,
    ) -> list[Result]:
        """Run the tasks in order here."""
        return map_in_process(fn, shared, tasks, on_done)

    def close(self) -> None:
        """Nothing to release."""


# The shared input of the map a pool worker last served: (key, value), unpickled once.
_worker_shared: dict[str, tuple[int, Any]] = {}
# one key per map of any pool in this process
_map_keys = itertools.count()


def _run_chunk(
    key: int, payload: bytes, fn: Callable[[Any, Task], Result], tasks: Sequence[Task]
) -> list[Result]:
    """Run one chunk of a map in a pool worker; the shared input is unpickled once per map."""
    cached = _worker_shared.get("map")
    if cached is None or cached[0] != key:
        cached = (key, pickle.loads(payload))  # noqa: S301 (our own bytes, from the parent)
        _worker_shared["map"] = cached
    return [fn(cached[1], task) for task in tasks]


def snake_deal(count: int, parts: int) -> list[list[int]]:
    """Deal ``range(count)`` to ``parts`` workers in snake order: 0..p-1, p-1..0, 0..p-1, ...

    With tasks submitted largest first (as ``cluster_tasks`` orders them) this is the static
    form of longest-processing-time-first dealing: each round gives the worker that got the
    smallest task of the last round the largest of this one. Sizes differ by at most one.
    """
    hands: list[list[int]] = [[] for _ in range(min(parts, count))]
    width = len(hands)
    for i in range(count):
        turn, seat = divmod(i, width)
        hands[seat if turn % 2 == 0 else width - 1 - seat].append(i)
    return hands


class PoolExecutor:
    """A pool of worker processes on this machine (``concurrent.futures``).

    The processes start on the first map (the ``spawn`` start method: safe beside the API
    server's threads) and serve every later one until ``close``. Each map sends its shared
    input once per worker: the tasks go in one chunk per worker, dealt in snake order
    (``snake_deal``; a chunk is not rebalanced once sent), each chunk carrying the pickled input,
    which a worker unpickles once per map.
    """

    name = "process-pool"

    def __init__(self, workers: int) -> None:
        if workers < 1:
            msg = f"{WORKERS_ENV}: must be at least 1, got {workers}"
            raise ValidationError(msg)
        self._workers = workers
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    @property
    def workers(self) -> int:
        """The pool's size."""
        return self._workers

    def map(
        self,
        fn: Callable[[Shared, Task], Result],
        shared: Shared,
        tasks: Sequence[Task],
        on_done: Callable[[], None] | None = None,
    ) -> list[Result]:
        """Run the tasks on the pool, one chunk per worker; results in task order."""
        if not tasks:
            return []
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self._workers, mp_context=multiprocessing.get_context("spawn")
            )
        key = next(_map_keys)
        payload = pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)
        chunks = snake_deal(len(tasks), self._workers)
        futures = {
            self._pool.submit(_run_chunk, key, payload, fn, [tasks[i] for i in chunk]): chunk
            for chunk in chunks
        }
        results: list[Any] = [None] * len(tasks)
        for future in concurrent.futures.as_completed(futures):
            chunk = futures[future]
            for i, result in zip(chunk, future.result(), strict=True):
                results[i] = result
                if on_done is not None:
                    on_done()
        return results

    def close(self) -> None:
        """Stop the worker processes (a later map starts new ones)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _run_task(fn: Callable[[Any, Task], Result], shared: Any, task: Task) -> Result:
    """Run one task on a Ray worker (Ray resolves ``shared`` from its object store first)."""
    return fn(shared, task)


class RayExecutor:
    """Tasks on a Ray cluster; the shared input goes through the object store once per map.

    Each task may be re-run ``max_retries`` times when its worker process dies, so a killed
    worker costs time, never a result.
    """

    name = "ray"

    def __init__(self, address: str, max_retries: int = RAY_MAX_RETRIES) -> None:
        import ray  # noqa: PLC0415 (optional: the distributed extra)

        if not ray.is_initialized():
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        self._ray: Any = ray
        # SPREAD: Ray's default prefers the node holding the shared input (the driver's) and
        # queued the CPU-bound tasks there while the other node idled (measured: 1.0x on 2 nodes)
        self._remote: Any = ray.remote(max_retries=max_retries, num_cpus=1)(_run_task).options(
            name=RAY_TASK_NAME, scheduling_strategy="SPREAD"
        )

    @property
    def workers(self) -> int:
        """The cluster's CPUs (one task each)."""
        return int(self._ray.cluster_resources().get("CPU", 1))

    def map(
        self,
        fn: Callable[[Shared, Task], Result],
        shared: Shared,
        tasks: Sequence[Task],
        on_done: Callable[[], None] | None = None,
    ) -> list[Result]:
        """Put ``shared`` once, run one task per item, gather in task order."""
        if not tasks:
            return []
        ray = self._ray
        shared_ref = ray.put(shared)
        refs = [self._remote.remote(fn, shared_ref, task) for task in tasks]
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            ray.get(done)  # raise a task's error as soon as it is known
            if on_done is not None:
                on_done()
        return [ray.get(ref) for ref in refs]

    def close(self) -> None:
        """Disconnect this driver from the cluster (the cluster keeps running)."""
        self._ray.shutdown()


def executor_from_env(env: Mapping[str, str]) -> Executor:
    """Ray where ``RANOPT_RAY_ADDRESS`` is set, else a pool of ``RANOPT_WORKERS``, else here."""
    address = env.get(RAY_ADDRESS_ENV, "").strip()
    if address:
        return RayExecutor(address)
    workers = env.get(WORKERS_ENV, "").strip()
    if workers:
        try:
            count = int(workers)
        except ValueError:
            msg = f"{WORKERS_ENV}: must be a whole number, got {workers!r}"
            raise ValidationError(msg) from None
        if count < 1:
            msg = f"{WORKERS_ENV}: must be at least 1, got {count}"
            raise ValidationError(msg)
        return PoolExecutor(count) if count > 1 else InProcessExecutor()
    return InProcessExecutor()


@functools.lru_cache(maxsize=1)
def configured_executor() -> Executor:
    """Return the process's executor, chosen once from its environment."""
    return executor_from_env(os.environ)
