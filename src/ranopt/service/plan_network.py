"""Energy planning for any network with enough telemetry: on its calibrated model, never its truth.

The planner's inputs are the network's topology and its stored counters only
(``ranopt.service.calibration``): the model is calibrated from them, the home-cell demand of
every stored interval is estimated from them (sleeping cells included), and the forecast is
fitted on those estimates. The window planned starts at the first interval after the newest
stored sample; today's part is the nowcast given today's estimates, a window crossing
midnight continues with tomorrow's day-ahead forecast. The plan is made on the planning
quantile, repaired on forecast scenarios, and its confidence is the share of other forecast
scenarios, with per-UE dispersion, on which the model keeps every QoS constraint.
"""

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from ranopt.calibrate.history import SECONDS_PER_DAY, epoch_weekday, weekday_at
from ranopt.errors import ValidationError
from ranopt.forecast import Forecast, ForecastConfig, fit_forecaster, nowcast, predict
from ranopt.optimize.actions import full_trx, schedule_actions, sleep_states
from ranopt.optimize.confidence import DemandDisaggregation, plan_confidence
from ranopt.optimize.energy import (
    ENERGY_SOLVERS,
    EnergyConfig,
    ReferenceCache,
    always_on_snapshots,
    plan_energy,
    repair_schedule,
)
from ranopt.optimize.evaluate import EnergyConstraints, evaluate_schedule
from ranopt.service.calibration import NetworkCalibrationConfig, NetworkModel, network_model
from ranopt.service.executor import configured_executor
from ranopt.service.optimize import EnergyOutcome, plan_json
from ranopt.service.partitioned import ClusteredPlan, partition_summary, plan_by_clusters
from ranopt.store.engine import Store
from ranopt.twin.fault import with_failed_cells
from ranopt.twin.power import SLEEP_STATES
from ranopt.twin.units import FloatArray

MIN_COVERAGE = 0.5  # a history day with fewer of its samples is not a forecast day


@dataclass(frozen=True)
class NetworkPlanRequest:
    """One energy optimization of a registered network, planned on its calibrated model."""

    tenant_id: int
    network_id: int
    solver: str
    horizon_min: int
    history_days: int  # latest days the forecast is fitted on (at most those stored)
    confidence_scenarios: int
    limits: EnergyConstraints = field(default_factory=EnergyConstraints)
    planning_quantile: float = 0.9
    robust_scenarios: int = 16
    ue_dispersion_sigma: float = 0.3  # per-UE spread inside a cell (DayAheadConfig's)
    calibration: NetworkCalibrationConfig = field(default_factory=NetworkCalibrationConfig)
    partition_cells: int | None = None  # plan by clusters of at most N cells; None: not


@dataclass(frozen=True, eq=False)
class PlanningWindow:
    """The forecast of the window to plan: one part per day it touches."""

    start_s: int  # epoch seconds of the window's first interval
    t0_min: int  # minute of day of the window's first interval
    parts: list[tuple[Forecast, slice]]  # each day's forecast and the window's part of it
    planning_cells: FloatArray  # [H, C] planning quantile of home-cell demand

    def sample(self, rng: np.random.Generator, num_scenarios: int) -> FloatArray:
        """Draw window scenarios ``[K, H, C]`` (each day's part from its own forecast)."""
        return np.concatenate(
            [f.sample(rng, num_scenarios)[:, part] for f, part in self.parts], axis=1
        )


def planning_window(
    model: NetworkModel, horizon: int, history_days: int, quantile: float
) -> PlanningWindow:
    """Forecast the ``horizon`` intervals after the newest sample from estimated demand."""
    history = model.history
    ipd = history.intervals_per_day
    first_s = model.last_sample_s + history.interval_s
    day = (first_s - history.start_s) // SECONDS_PER_DAY  # index into the history's days
    t1 = ((first_s - history.start_s) % SECONDS_PER_DAY) // history.interval_s
    demand = model.calibration.home_demand.mbps.reshape(history.num_days, ipd, -1)
    coverage = history.day_coverage()
    days = [d for d in range(min(day, history.num_days)) if coverage[d] >= MIN_COVERAGE]
    days = days[-history_days:]
    if len(days) < 2:
        msg = f"the forecast needs 2 whole days of history before the window, found {len(days)}"
        raise ValidationError(msg)
    weekdays = history.weekdays
    levels = tuple(sorted({0.05, 0.5, quantile, 0.95}))
    fitted = fit_forecaster(demand[days], weekdays[days], ForecastConfig())
    weekday = weekday_at(first_s)  # the history starts at midnight: first_s is on `day`
    today = predict(fitted, weekday=weekday, quantiles=levels)
    parts: list[tuple[Forecast, slice]] = []
    today_n = min(horizon, ipd - t1)
    if t1 > 0 and day < history.num_days:
        parts.append((nowcast(today, demand[day, :t1]), slice(0, today_n)))
    else:
        parts.append((today, slice(t1, t1 + today_n)))
    if horizon > today_n:
        tomorrow = predict(fitted, weekday=(weekday + 1) % 7, quantiles=levels)
        parts.append((tomorrow, slice(0, horizon - today_n)))
    level = levels.index(quantile)
    return PlanningWindow(
        start_s=first_s,
        t0_min=int(t1 * history.interval_s // 60),
        parts=parts,
        planning_cells=np.vstack([f.quantiles[level][p] for f, p in parts]),
    )


def optimize_network(
    store: Store, request: NetworkPlanRequest, rng: np.random.Generator
) -> EnergyOutcome:
    """Plan the network's next window on its calibrated model and measure the confidence."""
    if request.solver not in ENERGY_SOLVERS:
        msg = f"solver: must be one of {', '.join(ENERGY_SOLVERS)}, got {request.solver!r}"
        raise ValidationError(msg)
    model = network_model(
        store, tenant_id=request.tenant_id, network_id=request.network_id,
        config=request.calibration,
    )  # fmt: skip
    return plan_on_model(model, request, rng)


def plan_on_model(
    model: NetworkModel, request: NetworkPlanRequest, rng: np.random.Generator,
    failed: frozenset[int] = frozenset(),
) -> EnergyOutcome:  # fmt: skip
    """Plan the window after the model's newest sample on the model; measure the confidence.

    ``model`` carries the calibrated model and the history its home-cell demand was
    estimated on (``optimize_network`` fits both now; the closed loop keeps a daily
    calibration and re-estimates the demand of newer counters with it). ``failed`` cells are
    down in the model (``with_failed_cells``: an outage the closed loop knows of); their UEs
    are served by the cells left.
    """
    if request.solver not in ENERGY_SOLVERS:
        msg = f"solver: must be one of {', '.join(ENERGY_SOLVERS)}, got {request.solver!r}"
        raise ValidationError(msg)
    interval_min = model.history.interval_s // 60
    if request.horizon_min % interval_min or not 0 < request.horizon_min <= 1440:
        msg = (
            f"horizon_min: must be a multiple of {interval_min} in (0, 1440], "
            f"got {request.horizon_min}"
        )
        raise ValidationError(msg)
    horizon = request.horizon_min // interval_min
    window = planning_window(model, horizon, request.history_days, request.planning_quantile)
    cal = model.calibration.model
    twin = with_failed_cells(cal.twin, failed)
    # each window interval's UEs present and their shares (people commute over the day)
    interval_s = model.history.interval_s
    starts = window.start_s + interval_s * np.arange(horizon)
    weekdays = epoch_weekday(starts // SECONDS_PER_DAY)
    intervals = (starts % SECONDS_PER_DAY) // interval_s
    split = DemandDisaggregation(
        home=cal.home,
        share=cal.shares(weekdays, intervals),
        uncovered_mbps=np.zeros((horizon, twin.num_ues)),
    )
    sigma = request.ue_dispersion_sigma
    energy_config = EnergyConfig()
    planning = split.ue_demand(window.planning_cells)
    references = always_on_snapshots(twin, planning)  # shared by the plan and its check
    clustered: ClusteredPlan | None = None
    if request.partition_cells is None:
        plan = plan_energy(
            twin, planning, request.solver, limits=request.limits, config=energy_config,
            rng=rng, t0_min=window.t0_min, references=references,
        )  # fmt: skip
    else:
        # by clusters on the configured executor, verified on the whole model; the robust
        # repair below then treats it as it treats the whole-network plan
        clustered = plan_by_clusters(
            twin, planning, request.solver, request.partition_cells, request.limits,
            energy_config, rng, references=references,
        )  # fmt: skip
        plan = replace(clustered.result.plan, t0_min=window.t0_min)
    paths = window.sample(rng, request.robust_scenarios)
    demands = [split.ue_demand(path, rng, sigma) for path in paths]
    num_trx = twin.arrays.num_trx.astype(np.int64)
    trx = full_trx(twin, horizon) if plan.active_trx is None else plan.active_trx
    # repaired on the scenarios as planned: muted cells get their chains back first, then
    # sleeping cells wake (as the twin-internal loop's window repair, rolling.plan_window)
    schedule, trx, woken = repair_schedule(
        twin, demands, plan.active, trx, request.limits, ReferenceCache(twin, demands),
        energy_config.repair_rounds, neighbourhood=energy_config.neighbourhood_repair,
    )  # fmt: skip
    depth = (
        sleep_states(twin, schedule, energy_config.deep_sleep_wake_intervals)
        if energy_config.sleep_depths
        else None
    )
    planned = evaluate_schedule(twin, planning, schedule, request.limits, references, trx=trx,
                                sleep_state=depth)  # fmt: skip
    plan = replace(
        plan,
        active=schedule,
        active_trx=trx,
        sleep_state=depth,
        actions=schedule_actions(schedule, twin.cell_names, interval_min, window.t0_min,
                                 trx=trx, num_trx=num_trx, sleep_state=depth),
        expected=planned.kpis(),
        solve=replace(
            plan.solve,
            detail={**plan.solve.detail, "robust_scenarios": request.robust_scenarios,
                    "cells_woken_by_scenarios": woken},
        ),
    )  # fmt: skip
    scenarios = window.sample(rng, request.confidence_scenarios)
    confidence, _ = plan_confidence(
        twin, plan.active, scenarios, split, request.limits, rng, sigma, trx=trx,
        map_tasks=configured_executor().map,
    )  # fmt: skip
    plan = replace(plan, confidence=confidence)
    stored = plan_json(plan, confidence, num_trx)
    stored["model"] = model_summary(model)
    if clustered is not None:
        stored["partition"] = partition_summary(clustered)
    stored["window"] = {
        "start_s": window.start_s,
        "start": datetime.fromtimestamp(window.start_s, tz=UTC).isoformat(),
        **window_states(schedule, trx, num_trx, depth),
    }
    saving = plan.expected.saving_pct if plan.expected is not None else 0.0
    return EnergyOutcome(plan=stored, confidence=confidence, saving_pct=saving)


def window_states(
    schedule: npt.NDArray[np.bool_],
    trx: npt.NDArray[np.int64],
    num_trx: npt.NDArray[np.int64],
    depth: npt.NDArray[np.int64] | None,
) -> dict[str, list[list[Any]]]:
    """Return a window's cell states as a run stores them for the actuator, per interval.

    ``asleep``: the cells asleep; ``sleep_depth``: each one's depth (``"light"``, ``"deep"``
    or ``"waking"``, in the order of ``asleep``); ``muted``: ``[cell, chains]`` of the awake
    cells running fewer than all their chains.
    """
    asleep = [[int(c) for c in np.flatnonzero(~row)] for row in schedule]
    depths = [
        [SLEEP_STATES[0 if depth is None else int(depth[t, c])] for c in cells]
        for t, cells in enumerate(asleep)
    ]
    muted = [
        [[int(c), int(trx[t, c])] for c in np.flatnonzero(row & (trx[t] < num_trx))]
        for t, row in enumerate(schedule)
    ]
    return {"asleep": asleep, "sleep_depth": depths, "muted": muted}


def model_summary(model: NetworkModel) -> dict[str, Any]:
    """Return what a plan says about the model it was made on (to trace it)."""
    report = model.calibration.report
    return {
        "source": "calibrated",
        "days_found": round(model.calibration.days_found, 2),
        "heldout_prb_load_wape": round(report.observed_demand.prb_load_wape, 4)
        if np.isfinite(report.observed_demand.prb_load_wape)
        else None,
        "num_ues": model.calibration.model.twin.num_ues,
        "last_sample_s": model.last_sample_s,
    }
