"""``POST /api/v2/cognitive/optimize`` and optimization runs: list, get, apply, reject.

A network exported from a twin is optimized on that twin. A small optimization (at most
``RANOPT_SYNC_MAX_CELLS`` cells and ``RANOPT_SYNC_MAX_CELL_INTERVALS`` cells x horizon
intervals: about a second of CPU) is answered at once (200 with the run); a larger one is
queued (202 with ``Location``: the run's URL) and runs in the app's job thread. Applying a
plan sends it to the network's actuator: for a twin-backed network the twin records the plan
as the one it now runs.
"""

import logging
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request

from ranopt.api.deps import (
    Executor,
    Principal,
    Reader,
    Services,
    ServicesDep,
    SessionDep,
    Writer,
    now_s,
    record,
)
from ranopt.api.errors import ProblemError, problem_responses
from ranopt.api.routes import jobs
from ranopt.api.routes.southbound_apply import apply_through_southbound, southbound_actuator
from ranopt.api.schemas import MAX_DB_ID, Accepted, IdPath, OptimizeRequest
from ranopt.errors import RanoptError
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.service.optimize import EnergyRequest, optimize_energy
from ranopt.store import audit, runs
from ranopt.store import networks as nets
from ranopt.store.repository import NotFoundError
from ranopt.store.runs import RunOut

router = APIRouter(prefix="/api/v2", tags=["optimization"])
logger = logging.getLogger("ranopt.api.optimize")


def _limits(body: OptimizeRequest) -> EnergyConstraints:
    given = body.constraints.model_dump(exclude_none=True) if body.constraints else {}
    return EnergyConstraints(**given)


def execute_run(
    services: Services, principal: Principal, run_id: IdPath, request: EnergyRequest
) -> RunOut:
    """Run one optimization and record its outcome, alert and audit entry."""
    store = services.store
    tenant_id = principal.tenant_id
    with store.transaction() as session:
        runs.set_running(session, tenant_id=tenant_id, run_id=run_id)
    rng = np.random.default_rng(np.random.SeedSequence([request.seed, run_id]))
    try:
        outcome = optimize_energy(request, rng)
    except RanoptError as exc:
        with store.transaction() as session:
            run = runs.finish_run(
                session, tenant_id=tenant_id, run_id=run_id, now_s=now_s(), error=str(exc)
            )
            runs.add_alert(
                session, tenant_id=tenant_id, network_id=run.network_id, severity="warning",
                kind="optimization_failed", message=f"run {run_id} failed: {exc}", now_s=now_s(),
            )  # fmt: skip
        services.metrics.optimization_runs.labels(request.solver, "failed").inc()
        return run
    with store.transaction() as session:
        run = runs.finish_run(
            session, tenant_id=tenant_id, run_id=run_id, now_s=now_s(), plan=outcome.plan,
            confidence=outcome.confidence, saving_pct=outcome.saving_pct,
        )  # fmt: skip
        if outcome.confidence < services.settings.min_confidence:
            runs.add_alert(
                session, tenant_id=tenant_id, network_id=run.network_id, severity="warning",
                kind="low_confidence",
                message=(
                    f"run {run_id}: plan confidence {outcome.confidence:.3f} is below "
                    f"{services.settings.min_confidence:.3f}; do not apply unreviewed"
                ),
                now_s=now_s(),
            )  # fmt: skip
        audit.append(
            session, ts_s=now_s(), tenant_id=tenant_id, actor=principal.subject,
            action="optimization.finish", target=f"run:{run_id}", outcome="success",
            detail={"confidence": round(outcome.confidence, 6)},
        )  # fmt: skip
    services.metrics.optimization_runs.labels(request.solver, "succeeded").inc()
    services.metrics.last_confidence.labels(str(run.network_id)).set(outcome.confidence)
    services.metrics.energy_saving.labels(str(run.network_id)).set(outcome.saving_pct)
    return run


def _background(
    services: Services, principal: Principal, run_id: IdPath, request: EnergyRequest
) -> None:
    try:
        execute_run(services, principal, run_id, request)
    except NotFoundError:  # its network was deleted meanwhile, and the run with it
        logger.info("optimization run %s: deleted with its network before it finished", run_id)
        services.metrics.optimization_runs.labels(request.solver, "failed").inc()
    except Exception:  # a job must never die silently: record the failure on the run
        logger.exception("optimization run %s crashed", run_id)
        with services.store.transaction() as session:
            runs.finish_run(
                session, tenant_id=principal.tenant_id, run_id=run_id, now_s=now_s(),
                error="internal error",
            )  # fmt: skip
        services.metrics.optimization_runs.labels(request.solver, "failed").inc()


INTERVAL_MIN = 15  # the twin scenarios' interval


def _runs_now(services: Services, num_cells: int, horizon_min: int) -> bool:
    """Whether an optimization is small enough to answer within the request."""
    settings = services.settings
    cell_intervals = num_cells * (horizon_min // INTERVAL_MIN)
    return num_cells <= settings.sync_max_cells and (
        cell_intervals <= settings.sync_max_cell_intervals
    )


@router.post(
    "/cognitive/optimize",
    responses={
        202: {"model": Accepted, "description": "queued; poll status_url (also Location)"},
        **problem_responses(409, 429),
    },
)
def optimize(body: OptimizeRequest, principal: Writer, services: ServicesDep) -> Any:
    """Plan the network's next horizon and measure the plan's confidence in its twin."""
    with services.store.transaction() as session:
        net = nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=body.network_id)
        binding = runs.twin_binding(session, tenant_id=principal.tenant_id, network_id=net.id)
    if binding is None:
        raise ProblemError(
            409, f"network_id: network {net.id} has no twin to plan on; create it from a twin",
            field="network_id",
        )  # fmt: skip
    # a twin not built yet is built for the plan: a large one makes the run a job too
    now = _runs_now(services, net.num_cells, body.horizon_min) and (
        binding.num_ues <= services.settings.sync_max_twin_ues
    )
    if not now:
        jobs.check_capacity(services)
    seed = binding.seed if body.seed is None else body.seed
    request = EnergyRequest(
        scenario=binding.scenario, seed=seed, num_sites=binding.num_sites,
        num_ues=binding.num_ues, solver=body.solver, horizon_min=body.horizon_min,
        history_days=services.settings.optimize_history_days,
        confidence_scenarios=services.settings.confidence_scenarios, limits=_limits(body),
    )  # fmt: skip
    with services.store.transaction() as session:
        run = runs.create_run(
            session, tenant_id=principal.tenant_id, network_id=net.id, objective=body.objective,
            solver=body.solver, horizon_min=body.horizon_min,
            request=body.model_dump(mode="json"), created_by=principal.subject, now_s=now_s(),
        )  # fmt: skip
        record(session, principal, action="optimization.request", target=f"run:{run.id}",
               detail={"network_id": net.id, "solver": body.solver})  # fmt: skip
    if now:
        return execute_run(services, principal, run.id, request)
    services.jobs.submit(_background, services, principal, run.id, request)
    return jobs.accepted(f"/api/v2/optimizations/{run.id}", run.id)


@router.get("/optimizations")
def list_optimizations(
    principal: Reader,
    session: SessionDep,
    network_id: Annotated[int | None, Query(ge=1, le=MAX_DB_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RunOut]:
    """List the tenant's runs, newest first (of one network if ``network_id`` is given)."""
    if network_id is not None:
        nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    return runs.list_runs(
        session, tenant_id=principal.tenant_id, network_id=network_id, limit=limit
    )


@router.get("/optimizations/{run_id}")
def get_optimization(run_id: IdPath, principal: Reader, session: SessionDep) -> RunOut:
    """Return one run with its plan, confidence and status."""
    return runs.get_run(session, tenant_id=principal.tenant_id, run_id=run_id)


@router.post("/optimizations/{run_id}/apply")
def apply_plan(
    run_id: IdPath, principal: Executor, services: ServicesDep, request: Request
) -> RunOut:
    """Send a succeeded run's plan to the network's actuator: the twin, or its O1 / A1 southbound.

    Three short transactions, not one: the O1 push records each element's outcome in its
    own transactions while it runs, which a request-long write transaction would block.
    """
    with services.store.transaction() as session:
        run = runs.get_run(session, tenant_id=principal.tenant_id, run_id=run_id)
        runs.check_decidable(run, decision="applied")
        actuator = southbound_actuator(session, principal.tenant_id, run.network_id)
    detail: dict[str, Any] = {"network_id": run.network_id, "actuator": actuator}
    if actuator == "o1":
        detail |= apply_through_southbound(services, principal, run_id, str(request.base_url))
    with services.store.transaction() as session:
        run = runs.decide_run(
            session, tenant_id=principal.tenant_id, run_id=run_id, decision="applied",
            by=principal.subject, now_s=now_s(),
        )  # fmt: skip
        record(session, principal, action="optimization.apply", target=f"run:{run_id}",
               detail=detail)  # fmt: skip
    return run


@router.post("/optimizations/{run_id}/reject")
def reject_plan(run_id: IdPath, principal: Executor, session: SessionDep) -> RunOut:
    """Reject a succeeded run's plan."""
    run = runs.decide_run(
        session, tenant_id=principal.tenant_id, run_id=run_id, decision="rejected",
        by=principal.subject, now_s=now_s(),
    )  # fmt: skip
    record(session, principal, action="optimization.reject", target=f"run:{run_id}")
    return run
