"""Energy plans: every solver's night plan re-checked in the twin, and the solvers compared.

The plans come from ``plan_energy`` on 00:00-03:00 of a seven-site twin; each is replayed
independently (``evaluate_schedule`` with its own always-on references, its chains and sleep
depths) and must keep every QoS limit and switching rule while saving energy. In the bin
model, the exact MILP minimises each interval's power over sleep and muting, so no other
solver may reach a lower model power in any interval.
"""

import numpy as np
import pytest

from ranopt.errors import ValidationError
from ranopt.optimize import actions
from ranopt.optimize.energy import (
    ENERGY_SOLVERS,
    EnergyConfig,
    EnergyProblem,
    ReferenceCache,
    interval_power_w,
    plan_energy,
    repair_schedule,
    solve_anneal,
    solve_exact,
    solve_greedy,
    surrogate_feasible,
    verify_and_repair,
)
from ranopt.optimize.evaluate import EnergyConstraints, evaluate_schedule
from ranopt.optimize.muting import cell_level_loads
from ranopt.optimize.plan import Plan, SolveStatus
from ranopt.optimize.surrogate import AssignmentState, surrogate_loads
from ranopt.optimize.switching import count_rule_violations
from ranopt.twin import Twin
from ranopt.twin.elements import LAYERS
from ranopt.twin.power import WAKING
from ranopt.twin.units import FloatArray

CAPACITY = LAYERS.index("capacity")
COVERAGE = LAYERS.index("coverage")


def model_feasible(problem: EnergyProblem, t: int, active: np.ndarray, atol: float) -> bool:
    """``surrogate_feasible`` with a tolerance on the caps (for a MILP's floating solution)."""
    loads, stranded = surrogate_loads(problem.bins, problem.costs[t], active, problem.num_cells)
    return stranded == 0.0 and bool(np.all(loads[active] <= problem.caps[t, active] + atol))


# --- the plans of plan_energy ------------------------------------------------------------------


def test_unknown_solver_is_a_validation_error(seven_site_twin: Twin, night_demand: FloatArray):
    with pytest.raises(ValidationError, match="solver"):
        plan_energy(seven_site_twin, night_demand, "simplex")


@pytest.mark.parametrize("solver", ENERGY_SOLVERS)
def test_plan_keeps_every_constraint_in_an_independent_replay(
    seven_site_twin: Twin,
    night_demand: FloatArray,
    limits: EnergyConstraints,
    night_plans: dict[str, Plan],
    solver: str,
):
    twin = seven_site_twin
    plan = night_plans[solver]
    assert plan.objective == "energy"
    assert plan.solver == solver
    assert plan.active.shape == (night_demand.shape[0], twin.num_cells)
    assert plan.num_intervals == night_demand.shape[0]
    assert plan.interval_min == twin.scenario.interval_min
    # coverage-layer cells never sleep
    assert plan.active[:, twin.arrays.layer == COVERAGE].all()
    # switching rules hold
    every_cell = np.ones(twin.num_cells, dtype=bool)
    assert (
        count_rule_violations(
            plan.active, limits.rules, twin.scenario.intervals_per_day, every_cell
        )
        == 0
    )
    # replayed without the planner's references: no interval breaks any QoS limit
    replay = evaluate_schedule(
        twin, night_demand, plan.active, limits, trx=plan.active_trx, sleep_state=plan.sleep_state
    )
    assert [c.violations for c in replay.checks] == [()] * plan.num_intervals
    assert replay.rule_violations == 0
    assert replay.kpis().constraint_violations == 0


@pytest.mark.parametrize("solver", ENERGY_SOLVERS)
def test_plan_saves_energy_at_night(
    seven_site_twin: Twin,
    night_demand: FloatArray,
    limits: EnergyConstraints,
    night_plans: dict[str, Plan],
    solver: str,
):
    plan = night_plans[solver]
    assert plan.expected is not None
    expected = plan.expected
    assert expected.constraint_violations == 0
    assert expected.energy_kwh <= expected.always_on_energy_kwh
    assert expected.saving_pct > 0.0
    assert (~plan.active).sum() > 0
    # the reported figures are the twin's, as an independent replay measures them
    replay = evaluate_schedule(
        seven_site_twin,
        night_demand,
        plan.active,
        limits,
        trx=plan.active_trx,
        sleep_state=plan.sleep_state,
    ).kpis()
    assert expected.energy_kwh == pytest.approx(replay.energy_kwh, rel=1e-3)
    assert expected.always_on_energy_kwh == pytest.approx(replay.always_on_energy_kwh, rel=1e-3)
    assert expected.served_ratio_min == pytest.approx(replay.served_ratio_min, abs=1e-3)


@pytest.mark.parametrize("solver", ENERGY_SOLVERS)
def test_plan_actions_are_its_schedule_changes(
    seven_site_twin: Twin, night_plans: dict[str, Plan], solver: str
):
    plan = night_plans[solver]
    twin = seven_site_twin
    assert plan.active_trx is not None
    assert plan.actions == actions.schedule_actions(
        plan.active,
        twin.cell_names,
        15,
        0,
        trx=plan.active_trx,
        num_trx=twin.arrays.num_trx.astype(np.int64),
        sleep_state=plan.sleep_state,
    )
    assert {a.action for a in plan.actions} <= {"sleep", "wake", "mimo"}
    assert all(twin.arrays.layer[a.cell_index] == CAPACITY for a in plan.actions)
    # replaying the actions from every cell on with all chains gives the schedule back
    active = np.ones(twin.num_cells, dtype=bool)
    trx = twin.arrays.num_trx.astype(np.int64)
    for t in range(plan.num_intervals):
        for a in (a for a in plan.actions if a.t_min == 15 * t):
            if a.action == "mimo":
                assert isinstance(a.value, float)
                trx[a.cell_index] = int(a.value)
            elif a.value == "waking":  # a deep run's last interval: still asleep
                assert not active[a.cell_index]
                assert plan.sleep_state is not None
                assert plan.sleep_state[t, a.cell_index] == WAKING
            else:
                active[a.cell_index] = a.action == "wake"
                if a.action == "sleep":
                    assert a.value in ("light", "deep")
        np.testing.assert_array_equal(active, plan.active[t])
        np.testing.assert_array_equal(trx[active], plan.active_trx[t, active])


def test_exact_plan_is_proven_optimal(night_plans: dict[str, Plan]):
    solve = night_plans["exact"].solve
    assert solve.status == SolveStatus.OPTIMAL
    assert solve.mip_gap is not None
    assert solve.mip_gap <= EnergyConfig().mip_rel_gap


def test_plan_actions_are_shifted_by_t0(seven_site_twin: Twin, night_demand: FloatArray):
    plan = plan_energy(seven_site_twin, night_demand[:8], "greedy", t0_min=120)
    assert plan.t0_min == 120
    assert plan.actions
    assert plan.actions == actions.schedule_actions(
        plan.active,
        seven_site_twin.cell_names,
        15,
        120,
        trx=plan.active_trx,
        num_trx=seven_site_twin.arrays.num_trx.astype(np.int64),
        sleep_state=plan.sleep_state,
    )
    assert min(a.t_min for a in plan.actions) >= 120


@pytest.mark.parametrize("solver", ["anneal", "greedy"])
def test_same_seed_same_plan(seven_site_twin: Twin, night_demand: FloatArray, solver: str):
    demand = night_demand[:6]
    plans = [
        plan_energy(seven_site_twin, demand, solver, rng=np.random.default_rng(7)) for _ in range(2)
    ]
    np.testing.assert_array_equal(plans[0].active, plans[1].active)
    assert plans[0].actions == plans[1].actions
    assert plans[0].expected == plans[1].expected


# --- the bin model and the solvers on one problem ----------------------------------------------


def test_candidates_are_capacity_cells_that_fit_alone(night_problem: EnergyProblem):
    problem = night_problem
    assert not problem.candidates[:, ~problem.sleepable].any()
    assert problem.candidates.any()
    for t in range(problem.num_intervals):
        for cell in np.flatnonzero(problem.sleepable):
            alone = np.ones(problem.num_cells, dtype=bool)
            alone[cell] = False
            assert surrogate_feasible(problem, t, alone) == problem.candidates[t, cell]
        # every cell on keeps every cap in the model (caps are at least the always-on loads)
        assert surrogate_feasible(problem, t, np.ones(problem.num_cells, dtype=bool))


Solution = tuple[np.ndarray, np.ndarray]  # on/sleep [T, C], chains [T, C]


@pytest.fixture(scope="module")
def night_solutions(night_problem: EnergyProblem) -> dict[str, Solution]:
    exact, exact_trx, exact_info = solve_exact(night_problem, EnergyConfig())
    assert exact_info.status == SolveStatus.OPTIMAL
    greedy, greedy_trx, _ = solve_greedy(night_problem)
    anneal, anneal_trx, _ = solve_anneal(night_problem, np.random.default_rng(3), EnergyConfig())
    return {
        "exact": (exact, exact_trx),
        "greedy": (greedy, greedy_trx),
        "anneal": (anneal, anneal_trx),
    }


def mutes_fit(
    problem: EnergyProblem, t: int, active: np.ndarray, trx: np.ndarray, atol: float
) -> bool:
    """Every muted cell's load at its level keeps its cap in the bin model."""
    state = AssignmentState.start(problem.bins, problem.costs[t], active)
    costs_m = problem.mute_costs_at(t)
    for cell in np.flatnonzero(active & (trx < problem.num_trx)):
        level = int(np.flatnonzero(problem.levels.trx[cell] == trx[cell])[0])
        if cell_level_loads(state, costs_m, int(cell))[level] > problem.caps[t, cell] + atol:
            return False
    return True


@pytest.mark.parametrize("solver", ENERGY_SOLVERS)
def test_solver_schedules_are_feasible_in_the_model(
    night_problem: EnergyProblem, night_solutions: dict[str, Solution], solver: str
):
    schedule, trx = night_solutions[solver]
    problem = night_problem
    # only candidates sleep, only cells with muted levels mute, to one of their levels
    assert not (~schedule & ~problem.candidates).any()
    muted = schedule & (trx < problem.num_trx)
    assert not (muted & ~problem.levels.mutable).any()
    for t, c in zip(*np.nonzero(muted), strict=True):
        assert trx[t, c] in problem.levels.trx[c]
    atol = 1e-6 if solver == "exact" else 0.0
    for t in range(problem.num_intervals):
        assert model_feasible(problem, t, schedule[t], atol), f"interval {t}"
        assert mutes_fit(problem, t, schedule[t], trx[t], atol), f"interval {t}"


@pytest.mark.parametrize("other", ["greedy", "anneal"])
def test_exact_draws_no_more_model_power_than_any_solver(
    night_problem: EnergyProblem, night_solutions: dict[str, Solution], other: str
):
    problem = night_problem

    def powers(name: str) -> list[float]:
        schedule, trx = night_solutions[name]
        return [
            interval_power_w(problem, t, schedule[t], trx[t]) for t in range(problem.num_intervals)
        ]

    exact, rival = powers("exact"), powers(other)
    # the MILP's gap tolerance (1e-4 of the objective) and its continuous assignment slack
    assert all(e <= r + 1.0 for e, r in zip(exact, rival, strict=True)), (exact, rival)
    # and the night is worth planning: the exact solver sleeps or mutes in every interval
    schedule, trx = night_solutions["exact"]
    assert ((~schedule) | (trx < problem.num_trx)).any(axis=1).all()


def test_greedy_is_a_maximal_sleep_set_and_mutes_as_far_as_caps_allow(
    night_problem: EnergyProblem, night_solutions: dict[str, Solution]
):
    """No further candidate could sleep, and no active cell mute deeper, in any interval."""
    problem = night_problem
    greedy, trx = night_solutions["greedy"]
    for t in range(problem.num_intervals):
        for cell in np.flatnonzero(problem.candidates[t] & greedy[t]):
            trial = greedy[t].copy()
            trial[cell] = False
            assert not surrogate_feasible(problem, t, trial), (t, cell)
        state = AssignmentState.start(problem.bins, problem.costs[t], greedy[t])
        costs_m = problem.mute_costs_at(t)
        for cell in np.flatnonzero(greedy[t] & problem.levels.mutable):
            loads = cell_level_loads(state, costs_m, int(cell))
            deeper = problem.levels.trx[cell] < trx[t, cell]
            deeper &= problem.levels.trx[cell] > 0
            assert not (deeper & (loads <= problem.caps[t, cell])).any(), (t, cell)


# --- repair in the twin ------------------------------------------------------------------------


def test_repair_turns_an_absurd_schedule_into_a_valid_one(
    seven_site_twin: Twin, night_demand: FloatArray, limits: EnergyConstraints
):
    twin = seven_site_twin
    demand = night_demand[:6] * 3.0  # heavy enough that the coverage layer alone cannot carry it
    schedule = np.ones((demand.shape[0], twin.num_cells), dtype=bool)
    schedule[:, twin.arrays.layer == CAPACITY] = False
    assert evaluate_schedule(twin, demand, schedule, limits).kpis().constraint_violations > 0
    fixed, woken = verify_and_repair(
        twin, [demand], schedule, limits, ReferenceCache(twin, [demand]), max_rounds=40
    )
    assert woken > 0
    assert np.all(fixed | ~schedule)  # only wakes
    assert evaluate_schedule(twin, demand, fixed, limits).kpis().constraint_violations == 0


def test_neighbourhood_repair_wakes_the_same_cells_as_whole_network_repair(
    seven_site_twin: Twin, night_demand: FloatArray, limits: EnergyConstraints
):
    """Re-solving only each step's neighbourhood repairs to the same schedule and chains."""
    twin = seven_site_twin
    demands = [night_demand[:6] * 3.0, night_demand[6:12] * 2.0]
    schedule = np.ones((6, twin.num_cells), dtype=bool)
    schedule[:, twin.arrays.layer == CAPACITY] = False
    trx = np.broadcast_to(twin.arrays.num_trx.astype(np.int64), schedule.shape).copy()
    trx[:, twin.arrays.layer != CAPACITY] //= 2  # muted coverage cells: unmute steps too
    references = ReferenceCache(twin, demands)
    results = [
        repair_schedule(twin, demands, schedule, trx, limits, references, 40, neighbourhood=local)
        for local in (False, True)
    ]
    (whole, whole_trx, whole_woken), (local, local_trx, local_woken) = results
    assert whole_woken > 0
    np.testing.assert_array_equal(local, whole)
    np.testing.assert_array_equal(local_trx, whole_trx)
    assert local_woken == whole_woken


def test_repair_on_several_demand_sets_holds_on_each(
    seven_site_twin: Twin, night_demand: FloatArray, limits: EnergyConstraints
):
    twin = seven_site_twin
    demands = [night_demand[:6], night_demand[:6] * 2.5, night_demand[6:12] * 1.5]
    schedule = np.ones((6, twin.num_cells), dtype=bool)
    schedule[:, twin.arrays.layer == CAPACITY] = False
    fixed, _ = verify_and_repair(
        twin, demands, schedule, limits, ReferenceCache(twin, demands), max_rounds=40
    )
    assert np.all(fixed | ~schedule)
    for demand in demands:
        assert evaluate_schedule(twin, demand, fixed, limits).kpis().constraint_violations == 0


# --- known bugs --------------------------------------------------------------------------------


def test_switching_rules_hold_when_repair_rounds_run_out(
    seven_site_twin: Twin, night_demand: FloatArray, limits: EnergyConstraints
):
    plan = plan_energy(
        seven_site_twin, night_demand, "greedy", config=EnergyConfig(repair_rounds=1)
    )
    sleepable = seven_site_twin.arrays.layer == CAPACITY
    assert (
        count_rule_violations(
            plan.active, limits.rules, seven_site_twin.scenario.intervals_per_day, sleepable
        )
        == 0
    )


def test_zero_linearisation_rounds_is_a_validation_error(
    seven_site_twin: Twin, night_demand: FloatArray
):
    with pytest.raises(ValidationError, match="linearisation_rounds"):
        plan_energy(
            seven_site_twin,
            night_demand[:2],
            "greedy",
            config=EnergyConfig(linearisation_rounds=0),
        )
