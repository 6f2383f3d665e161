"""Cell-outage compensation: recover a failed cell's traffic with its neighbours.

A failed cell is inactive (``CellState.active`` false, like a sleeping cell that cannot wake).
Its UEs reselect to the strongest remaining suitable cell; the compensation plan then wakes
sleeping capacity cells near the hole and raises neighbours' CIO toward it (TS 38.331 cell
individual offset), greedily: at each step the action that serves the most network traffic in
the twin (full load coupling) is taken, until no action serves more. Antenna tilt is fixed in
the twin (``LayerSpec.elec_tilt_deg``), so tilt changes are not among the actions.

The figure of merit is the share of the failed cell's served traffic (before the failure)
that its former UEs get again, measured in the twin.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.errors import ValidationError
from ranopt.optimize.plan import Action, Plan, SolveInfo, SolveStatus
from ranopt.twin.model import Twin
from ranopt.twin.snapshot import CellState, Snapshot, evaluate_snapshot
from ranopt.twin.units import FloatArray

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CompensationConfig:
    """Action limits of outage compensation."""

    cio_max_db: int = 6  # highest CIO a neighbour may get toward the hole
    max_actions: int = 24  # greedy steps (one action each)
    neighbour_count: int = 12  # cells most often in the orphaned UEs' link lists
    min_gain_mbps: float = 0.01  # an action must recover at least this much traffic
    others_tolerance: float = 0.001  # share of the other UEs' served traffic an action may cost

    def __post_init__(self) -> None:
        """Reject limits that allow no action."""
        for name in ("cio_max_db", "max_actions", "neighbour_count"):
            if getattr(self, name) < 1:
                msg = f"CompensationConfig.{name} must be >= 1, got {getattr(self, name)}"
                raise ValidationError(msg)


@dataclass(frozen=True, eq=False)
class CompensationResult:
    """The plan and the twin's snapshots: before the failure, after it unaided, with the plan."""

    plan: Plan
    failed_cell: int
    orphans: BoolArray  # [num_ues] UEs the failed cell served before it failed
    before: Snapshot  # no failure
    unaided: Snapshot  # failure, no action
    after: Snapshot  # failure, plan applied
    state: CellState  # the plan's cell state

    def recovered_ratio(self, snap: Snapshot) -> float:
        """Share of the failed cell's pre-failure served traffic its UEs get in ``snap``.

        Each UE counts up to what it had before the failure (a UE served better than before
        does not make up for another one).
        """
        return recovered_ratio(self.before, snap, self.orphans)


def recovered_ratio(before: Snapshot, snap: Snapshot, orphans: BoolArray) -> float:
    """Return the orphans' served traffic in ``snap``, each capped at ``before``, over before."""
    lost = float(before.served_mbps[orphans].sum())
    if lost <= 0:
        return 1.0
    again = np.minimum(snap.served_mbps[orphans], before.served_mbps[orphans])
    return float(again.sum()) / lost


def neighbour_cells(twin: Twin, ues: BoolArray, exclude: int, count: int) -> IntArray:
    """Cells most often suitable for ``ues`` (``[num_ues]`` mask), strongest-first ties."""
    link = twin.link
    rows = np.flatnonzero(ues)
    suitable = link.suitable(twin.scenario.rsrp_min_dbm)[rows]  # [n, K]
    cells = link.cell_idx[rows][suitable]
    counts = np.bincount(cells, minlength=twin.num_cells).astype(np.float64)
    counts[exclude] = 0.0
    order = np.argsort(-counts, kind="stable")[:count]
    return np.asarray(order[counts[order] > 0], dtype=np.int64)


def plan_compensation(
    twin: Twin,
    demand_mbps: FloatArray,
    failed_cell: int,
    *,
    active: BoolArray | None = None,
    cio_db: FloatArray | None = None,
    config: CompensationConfig | None = None,
    t0_min: int = 0,
) -> CompensationResult:
    """Choose wake-ups and CIO raises that recover the failed cell's traffic, one interval.

    ``demand_mbps`` is ``[num_ues]``; ``active`` and ``cio_db`` (``[num_cells]``) are the state
    in force when the cell fails (all on, 0 dB by default).
    """
    if not 0 <= failed_cell < twin.num_cells:
        msg = f"failed_cell must lie in [0, {twin.num_cells}), got {failed_cell}"
        raise ValidationError(msg)
    config = config or CompensationConfig()
    on = np.ones(twin.num_cells, dtype=bool) if active is None else active.copy()
    cio = np.zeros(twin.num_cells) if cio_db is None else cio_db.astype(np.float64)
    before = evaluate_snapshot(twin, CellState(active=on, cio_db=cio), demand_mbps)
    orphans = before.serving_cell == failed_cell
    failed_on = on.copy()
    failed_on[failed_cell] = False
    state = CellState(active=failed_on, cio_db=cio.copy())
    unaided = evaluate_snapshot(twin, state, demand_mbps, initial_load=before.prb_load)
    neighbours = neighbour_cells(twin, orphans, failed_cell, config.neighbour_count)

    others_floor = float(unaided.served_mbps[~orphans].sum()) * (1.0 - config.others_tolerance)

    def score(snap: Snapshot) -> tuple[float, float]:
        # the orphans' recovered traffic first (infeasible if the other UEs lose more than the
        # tolerance), then the network's served traffic
        if float(snap.served_mbps[~orphans].sum()) < others_floor:
            return (-np.inf, -np.inf)
        again = np.minimum(snap.served_mbps[orphans], before.served_mbps[orphans])
        return (float(again.sum()), snap.served_mbps_total)

    current, best = unaided, score(unaided)
    actions: list[Action] = []
    evaluations = 0
    for _ in range(config.max_actions):
        trials: list[tuple[CellState, Action]] = []
        for cell in neighbours:
            name = twin.cell_names[cell]
            if not state.active[cell]:
                woken = state.active.copy()
                woken[cell] = True
                trials.append(
                    (CellState(woken, state.cio_db), Action(name, int(cell), t0_min, "wake"))
                )
            elif state.cio_db[cell] + 1 <= config.cio_max_db:
                raised = state.cio_db.copy()
                raised[cell] += 1.0
                action = Action(name, int(cell), t0_min, "cio", float(raised[cell]))
                trials.append((CellState(state.active, raised), action))
        chosen: tuple[tuple[float, float], CellState, Action, Snapshot] | None = None
        for trial_state, action in trials:
            snap = evaluate_snapshot(twin, trial_state, demand_mbps, initial_load=current.prb_load)
            evaluations += 1
            key = score(snap)
            if key[0] < best[0] + config.min_gain_mbps:
                continue
            if chosen is None or key > chosen[0]:
                chosen = (key, trial_state, action, snap)
        if chosen is None:
            break
        best, state, action, current = chosen
        # a later CIO step on the same cell supersedes the earlier one
        actions = [
            a for a in actions if not (a.cell_index == action.cell_index and a.action == "cio")
        ]
        actions.append(action)
    plan = Plan(
        objective="compensate",
        solver="greedy",
        t0_min=t0_min,
        interval_min=twin.scenario.interval_min,
        active=state.active[None, :].copy(),
        actions=tuple(actions),
        solve=SolveInfo(
            status=SolveStatus.FEASIBLE,
            objective=best[0],
            iterations=len(actions),
            detail={"twin_evaluations": evaluations, "neighbours": int(neighbours.size)},
        ),
        cio_db=state.cio_db[None, :].copy(),
    )
    return CompensationResult(
        plan=plan,
        failed_cell=failed_cell,
        orphans=orphans,
        before=before,
        unaided=unaided,
        after=current,
        state=state,
    )
