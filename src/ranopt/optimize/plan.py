"""The Plan every optimizer returns, its actions and the solver's own report."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import numpy as np
import numpy.typing as npt

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ActionKind = Literal["sleep", "wake", "mimo", "cio", "slice_share", "power"]


class SolveStatus(StrEnum):
    """How a solver ended; infeasible or time-limited runs are a status, not an exception."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # a solution without an optimality proof (heuristic or gap > 0)
    TIME_LIMIT = "time_limit"  # stopped by the time limit with an incumbent
    INFEASIBLE = "infeasible"
    ERROR = "error"


@dataclass(frozen=True)
class Action:
    """One change to one cell at one time: a plain (cell, time, kind, value) record.

    ``value``: ``"light"`` or ``"deep"`` for ``sleep``; transceiver chains in use for
    ``mimo``; dB for ``cio``; share for ``slice_share``; W for ``power``; None for ``wake``.
    """

    cell: str
    cell_index: int
    t_min: int  # minutes from the start of the plan's day
    action: ActionKind
    value: float | str | None = None


@dataclass(frozen=True)
class SolveInfo:
    """What the solver says about its own run (not the plan's measured quality)."""

    status: SolveStatus
    objective: float | None = None
    bound: float | None = None  # best proven bound (MILP dual bound)
    mip_gap: float | None = None  # relative gap |objective - bound| / |objective|
    iterations: int = 0  # solver-specific: B&B nodes, sweeps, greedy steps, repair rounds
    detail: dict[str, float | int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanKpis:
    """A plan's figures as measured by replaying it in the twin (never a solver's objective)."""

    energy_kwh: float
    always_on_energy_kwh: float
    served_ratio_min: float
    max_prb_load: float
    ue_thp_p5_mbps_min: float
    constraint_violations: int

    @property
    def saving_pct(self) -> float:
        """Energy saved versus always-on, percent."""
        if self.always_on_energy_kwh <= 0:
            return 0.0
        return 100.0 * (1.0 - self.energy_kwh / self.always_on_energy_kwh)


@dataclass(frozen=True, eq=False)
class Plan:
    """Actions proposed for a horizon, with a schedule of cell states and measured figures.

    ``active`` is the on/sleep schedule ``[num_intervals, num_cells]``, ``active_trx`` the
    chains each cell runs and ``sleep_state`` the depth of each sleep (None: all chains,
    light sleep); ``actions`` are their changes. ``expected`` is measured in the twin on the
    demand the plan was made for; ``confidence`` is the measured share of sampled demand
    scenarios in which the plan keeps every constraint (``None`` until measured).
    """

    objective: str
    solver: str
    t0_min: int
    interval_min: int
    active: BoolArray
    actions: tuple[Action, ...]
    solve: SolveInfo
    expected: PlanKpis | None = None
    confidence: float | None = None
    cio_db: FloatArray | None = None  # [T, C] where the plan sets offsets
    slice_shares: FloatArray | None = None  # [T, C, 3] dedicated PRB shares (eMBB/URLLC/mMTC)
    active_trx: IntArray | None = None  # [T, C] transceiver chains in use (MIMO muting)
    sleep_state: IntArray | None = None  # [T, C] ranopt.twin.power.SLEEP_STATES index

    @property
    def num_intervals(self) -> int:
        """Intervals in the horizon."""
        return int(self.active.shape[0])
