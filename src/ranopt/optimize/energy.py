"""Energy saving: which capacity cells sleep and which mute chains, in each interval.

Build -> solve -> assign -> verify. ``build_energy_problem`` freezes interference at a reference
load and turns the twin into the linear bin model of ``ranopt.optimize.surrogate``; each solver
(exact MILP, QUBO annealing, greedy) chooses per capacity cell and interval one of: asleep, on
with all chains, on muted to fewer chains (``ranopt.optimize.muting``), minimising power;
``plan_energy`` enforces the switching rules, replays the schedule in the twin, unmuting and
waking cells until every interval keeps its constraints, and sets each sleep run's depth by its
length (``ranopt.optimize.actions``), so the plan's figures are the twin's, never a solver's.
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
from ranopt.optimize.actions import (
    DEEP_SLEEP_WAKE_INTERVALS,
    full_trx,
    schedule_actions,
    sleep_states,
)
from ranopt.optimize.evaluate import (
    EnergyConstraints,
    SnapshotMemo,
    check_snapshot,
    evaluate_interval,
    evaluate_schedule,
)
from ranopt.optimize.milp import MilpBuilder, solve_milp
from ranopt.optimize.muting import (
    MuteLevels,
    cell_level_loads,
    fit_mute_levels,
    mute_costs,
    mute_levels,
)
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
from ranopt.optimize.switching import enforce_switching_rules
from ranopt.twin.model import Twin
from ranopt.twin.neighbourhood import candidate_index, evaluate_change
from ranopt.twin.snapshot import CellState, Snapshot, evaluate_snapshot
from ranopt.twin.units import FloatArray

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

EnergySolver = Literal["exact", "anneal", "greedy"]
ENERGY_SOLVERS: tuple[EnergySolver, ...] = ("exact", "anneal", "greedy")
CAPACITY_LAYER = 1  # index of "capacity" in ranopt.twin.elements.LAYERS
# PRB load the extra-sleep pass keeps free below each cell's limit: the bin model's planning
# headroom, so the pass's sleep keeps the same margin against what the scenarios miss
EXTRA_SLEEP_HEADROOM = 0.1


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
    mimo_muting: bool = True  # the solvers may mute capacity cells' chains (64 -> 32 -> 16)
    sleep_depths: bool = True  # deep sleep for runs long enough to pay for it, else light
    deep_sleep_wake_intervals: int = DEEP_SLEEP_WAKE_INTERVALS
    # repair re-solves only the neighbourhood of the cells it wakes or unmutes
    # (ranopt.twin.neighbourhood); False: the whole network after each step
    neighbourhood_repair: bool = True
    # an interval replayed again with the same state and demand reuses its solved snapshot
    # (ranopt.optimize.evaluate.SnapshotMemo: identical figures; one snapshot per interval
    # held); False: every replay solves again
    reuse_snapshots: bool = True
    # after the day-ahead plan's robust repair, try more sleep and deeper muting in the twin
    # on the planning demand and the robust scenarios (ranopt.optimize.extra_sleep)
    extra_sleep: bool = False
    # PRB load the pass keeps free below each cell's limit on every checked demand set (a cell
    # already above that in the repaired plan may not gain load); 0: up to the limit itself
    extra_sleep_headroom: float = EXTRA_SLEEP_HEADROOM

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
        if not 0.0 <= self.extra_sleep_headroom < 1.0:
            msg = (
                "EnergyConfig.extra_sleep_headroom must lie in [0, 1), "
                f"got {self.extra_sleep_headroom}"
            )
            raise ValidationError(msg)


@dataclass(frozen=True, eq=False)
class EnergyProblem:
    """The energy decision for a horizon in the linear bin model, per interval ``t``."""

    bins: PreferenceBins
    costs: FloatArray  # [T, B, L] PRB share of each bin on each cell of its list
    caps: FloatArray  # [T, C] PRB load limit of each cell
    candidates: BoolArray  # [T, C] cells that may sleep (alone they keep every cap)
    sleepable: BoolArray  # [C] capacity-layer cells
    idle_saving_w: FloatArray  # [C] power saved by putting an idle cell to (deep) sleep
    load_slope_w: FloatArray  # [C] extra power per unit of PRB load
    intervals_per_day: int
    limits: EnergyConstraints
    levels: MuteLevels  # [C, M] muted chain levels (M = 0 without muting)
    full_idle_w: FloatArray  # [C] zero-load power with all chains
    num_trx: IntArray  # [C] all chains of each cell
    # what the muted costs are computed from, per interval (see mute_costs_at)
    twin: Twin
    demand_mbps: FloatArray  # [T, U]
    reference_load: FloatArray  # [T, C] frozen interference
    pairing_load: FloatArray | None  # [T, C] frozen MU pairing (None: the reference load)

    def mute_costs_at(self, t: int) -> FloatArray:
        """PRB share of each bin on each cell of its list at each muted level, ``[B, L, M]``.

        Computed when asked (one interval's worth): ``[T, B, L, M]`` would not fit a large
        network's memory.
        """
        pairing = None if self.pairing_load is None else self.pairing_load[t]
        return mute_costs(
            self.twin, self.bins, self.levels, self.reference_load[t], pairing,
            self.demand_mbps[t],
        )  # fmt: skip

    @property
    def mute_saving_w(self) -> FloatArray:
        """Zero-load power saved at each muted level, ``[C, M]``."""
        return np.asarray(self.full_idle_w[:, None] * (1.0 - self.levels.power_scale))

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
    *,
    pairing_load: FloatArray | None = None,
    muting: bool = True,
) -> EnergyProblem:
    """Freeze interference at ``reference_load`` ``[T, C]`` and build the bin model.

    ``headroom`` (PRB load) is kept free below every cell's limit in the plan, against forecast
    error; a cell already above its limit with every cell on may not gain load at all.
    ``pairing_load`` ``[T, C]`` fixes MU-MIMO pairing (default: none with the default
    reference, the reference load otherwise); ``muting`` offers the cells' muted levels.

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
    # MU pairing frozen with the interference: none at all in the safe first round (pairing
    # grows with load, so load-1 pairing would over-state rates), the plan's loads after it
    pairing = np.zeros_like(ref) if reference_load is None else pairing_load
    costs = np.stack(
        [
            bin_costs(
                bins,
                reference_rates_mbps(twin, bins, ref[t], None if pairing is None else pairing[t]),
                demand_mbps[t],
            )
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
    supply = 1.0 - arrays.supply_loss
    full_idle_w = arrays.num_trx * arrays.p0_w / supply
    # a sleep is valued at deep sleep: the runs that save most (the night's) end up deep, and a
    # per-interval decision cannot see a run's length (short runs get light sleep afterwards)
    idle_saving_w = full_idle_w - arrays.num_trx * arrays.p_sleep_w / supply
    load_slope_w = arrays.num_trx * arrays.delta_p * arrays.max_tx_power_per_trx_w / supply
    levels = mute_levels(twin)
    if not muting:
        levels = MuteLevels(trx=levels.trx[:, :0], power_scale=levels.power_scale[:, :0])
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
        levels=levels,
        full_idle_w=full_idle_w,
        num_trx=arrays.num_trx.astype(np.int64),
        twin=twin,
        demand_mbps=demand_mbps,
        reference_load=ref,
        pairing_load=pairing,
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


def _mute_fill(
    problem: EnergyProblem, t: int, state: AssignmentState, costs_m: FloatArray | None
) -> IntArray:
    """Chains per cell ``[C]``: every active cell muted as far as its cap allows.

    For a fixed sleep set this is optimal in the bin model: muting lowers a cell's power and
    changes no other cell's load there.
    """
    trx = problem.num_trx.copy()
    if costs_m is None or problem.levels.num_levels == 0:
        return trx
    cells = np.flatnonzero(problem.levels.mutable & state.active)
    fitted = fit_mute_levels(state, costs_m, problem.levels, problem.caps[t], cells)
    return np.where(fitted > 0, fitted, trx)


def _interval_mute_costs(problem: EnergyProblem, t: int) -> FloatArray | None:
    return problem.mute_costs_at(t) if problem.levels.num_levels else None


def _greedy_interval(
    problem: EnergyProblem, t: int, previous_asleep: BoolArray
) -> tuple[BoolArray, IntArray]:
    """Greedy sleep set of one interval, starting from every cell on, then muting."""
    state = AssignmentState.start(
        problem.bins, problem.costs[t], np.ones(problem.num_cells, dtype=bool)
    )
    active = _greedy_fill(problem, t, state, previous_asleep)
    return active, _mute_fill(problem, t, state, _interval_mute_costs(problem, t))


IntervalSolver = Callable[[int, BoolArray], tuple[BoolArray, IntArray]]


def schedule_by_interval(
    problem: EnergyProblem, solve_interval: IntervalSolver
) -> tuple[BoolArray, IntArray]:
    """Run a per-interval solver over the horizon: on/sleep ``[T, C]`` and chains ``[T, C]``.

    ``solve_interval(t, previous_asleep)`` returns interval ``t``'s state; it sees the previous
    interval's sleepers so that ties can favour fewer switches. Intervals where no cell can
    sleep or mute keep every cell on with all its chains.
    """
    schedule = np.ones((problem.num_intervals, problem.num_cells), dtype=bool)
    trx = np.broadcast_to(problem.num_trx, schedule.shape).copy()
    previous_asleep = np.zeros(problem.num_cells, dtype=bool)
    may_mute = problem.levels.num_levels > 0 and bool(problem.levels.mutable.any())
    for t in range(problem.num_intervals):
        if problem.candidates[t].any() or may_mute:
            schedule[t], trx[t] = solve_interval(t, previous_asleep)
        previous_asleep = ~schedule[t]
    return schedule, trx


def interval_power_w(problem: EnergyProblem, t: int, active: BoolArray, trx: IntArray) -> float:
    """Power of one interval's state in the bin model, W (relative: site shares left out)."""
    loads, _ = surrogate_loads(problem.bins, problem.costs[t], active, problem.num_cells)
    level_scale = np.ones(problem.num_cells)
    for m in range(problem.levels.num_levels):
        at = trx == problem.levels.trx[:, m]
        level_scale = np.where(at, problem.levels.power_scale[:, m], level_scale)
    on_w = (problem.full_idle_w + problem.load_slope_w * loads) * level_scale
    asleep_w = problem.full_idle_w - problem.idle_saving_w
    return float(np.where(active, on_w, asleep_w).sum())


def solve_greedy(problem: EnergyProblem) -> tuple[BoolArray, IntArray, SolveInfo]:
    """Greedy sleep sets per interval in the bin model, then the deepest muting that fits."""
    schedule, trx = schedule_by_interval(
        problem, lambda t, previous: _greedy_interval(problem, t, previous)
    )
    asleep = int((~schedule).sum())
    muted = int((schedule & (trx < problem.num_trx)).sum())
    return (
        schedule,
        trx,
        SolveInfo(
            status=SolveStatus.FEASIBLE,
            objective=float(schedule[:, problem.sleepable].sum()),
            detail={"cell_intervals_asleep": asleep, "cell_intervals_muted": muted},
        ),
    )


# ---------------------------------------------------------------------------------------------
# anneal (QUBO)


def _mute_choices(problem: EnergyProblem, t: int, costs_m: FloatArray) -> list[tuple[int, int]]:
    """(cell, level) pairs that fit their cap even if every candidate sleeps onto the cell.

    The worst case for a muted cell: it keeps its own bins and receives every bin for which
    it is the first cell that stays on when all candidates sleep. A pair that fits then fits
    whatever the annealer sleeps (the QUBO needs no constraint for it).
    """
    cand = problem.candidates[t]
    choices: list[tuple[int, int]] = []
    for cell in np.flatnonzero(problem.levels.mutable):
        on = ~cand
        on[cell] = True
        pos = first_active_position(problem.bins, on)
        rows = np.flatnonzero(pos >= 0)
        here = rows[problem.bins.lists[rows, pos[rows]] == cell]
        loads = costs_m[here, pos[here], :].sum(axis=0)
        for m in range(problem.levels.num_levels):
            if problem.levels.trx[cell, m] > 0 and loads[m] <= problem.caps[t, cell]:
                choices.append((int(cell), m))
    return choices


def interval_qubo(
    problem: EnergyProblem,
    t: int,
    load_unit: float = 0.005,
    costs_m: FloatArray | None = None,
) -> dimod.BinaryQuadraticModel:
    """Return interval ``t``'s decision as a QUBO: candidate sleeps and muted levels.

    Variables: ``cell`` (1 = asleep) for each candidate, ``(cell, level)`` (1 = muted to that
    level) for each muting that fits in the worst case (``_mute_choices``). Objective: the
    power saved, relative to the largest sleep saving; a cell takes at most one of its
    variables (pairwise penalties). Loads are linear in the sleep variables when every
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
    scale = float(problem.idle_saving_w[cands].max()) if cands.size else 1.0
    for cell in cands:
        bqm.add_variable(int(cell), -float(problem.idle_saving_w[cell]) / scale)
    if costs_m is not None:
        choices = _mute_choices(problem, t, costs_m)
        saving = problem.mute_saving_w
        for muted, level in choices:
            bqm.add_variable((muted, level), -float(saving[muted, level]) / scale)
        # one state per cell: a muted level excludes the other levels and sleep
        by_cell: dict[int, list[object]] = {}
        for muted, level in choices:
            start: list[object] = [muted] if cand_mask[muted] else []
            by_cell.setdefault(muted, start).append((muted, level))
        for variables in by_cell.values():
            for i, a in enumerate(variables):
                for b in variables[i + 1 :]:
                    bqm.add_quadratic(a, b, 2.0)
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


def _decode_samples(
    problem: EnergyProblem, t: int, sampleset: dimod.SampleSet
) -> tuple[BoolArray, IntArray]:
    """Distinct states of a sample set: on/sleep ``[n, C]`` and chains ``[n, C]``."""
    cands = np.flatnonzero(problem.candidates[t])
    record = np.asarray(sampleset.record.sample)
    index = {v: i for i, v in enumerate(sampleset.variables)}
    columns = [index[int(c)] for c in cands]
    mutes = [(v, i) for v, i in index.items() if isinstance(v, tuple) and len(v) == 2]
    mute_columns = [i for _, i in mutes]
    decisions = np.unique(record[:, columns + mute_columns], axis=0)
    states = np.ones((decisions.shape[0], problem.num_cells), dtype=bool)
    states[:, cands] = decisions[:, : len(columns)] == 0
    trx = np.broadcast_to(problem.num_trx, states.shape).copy()
    for j, (variable, _) in enumerate(mutes):
        cell, level = variable
        chosen = decisions[:, len(columns) + j] == 1
        trx[chosen, cell] = np.minimum(trx[chosen, cell], problem.levels.trx[cell, level])
    return states, trx


def _polish(
    problem: EnergyProblem,
    t: int,
    active: BoolArray,
    trx: IntArray,
    previous_asleep: BoolArray,
    costs_m: FloatArray | None,
) -> tuple[BoolArray, IntArray]:
    """Post-process a sample classically: sleep further candidates, re-fit the mutings.

    Every further candidate that still fits sleeps; the sample's mutings that still fit are
    kept, and cells mute further where a cap allows.
    """
    state = AssignmentState.start(problem.bins, problem.costs[t], active)
    active = _greedy_fill(problem, t, state, previous_asleep)
    fitted = _mute_fill(problem, t, state, costs_m)
    if costs_m is not None:
        # the sample's choice where it still fits, else the fill's (a cap it no longer keeps)
        for cell in np.flatnonzero(active & (trx < problem.num_trx)):
            loads = cell_level_loads(state, costs_m, int(cell))
            level = int(np.flatnonzero(problem.levels.trx[cell] == trx[cell])[0])
            if loads[level] <= problem.caps[t, cell]:
                fitted[cell] = min(fitted[cell], trx[cell])
    return active, np.where(active, fitted, problem.num_trx)


def solve_anneal(
    problem: EnergyProblem, rng: np.random.Generator, config: EnergyConfig
) -> tuple[BoolArray, IntArray, SolveInfo]:
    """Sample each interval's QUBO with simulated annealing (dwave-samplers).

    Of the distinct samples, the feasible one (in the bin model) with the least power is kept,
    else the best sample is repaired by waking cells; then a classical pass sleeps any further
    candidate that still fits and mutes where caps allow, as hybrid quantum-classical
    workflows do. Swapping the sampler for a quantum annealer's leaves the rest unchanged.
    """
    sampler = SimulatedAnnealingSampler()
    counts = {"reads": 0, "feasible": 0}

    def anneal_interval(t: int, previous_asleep: BoolArray) -> tuple[BoolArray, IntArray]:
        costs_m = _interval_mute_costs(problem, t)
        bqm = interval_qubo(problem, t, costs_m=costs_m)
        if bqm.num_variables == 0:
            state = AssignmentState.start(
                problem.bins, problem.costs[t], np.ones(problem.num_cells, dtype=bool)
            )
            return state.active, _mute_fill(problem, t, state, costs_m)
        seed = int(rng.integers(0, 2**31 - 1))
        sampleset = sampler.sample(
            bqm, num_reads=config.anneal_reads, num_sweeps=config.anneal_sweeps, seed=seed
        )
        counts["reads"] += config.anneal_reads
        states, trx = _decode_samples(problem, t, sampleset)
        feasible = np.array([surrogate_feasible(problem, t, a) for a in states])
        counts["feasible"] += int(feasible.sum())
        if feasible.any():
            power = [
                interval_power_w(problem, t, a, x)
                for a, x in zip(states[feasible], trx[feasible], strict=True)
            ]
            best = int(np.argmin(power))
            active, chains = states[feasible][best], trx[feasible][best]
        else:
            pick = int(np.argmin(states.sum(axis=1)))
            active, chains = _repair_to_surrogate(problem, t, states[pick]), trx[pick]
        return _polish(problem, t, active, chains, previous_asleep, costs_m)

    schedule, trx = schedule_by_interval(problem, anneal_interval)
    reads, feasible_samples = counts["reads"], counts["feasible"]
    return (
        schedule,
        trx,
        SolveInfo(
            status=SolveStatus.FEASIBLE,
            objective=float(schedule[:, problem.sleepable].sum()),
            iterations=reads,
            detail={
                "feasible_samples": feasible_samples,
                "cell_intervals_muted": int((schedule & (trx < problem.num_trx)).sum()),
            },
        ),
    )


# ---------------------------------------------------------------------------------------------
# exact (MILP, HiGHS)


def _add_interval_assignment(
    m: MilpBuilder,
    problem: EnergyProblem,
    t: int,
    y: dict[tuple[int, int], int],
    z: dict[tuple[int, int], int],
    costs_m: FloatArray | None,
) -> None:
    """Closest-assignment, capacity and muting rows of interval ``t`` (facility location).

    ``y[(t, c)]`` is 1 when candidate ``c`` is on, ``z[(c, level)]`` when cell ``c`` runs a
    muted level: then its load at that level's costs keeps its cap (a big-M row).
    """
    inf = highspy.kHighsInf
    cand = problem.candidates[t]
    lists = problem.bins.lists
    costs = problem.costs[t]
    num_levels = problem.levels.num_levels
    const = np.zeros(problem.num_cells)
    const_m = np.zeros((problem.num_cells, num_levels))
    load_cols: dict[int, list[int]] = {}
    load_vals: dict[int, list[float]] = {}
    load_vals_m: dict[int, list[FloatArray]] = {}
    for b in range(lists.shape[0]):
        if not costs[b].any():
            continue
        entries = [int(c) for c in lists[b] if c >= 0]
        if not cand[entries[0]]:
            const[entries[0]] += costs[b, 0]
            if costs_m is not None:
                const_m[entries[0]] += costs_m[b, 0]
            continue
        stop = next((j for j, c in enumerate(entries) if not cand[c]), len(entries) - 1)
        entries = entries[: stop + 1]
        # the power that grows with a cell's load: the objective weight of each assignment
        xs = [
            m.column(0.0, 1.0, float(problem.load_slope_w[cell] * costs[b, j]), integer=False)
            for j, cell in enumerate(entries)
        ]
        m.row(xs, [1.0] * len(xs), 1.0, 1.0)
        for j, cell in enumerate(entries):
            load_cols.setdefault(cell, []).append(xs[j])
            load_vals.setdefault(cell, []).append(float(costs[b, j]))
            if costs_m is not None:
                load_vals_m.setdefault(cell, []).append(costs_m[b, j])
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
    for (cell, level), col in z.items():
        cap = float(problem.caps[t, cell])
        vals = [float(v[level]) for v in load_vals_m.get(cell, [])]
        cols = load_cols.get(cell, [])
        most = const_m[cell, level] + sum(vals)
        big_m = max(most - cap, 0.0)
        # sum(c_m x) + const_m <= cap + M (1 - z)
        m.row([*cols, col], [*vals, big_m], -inf, cap + big_m - const_m[cell, level])


def _solve_interval_milp(
    problem: EnergyProblem,
    t: int,
    previous_asleep: BoolArray,
    time_limit_s: float,
    mip_rel_gap: float,
    costs_m: FloatArray | None = None,
) -> tuple[BoolArray, IntArray, SolveInfo]:
    """Solve one interval's sleep and muting decision to optimality (or its time limit).

    Minimises the interval's power in the bin model: each candidate on costs its idle saving
    over (deep) sleep, each muted level saves its share, each assignment adds its cell's load
    power; waking a cell that slept in the previous interval costs 0.01 W more, so ties go to
    fewer switches.
    """
    m = MilpBuilder()
    cands = np.flatnonzero(problem.candidates[t])
    y = {
        (t, int(cell)): m.column(
            0.0,
            1.0,
            float(problem.idle_saving_w[cell]) + 0.01 * float(previous_asleep[cell]),
            integer=True,
        )
        for cell in cands
    }
    z: dict[tuple[int, int], int] = {}
    if costs_m is not None:
        saving = problem.mute_saving_w
        for cell in np.flatnonzero(problem.levels.mutable):
            cols = []
            for level in range(problem.levels.num_levels):
                if problem.levels.trx[cell, level] > 0:
                    col = m.column(0.0, 1.0, -float(saving[cell, level]), integer=True)
                    z[(int(cell), level)] = col
                    cols.append(col)
            on = y.get((t, int(cell)))
            # one muted level at most, and only while the cell is on
            if on is None:
                m.row(cols, [1.0] * len(cols), -highspy.kHighsInf, 1.0)
            else:
                m.row([*cols, on], [1.0] * len(cols) + [-1.0], -highspy.kHighsInf, 0.0)
    _add_interval_assignment(m, problem, t, y, z, costs_m)
    result = solve_milp(m, time_limit_s, mip_rel_gap)
    active = np.ones(problem.num_cells, dtype=bool)
    trx = problem.num_trx.copy()
    if result.values is not None:
        for (_, on_cell), col in y.items():
            active[on_cell] = result.values[col] > 0.5
        for (muted, level), col in z.items():
            if result.values[col] > 0.5 and active[muted]:
                trx[muted] = problem.levels.trx[muted, level]
    return (
        active,
        trx,
        SolveInfo(
            status=result.status,
            objective=result.objective,
            bound=result.bound,
            mip_gap=result.mip_gap,
            iterations=result.nodes,
            detail={"columns": len(m.col_lower), "rows": len(m.row_lower)},
        ),
    )


def solve_exact(
    problem: EnergyProblem, config: EnergyConfig
) -> tuple[BoolArray, IntArray, SolveInfo]:
    """Solve each interval as a MILP with HiGHS, minimising the interval's power.

    Capacitated facility location over the bins, with muted levels as big-M capacity rows.
    The switching rules couple intervals and are enforced afterwards, as for every solver.
    Reports the summed objective and bound (W, relative to every cell on at zero load) and
    the worst interval's gap; ``status`` is ``optimal`` only when every interval was proven
    optimal.
    """
    statuses: list[SolveStatus] = []
    gaps: list[float] = []
    totals = {"objective": 0.0, "bound": 0.0, "nodes": 0.0, "without_incumbent": 0.0}

    def milp_interval(t: int, previous_asleep: BoolArray) -> tuple[BoolArray, IntArray]:
        active, trx, info = _solve_interval_milp(
            problem, t, previous_asleep, config.interval_time_limit_s, config.mip_rel_gap,
            _interval_mute_costs(problem, t),
        )  # fmt: skip
        statuses.append(info.status)
        totals["nodes"] += info.iterations
        if info.objective is not None:
            totals["objective"] += info.objective
        if info.bound is not None:
            totals["bound"] += info.bound
        if info.mip_gap is not None:
            gaps.append(info.mip_gap)
        else:
            totals["without_incumbent"] += 1
        return active, trx

    schedule, trx = schedule_by_interval(problem, milp_interval)
    if any(s in (SolveStatus.ERROR, SolveStatus.INFEASIBLE) for s in statuses):
        status = SolveStatus.ERROR
    elif all(s == SolveStatus.OPTIMAL for s in statuses):
        status = SolveStatus.OPTIMAL
    else:
        status = SolveStatus.TIME_LIMIT
    return (
        schedule,
        trx,
        SolveInfo(
            status=status,
            objective=totals["objective"],
            bound=totals["bound"],
            mip_gap=max(gaps, default=0.0),
            iterations=int(totals["nodes"]),
            detail={
                "intervals_solved": len(statuses),
                "intervals_without_incumbent": int(totals["without_incumbent"]),
                "cell_intervals_muted": int((schedule & (trx < problem.num_trx)).sum()),
            },
        ),
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

    def with_first(self, demand_mbps: FloatArray, snapshots: list[Snapshot]) -> "ReferenceCache":
        """Return a cache of ``demand_mbps`` (always-on ``snapshots`` given), then these sets.

        The snapshots this cache already holds are shared, their set index shifted by one.
        """
        cache = ReferenceCache(self._twin, [demand_mbps, *self._demand_sets])
        cache.seed(0, snapshots)
        for (index, t), snap in self._cache.items():
            cache._cache[(index + 1, t)] = snap
        return cache

    def get(self, index: int, t: int) -> Snapshot:
        """Always-on snapshot of interval ``t`` of demand set ``index``."""
        key = (index, t)
        if key not in self._cache:
            state = CellState.all_on(self._twin.num_cells)
            self._cache[key] = evaluate_snapshot(self._twin, state, self._demand_sets[index][t])
        return self._cache[key]


RuleEnforcer = Callable[[BoolArray], BoolArray]


def _muted_to_unmute(
    snap: Snapshot, ref: Snapshot, trx: IntArray, num_trx: IntArray, limits: EnergyConstraints
) -> IntArray:
    """Return the muted active cells that get all their chains back, ``[n]`` cells.

    Those over their limit or serving a UE the plan hurts; every muted cell when none is to
    blame.
    """
    muted = snap.active & (trx < num_trx)
    if not muted.any():
        return np.flatnonzero(muted)
    limit = limits.prb_load_limit(ref.prb_load)
    floor = min(limits.ue_thp_floor_mbps, ref.ue_thp_percentile_mbps(5))
    hurt = (snap.served_mbps < snap.demand_mbps * limits.min_served_ratio) | (
        (snap.ue_thp_mbps < floor) & (snap.demand_mbps > 0)
    )
    served = snap.serving_cell >= 0
    blamed = np.zeros_like(muted)
    blamed[snap.serving_cell[served & hurt]] = True
    blamed |= snap.prb_load > limit
    culprits = muted & blamed
    return np.flatnonzero(culprits if culprits.any() else muted)


def _repair_step(
    snap: Snapshot,
    ref: Snapshot,
    active: BoolArray,
    trx: IntArray,
    num_trx: IntArray,
    limits: EnergyConstraints,
    protected: BoolArray | None,
) -> tuple[IntArray, int]:
    """Unmute the muted cells to blame, else wake sleeping ones, in place (``[C]`` rows).

    Returns the cells changed and how many were woken.
    """
    unmute = _muted_to_unmute(snap, ref, trx, num_trx, limits)
    if unmute.size:
        trx[unmute] = num_trx[unmute]
        return unmute, 0
    wake = _cells_to_wake(snap, ref, active, limits, protected)
    active[wake] = True
    return wake, int(wake.size)


def repair_schedule(
    twin: Twin,
    demand_sets: list[FloatArray],
    schedule: BoolArray,
    trx: IntArray,
    limits: EnergyConstraints,
    references: ReferenceCache,
    max_rounds: int,
    enforce: RuleEnforcer | None = None,
    protected: BoolArray | None = None,
    *,
    neighbourhood: bool = True,
    memo: SnapshotMemo | None = None,
) -> tuple[BoolArray, IntArray, int]:
    """Replay a schedule in the twin; unmute, then wake, cells until every interval holds.

    ``schedule`` ``[T, C]`` is on/sleep, ``trx`` ``[T, C]`` the chains each cell runs. In an
    interval that breaks a limit, the muted cells to blame get all their chains back first
    (``_muted_to_unmute``), then sleeping cells are woken (``_cells_to_wake``). Returns the
    repaired schedule and chains and the number of cells woken. The switching rules are
    re-applied after each round; ``enforce`` and ``protected`` as in ``verify_and_repair``.

    Without ``neighbourhood`` every round evaluates every changed interval on the whole
    network, after each step too (main's repair before issue 16). With it, the re-evaluation
    after each unmute or wake-up re-solves only the cells that step can affect
    (``ranopt.twin.neighbourhood.evaluate_change``), and an interval whose state a
    whole-network evaluation found holding is not evaluated again while it stays unchanged
    (the evaluation is deterministic). A round that repaired anything is followed by another,
    so a repaired interval is accepted only by a whole-network check (unless ``max_rounds``
    runs out first). ``memo`` keeps the whole-network snapshots for a later replay.
    """
    fixed = schedule.copy()
    chains = trx.copy()
    num_trx = twin.arrays.num_trx.astype(np.int64)
    woken = 0
    ipd = twin.scenario.intervals_per_day
    if enforce is None:

        def enforce(active: BoolArray) -> BoolArray:
            return enforce_switching_rules(active, limits.rules, ipd)

    def changed_rows() -> IntArray:
        return np.flatnonzero(~fixed.all(axis=1) | (chains < num_trx).any(axis=1))

    candidates = candidate_index(twin) if neighbourhood else None
    # (interval, demand set) -> the state a whole-network evaluation last found holding
    verified: dict[tuple[int, int], bytes] = {}
    for _ in range(max_rounds):
        fixed = enforce(fixed)
        chains = np.where(fixed, chains, num_trx)
        changed = False
        for t in changed_rows():
            for index, demand in enumerate(demand_sets):
                signature = fixed[t].tobytes() + chains[t].tobytes()
                if neighbourhood and verified.get((int(t), index)) == signature:
                    continue  # evaluated on the whole network and held, unchanged since
                step: IntArray | None = None  # the cells the last repair step changed
                while not fixed[t].all() or (chains[t] < num_trx).any():
                    if step is None or candidates is None:
                        snap, ref, check = evaluate_interval(
                            twin, demand[t], fixed[t], limits, references.get(index, int(t)),
                            trx=chains[t], memo=memo,
                        )  # fmt: skip
                        if step is None and not check.violations:
                            verified[(int(t), index)] = signature
                    else:
                        state = CellState(
                            active=fixed[t].copy(),
                            cio_db=np.zeros(twin.num_cells),
                            active_trx=chains[t].copy() if (chains[t] < num_trx).any() else None,
                        )
                        snap, _ = evaluate_change(
                            twin, state, demand[t], snap, step, index=candidates
                        )
                        check = check_snapshot(snap, ref, limits)
                    if not check.violations:
                        break
                    step, wake = _repair_step(
                        snap, ref, fixed[t], chains[t], num_trx, limits,
                        None if protected is None else protected[t],
                    )  # fmt: skip
                    woken += wake
                    changed = True
        if not changed:
            break
    # the last round's wake-ups may have split sleep runs: the rules only ever wake cells
    fixed = enforce(fixed)
    return fixed, np.where(fixed, chains, num_trx), woken


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
    """Replay an on/sleep schedule (all chains on) in the twin; wake cells until it holds.

    ``demand_sets`` holds one or more demand arrays ``[T, U]`` (the planning demand, or demand
    scenarios for a robust plan); the schedule must hold on each. Returns the repaired schedule
    and the number of cells woken. Waking only adds capacity; the switching rules are
    re-applied after each round (which may wake more). ``enforce`` replaces the rules of a
    whole-day schedule (a rolling window needs the day's executed intervals before it);
    ``protected`` ``[T, C]`` cells are woken last (see ``_cells_to_wake``).
    """
    fixed, _, woken = repair_schedule(
        twin, demand_sets, schedule, full_trx(twin, schedule.shape[0]), limits, references,
        max_rounds, enforce, protected,
    )  # fmt: skip
    return fixed, woken


def assemble_plan(
    twin: Twin,
    demand_mbps: FloatArray,
    schedule: BoolArray,
    trx: IntArray,
    limits: EnergyConstraints,
    config: EnergyConfig,
    *,
    solver: str,
    solve: SolveInfo,
    t0_min: int = 0,
    references: list[Snapshot] | None = None,
    previous_active: BoolArray | None = None,
    previous_trx: IntArray | None = None,
    rule_violations: int | None = None,
    memo: SnapshotMemo | None = None,
) -> Plan:
    """Set each sleep run's depth, measure the schedule in the twin and list its actions.

    ``memo`` reuses the snapshots of intervals already evaluated in the same state.
    """
    depth = (
        sleep_states(twin, schedule, config.deep_sleep_wake_intervals)
        if config.sleep_depths
        else None
    )
    evaluation = evaluate_schedule(
        twin, demand_mbps, schedule, limits, references, trx=trx, sleep_state=depth, memo=memo
    )
    if rule_violations is not None:
        evaluation = replace(evaluation, rule_violations=rule_violations)
    return Plan(
        objective="energy",
        solver=solver,
        t0_min=t0_min,
        interval_min=twin.scenario.interval_min,
        active=schedule,
        actions=schedule_actions(
            schedule,
            twin.cell_names,
            twin.scenario.interval_min,
            t0_min,
            trx=trx,
            num_trx=twin.arrays.num_trx.astype(np.int64),
            sleep_state=depth,
            previous_active=previous_active,
            previous_trx=previous_trx,
        ),
        solve=solve,
        expected=evaluation.kpis(),
        active_trx=trx,
        sleep_state=depth,
    )


def plan_energy(
    twin: Twin,
    demand_mbps: FloatArray,
    solver: str,
    *,
    limits: EnergyConstraints | None = None,
    config: EnergyConfig | None = None,
    rng: np.random.Generator | None = None,
    t0_min: int = 0,
    references: list[Snapshot] | None = None,
    memo: SnapshotMemo | None = None,
) -> Plan:
    """Plan which capacity cells sleep and mute in each interval of ``demand_mbps`` ``[T, U]``.

    The returned plan's ``expected`` figures are measured by replaying it in the twin on the
    same demand (with each sleep run's depth); its ``confidence`` is left to
    ``ranopt.optimize.confidence``. ``references`` are the always-on snapshots of
    ``demand_mbps`` (``always_on_snapshots``) when the caller has them: a caller that verifies
    the plan again on the same demand computes them once and passes them to both; ``memo``
    likewise keeps the plan's solved snapshots for such a caller (with
    ``EnergyConfig.reuse_snapshots`` a plan makes its own when none is given).
    """
    if solver not in ENERGY_SOLVERS:
        msg = f"solver must be one of {ENERGY_SOLVERS}, got {solver!r}"
        raise ValidationError(msg)
    limits = limits or EnergyConstraints()
    config = config or EnergyConfig()
    if references is None:
        references = always_on_snapshots(twin, demand_mbps)
    elif len(references) != demand_mbps.shape[0]:
        msg = f"references: need {demand_mbps.shape[0]} snapshots, got {len(references)}"
        raise ValidationError(msg)
    cache = ReferenceCache(twin, [demand_mbps])
    cache.seed(0, references)
    if memo is None and config.reuse_snapshots:
        memo = SnapshotMemo(size=demand_mbps.shape[0])
    rng = rng or np.random.default_rng(0)
    reference_load: FloatArray | None = None  # round 1: every cell at its limit (safe)
    pairing_load: FloatArray | None = None
    best: tuple[tuple[int, float], BoolArray, IntArray, SolveInfo, int] | None = None
    for _ in range(config.linearisation_rounds):
        problem = build_energy_problem(
            twin, demand_mbps, limits, references, reference_load, config.planning_headroom,
            pairing_load=pairing_load, muting=config.mimo_muting,
        )  # fmt: skip
        if solver == "exact":
            schedule, trx, info = solve_exact(problem, config)
        elif solver == "anneal":
            schedule, trx, info = solve_anneal(problem, rng, config)
        else:
            schedule, trx, info = solve_greedy(problem)
        schedule, trx, woken = repair_schedule(
            twin, [demand_mbps], schedule, trx, limits, cache, config.repair_rounds,
            neighbourhood=config.neighbourhood_repair, memo=memo,
        )  # fmt: skip
        depth = sleep_states(twin, schedule, config.deep_sleep_wake_intervals)
        evaluation = evaluate_schedule(
            twin, demand_mbps, schedule, limits, references, trx=trx,
            sleep_state=depth if config.sleep_depths else None, memo=memo,
        )  # fmt: skip
        # fewest violations first (repair can run out of rounds), then least energy
        rank = (evaluation.kpis().constraint_violations, evaluation.plan.total_energy_kwh)
        if best is None or rank < best[0]:
            best = (rank, schedule, trx, info, woken)
        # next round: interference at the loads this plan produced, plus a margin; MU pairing
        # at those loads without it (more pairing would over-state rates)
        limit = np.stack([limits.prb_load_limit(r.prb_load) for r in references])
        reference_load = np.minimum(evaluation.plan.prb_load + config.reference_margin, limit)
        pairing_load = evaluation.plan.prb_load
    if best is None:  # unreachable: EnergyConfig requires linearisation_rounds >= 1
        msg = "EnergyConfig.linearisation_rounds must be >= 1"
        raise ValidationError(msg)
    _, schedule, trx, info, woken = best
    return assemble_plan(
        twin, demand_mbps, schedule, trx, limits, config, solver=solver,
        solve=replace(info, detail={**info.detail, "cells_woken_by_twin_check": woken}),
        t0_min=t0_min, references=references, memo=memo,
    )  # fmt: skip
