"""``ranopt optimize --objective load-balance|slicing|compensate``: plan, measure, report.

Every figure is measured in the twin, the baseline (CIO = 0, the static equal slice split, or
the failure left alone) on the same demand in the same run. Solvers are timed here: the core
reads no clock.
"""

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ranopt.errors import ValidationError, did_you_mean
from ranopt.optimize.balance import BALANCE_SOLVERS, BalanceConfig, plan_load_balance
from ranopt.optimize.compensate import plan_compensation, recovered_ratio
from ranopt.optimize.confidence import home_cells, perturbed_demands
from ranopt.optimize.plan import Action, Plan
from ranopt.optimize.slicing import SliceCheck, SliceSla, check_slices, equal_split, plan_slicing
from ranopt.twin.elements import SLICES
from ranopt.twin.model import Twin
from ranopt.twin.snapshot import CellState, Snapshot, evaluate_snapshot
from ranopt.twin.traffic import busy_interval, day_rng, realised_demand_mbps

QOS_OBJECTIVES = ("load-balance", "slicing", "compensate")
DEFAULT_SOLVER = {"load-balance": "exact", "slicing": "lp", "compensate": "greedy"}
SOLVERS = {"load-balance": BALANCE_SOLVERS, "slicing": ("lp",), "compensate": ("greedy",)}
EXACT_MAX_SITES = 19  # the association MILP is the default only up to this many sites
BALANCE_HORIZON = 4  # intervals up to the busy hour: offsets ramp at max_step_db per interval
DEMAND_SIGMA = 0.2  # spread of home-cell demand in the confidence scenarios (log-normal)


def default_solver(objective: str, num_sites: int) -> str:
    """Each objective's best solver; load balancing uses the local search on large networks."""
    if objective == "load-balance" and num_sites > EXACT_MAX_SITES:
        return "local"
    return DEFAULT_SOLVER[objective]


def resolve_cell(twin: Twin, cell: str) -> int:
    """Return the index of a cell given by name (``S007-2-cap``) or array index."""
    if cell in twin.cell_names:
        return twin.cell_names.index(cell)
    if cell.isdigit() and int(cell) < twin.num_cells:
        return int(cell)
    hint = did_you_mean(cell, twin.cell_names) or f" (e.g. {twin.cell_names[0]})"
    msg = f"failed cell must be a cell name or index, got {cell!r}{hint}"
    raise ValidationError(msg)


def _figures(snaps: Sequence[Snapshot], checks: Sequence[SliceCheck]) -> dict[str, Any]:
    """Worst figures over the intervals: highest load, lowest p5 and served ratio."""
    violations = np.sum([c.violations for c in checks], axis=0)
    return {
        "max_prb_load": round(max(float(np.max(s.prb_load[s.active])) for s in snaps), 4),
        "max_prb_demand": round(max(float(np.max(s.demand_load[s.active])) for s in snaps), 4),
        "ue_thp_p5_mbps": round(min(s.ue_thp_percentile_mbps(5) for s in snaps), 3),
        "served_ratio": round(min(s.served_ratio for s in snaps), 5),
        "sla_violations": {name: int(v) for name, v in zip(SLICES, violations, strict=True)},
    }


def _actions(actions: Sequence[Action]) -> list[dict[str, Any]]:
    return [
        {"cell": a.cell, "t_min": a.t_min, "action": a.action, "value": a.value} for a in actions
    ]


def _solve_fields(plan: Plan) -> dict[str, Any]:
    return {
        "solver": plan.solver,
        "solver_status": str(plan.solve.status),
        "mip_gap": plan.solve.mip_gap,
        "solver_detail": plan.solve.detail,
    }


def run_load_balance(
    twin: Twin, seed: int, day: int, solver: str, num_scenarios: int, sla: SliceSla
) -> dict[str, Any]:
    """CIO plan for the hour up to the day's busy interval; report the busy interval."""
    busy = busy_interval(twin.traffic, day)
    first = max(busy - BALANCE_HORIZON + 1, 0)
    demand = realised_demand_mbps(twin.traffic, day, day_rng(twin.scenario.seed, day))
    horizon = demand[first : busy + 1]
    config = BalanceConfig()
    interval_min = twin.scenario.interval_min
    started = time.perf_counter()
    result = plan_load_balance(twin, horizon, solver, config=config, t0_min=first * interval_min)
    solve_s = time.perf_counter() - started
    plan = result.plan
    if plan.cio_db is None:  # plan_load_balance always sets it
        msg = "load-balance plan without CIO"
        raise ValidationError(msg)
    cio = plan.cio_db[-1]
    zero = CellState.all_on(twin.num_cells)
    state = CellState(active=zero.active, cio_db=cio)
    before = check_slices(twin, horizon[-1], None, sla)
    after = check_slices(twin, horizon[-1], None, sla, state)
    # confidence: the busy interval's plan keeps every UE's service and does not raise the
    # highest PRB demand over CIO = 0 on demand scenarios around the realised one
    rng = np.random.default_rng(np.random.SeedSequence([seed, day, 0xBA1]))
    scenarios = perturbed_demands(
        horizon[-1], home_cells(twin), twin.num_cells, rng, num_scenarios, DEMAND_SIGMA
    )
    held = 0
    for scenario in scenarios:
        ref = evaluate_snapshot(twin, zero, scenario)
        snap = evaluate_snapshot(twin, state, scenario, initial_load=ref.prb_load)
        lost = int(((ref.covered & (ref.sinr_db >= -10.0)) & ~(snap.sinr_db >= -10.0)).sum())
        held += int(lost == 0 and snap.demand_load.max() <= ref.demand_load.max() + 1e-3)
    return {
        **_solve_fields(plan),
        "busy_interval": busy,
        "horizon_intervals": int(horizon.shape[0]),
        "before": _figures([before.snapshot], [before]),
        "after": _figures([after.snapshot], [after]),
        "ues_losing_service": int(result.lost_coverage[-1]),
        "confidence": round(held / num_scenarios, 4),
        "confidence_scenarios": num_scenarios,
        "confidence_rule": "no UE loses service and the highest PRB demand is not above CIO=0",
        "solve_s": round(solve_s, 3),
        "actions": _actions(plan.actions),
    }


def run_slicing(
    twin: Twin, seed: int, day: int, num_scenarios: int, sla: SliceSla, step: int
) -> dict[str, Any]:
    """Slice shares for every ``step``-th interval of the day against the equal split."""
    demand = realised_demand_mbps(twin.traffic, day, day_rng(twin.scenario.seed, day))[::step]
    interval_min = twin.scenario.interval_min * step
    started = time.perf_counter()
    result = plan_slicing(twin, demand, sla=sla, interval_min=interval_min)
    solve_s = time.perf_counter() - started
    # confidence: share of demand scenarios in which the shares keep every SLA the LP could
    # meet (cells it found short are excluded: no split meets them)
    rng = np.random.default_rng(np.random.SeedSequence([seed, day, 0x511]))
    scenarios = perturbed_demands(
        demand, home_cells(twin), twin.num_cells, rng, num_scenarios, DEMAND_SIGMA
    )
    held = 0
    cell_checks = 0
    cell_breaks = 0
    for scenario in scenarios:
        broken_any = False
        for t in range(demand.shape[0]):
            check = check_slices(twin, scenario[t], result.shares[t], sla)
            broken = (check.broken & ~result.short[t][:, None]).any(axis=1)
            cell_checks += int((~result.short[t]).sum())
            cell_breaks += int(broken.sum())
            broken_any |= bool(broken.any())
        held += int(not broken_any)
    return {
        **_solve_fields(result.plan),
        "intervals": int(demand.shape[0]),
        "interval_min": interval_min,
        "before": _figures([c.snapshot for c in result.before], result.before),
        "after": _figures([c.snapshot for c in result.after], result.after),
        "spare_share_mean": round(float(np.mean([c.spare_share for c in result.after])), 4),
        "cell_intervals_short": int(result.short.sum()),
        "after_violations_outside_short_cells": int(
            sum(
                int((c.broken & ~result.short[t][:, None]).sum())
                for t, c in enumerate(result.after)
            )
        ),
        "before_violations_outside_short_cells": int(
            sum(
                int((c.broken & ~result.short[t][:, None]).sum())
                for t, c in enumerate(result.before)
            )
        ),
        "sla": {
            "embb_ue_thp_mbps": sla.embb_ue_thp_mbps,
            "urllc_max_load": sla.urllc_max_load,
            "mmtc_activity_budget": sla.mmtc_activity_budget,
        },
        "confidence": round(held / num_scenarios, 4),
        "confidence_scenarios": num_scenarios,
        "confidence_rule": "no SLA violation beyond the cells the LP found short, whole day",
        "cell_interval_hold_ratio": round(1.0 - cell_breaks / max(cell_checks, 1), 5),
        "solve_s": round(solve_s, 3),
        "actions": _actions(result.plan.actions),
        "baseline": "static equal split (1/3 per slice)",
        "rrm_policy_ratio": "dedicated = min = planned share, max = 100 %",
        "equal_split_share": round(float(equal_split(1)[0, 0]), 4),
    }


def run_compensate(
    twin: Twin, seed: int, day: int, failed: int, num_scenarios: int, sla: SliceSla
) -> dict[str, Any]:
    """Compensate a failed cell at the day's busy interval; the baseline is no action."""
    busy = busy_interval(twin.traffic, day)
    demand = realised_demand_mbps(twin.traffic, day, day_rng(twin.scenario.seed, day))[busy]
    started = time.perf_counter()
    result = plan_compensation(twin, demand, failed, t0_min=busy * twin.scenario.interval_min)
    solve_s = time.perf_counter() - started
    failed_state = CellState(active=result.unaided.active, cio_db=np.zeros(twin.num_cells))
    before = check_slices(twin, demand, None, sla, failed_state)
    after = check_slices(twin, demand, None, sla, result.state)
    rng = np.random.default_rng(np.random.SeedSequence([seed, day, 0xC0C]))
    scenarios = perturbed_demands(
        demand, home_cells(twin), twin.num_cells, rng, num_scenarios, DEMAND_SIGMA
    )
    all_on = CellState.all_on(twin.num_cells)
    held = 0
    for scenario in scenarios:
        ok_state = evaluate_snapshot(twin, all_on, scenario)
        snap = evaluate_snapshot(twin, result.state, scenario, initial_load=ok_state.prb_load)
        orphans = ok_state.serving_cell == failed
        held += int(recovered_ratio(ok_state, snap, orphans) >= 0.8)
    return {
        **_solve_fields(result.plan),
        "failed_cell": twin.cell_names[failed],
        "busy_interval": busy,
        "failed_cell_served_mbps": round(float(result.before.served_mbps[result.orphans].sum()), 3),
        "recovered_ratio_before": round(result.recovered_ratio(result.unaided), 4),
        "recovered_ratio_after": round(result.recovered_ratio(result.after), 4),
        "no_failure": _figures([result.before], [check_slices(twin, demand, None, sla)]),
        "before": _figures([before.snapshot], [before]),
        "after": _figures([after.snapshot], [after]),
        "confidence": round(held / num_scenarios, 4),
        "confidence_scenarios": num_scenarios,
        "confidence_rule": "at least 80 % of the failed cell's traffic recovered",
        "solve_s": round(solve_s, 3),
        "actions": _actions(result.plan.actions),
        "downtilt": "not modelled: the twin's tilts are fixed per layer",
    }
