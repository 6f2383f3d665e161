"""Energy saving: which capacity-layer cells sleep in each interval of a horizon.

Build -> solve -> assign -> verify. ``build_energy_problem`` freezes interference at a reference
load and turns the twin into the linear bin model of ``ranopt.optimize.surrogate``; each solver
(exact MILP, QUBO annealing, greedy) returns an on/sleep schedule; ``plan_energy`` enforces the
switching rules and replays the schedule in the twin, waking cells until every interval keeps
its constraints, so the plan's figures are the twin's, never a solver's objective.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import dimod
import highspy
import numpy as np
import numpy.typing as npt
from dwave.samplers import SimulatedAnnealingSampler

from ranopt.errors import ValidationError
from ranopt.optimize.evaluate import (
    EnergyConstraints,
    ScheduleEvaluation,
    evaluate_interval,
    evaluate_schedule,
)
from ranopt.optimize.milp import MilpBuilder, solve_milp
from ranopt.optimize.plan import Plan, SolveInfo, SolveStatus
from ranopt.optimize.surrogate import (
    AssignmentState,
    PreferenceBins,
    bin_costs,
    first_active_position,
    preference_bins,
    reference_rates_mbps,
    surrogate_loads,
)
from ranopt.optimize.switching import enforce_switching_rules, schedule_actions
from ranopt.twin.model import Twin
from ranopt.twin.snapshot import CellState, Snapshot, evaluate_snapshot
from ranopt.twin.units import FloatArray

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

EnergySolver = Literal["exact", "anneal", "greedy"]
ENERGY_SOLVERS: tuple[EnergySolver, ...] = ("exact", "anneal", "greedy")
CAPACITY_LAYER = 1  # index of "capacity" in ranopt.twin.elements.LAYERS


@dataclass(frozen=True)
class EnergyConfig:
    """Solver settings (the QoS limits live in ``EnergyConstraints``)."""

    interval_time_limit_s: float = 10.0  # exact: HiGHS time limit per interval
    mip_rel_gap: float = 1e-4  # exact: stop when the relative gap is below this
    anneal_reads: int = 24  # anneal: samples per interval
    anneal_sweeps: int = 400  # anneal: Metropolis sweeps per sample
    repair_rounds: int = 40  # verify-and-wake rounds before giving up
    linearisation_rounds: int = 2  # re-linearise interference at the previous plan's loads
    reference_margin: float = 0.05  # PRB load added to those loads for the next round
    planning_headroom: float = 0.1  # PRB load kept free below each cell's limit in the plan

    def __post_init__(self) -> None:
        """Reject settings that would leave a solver nothing to do."""
        for name in ("anneal_reads", "anneal_sweeps", "repair_rounds", "linearisation_rounds"):
            if getattr(self, name) < 1:
                msg = f"EnergyConfig.{name} must be >= 1, got {getattr(self, name)}"
                raise ValidationError(msg)
        if self.interval_time_limit_s <= 0:
            msg = (
                f"EnergyConfig.interval_time_limit_s must be > 0, got {self.interval_time_limit_s}"
            )
            raise ValidationError(msg)
        if not 0.0 <= self.planning_headroom < 1.0:
            msg = f"EnergyConfig.planning_headroom must lie in [0, 1), got {self.planning_headroom}"
            raise ValidationError(msg)


@dataclass(frozen=True, eq=False)
class EnergyProblem:
    """The energy decision for a horizon in the linear bin model, per interval ``t``."""

    bins: PreferenceBins
    costs: FloatArray  # [T, B, L] PRB share of each bin on each cell of its list
    caps: FloatArray  # [T, C] PRB load limit of each cell
    candidates: BoolArray  # [T, C] cells that may sleep (alone they keep every cap)
    sleepable: BoolArray  # [C] capacity-layer cells
    idle_saving_w: FloatArray  # [C] power saved by sleeping an idle cell
    load_slope_w: FloatArray  # [C] extra power per unit of PRB load
    intervals_per_day: int
    limits: EnergyConstraints

    @property
    def num_intervals(self) -> int:
        """Intervals in the horizon."""
        return int(self.costs.shape[0])

    @property
    def num_cells(self) -> int:
        """Cells of the network."""
        return int(self.caps.shape[1])


def always_on_snapshots(twin: Twin, demand_mbps: FloatArray) -> list[Snapshot]:
    """Evaluate the always-on network on each interval of ``demand_mbps`` ``[T, U]``."""
    state = CellState.all_on(twin.num_cells)
    snaps: list[Snapshot] = []
    previous = None
    for t in range(demand_mbps.shape[0]):
        snap = evaluate_snapshot(twin, state, demand_mbps[t], initial_load=previous)
        previous = snap.prb_load
        snaps.append(snap)
    return snaps


def build_energy_problem(
    twin: Twin,
    demand_mbps: FloatArray,
    limits: EnergyConstraints,
    references: list[Snapshot],
    reference_load: FloatArray | None = None,
    headroom: float = 0.0,
) -> EnergyProblem:
    """Freeze interference at ``reference_load`` ``[T, C]`` and build the bin model.

    ``headroom`` (PRB load) is kept free below every cell's limit in the plan, against forecast
    error; a cell already above its limit with every cell on may not gain load at all.

    The default reference puts every cell at its load limit: a schedule that keeps the limits
    in this model keeps them in the twin too, because lower neighbour loads only lower a
    cell's load (the load-coupling map is monotone, Siomina & Yuan 2012).
    """
    sleepable = twin.arrays.layer == CAPACITY_LAYER
    bins = preference_bins(twin, sleepable)
    num_t = demand_mbps.shape[0]
    ao_load = np.stack([s.demand_load for s in references])  # [T, C]
    limit = np.maximum(limits.max_prb_load, ao_load + 1e-6)
    ref = np.minimum(limit, 1.0) if reference_load is None else reference_load
    costs = np.stack(
        [
            bin_costs(bins, reference_rates_mbps(twin, bins, ref[t]), demand_mbps[t])
            for t in range(num_t)
        ]
    )
    # a cell's cap is its limit, or what it already carries with every cell on in this model
    all_on = np.ones(twin.num_cells, dtype=bool)
    surrogate_ao = np.stack(
        [surrogate_loads(bins, costs[t], all_on, twin.num_cells)[0] for t in range(num_t)]
    )
    caps = np.maximum(limit - headroom, surrogate_ao + 1e-6)
    arrays = twin.arrays
    idle_saving_w = arrays.num_trx * (arrays.p0_w - arrays.p_sleep_w)
    load_slope_w = arrays.num_trx * arrays.delta_p * arrays.max_tx_power_per_trx_w
    candidates = np.zeros((num_t, twin.num_cells), dtype=bool)
    for t in range(num_t):
        state = AssignmentState.start(bins, costs[t], np.ones(twin.num_cells, dtype=bool))
        for cell in np.flatnonzero(sleepable):
            candidates[t, cell] = _can_sleep(state, int(cell), caps[t])
    return EnergyProblem(
        bins=bins,
        costs=costs,
        caps=caps,
        candidates=candidates,
        sleepable=sleepable,
        idle_saving_w=idle_saving_w,
        load_slope_w=load_slope_w,
        intervals_per_day=twin.scenario.intervals_per_day,
        limits=limits,
    )


def _can_sleep(state: AssignmentState, cell: int, caps: FloatArray) -> bool:
    """Whether sleeping ``cell`` on top of ``state`` keeps every other active cell under its cap."""
    loads, stranded = state.loads_if_asleep(cell)
    others = state.active.copy()
    others[cell] = False
    return stranded == 0.0 and bool((loads[others] <= caps[others]).all())


def surrogate_feasible(problem: EnergyProblem, t: int, active: BoolArray) -> bool:
    """Whether an on/sleep state keeps every cap in interval ``t`` of the bin model."""
    loads, stranded = surrogate_loads(problem.bins, problem.costs[t], active, problem.num_cells)
    return stranded == 0.0 and bool((loads[active] <= problem.caps[t, active]).all())


# ---------------------------------------------------------------------------------------------
# greedy


def _greedy_fill(
    problem: EnergyProblem, t: int, state: AssignmentState, previous_asleep: BoolArray
) -> BoolArray:
    """Sleep further candidates while they fit, best power saved per headroom consumed first.

    Cells asleep in the previous interval go first (fewer switches).
    """
    cands = np.flatnonzero(problem.candidates[t] & state.active)
    if cands.size == 0:
        return state.active
    base = state.loads.copy()
    headroom = np.maximum(problem.caps[t] - base, 1e-6)
    scores = np.empty(cands.size)
    for i, cell in enumerate(cands):
        loads, _ = state.loads_if_asleep(int(cell))
        gained = np.maximum(loads - base, 0.0)
        gained[cell] = 0.0
        saved_w = problem.idle_saving_w[cell] + problem.load_slope_w[cell] * base[cell]
        saved_w -= float((problem.load_slope_w * gained).sum())
        scores[i] = saved_w / (1e-3 + float((gained / headroom).sum()))
    order = np.lexsort((-scores, ~previous_asleep[cands]))
    for cell in cands[order]:
        if _can_sleep(state, int(cell), problem.caps[t]):
            state.sleep(int(cell))
    return state.active


def _greedy_interval(problem: EnergyProblem, t: int, previous_asleep: BoolArray) -> BoolArray:
    """Greedy sleep set of one interval, starting from every cell on."""
    state = AssignmentState.start(
        problem.bins, problem.costs[t], np.ones(problem.num_cells, dtype=bool)
    )
    return _greedy_fill(problem, t, state, previous_asleep)


IntervalSolver = Callable[[int, BoolArray], BoolArray]


def schedule_by_interval(problem: EnergyProblem, solve_interval: IntervalSolver) -> BoolArray:
    """Run a per-interval solver over the horizon, ``[T, C]``; all cells on where none may sleep.

    ``solve_interval(t, previous_asleep)`` returns interval ``t``'s on/sleep state; it sees the
    previous interval's sleepers so that ties can favour fewer switches.
    """
    schedule = np.ones((problem.num_intervals, problem.num_cells), dtype=bool)
    previous_asleep = np.zeros(problem.num_cells, dtype=bool)
    for t in range(problem.num_intervals):
        if problem.candidates[t].any():
            schedule[t] = solve_interval(t, previous_asleep)
        previous_asleep = ~schedule[t]
    return schedule


def solve_greedy(problem: EnergyProblem) -> tuple[BoolArray, SolveInfo]:
    """Greedy sleep sets per interval in the bin model."""
    schedule = schedule_by_interval(
        problem, lambda t, previous: _greedy_interval(problem, t, previous)
    )
    asleep = int((~schedule).sum())
    return schedule, SolveInfo(
        status=SolveStatus.FEASIBLE,
        objective=float(schedule[:, problem.sleepable].sum()),
        detail={"cell_intervals_asleep": asleep},
    )


# ---------------------------------------------------------------------------------------------
# anneal (QUBO)


def interval_qubo(
    problem: EnergyProblem, t: int, load_unit: float = 0.005
) -> dimod.BinaryQuadraticModel:
    """Return the sleep decision of interval ``t`` as a QUBO (variables: candidate cell sleeps).

    Objective: maximise the cells asleep. Loads are linear in the sleep variables when every
    sleeping cell's bins are sent to the first entry of their list that cannot sleep in this
    interval (where they land if all candidates sleep, an upper bound on what that cell gets);
    each such cell's cap is a linear inequality, turned into a quadratic penalty with binary
    slack variables (``dimod`` ``add_linear_inequality_constraint``).
    """
    bqm = dimod.BinaryQuadraticModel("BINARY")
    cand_mask = problem.candidates[t]
    cands = np.flatnonzero(cand_mask)
    lists = problem.bins.lists
    all_on = np.ones(problem.num_cells, dtype=bool)
    base, _ = surrogate_loads(problem.bins, problem.costs[t], all_on, problem.num_cells)
    # bins that sit on a candidate with every cell on, and where they land if all candidates sleep
    first = lists[:, 0]
    moving = np.flatnonzero(cand_mask[first] & problem.costs[t].any(axis=1))
    landing = first_active_position(problem.bins, ~cand_mask)[moving]
    lands = landing >= 0
    # [C, C] load moved to receiver k (row) when candidate c (column) sleeps
    transfer = np.zeros((problem.num_cells, problem.num_cells))
    np.add.at(
        transfer,
        (lists[moving[lands], landing[lands]], first[moving[lands]]),
        problem.costs[t][moving[lands], landing[lands]],
    )
    stranded = np.zeros(problem.num_cells, dtype=bool)
    stranded[first[moving[~lands]]] = True
    for cell in cands:
        bqm.add_variable(int(cell), -1.0)
    lagrange = 1.0  # per squared load unit: one unit over a cap costs as much as one cell saves
    for receiver in np.flatnonzero(~cand_mask & (transfer.sum(axis=1) > 0)):
        terms = [
            (int(c), round(transfer[receiver, c] / load_unit))
            for c in cands
            if transfer[receiver, c] > load_unit / 2
        ]
        headroom_units = int(np.floor((problem.caps[t, receiver] - base[receiver]) / load_unit))
        if not terms or sum(b for _, b in terms) <= headroom_units:
            continue  # cannot bind
        bqm.add_linear_inequality_constraint(
            terms,
            lagrange_multiplier=lagrange,
            label=f"cap_{receiver}",
            ub=max(headroom_units, 0),
        )
    # a cell whose UEs have nowhere else to go may not sleep with all the others; keep it
    # awake unless the first-order check allowed it (it is a candidate), weakly
    for cell in cands[stranded[cands]]:
        bqm.add_linear(int(cell), 0.5)
    return bqm


def _repair_to_surrogate(problem: EnergyProblem, t: int, active: BoolArray) -> BoolArray:
    """Wake sleeping cells (largest first-order overload contribution first) until feasible."""
    fixed = active.copy()
    while not surrogate_feasible(problem, t, fixed):
        asleep = np.flatnonzero(~fixed & problem.sleepable)
        if asleep.size == 0:
            break
        loads, _ = surrogate_loads(problem.bins, problem.costs[t], fixed, problem.num_cells)
        over = np.maximum(loads - problem.caps[t], 0.0)
        best, best_gain = asleep[0], -1.0
        for cell in asleep:
            trial = fixed.copy()
            trial[cell] = True
            trial_loads, _ = surrogate_loads(
                problem.bins, problem.costs[t], trial, problem.num_cells
            )
            gain = float(over.sum() - np.maximum(trial_loads - problem.caps[t], 0.0).sum())
            if gain > best_gain:
                best, best_gain = cell, gain
        fixed[best] = True
    return fixed


def _decode_samples(problem: EnergyProblem, t: int, sampleset: dimod.SampleSet) -> BoolArray:
    """Distinct on/sleep states ``[n, C]`` of a sample set (slack variables dropped)."""
    cands = np.flatnonzero(problem.candidates[t])
    columns = [sampleset.variables.index(int(c)) for c in cands]
    decisions = np.unique(np.asarray(sampleset.record.sample)[:, columns], axis=0)
    states = np.ones((decisions.shape[0], problem.num_cells), dtype=bool)
    states[:, cands] = decisions == 0
    return states


def _polish(
    problem: EnergyProblem, t: int, active: BoolArray, previous_asleep: BoolArray
) -> BoolArray:
    """Classical post-processing of a sample: sleep every further candidate that still fits."""
    state = AssignmentState.start(problem.bins, problem.costs[t], active)
    return _greedy_fill(problem, t, state, previous_asleep)


def solve_anneal(
    problem: EnergyProblem, rng: np.random.Generator, config: EnergyConfig
) -> tuple[BoolArray, SolveInfo]:
    """Sample each interval's QUBO with simulated annealing (dwave-samplers).

    Of the distinct samples, the feasible one (in the bin model) with most cells asleep is kept,
    else the best sample is repaired by waking cells; then a classical pass sleeps any further
    candidate that still fits, as hybrid quantum-classical workflows do. Swapping the sampler
    for a quantum annealer's leaves the rest unchanged.
    """
    sampler = SimulatedAnnealingSampler()
    counts = {"reads": 0, "feasible": 0}

    def anneal_interval(t: int, previous_asleep: BoolArray) -> BoolArray:
        bqm = interval_qubo(problem, t)
        seed = int(rng.integers(0, 2**31 - 1))
        sampleset = sampler.sample(
            bqm, num_reads=config.anneal_reads, num_sweeps=config.anneal_sweeps, seed=seed
        )
        counts["reads"] += config.anneal_reads
        states = _decode_samples(problem, t, sampleset)
        feasible = np.array([surrogate_feasible(problem, t, a) for a in states])
        counts["feasible"] += int(feasible.sum())
        if feasible.any():
            pool = states[feasible]
            best = pool[np.argmin(pool.sum(axis=1))]
        else:
            best = _repair_to_surrogate(problem, t, states[np.argmin(states.sum(axis=1))])
        return _polish(problem, t, best, previous_asleep)

    schedule = schedule_by_interval(problem, anneal_interval)
    reads, feasible_samples = counts["reads"], counts["feasible"]
    return schedule, SolveInfo(
        status=SolveStatus.FEASIBLE,
        objective=float(schedule[:, problem.sleepable].sum()),
        iterations=reads,
        detail={"feasible_samples": feasible_samples},
    )


# ---------------------------------------------------------------------------------------------
# exact (MILP, HiGHS)


def _add_interval_assignment(
    m: MilpBuilder, problem: EnergyProblem, t: int, y: dict[tuple[int, int], int]
) -> None:
    """Closest-assignment and capacity rows of interval ``t`` (capacitated facility location)."""
    inf = highspy.kHighsInf
    cand = problem.candidates[t]
    lists = problem.bins.lists
    costs = problem.costs[t]
    const = np.zeros(problem.num_cells)
    load_cols: dict[int, list[int]] = {}
    load_vals: dict[int, list[float]] = {}
    for b in range(lists.shape[0]):
        if not costs[b].any():
            continue
        entries = [int(c) for c in lists[b] if c >= 0]
        if not cand[entries[0]]:
            const[entries[0]] += costs[b, 0]
            continue
        stop = next((j for j, c in enumerate(entries) if not cand[c]), len(entries) - 1)
        entries = entries[: stop + 1]
        xs = [m.column(0.0, 1.0, 0.0, integer=False) for _ in entries]
        m.row(xs, [1.0] * len(xs), 1.0, 1.0)
        for j, cell in enumerate(entries):
            load_cols.setdefault(cell, []).append(xs[j])
            load_vals.setdefault(cell, []).append(float(costs[b, j]))
            if not cand[cell]:
                continue
            m.row([xs[j], y[(t, cell)]], [1.0, -1.0], -inf, 0.0)
            later = xs[j + 1 :]
            if later:
                m.row([*later, y[(t, cell)]], [1.0] * (len(later) + 1), -inf, 1.0)
    for cell, cols in load_cols.items():
        cap = float(problem.caps[t, cell])
        if cand[cell]:
            m.row([*cols, y[(t, cell)]], [*load_vals[cell], -cap], -inf, -const[cell])
        else:
            m.row(cols, load_vals[cell], -inf, cap - const[cell])


def _solve_interval_milp(
    problem: EnergyProblem,
    t: int,
    previous_asleep: BoolArray,
    time_limit_s: float,
    mip_rel_gap: float,
) -> tuple[BoolArray, SolveInfo]:
    """Solve the sleep decision of one interval to optimality (or its time limit).

    Lexicographic integral objective: the number of active candidates first, then the number of
    cells woken that slept in the previous interval (weights ``M`` and ``M + 1``, ``M`` = one
    more than the candidate count), so ties go to the schedule with fewer switches.
    """
    m = MilpBuilder()
    cands = np.flatnonzero(problem.candidates[t])
    weight = float(cands.size + 1)
    y = {
        (t, int(cell)): m.column(0.0, 1.0, weight + float(previous_asleep[cell]), integer=True)
        for cell in cands
    }
    _add_interval_assignment(m, problem, t, y)
    result = solve_milp(m, time_limit_s, mip_rel_gap)
    active = np.ones(problem.num_cells, dtype=bool)
    if result.values is not None:
        for (_, cell), col in y.items():
            active[cell] = result.values[col] > 0.5
    return active, SolveInfo(
        status=result.status,
        objective=result.objective,
        bound=result.bound,
        mip_gap=result.mip_gap,
        iterations=result.nodes,
        detail={"columns": len(m.col_lower), "rows": len(m.row_lower)},
    )


def solve_exact(problem: EnergyProblem, config: EnergyConfig) -> tuple[BoolArray, SolveInfo]:
    """Solve each interval as a MILP with HiGHS: capacitated facility location over the bins.

    Minimises the number of active candidate cells (an integral objective HiGHS proves optimal
    quickly; every capacity cell saves the same idle power asleep). The switching rules couple
    intervals and are enforced afterwards, as for every solver. Reports the worst interval's
    gap; ``status`` is ``optimal`` only when every interval was proven optimal.
    """
    statuses: list[SolveStatus] = []
    gaps: list[float] = []
    objective = float(problem.sleepable.sum() * problem.num_intervals)
    totals = {"objective": objective, "bound": objective, "nodes": 0.0, "without_incumbent": 0.0}

    def milp_interval(t: int, previous_asleep: BoolArray) -> BoolArray:
        active, info = _solve_interval_milp(
            problem, t, previous_asleep, config.interval_time_limit_s, config.mip_rel_gap
        )
        statuses.append(info.status)
        totals["nodes"] += info.iterations
        num_cands = float(problem.candidates[t].sum())
        totals["objective"] -= num_cands - float(active[problem.candidates[t]].sum())
        if info.bound is not None:
            # bound of the weighted objective in active cells (weights <= M + 1), integral
            totals["bound"] -= num_cands - float(np.ceil(info.bound / (num_cands + 2.0) - 1e-9))
        if info.mip_gap is not None:
            gaps.append(info.mip_gap)
        else:
            totals["without_incumbent"] += 1
        return active

    schedule = schedule_by_interval(problem, milp_interval)
    if any(s in (SolveStatus.ERROR, SolveStatus.INFEASIBLE) for s in statuses):
        status = SolveStatus.ERROR
    elif all(s == SolveStatus.OPTIMAL for s in statuses):
        status = SolveStatus.OPTIMAL
    else:
        status = SolveStatus.TIME_LIMIT
    return schedule, SolveInfo(
        status=status,
        objective=totals["objective"],
        bound=totals["bound"],
        mip_gap=max(gaps, default=0.0),
        iterations=int(totals["nodes"]),
        detail={
            "intervals_solved": len(statuses),
            "intervals_without_incumbent": int(totals["without_incumbent"]),
        },
    )


# ---------------------------------------------------------------------------------------------
# verify in the twin, repair, assemble the plan


def _cells_to_wake(
    plan: Snapshot,
    ref: Snapshot,
    active: BoolArray,
    limits: EnergyConstraints,
    protected: BoolArray | None = None,
) -> IntArray:
    """Return the sleeping cells to wake: those whose always-on UEs suffer most in the plan.

    The worst quarter of the culprits (at least one) is woken at once, so a large network's
    repair takes a few twin evaluations per interval, not one per culprit. ``protected``
    cells (``[C]``, e.g. inside their minimum sleep time) are woken only when no other
    culprit is left.
    """
    limit = limits.prb_load_limit(ref.prb_load)
    floor = min(limits.ue_thp_floor_mbps, ref.ue_thp_percentile_mbps(5))
    overloaded_cell = np.where(plan.active, plan.prb_load, 0.0) > limit
    hurt = (
        (plan.served_mbps < plan.demand_mbps * limits.min_served_ratio)
        | ((plan.ue_thp_mbps < floor) & (plan.demand_mbps > 0))
        | (ref.covered & ~plan.covered)
        | (plan.covered & overloaded_cell[np.maximum(plan.serving_cell, 0)])
    )
    home = ref.serving_cell
    asleep_home = hurt & (home >= 0) & ~active[np.maximum(home, 0)]
    if asleep_home.any():
        weight = np.bincount(
            home[asleep_home], weights=plan.demand_mbps[asleep_home] + 1e-9, minlength=active.size
        )
        culprits = np.flatnonzero(weight > 0)
        if protected is not None and (~protected[culprits]).any():
            culprits = culprits[~protected[culprits]]
        worst_first = culprits[np.argsort(-weight[culprits], kind="stable")]
        return worst_first[: max(1, culprits.size // 4)]
    asleep = np.flatnonzero(~active)
    if protected is not None and (~protected[asleep]).any():
        asleep = asleep[~protected[asleep]]
    return asleep[[int(np.argmax(ref.prb_load[asleep]))]]


class ReferenceCache:
    """Always-on snapshots of several demand sets, computed on first use and kept."""

    def __init__(self, twin: Twin, demand_sets: list[FloatArray]) -> None:
        self._twin = twin
        self._demand_sets = demand_sets
        self._cache: dict[tuple[int, int], Snapshot] = {}

    def seed(self, index: int, snapshots: list[Snapshot]) -> None:
        """Store already computed always-on snapshots of demand set ``index``."""
        for t, snap in enumerate(snapshots):
            self._cache[(index, t)] = snap

    def get(self, index: int, t: int) -> Snapshot:
        """Always-on snapshot of interval ``t`` of demand set ``index``."""
        key = (index, t)
        if key not in self._cache:
            state = CellState.all_on(self._twin.num_cells)
            self._cache[key] = evaluate_snapshot(self._twin, state, self._demand_sets[index][t])
        return self._cache[key]


RuleEnforcer = Callable[[BoolArray], BoolArray]


def verify_and_repair(
    twin: Twin,
    demand_sets: list[FloatArray],
    schedule: BoolArray,
    limits: EnergyConstraints,
    references: ReferenceCache,
    max_rounds: int,
    enforce: RuleEnforcer | None = None,
    protected: BoolArray | None = None,
) -> tuple[BoolArray, int]:
    """Replay the schedule in the twin and wake cells until every interval keeps its limits.

    ``demand_sets`` holds one or more demand arrays ``[T, U]`` (the planning demand, or demand
    scenarios for a robust plan); the schedule must hold on each. Returns the repaired schedule
    and the number of cells woken. Waking only adds capacity; the switching rules are
    re-applied after each round (which may wake more). ``enforce`` replaces the rules of a
    whole-day schedule (a rolling window needs the day's executed intervals before it);
    ``protected`` ``[T, C]`` cells are woken last (see ``_cells_to_wake``).
    """
    fixed = schedule.copy()
    woken = 0
    ipd = twin.scenario.intervals_per_day
    if enforce is None:

        def enforce(active: BoolArray) -> BoolArray:
            return enforce_switching_rules(active, limits.rules, ipd)

    for _ in range(max_rounds):
        fixed = enforce(fixed)
        changed = False
        for t in np.flatnonzero(~fixed.all(axis=1)):
            for index, demand in enumerate(demand_sets):
                while not fixed[t].all():
                    snap, ref, check = evaluate_interval(
                        twin, demand[t], fixed[t], limits, references.get(index, int(t))
                    )
                    if not check.violations:
                        break
                    wake = _cells_to_wake(
                        snap, ref, fixed[t], limits, None if protected is None else protected[t]
                    )
                    fixed[t, wake] = True
                    woken += int(wake.size)
                    changed = True
        if not changed:
            break
    # the last round's wake-ups may have split sleep runs: the rules only ever wake cells
    return enforce(fixed), woken


def plan_energy(
    twin: Twin,
    demand_mbps: FloatArray,
    solver: str,
    *,
    limits: EnergyConstraints | None = None,
    config: EnergyConfig | None = None,
    rng: np.random.Generator | None = None,
    t0_min: int = 0,
) -> Plan:
    """Plan which capacity cells sleep in each interval of ``demand_mbps`` ``[T, U]``.

    The returned plan's ``expected`` figures are measured by replaying it in the twin on the
    same demand; its ``confidence`` is left to ``ranopt.optimize.confidence``.
    """
    if solver not in ENERGY_SOLVERS:
        msg = f"solver must be one of {ENERGY_SOLVERS}, got {solver!r}"
        raise ValidationError(msg)
    limits = limits or EnergyConstraints()
    config = config or EnergyConfig()
    references = always_on_snapshots(twin, demand_mbps)
    cache = ReferenceCache(twin, [demand_mbps])
    cache.seed(0, references)
    rng = rng or np.random.default_rng(0)
    reference_load: FloatArray | None = None  # round 1: every cell at its limit (safe)
    best: tuple[tuple[int, float], BoolArray, SolveInfo, int, ScheduleEvaluation] | None = None
    for _ in range(config.linearisation_rounds):
        problem = build_energy_problem(
            twin, demand_mbps, limits, references, reference_load, config.planning_headroom
        )
        if solver == "exact":
            schedule, info = solve_exact(problem, config)
        elif solver == "anneal":
            schedule, info = solve_anneal(problem, rng, config)
        else:
            schedule, info = solve_greedy(problem)
        schedule, woken = verify_and_repair(
            twin, [demand_mbps], schedule, limits, cache, config.repair_rounds
        )
        evaluation = evaluate_schedule(twin, demand_mbps, schedule, limits, references)
        # fewest violations first (repair can run out of rounds), then least energy
        rank = (evaluation.kpis().constraint_violations, evaluation.plan.total_energy_kwh)
        if best is None or rank < best[0]:
            best = (rank, schedule, info, woken, evaluation)
        # next round: interference at the loads this plan produced, plus a margin
        limit = np.stack([limits.prb_load_limit(r.prb_load) for r in references])
        reference_load = np.minimum(evaluation.plan.prb_load + config.reference_margin, limit)
    if best is None:  # unreachable: EnergyConfig requires linearisation_rounds >= 1
        msg = "EnergyConfig.linearisation_rounds must be >= 1"
        raise ValidationError(msg)
    _, schedule, info, woken, evaluation = best
    return Plan(
        objective="energy",
        solver=solver,
        t0_min=t0_min,
        interval_min=twin.scenario.interval_min,
        active=schedule,
        actions=schedule_actions(schedule, twin.cell_names, twin.scenario.interval_min, t0_min),
        solve=replace(info, detail={**info.detail, "cells_woken_by_twin_check": woken}),
        expected=evaluation.kpis(),
    )
