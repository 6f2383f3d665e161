"""Confidence: the measured share of demand scenarios in which a plan keeps every constraint.

Scenarios come from the forecast's uncertainty (per-cell demand paths); each is turned into
per-UE demand by the UEs' expected shares of their home cell, and the plan is replayed in the
twin beside the always-on network. Never a score: a count of replays that held.

Each scenario's replay is a pure task (``replay_scenario``) seeded from its own child of one
``numpy.random.SeedSequence``, so a plan's confidence is the same whichever map runs the tasks
(in process here; a process pool or a Ray cluster from ``ranopt.service.executor``) and
however many workers it has.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from ranopt.optimize.evaluate import EnergyConstraints, schedule_holds
from ranopt.twin.model import Twin
from ranopt.twin.snapshot import CellState, associate
from ranopt.twin.units import FloatArray, group_sum

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

Shared = TypeVar("Shared")
Task = TypeVar("Task")
Result = TypeVar("Result")


def home_cells(twin: Twin) -> IntArray:
    """Each UE's serving cell with every cell on, ``[num_ues]`` (-1 without coverage).

    The cell whose counters carry the UE's traffic in an always-on history: the unit in which
    demand is measured and forecast.
    """
    return associate(twin, CellState.all_on(twin.num_cells)).serving


def cell_demand(demand_mbps: FloatArray, home: IntArray, num_cells: int) -> FloatArray:
    """Aggregate UE demand ``[T, U]`` to home-cell demand ``[T, C]`` (UEs without a home drop)."""
    covered = home >= 0
    return np.stack(
        [
            group_sum(home[covered], demand_mbps[t, covered], num_cells)
            for t in range(demand_mbps.shape[0])
        ]
    )


@dataclass(frozen=True, eq=False)
class DemandDisaggregation:
    """Spreads home-cell demand over UEs by their expected shares within the cell."""

    home: IntArray  # [U]
    share: FloatArray  # [T, U] share of the UE in its home cell's expected demand
    uncovered_mbps: FloatArray  # [T, U] expected demand of UEs without a home (never served)

    @classmethod
    def from_expected(
        cls, expected_mbps: FloatArray, home: IntArray, num_cells: int
    ) -> "DemandDisaggregation":
        """Build from the seasonal mean demand of each UE ``[T, U]``."""
        totals = cell_demand(expected_mbps, home, num_cells)  # [T, C]
        covered = home >= 0
        safe_home = np.maximum(home, 0)
        denom = totals[:, safe_home]
        share = np.divide(expected_mbps, denom, out=np.zeros_like(expected_mbps), where=denom > 0)
        return cls(
            home=home,
            share=np.where(covered[None, :], share, 0.0),
            uncovered_mbps=np.where(covered[None, :], 0.0, expected_mbps),
        )

    def ue_demand(
        self,
        cell_demand_mbps: FloatArray,
        rng: np.random.Generator | None = None,
        ue_sigma: float = 0.0,
    ) -> FloatArray:
        """UE demand ``[T, U]`` for one home-cell demand path ``[T, C]``.

        With ``rng`` and ``ue_sigma`` > 0 the split inside each cell varies per interval: the
        expected shares are multiplied by mean-one log-normal factors and renormalised, so each
        cell still carries exactly its path's demand but edge and centre UEs trade places as
        they do in the network (cell counters cannot show this; its size is a parameter).
        """
        share = self.share
        if rng is not None and ue_sigma > 0.0:
            factors = np.exp(ue_sigma * rng.standard_normal(share.shape) - 0.5 * ue_sigma**2)
            noisy = share * factors
            num_cells = cell_demand_mbps.shape[1]
            covered = self.home >= 0
            totals = np.stack(
                [group_sum(self.home[covered], row[covered], num_cells) for row in noisy]
            )  # [T, C]
            denom = totals[:, np.maximum(self.home, 0)]
            share = np.divide(noisy, denom, out=np.zeros_like(noisy), where=denom > 0)
        return share * cell_demand_mbps[:, np.maximum(self.home, 0)] + self.uncovered_mbps


class MapTasks(Protocol):
    """Map a pure function over tasks with one shared read-only input; results in task order.

    ``on_done`` is called once per finished task (a progress bar). ``map_in_process`` is the
    default; ``ranopt.service.executor`` has a process pool and a Ray cluster with this shape.
    """

    def __call__(
        self,
        fn: Callable[[Shared, Task], Result],
        shared: Shared,
        tasks: Sequence[Task],
        on_done: Callable[[], None] | None = None,
    ) -> list[Result]:
        """Return ``[fn(shared, task) for task in tasks]``."""
        ...


def map_in_process(
    fn: Callable[[Shared, Task], Result],
    shared: Shared,
    tasks: Sequence[Task],
    on_done: Callable[[], None] | None = None,
) -> list[Result]:
    """Run the tasks one after another in this process."""
    results = []
    for task in tasks:
        results.append(fn(shared, task))
        if on_done is not None:
            on_done()
    return results


@dataclass(frozen=True, eq=False)
class ConfidenceReplay:
    """What every scenario replay of one plan shares (read only; sent to a worker once)."""

    twin: Twin
    schedule: BoolArray  # [T, C]
    disaggregation: DemandDisaggregation
    limits: EnergyConstraints
    ue_sigma: float = 0.0
    trx: IntArray | None = None  # [T, C] chains each cell runs


@dataclass(frozen=True, eq=False)
class ScenarioTask:
    """One scenario replay: a home-cell demand path ``[T, C]`` and its own seed."""

    cell_demand_mbps: FloatArray
    seed: np.random.SeedSequence | None


def replay_scenario(replay: ConfidenceReplay, task: ScenarioTask) -> bool:
    """Return whether the plan keeps every constraint on one scenario (a pure task)."""
    rng = None if task.seed is None else np.random.default_rng(task.seed)
    demand = replay.disaggregation.ue_demand(task.cell_demand_mbps, rng, replay.ue_sigma)
    return schedule_holds(replay.twin, demand, replay.schedule, replay.limits, replay.trx)


def scenario_seeds(rng: np.random.Generator, num_scenarios: int) -> list[np.random.SeedSequence]:
    """One independent seed per scenario: children of one ``SeedSequence`` drawn from ``rng``.

    The draw takes one number from ``rng``, so the caller's stream does not depend on how many
    scenarios there are or where they run.
    """
    root = np.random.SeedSequence(int(rng.integers(0, 2**63 - 1)))
    return root.spawn(num_scenarios)


def plan_confidence(
    twin: Twin,
    schedule: BoolArray,
    scenarios: FloatArray,
    disaggregation: DemandDisaggregation,
    limits: EnergyConstraints,
    rng: np.random.Generator | None = None,
    ue_sigma: float = 0.0,
    on_scenario: Callable[[], None] | None = None,
    trx: IntArray | None = None,
    map_tasks: MapTasks = map_in_process,
) -> tuple[float, BoolArray]:
    """Replay a schedule ``[T, C]`` on each scenario ``[K, T, C]``; return the share that held.

    Also returns which scenarios held, ``[K]``. ``rng`` seeds the per-scenario variation of
    each cell's split over its UEs (``DemandDisaggregation.ue_demand``, one child seed per
    scenario); ``on_scenario`` is called after each scenario (a progress bar); ``trx``
    ``[T, C]`` are the chains each cell runs; ``map_tasks`` runs the replays (in process by
    default), with the same result whatever it is.
    """
    seeds: list[np.random.SeedSequence | None] = (
        [None] * len(scenarios) if rng is None else list(scenario_seeds(rng, len(scenarios)))
    )
    replay = ConfidenceReplay(twin, schedule, disaggregation, limits, ue_sigma, trx)
    tasks = [ScenarioTask(np.asarray(s), seed) for s, seed in zip(scenarios, seeds, strict=True)]
    held = np.array(map_tasks(replay_scenario, replay, tasks, on_scenario), dtype=bool)
    return float(held.mean()) if held.size else 0.0, held


def perturbed_demands(
    demand_mbps: FloatArray,
    home: IntArray,
    num_cells: int,
    rng: np.random.Generator,
    num_scenarios: int,
    sigma: float,
) -> FloatArray:
    """Scale demand ``[..., U]`` by mean-one log-normal factors per home cell: ``[K, ..., U]``.

    One factor per scenario and home cell (UEs without a home share one), held over the
    intervals: the spread of a cell's demand around its forecast within an hour or a day.
    """
    # mean-one log-normal: exp(sigma Z - sigma^2 / 2)
    factors = np.exp(sigma * rng.standard_normal((num_scenarios, num_cells + 1)) - 0.5 * sigma**2)
    per_ue = factors[:, np.where(home >= 0, home, num_cells)]  # [K, U]
    shape = (num_scenarios,) + (1,) * (demand_mbps.ndim - 1) + (demand_mbps.shape[-1],)
    return np.asarray(demand_mbps[None, ...] * per_ue.reshape(shape), dtype=np.float64)
