"""Plan day D from the days before it, then measure the plan on the day as it really happened.

History (realised demand of days D-14..D-1, measured per home cell as an always-on network's
counters would show it) -> forecast with uncertainty -> plan on a chosen forecast quantile ->
confidence over scenarios sampled from the forecast -> replay on the realised day D. Nothing
the planner sees comes from day D itself.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ranopt.errors import ValidationError
from ranopt.forecast import Forecast, ForecastConfig, fit_forecaster, predict
from ranopt.optimize.actions import schedule_actions, sleep_states
from ranopt.optimize.confidence import (
    DemandDisaggregation,
    MapTasks,
    cell_demand,
    home_cells,
    map_in_process,
    plan_confidence,
)
from ranopt.optimize.energy import (
    EnergyConfig,
    ReferenceCache,
    always_on_snapshots,
    assemble_plan,
    plan_energy,
    repair_schedule,
)
from ranopt.optimize.evaluate import (
    EnergyConstraints,
    ScheduleEvaluation,
    SnapshotMemo,
    evaluate_schedule,
    schedule_holds,
)
from ranopt.optimize.extra_sleep import extra_sleep_pass
from ranopt.optimize.plan import Plan, SolveInfo, SolveStatus
from ranopt.optimize.threshold import ThresholdRule, run_threshold, tune_threshold
from ranopt.twin.model import Twin
from ranopt.twin.snapshot import Snapshot
from ranopt.twin.traffic import day_rng, expected_demand_mbps, realised_demand_mbps
from ranopt.twin.units import FloatArray

# makes the first plan of day D on the planning demand, given that demand's always-on day
# (``always_on_snapshots``) and the Generator to draw from (``plan_with_solver``'s)
FirstPlan = Callable[[list[Snapshot], np.random.Generator], Plan]


@dataclass(frozen=True)
class DayAheadConfig:
    """How much history, which forecast quantile to plan on, how many confidence scenarios."""

    history_days: int = 14  # the forecast is fitted on these; up to 14 days before calibrate it
    planning_quantile: float = 0.9  # per-cell forecast quantile the plan must carry
    confidence_scenarios: int = 64  # K demand scenarios sampled from the forecast
    threshold_tuning_days: int = 2  # most recent history days the vendor rule is tuned on
    robust_scenarios: int = 32  # scenarios the plan is made to hold on (not those it is scored on)
    # per-UE, per-interval log-normal dispersion of demand inside a cell (cell counters do not
    # show it; on a real network estimate it from UE-level reports, e.g. E2SM-KPM / MDT)
    ue_dispersion_sigma: float = 0.3


@dataclass(frozen=True, eq=False)
class DayAheadInputs:
    """What the planner may see for day D, and the realised day kept apart for scoring."""

    day: int
    # [H, T, C] realised home-cell demand of the history days (fitting and calibration days)
    history_cell_mbps: FloatArray
    history_days: tuple[int, ...]
    forecast: Forecast
    disaggregation: DemandDisaggregation
    planning_demand_mbps: FloatArray  # [T, U]
    realised_demand_mbps: FloatArray  # [T, U] day D as it happened (scoring only)


def prepare_day_ahead(twin: Twin, seed: int, day: int, config: DayAheadConfig) -> DayAheadInputs:
    """Build the history, forecast and planning demand of day ``day``."""
    if day < config.history_days:
        msg = f"day must be >= history_days ({config.history_days}) to have a history, got {day}"
        raise ValidationError(msg)
    if not 0.0 < config.planning_quantile < 1.0:
        msg = f"planning_quantile must lie in (0, 1), got {config.planning_quantile}"
        raise ValidationError(msg)
    home = home_cells(twin)
    forecast_config = ForecastConfig(fit_days=config.history_days)
    first = max(0, day - config.history_days - forecast_config.calibration_days)
    days = tuple(range(first, day))
    history = np.stack(
        [
            cell_demand(
                realised_demand_mbps(twin.traffic, d, day_rng(seed, d)), home, twin.num_cells
            )
            for d in days
        ]
    )
    model = fit_forecaster(history, np.array(days) % 7, forecast_config)
    levels = tuple(sorted({0.05, 0.5, config.planning_quantile, 0.95}))
    forecast = predict(model, weekday=day % 7, quantiles=levels)
    disaggregation = DemandDisaggregation.from_expected(
        expected_demand_mbps(twin.traffic, day), home, twin.num_cells
    )
    planning_cells = forecast.quantiles[levels.index(config.planning_quantile)]
    return DayAheadInputs(
        day=day,
        history_cell_mbps=history,
        history_days=days,
        forecast=forecast,
        disaggregation=disaggregation,
        planning_demand_mbps=disaggregation.ue_demand(planning_cells),
        realised_demand_mbps=realised_demand_mbps(twin.traffic, day, day_rng(seed, day)),
    )


def measure_confidence(
    twin: Twin,
    plan: Plan,
    inputs: DayAheadInputs,
    limits: EnergyConstraints,
    num_scenarios: int,
    rng: np.random.Generator,
    ue_sigma: float = DayAheadConfig.ue_dispersion_sigma,
    rule: ThresholdRule | None = None,
    on_scenario: Callable[[], None] | None = None,
    map_tasks: MapTasks = map_in_process,
) -> Plan:
    """Return the plan with its confidence measured over forecast scenarios.

    With a threshold ``rule`` the rule itself runs in closed loop on each scenario (it reacts to
    demand, so its schedule differs per scenario); otherwise the plan's schedule is replayed.
    ``on_scenario`` is called after each scenario (a progress bar); ``map_tasks`` runs the
    plan's replays (in process by default; the closed-loop rule always runs here).
    """
    scenarios = inputs.forecast.sample(rng, num_scenarios)
    if rule is None:
        confidence, _ = plan_confidence(
            twin, plan.active, scenarios, inputs.disaggregation, limits, rng, ue_sigma,
            on_scenario, plan.active_trx, map_tasks,
        )  # fmt: skip
        return replace(plan, confidence=confidence)
    held = 0
    for scenario in scenarios:
        demand = inputs.disaggregation.ue_demand(scenario, rng, ue_sigma)
        references = always_on_snapshots(twin, demand)
        schedule = run_threshold(twin, demand, rule, limits, references).schedule
        held += int(schedule_holds(twin, demand, schedule, limits))
        if on_scenario is not None:
            on_scenario()
    return replace(plan, confidence=held / num_scenarios)


def score_on_realised(
    twin: Twin,
    schedule: np.ndarray,
    inputs: DayAheadInputs,
    limits: EnergyConstraints,
    *,
    trx: np.ndarray | None = None,
    sleep_state: np.ndarray | None = None,
) -> ScheduleEvaluation:
    """Replay a schedule (chains in use, sleep depths) on the realised day beside always-on."""
    return evaluate_schedule(
        twin, inputs.realised_demand_mbps, schedule, limits, trx=trx, sleep_state=sleep_state
    )


def score_plan_on_realised(
    twin: Twin, plan: Plan, inputs: DayAheadInputs, limits: EnergyConstraints
) -> ScheduleEvaluation:
    """Replay a plan as it would run on the realised day: its chains and sleep depths."""
    return score_on_realised(
        twin, plan.active, inputs, limits, trx=plan.active_trx, sleep_state=plan.sleep_state
    )


def plan_with_solver(
    twin: Twin,
    inputs: DayAheadInputs,
    solver: str,
    limits: EnergyConstraints,
    energy_config: EnergyConfig,
    rng: np.random.Generator,
    robust_scenarios: int = DayAheadConfig.robust_scenarios,
    ue_sigma: float = DayAheadConfig.ue_dispersion_sigma,
    *,
    first_plan: FirstPlan | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> Plan:
    """Plan day D on the planning demand, then make the plan hold on sampled scenarios.

    The scenario approach (Campi & Garatti, "The scenario approach for systems and control
    design", Annu. Rev. Control 2009): the plan is replayed on ``robust_scenarios`` demand
    paths drawn from the forecast and cells are woken wherever one breaks a constraint. Those
    scenarios are drawn from ``rng`` and are independent of the ones confidence is measured on.
    ``first_plan`` makes the plan on the planning demand (``plan_energy`` with ``solver`` by
    default; e.g. a plan by clusters): it is called with the planning demand's always-on day
    and ``rng`` before the scenarios are drawn, so every first plan gets the same repair.
    With ``EnergyConfig.extra_sleep`` the repaired plan then sleeps and mutes more wherever the
    twin finds the planning demand and every scenario still holding
    (``ranopt.optimize.extra_sleep``); the result is kept only if it draws no more energy and
    breaks no more checks on the planning demand than the repaired plan. ``on_stage`` is called
    with ``"plan"``, ``"robust_repair"`` and ``"extra_sleep"`` as each stage ends (a caller's
    timer; the core reads no clock).
    """
    num_t = inputs.planning_demand_mbps.shape[0]
    # the always-on day of the planning demand, shared by the plan and its final check
    references = always_on_snapshots(twin, inputs.planning_demand_mbps)
    # the plan's solved intervals, for the final replay of those the scenarios leave unchanged
    # (twice the day with the extra-sleep pass: the repaired plan's and the pass's states)
    memo = (
        SnapshotMemo(size=num_t * (2 if energy_config.extra_sleep else 1))
        if energy_config.reuse_snapshots and first_plan is None
        else None
    )
    if first_plan is None:
        plan = plan_energy(
            twin, inputs.planning_demand_mbps, solver, limits=limits, config=energy_config,
            rng=rng, references=references, memo=memo,
        )  # fmt: skip
    else:
        plan = first_plan(references, rng)
    if on_stage is not None:
        on_stage("plan")
    if robust_scenarios <= 0:
        return plan
    paths = inputs.forecast.sample(rng, robust_scenarios)
    demands = [inputs.disaggregation.ue_demand(path, rng, ue_sigma) for path in paths]
    trx = plan.active_trx if plan.active_trx is not None else _all_chains(twin, plan.active)
    scenario_references = ReferenceCache(twin, demands)
    schedule, trx, woken = repair_schedule(
        twin, demands, plan.active, trx, limits, scenario_references,
        energy_config.repair_rounds, neighbourhood=energy_config.neighbourhood_repair,
    )  # fmt: skip
    if on_stage is not None:
        on_stage("robust_repair")
    detail = {
        **plan.solve.detail,
        "robust_scenarios": robust_scenarios,
        "cells_woken_by_scenarios": woken,
    }
    repaired = assemble_plan(
        twin, inputs.planning_demand_mbps, schedule, trx, limits, energy_config,
        solver=plan.solver, references=references, memo=memo,
        solve=replace(plan.solve, detail=detail),
    )  # fmt: skip
    if not energy_config.extra_sleep:
        return repaired
    extra = extra_sleep_pass(
        twin, [inputs.planning_demand_mbps, *demands], schedule, trx, limits,
        scenario_references.with_first(inputs.planning_demand_mbps, references),
        memo=memo, muting=energy_config.mimo_muting, headroom=energy_config.extra_sleep_headroom,
    )  # fmt: skip
    extended = assemble_plan(
        twin, inputs.planning_demand_mbps, extra.schedule, extra.trx, limits, energy_config,
        solver=plan.solver, references=references, memo=memo,
        solve=replace(plan.solve, detail={**detail, **extra.detail(), "extra_sleep_kept": 1}),
    )  # fmt: skip
    if on_stage is not None:
        on_stage("extra_sleep")
    # never worse in the model: no more violations and no more energy on the planning demand
    new, old = extended.expected, repaired.expected
    if (
        new is not None
        and old is not None
        and new.constraint_violations <= old.constraint_violations
        and new.energy_kwh <= old.energy_kwh
    ):
        return extended
    return replace(
        repaired,
        solve=replace(repaired.solve, detail={**detail, **extra.detail(), "extra_sleep_kept": 0}),
    )


def _all_chains(twin: Twin, schedule: np.ndarray) -> np.ndarray:
    return np.broadcast_to(twin.arrays.num_trx.astype(np.int64), schedule.shape).copy()


def plan_threshold(
    twin: Twin,
    seed: int,
    inputs: DayAheadInputs,
    limits: EnergyConstraints,
    config: DayAheadConfig,
) -> tuple[Plan, ThresholdRule]:
    """Tune the vendor rule on the latest history days, then run it in closed loop on day D.

    The rule reacts to measured loads, so its schedule is the one it produced on the realised
    day (it never sees an interval before acting on it).
    """
    tuning_days = inputs.history_days[-config.threshold_tuning_days :]
    history = [realised_demand_mbps(twin.traffic, d, day_rng(seed, d)) for d in tuning_days]
    rule, tuning = tune_threshold(twin, history, limits)
    references = always_on_snapshots(twin, inputs.realised_demand_mbps)
    run = run_threshold(twin, inputs.realised_demand_mbps, rule, limits, references)
    # the rule reacts interval by interval and cannot know how long a sleep will last; it is
    # given the depth its runs turned out to deserve (in hindsight, in its favour)
    depth = sleep_states(twin, run.schedule)
    plan = Plan(
        objective="energy",
        solver="threshold",
        t0_min=0,
        interval_min=twin.scenario.interval_min,
        active=run.schedule,
        sleep_state=depth,
        actions=schedule_actions(
            run.schedule, twin.cell_names, twin.scenario.interval_min, sleep_state=depth
        ),
        solve=SolveInfo(
            status=SolveStatus.FEASIBLE,
            detail={
                "sleep_below": rule.sleep_below,
                "coverage_below": rule.coverage_below,
                "wake_above": rule.wake_above,
                **tuning,
            },
        ),
    )
    return plan, rule
