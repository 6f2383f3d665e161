"""Energy plans: every solver's night plan re-checked in the twin, and the solvers compared.

The plans come from ``plan_energy`` on 00:00-03:00 of a seven-site twin; each is replayed
independently (``evaluate_schedule`` with its own always-on references) and must keep every
QoS limit and switching rule while saving energy. In the bin model, the exact MILP is optimal
per interval, so no other solver may keep fewer candidate cells active in any interval.
"""

import numpy as np
import pytest

from ranopt.errors import ValidationError
from ranopt.optimize.energy import (
    ENERGY_SOLVERS,
    EnergyConfig,
    EnergyProblem,
    ReferenceCache,
    plan_energy,
    solve_anneal,
    solve_exact,
    solve_greedy,
    surrogate_feasible,
    verify_and_repair,
)
from ranopt.optimize.evaluate import EnergyConstraints, evaluate_schedule
from ranopt.optimize.plan import Plan, SolveStatus
from ranopt.optimize.surrogate import surrogate_loads
from ranopt.optimize.switching import count_rule_violations, schedule_actions
from ranopt.twin import Twin
from ranopt.twin.elements import LAYERS
from ranopt.twin.units import FloatArray

CAPACITY = LAYERS.index("capacity")
COVERAGE = LAYERS.index("coverage")


def active_candidates(problem: EnergyProblem, schedule: np.ndarray) -> list[int]:
    """Per interval, how many of that interval's candidate cells the schedule keeps on."""
    return [int(schedule[t, problem.candidates[t]].sum()) for t in range(problem.num_intervals)]


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
    replay = evaluate_schedule(twin, night_demand, plan.active, limits)
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
    replay = evaluate_schedule(seven_site_twin, night_demand, plan.active, limits).kpis()
    assert expected.energy_kwh == pytest.approx(replay.energy_kwh, rel=1e-3)
    assert expected.always_on_energy_kwh == pytest.approx(replay.always_on_energy_kwh, rel=1e-3)
    assert expected.served_ratio_min == pytest.approx(replay.served_ratio_min, abs=1e-3)


@pytest.mark.parametrize("solver", ENERGY_SOLVERS)
def test_plan_actions_are_its_schedule_changes(
    seven_site_twin: Twin, night_plans: dict[str, Plan], solver: str
):
    plan = night_plans[solver]
    assert plan.actions == schedule_actions(plan.active, seven_site_twin.cell_names, 15, 0)
    assert {a.action for a in plan.actions} <= {"sleep", "wake"}
    assert all(seven_site_twin.arrays.layer[a.cell_index] == CAPACITY for a in plan.actions)


def test_exact_plan_is_proven_optimal(night_plans: dict[str, Plan]):
    solve = night_plans["exact"].solve
    assert solve.status == SolveStatus.OPTIMAL
    assert solve.mip_gap is not None
    assert solve.mip_gap <= EnergyConfig().mip_rel_gap


def test_plan_actions_are_shifted_by_t0(seven_site_twin: Twin, night_demand: FloatArray):
    plan = plan_energy(seven_site_twin, night_demand[:8], "greedy", t0_min=120)
    assert plan.t0_min == 120
    assert plan.actions
    assert plan.actions == schedule_actions(plan.active, seven_site_twin.cell_names, 15, 120)
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


@pytest.fixture(scope="module")
def night_solutions(night_problem: EnergyProblem) -> dict[str, np.ndarray]:
    exact, exact_info = solve_exact(night_problem, EnergyConfig())
    assert exact_info.status == SolveStatus.OPTIMAL
    greedy, _ = solve_greedy(night_problem)
    anneal, _ = solve_anneal(night_problem, np.random.default_rng(3), EnergyConfig())
    return {"exact": exact, "greedy": greedy, "anneal": anneal}


@pytest.mark.parametrize("solver", ENERGY_SOLVERS)
def test_solver_schedules_are_feasible_in_the_model(
    night_problem: EnergyProblem, night_solutions: dict[str, np.ndarray], solver: str
):
    schedule = night_solutions[solver]
    problem = night_problem
    # only candidates sleep
    assert not (~schedule & ~problem.candidates).any()
    atol = 1e-6 if solver == "exact" else 0.0
    for t in range(problem.num_intervals):
        assert model_feasible(problem, t, schedule[t], atol), f"interval {t}"


@pytest.mark.parametrize("other", ["greedy", "anneal"])
def test_exact_keeps_no_more_candidates_on_than_any_solver(
    night_problem: EnergyProblem, night_solutions: dict[str, np.ndarray], other: str
):
    exact = active_candidates(night_problem, night_solutions["exact"])
    rival = active_candidates(night_problem, night_solutions[other])
    assert all(e <= r for e, r in zip(exact, rival, strict=True)), (exact, rival)
    # and the night is worth planning: the exact solver sleeps cells in every interval
    assert all(e < n for e, n in zip(exact, night_problem.candidates.sum(axis=1), strict=True))


def test_greedy_is_a_maximal_sleep_set(
    night_problem: EnergyProblem, night_solutions: dict[str, np.ndarray]
):
    """No further candidate could sleep in any interval of the greedy schedule."""
    problem = night_problem
    greedy = night_solutions["greedy"]
    for t in range(problem.num_intervals):
        for cell in np.flatnonzero(problem.candidates[t] & greedy[t]):
            trial = greedy[t].copy()
            trial[cell] = False
            assert not surrogate_feasible(problem, t, trial), (t, cell)


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
