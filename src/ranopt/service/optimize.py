"""Energy optimization of a twin-backed network: forecast, plan, measured confidence.

The planner sees only the history days before day D (as ``ranopt optimize`` does); it plans
the first ``horizon_min`` minutes of day D on the forecast's planning quantile, repairs the
plan on sampled forecast scenarios (the scenario approach of ``plan_with_solver``), and the
plan's confidence is the measured share of other sampled scenarios, with per-UE demand
dispersion, in which the plan keeps every QoS constraint.
"""

import functools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from ranopt.errors import ValidationError
from ranopt.optimize.confidence import plan_confidence
from ranopt.optimize.day_ahead import DayAheadConfig, prepare_day_ahead
from ranopt.optimize.energy import (
    ENERGY_SOLVERS,
    EnergyConfig,
    ReferenceCache,
    always_on_snapshots,
    assemble_plan,
    plan_energy,
    repair_schedule,
)
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.optimize.plan import Plan
from ranopt.service.executor import Executor, configured_executor
from ranopt.twin import build_twin, scenario_preset
from ranopt.twin.model import Twin

MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class EnergyRequest:
    """One energy optimization of a twin scenario."""

    scenario: str
    seed: int
    num_sites: int
    num_ues: int
    solver: str
    horizon_min: int
    history_days: int
    confidence_scenarios: int
    limits: EnergyConstraints


@dataclass(frozen=True)
class EnergyOutcome:
    """The plan as JSON-ready data, its measured confidence and energy saving."""

    plan: dict[str, Any]
    confidence: float
    saving_pct: float


@functools.lru_cache(maxsize=4)
def cached_twin(scenario: str, seed: int, num_sites: int, num_ues: int) -> Twin:
    """Build (once per process) the twin of a scenario."""
    spec = scenario_preset(scenario, seed=seed, num_sites=num_sites, num_ues=num_ues)
    return build_twin(spec)


def plan_json(
    plan: Plan, confidence: float, num_trx: npt.NDArray[np.int64] | None = None
) -> dict[str, Any]:
    """Return a plan as a run stores it: solve report, expected figures, actions.

    ``num_trx`` ``[C]`` (every cell's chains) lets it count the muted cells per interval.
    """
    expected = plan.expected
    return {
        "objective": plan.objective,
        "solver": plan.solver,
        "t0_min": plan.t0_min,
        "interval_min": plan.interval_min,
        "num_intervals": plan.num_intervals,
        "confidence": confidence,
        "solve": {
            "status": str(plan.solve.status),
            "objective": plan.solve.objective,
            "mip_gap": plan.solve.mip_gap,
            "iterations": plan.solve.iterations,
        },
        "expected": None
        if expected is None
        else {
            "energy_kwh": expected.energy_kwh,
            "always_on_energy_kwh": expected.always_on_energy_kwh,
            "saving_pct": expected.saving_pct,
            "served_ratio_min": expected.served_ratio_min,
            "max_prb_load": expected.max_prb_load,
            "ue_thp_p5_mbps_min": expected.ue_thp_p5_mbps_min,
            "constraint_violations": expected.constraint_violations,
        },
        # [T] cells asleep in each interval
        "sleeping_cells_per_interval": [
            int(plan.active.shape[1] - n) for n in plan.active.sum(axis=1)
        ],
        # [T] active cells running fewer than all their chains (MIMO muting)
        "muted_cells_per_interval": [0] * plan.num_intervals
        if plan.active_trx is None or num_trx is None
        else [int(n) for n in (plan.active & (plan.active_trx < num_trx)).sum(axis=1)],
        "actions": [
            {"cell": a.cell, "t_min": a.t_min, "action": a.action, "value": a.value}
            for a in plan.actions
        ],
    }


def optimize_energy(
    request: EnergyRequest, rng: np.random.Generator, executor: Executor | None = None
) -> EnergyOutcome:
    """Plan the first ``horizon_min`` of day D and measure the plan's confidence.

    The confidence scenarios run on ``executor`` (the process's configured one by default).
    """
    if request.solver not in ENERGY_SOLVERS:
        msg = f"solver: must be one of {', '.join(ENERGY_SOLVERS)}, got {request.solver!r}"
        raise ValidationError(msg)
    twin = cached_twin(request.scenario, request.seed, request.num_sites, request.num_ues)
    interval_min = twin.scenario.interval_min
    if request.horizon_min % interval_min or not 0 < request.horizon_min <= MINUTES_PER_DAY:
        msg = (
            f"horizon_min: must be a multiple of {interval_min} in (0, {MINUTES_PER_DAY}],"
            f" got {request.horizon_min}"
        )
        raise ValidationError(msg)
    num_intervals = request.horizon_min // interval_min
    day = request.history_days
    config = DayAheadConfig(
        history_days=request.history_days, confidence_scenarios=request.confidence_scenarios
    )
    inputs = prepare_day_ahead(twin, request.seed, day, config)
    sigma = config.ue_dispersion_sigma
    energy_config = EnergyConfig()
    # the horizon's slice of the day: planning demand [T_h, U], UE shares [T_h, U]
    demand = inputs.planning_demand_mbps[:num_intervals]
    disaggregation = replace(
        inputs.disaggregation,
        share=inputs.disaggregation.share[:num_intervals],
        uncovered_mbps=inputs.disaggregation.uncovered_mbps[:num_intervals],
    )
    references = always_on_snapshots(twin, demand)  # shared by the plan and its final check
    plan = plan_energy(
        twin, demand, request.solver, limits=request.limits, config=energy_config, rng=rng,
        references=references,
    )  # fmt: skip
    # robust repair on forecast scenarios, as day_ahead.plan_with_solver does for a whole day:
    # [K_r, T_h, C] paths, each spread over UEs with the per-UE dispersion
    paths = inputs.forecast.sample(rng, config.robust_scenarios)[:, :num_intervals]
    demands = [disaggregation.ue_demand(path, rng, sigma) for path in paths]
    trx = plan.active_trx
    if trx is None:
        trx = np.broadcast_to(twin.arrays.num_trx.astype(np.int64), plan.active.shape).copy()
    schedule, trx, woken = repair_schedule(
        twin, demands, plan.active, trx, request.limits, ReferenceCache(twin, demands),
        energy_config.repair_rounds,
    )  # fmt: skip
    plan = assemble_plan(
        twin, demand, schedule, trx, request.limits, energy_config, solver=plan.solver,
        references=references,
        solve=replace(
            plan.solve,
            detail={**plan.solve.detail, "robust_scenarios": config.robust_scenarios,
                    "cells_woken_by_scenarios": woken},
        ),
    )  # fmt: skip
    # confidence on fresh scenarios [K, T_h, C], independent of the repair scenarios
    scenarios = inputs.forecast.sample(rng, request.confidence_scenarios)[:, :num_intervals]
    confidence, _ = plan_confidence(
        twin, plan.active, scenarios, disaggregation, request.limits, rng, sigma,
        trx=plan.active_trx, map_tasks=(executor or configured_executor()).map,
    )  # fmt: skip
    plan = replace(plan, confidence=confidence)
    saving = plan.expected.saving_pct if plan.expected is not None else 0.0
    stored = plan_json(plan, confidence, twin.arrays.num_trx.astype(np.int64))
    return EnergyOutcome(plan=stored, confidence=confidence, saving_pct=saving)
