"""Slice resource allocation: per-cell PRB shares for eMBB, URLLC and mMTC.

The shares are the dedicated ratios of a TS 28.541 ``RRMPolicyRatio`` (clause 5.3.43): a slice
may use at most its dedicated PRBs in the twin. Build -> solve -> assign -> verify, per interval:
interference is frozen at the loads of the one-pool network (exact while every slice's demand
fits its share, because a slice then uses its PRB demand whatever its share), each slice's SLA
becomes a lower bound on its share, and an LP (HiGHS) chooses the shares that keep every SLA
with the most PRBs left unallocated; where a cell cannot hold every SLA, elastic slack
variables (URLLC first, then eMBB, then mMTC) keep the LP feasible and the shortfall shows as
an SLA violation in the twin.

SLAs (all configurable, ``SliceSla``):
- eMBB: a guaranteed throughput per UE, for every eMBB UE whose full-carrier rate allows it;
  processor sharing within the slice (Bonald & Proutiere 2003) gives a UE
  ``rate * (share - slice PRB demand)``;
- URLLC: the slice's PRB utilisation ``demand / share`` at most ``urllc_max_load`` (queueing
  delay of an M/M/1-PS server grows as ``1 / (1 - load)``);
- mMTC: the slice's activity ``demand / share`` within ``mmtc_activity_budget``.
"""

from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt

from ranopt.errors import ValidationError
from ranopt.optimize.milp import MilpBuilder, solve_milp
from ranopt.optimize.plan import Action, Plan, SolveInfo, SolveStatus
from ranopt.twin.elements import SLICES
from ranopt.twin.model import Twin
from ranopt.twin.snapshot import CellState, Snapshot, associate, evaluate_snapshot, solve_load
from ranopt.twin.units import FloatArray, group_sum

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

EMBB, URLLC, MMTC = (SLICES.index(s) for s in ("eMBB", "URLLC", "mMTC"))
SLICING_SOLVERS: tuple[str, ...] = ("lp",)
LOAD_TOLERANCE = 1e-3  # the load fixed point stops at 1e-4; checks allow this much


@dataclass(frozen=True)
class SliceSla:
    """Service level of each slice, checked per cell and interval."""

    embb_ue_thp_mbps: float = 5.0  # guaranteed DL throughput of an eMBB UE with demand
    urllc_max_load: float = 0.5  # highest URLLC PRB utilisation (demand / share)
    mmtc_activity_budget: float = 0.9  # highest mMTC PRB utilisation (demand / share)
    min_share: float = 0.01  # RRMPolicyRatio minimum kept for every slice in every cell
    planning_margin: float = 0.01  # share added to each requirement (load fixed-point error)
    # slice PRB demand is planned this much above the expected one: about the 90th percentile
    # of a mean-one log-normal demand factor with sigma 0.2 (exp(1.28 * 0.2 - 0.02) = 1.27)
    demand_headroom: float = 0.3

    def __post_init__(self) -> None:
        """Reject limits outside (0, 1]."""
        for name in ("urllc_max_load", "mmtc_activity_budget"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                msg = f"SliceSla.{name} must lie in (0, 1], got {value}"
                raise ValidationError(msg)
        if not 0.0 <= self.min_share < 1.0 / len(SLICES):
            msg = f"SliceSla.min_share must lie in [0, 1/3), got {self.min_share}"
            raise ValidationError(msg)


@dataclass(frozen=True, eq=False)
class SliceNeeds:
    """What each slice of each cell needs in one interval, ``[num_cells, 3]``."""

    prb_demand: FloatArray  # PRB share the slice's traffic needs at frozen interference
    required_share: FloatArray  # smallest share that keeps the slice's SLA


def slice_needs(twin: Twin, demand_mbps: FloatArray, sla: SliceSla) -> SliceNeeds:
    """Per-cell, per-slice PRB demand and SLA share at the one-pool network's interference."""
    state = CellState.all_on(twin.num_cells)
    assoc = associate(twin, state)
    sol = solve_load(twin, state, assoc, demand_mbps, None, 1e-4, 200)
    num_cells, num_slices = twin.num_cells, len(SLICES)
    covered = assoc.covered & (sol.rate_mbps > 0)
    demand = np.where(covered, demand_mbps, 0.0)
    ue_load = np.divide(demand, sol.rate_mbps, out=np.zeros_like(demand), where=covered)
    group = assoc.serving_safe * num_slices + twin.ues.slice_idx
    prb_demand = group_sum(group, ue_load, num_cells * num_slices).reshape(num_cells, num_slices)
    planned = prb_demand * (1.0 + sla.demand_headroom)
    required = np.zeros_like(prb_demand)
    # eMBB: rate_u (share - demand) >= g for every eligible UE -> share >= demand + g / min rate
    g = sla.embb_ue_thp_mbps
    eligible = covered & (twin.ues.slice_idx == EMBB) & (demand_mbps > 0) & (sol.rate_mbps > g)
    need_ue = np.where(eligible, g / np.maximum(sol.rate_mbps, 1e-12), 0.0)
    worst = np.zeros(num_cells)
    np.maximum.at(worst, assoc.serving_safe[eligible], need_ue[eligible])
    required[:, EMBB] = planned[:, EMBB] + worst
    required[:, URLLC] = planned[:, URLLC] / sla.urllc_max_load
    required[:, MMTC] = planned[:, MMTC] / sla.mmtc_activity_budget
    required = np.where(prb_demand > 0, required + sla.planning_margin, required)
    return SliceNeeds(prb_demand=prb_demand, required_share=np.maximum(required, sla.min_share))


def equal_split(num_cells: int) -> FloatArray:
    """Return the static baseline: a third of the PRBs per slice, ``[num_cells, 3]``."""
    return np.full((num_cells, len(SLICES)), 1.0 / len(SLICES))


# ---------------------------------------------------------------------------------------------
# the LP

SLACK_PENALTY = (100.0, 1000.0, 10.0)  # per unit of unmet share: URLLC > eMBB > mMTC


def to_policy_percent(shares: FloatArray) -> FloatArray:
    """Round shares ``[num_cells, 3]`` (summing to at most 1) to whole percent, at most 100 %.

    TS 28.541 clause 5.3.43: ``rRMPolicyDedicatedRatio`` is an integer percentage. Shares are
    rounded up (every SLA bound kept); where that overfills a cell, mMTC, then URLLC, then eMBB
    give their round-up back, so a share ends at most 1 % below its LP value.
    """
    scaled = np.round(shares * 100.0, 6)  # [C, 3], drops float noise before ceil / floor
    percent = np.ceil(scaled)
    floor = np.floor(scaled)
    excess = np.maximum(percent.sum(axis=1) - 100.0, 0.0)
    for s in (MMTC, URLLC, EMBB):
        give = np.minimum(excess, percent[:, s] - floor[:, s])
        percent[:, s] -= give
        excess -= give
    return np.asarray(percent / 100.0, dtype=np.float64)


def solve_shares_lp(needs: SliceNeeds, sla: SliceSla) -> tuple[FloatArray, BoolArray, SolveInfo]:
    """Shares ``[num_cells, 3]`` with every SLA met and the fewest PRBs dedicated (HiGHS LP).

    Also returns the cells ``[num_cells]`` where no split meets every SLA (slack used).

    minimise   sum_cs share_cs + sum_cs penalty_s short_cs
    subject to share_cs + short_cs >= required_cs   (SLA, elastic)
               sum_s share_cs <= 1                   (the carrier)
               min_share <= share_cs <= 1
    """
    inf = highspy.kHighsInf
    num_cells, num_slices = needs.required_share.shape
    m = MilpBuilder()
    share = np.zeros((num_cells, num_slices), dtype=np.int64)
    short = np.zeros_like(share)
    for c in range(num_cells):
        for s in range(num_slices):
            share[c, s] = m.column(sla.min_share, 1.0, 1.0, integer=False)
            short[c, s] = m.column(0.0, inf, SLACK_PENALTY[s], integer=False)
            required = float(min(needs.required_share[c, s], 1.0))
            m.row([int(share[c, s]), int(short[c, s])], [1.0, 1.0], required, inf)
        m.row([int(x) for x in share[c]], [1.0] * num_slices, -inf, 1.0)
    solved = solve_milp(m)
    if solved.status != SolveStatus.OPTIMAL or solved.values is None:
        return (
            equal_split(num_cells),
            np.zeros(num_cells, dtype=bool),
            SolveInfo(status=SolveStatus.ERROR, detail={"highs_status": solved.highs_status}),
        )
    values = solved.values
    shortfall = values[short]
    return (
        to_policy_percent(values[share]),
        shortfall.sum(axis=1) > 1e-9,
        SolveInfo(
            status=SolveStatus.OPTIMAL,
            objective=solved.objective,
            iterations=solved.simplex_iterations,
            detail={"cells_short": int((shortfall.sum(axis=1) > 1e-9).sum())},
        ),
    )


# ---------------------------------------------------------------------------------------------
# SLA check in the twin


@dataclass(frozen=True)
class SliceCheck:
    """One interval's SLA violations per slice (cells breaking the slice's SLA) in the twin."""

    violations: tuple[int, int, int]  # eMBB, URLLC, mMTC
    broken: BoolArray  # [num_cells, 3] cells breaking each slice's SLA
    spare_share: float  # mean PRB share left unallocated over the cells
    snapshot: Snapshot


def check_slices(
    twin: Twin,
    demand_mbps: FloatArray,
    shares: FloatArray | None,
    sla: SliceSla,
    state: CellState | None = None,
) -> SliceCheck:
    """Evaluate a state in the twin and count the cells breaking each slice's SLA.

    ``shares`` ``[num_cells, 3]`` dedicates PRBs per slice; ``None`` is one pool shared by all
    slices, where a slice's PRB utilisation is its cell's (and only cells carrying the slice's
    traffic count). ``state`` gives the on/sleep mask and CIO (all on, 0 dB by default).
    """
    base = state or CellState.all_on(twin.num_cells)
    state = CellState(active=base.active, cio_db=base.cio_db, slice_shares=shares)
    snap = evaluate_snapshot(twin, state, demand_mbps)
    assoc = associate(twin, state)
    sol = solve_load(twin, state, assoc, demand_mbps, snap.prb_load, 1e-4, 200)
    slice_idx = twin.ues.slice_idx
    if shares is None:
        # [C, 3]: PRB demand of each slice, and the pool's utilisation seen by every slice
        with_demand = assoc.covered & (demand_mbps > 0)
        group = assoc.serving_safe * len(SLICES) + slice_idx
        carried = group_sum(group, with_demand, twin.num_cells * len(SLICES)).reshape(-1, 3) > 0
        utilisation = np.where(carried, sol.raw_load[:, None], 0.0)
    else:
        utilisation = sol.raw_load / np.maximum(shares, 1e-12)
    g = sla.embb_ue_thp_mbps
    eligible = snap.covered & (slice_idx == EMBB) & (demand_mbps > 0) & (sol.rate_mbps > g)
    short_ue = eligible & (snap.ue_thp_mbps < g - 1e-6)
    embb_bad = np.zeros(twin.num_cells, dtype=bool)
    embb_bad[snap.serving_cell[short_ue]] = True
    urllc_bad = utilisation[:, URLLC] > sla.urllc_max_load + LOAD_TOLERANCE
    mmtc_bad = utilisation[:, MMTC] > sla.mmtc_activity_budget + LOAD_TOLERANCE
    spare = 0.0 if shares is None else float(np.mean(1.0 - shares.sum(axis=1)))
    return SliceCheck(
        violations=(int(embb_bad.sum()), int(urllc_bad.sum()), int(mmtc_bad.sum())),
        broken=np.column_stack((embb_bad, urllc_bad, mmtc_bad)),
        spare_share=spare,
        snapshot=snap,
    )


@dataclass(frozen=True, eq=False)
class SlicingResult:
    """Shares per interval ``[T, C, 3]`` and the twin's SLA check of plan and equal split."""

    plan: Plan
    shares: FloatArray
    short: BoolArray  # [T, C] cells where no split meets every SLA (the LP used slack)
    before: tuple[SliceCheck, ...]
    after: tuple[SliceCheck, ...]


def plan_slicing(
    twin: Twin,
    demand_mbps: FloatArray,
    *,
    sla: SliceSla | None = None,
    t0_min: int = 0,
    interval_min: int | None = None,
) -> SlicingResult:
    """Plan slice shares for each interval of ``demand_mbps`` ``[T, U]``, checked in the twin.

    ``interval_min`` is the spacing of the given intervals (the scenario's by default).
    """
    sla = sla or SliceSla()
    step_min = interval_min or twin.scenario.interval_min
    num_t = demand_mbps.shape[0]
    shares = np.zeros((num_t, twin.num_cells, len(SLICES)))
    short = np.zeros((num_t, twin.num_cells), dtype=bool)
    before: list[SliceCheck] = []
    after: list[SliceCheck] = []
    infos: list[SolveInfo] = []
    baseline = equal_split(twin.num_cells)
    for t in range(num_t):
        needs = slice_needs(twin, demand_mbps[t], sla)
        shares[t], short[t], info = solve_shares_lp(needs, sla)
        infos.append(info)
        before.append(check_slices(twin, demand_mbps[t], baseline, sla))
        after.append(check_slices(twin, demand_mbps[t], shares[t], sla))
    # one action per cell, slice and interval where the dedicated share changes (the equal
    # split is in force before the plan)
    previous = np.concatenate((baseline[None], shares[:-1]))
    changed = np.argwhere(np.abs(shares - previous) > 1e-9)
    actions = tuple(
        Action(
            cell=f"{twin.cell_names[c]}/{SLICES[s]}",
            cell_index=int(c),
            t_min=t0_min + int(t) * step_min,
            action="slice_share",
            value=round(float(shares[t, c, s]), 2),
        )
        for t, c, s in changed
    )
    statuses = {i.status for i in infos}
    plan = Plan(
        objective="slicing",
        solver="lp",
        t0_min=t0_min,
        interval_min=step_min,
        active=np.ones((num_t, twin.num_cells), dtype=bool),
        actions=actions,
        solve=SolveInfo(
            status=statuses.pop() if len(statuses) == 1 else SolveStatus.ERROR,
            objective=float(sum(i.objective or 0.0 for i in infos)),
            iterations=sum(i.iterations for i in infos),
            detail={"cells_short": int(short.sum())},
        ),
        slice_shares=shares,
    )
    return SlicingResult(
        plan=plan, shares=shares, short=short, before=tuple(before), after=tuple(after)
    )
