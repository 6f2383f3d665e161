"""``POST /api/v2/cognitive/optimize`` and optimization runs: list, get, apply, reject.

Any network with enough stored telemetry is optimized on its calibrated model (topology and
counters only, ``ranopt.service.plan_network``); too little telemetry is a 409 naming what is
missing. A small optimization (at most ``RANOPT_SYNC_MAX_CELLS`` cells and
``RANOPT_SYNC_MAX_CELL_INTERVALS`` cells x horizon intervals) is answered at once (200 with the
run); a larger one is queued (202 with ``Location``: the run's URL) and runs in the app's job
thread. Applying a plan sends it to the network's southbound: the twin, or O1 / A1.
"""

import logging
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request, Response

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
from ranopt.api.errors import problem_responses
from ranopt.api.routes import jobs
from ranopt.api.routes.calibration import calibration_config, telemetry_conflict
from ranopt.api.routes.southbound_apply import (
    apply_through_southbound,
    sent_by_loop,
    southbound_actuator,
)
from ranopt.api.schemas import MAX_DB_ID, Accepted, IdPath, OptimizeRequest
from ranopt.calibrate import InsufficientTelemetryError
from ranopt.errors import RanoptError
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.service.calibration import require_telemetry
from ranopt.service.plan_network import NetworkPlanRequest, optimize_network
from ranopt.store import audit, runs
from ranopt.store import networks as nets
from ranopt.store.loops import LOOP_ACTOR
from ranopt.store.repository import NotFoundError
from ranopt.store.runs import RunOut

router = APIRouter(prefix="/api/v2", tags=["optimization"])
logger = logging.getLogger("ranopt.api.optimize")


def _limits(body: OptimizeRequest) -> EnergyConstraints:
    given = body.constraints.model_dump(exclude_none=True) if body.constraints else {}
    return EnergyConstraints(**given)


def execute_run(
    services: Services,
    principal: Principal,
    run_id: IdPath,
    request: NetworkPlanRequest,
    seed: int | None = None,
) -> RunOut:
    """Run one optimization and record its outcome, alert and audit entry."""
    store = services.store
    tenant_id = principal.tenant_id
    with store.transaction() as session:
        runs.set_running(session, tenant_id=tenant_id, run_id=run_id)
    entropy = [request.network_id, run_id] if seed is None else [seed, run_id]
    rng = np.random.default_rng(np.random.SeedSequence(entropy))
    try:
        outcome = optimize_network(store, request, rng)
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
    services: Services,
    principal: Principal,
    run_id: IdPath,
    request: NetworkPlanRequest,
    seed: int | None,
) -> None:
    try:
        execute_run(services, principal, run_id, request, seed)
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
    """Plan the network's next horizon on its calibrated model and measure the confidence."""
    config = calibration_config(services)
    with services.store.transaction() as session:
        net = nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=body.network_id)
        try:
            require_telemetry(
                session, tenant_id=principal.tenant_id, network_id=net.id, config=config
            )
        except InsufficientTelemetryError as exc:
            raise telemetry_conflict(exc) from exc
        request = NetworkPlanRequest(
            tenant_id=principal.tenant_id, network_id=net.id, solver=body.solver,
            horizon_min=body.horizon_min, history_days=services.settings.optimize_history_days,
            confidence_scenarios=services.settings.confidence_scenarios, limits=_limits(body),
            calibration=config, partition_cells=body.partition_cells,
        )  # fmt: skip
    now = _runs_now(services, net.num_cells, body.horizon_min)
    if not now:
        jobs.check_capacity(services)
    with services.store.transaction() as session:
        run = runs.create_run(
            session, tenant_id=principal.tenant_id, network_id=net.id, objective=body.objective,
            solver=body.solver, horizon_min=body.horizon_min,
            request=body.model_dump(mode="json"), created_by=principal.subject, now_s=now_s(),
        )  # fmt: skip
        record(session, principal, action="optimization.request", target=f"run:{run.id}",
               detail={"network_id": net.id, "solver": body.solver})  # fmt: skip
    if now:
        return execute_run(services, principal, run.id, request, body.seed)
    services.jobs.submit(_background, services, principal, run.id, request, body.seed)
    return jobs.accepted(f"/api/v2/optimizations/{run.id}", run.id)


MAX_RUNS_PAGE = 1000
TOTAL_COUNT = "X-Total-Count"


@router.get(
    "/optimizations",
    responses={
        200: {
            "description": "one page of runs, newest first",
            "headers": {
                TOTAL_COUNT: {
                    "description": "how many runs match the filters (all pages)",
                    "schema": {"type": "integer"},
                }
            },
        }
    },
)
def list_optimizations(
    principal: Reader,
    session: SessionDep,
    response: Response,
    network_id: Annotated[int | None, Query(ge=1, le=MAX_DB_ID)] = None,
    status: Annotated[runs.RunStatus | None, Query(description="only runs in this status")] = None,
    objective: Annotated[
        str | None, Query(max_length=20, pattern="^[a-z][a-z-]*$", description="e.g. energy")
    ] = None,
    source: Annotated[
        runs.RunSource | None, Query(description="loop: the closed loop's; person: a caller's")
    ] = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_DB_ID, description="page back: runs older than this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_RUNS_PAGE)] = 100,
    plans: Annotated[
        bool, Query(description="false: leave each plan out (its window and size stay)")
    ] = True,
) -> list[RunOut]:
    """List the tenant's runs, newest first: filtered, one page of at most ``limit``.

    Page back with ``before_id`` (the last id of the page); ``X-Total-Count`` says how many
    runs match the filters. ``plans=false`` leaves the plans out (``GET
    /optimizations/{run_id}`` has each).
    """
    if network_id is not None:
        nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    filters: dict[str, Any] = {
        "network_id": network_id, "status": status, "objective": objective, "source": source,
    }  # fmt: skip
    response.headers[TOTAL_COUNT] = str(
        runs.count_runs(session, tenant_id=principal.tenant_id, **filters)
    )
    return runs.list_runs(
        session, tenant_id=principal.tenant_id, limit=limit, before_id=before_id,
        with_plans=plans, **filters,
    )  # fmt: skip


@router.get("/optimizations/{run_id}")
def get_optimization(run_id: IdPath, principal: Reader, session: SessionDep) -> RunOut:
    """Return one run with its plan, confidence and status."""
    return runs.get_run(session, tenant_id=principal.tenant_id, run_id=run_id)


@router.post("/optimizations/{run_id}/apply", responses=problem_responses(409))
def apply_plan(
    run_id: IdPath, principal: Executor, services: ServicesDep, request: Request
) -> RunOut:
    """Send a waiting plan to the network's actuator: the twin, or its O1 / A1 southbound.

    Refused (409, with the reason) unless the run awaits approval, its window has not passed
    in network time, and, for a compensation, its fault is still open. The closed loop's
    compensation on a network whose O1 loop runs is sent by the loop at its next step (it
    holds it until the cell is back), not from the request. Three short
    transactions, not one: the O1 push records each element's outcome in its own
    transactions while it runs, which a request-long write transaction would block.
    """
    with services.store.transaction() as session:
        run = runs.get_run(session, tenant_id=principal.tenant_id, run_id=run_id)
        runs.check_applicable(session, tenant_id=principal.tenant_id, run=run)
        actuator = southbound_actuator(session, principal.tenant_id, run.network_id)
        by_loop = actuator == "o1" and sent_by_loop(session, principal.tenant_id, run)
    detail: dict[str, Any] = {"network_id": run.network_id, "actuator": actuator}
    if by_loop:  # the loop sends it at its next step, through its own act stage
        detail["o1"] = {"sent_by": LOOP_ACTOR}
    elif actuator == "o1":
        detail |= apply_through_southbound(services, principal, run_id, str(request.base_url))
    with services.store.transaction() as session:
        run = runs.decide_run(
            session, tenant_id=principal.tenant_id, run_id=run_id, decision="applied",
            by=principal.subject, now_s=now_s(),
        )  # fmt: skip
        record(session, principal, action="optimization.apply", target=f"run:{run_id}",
               detail=detail)  # fmt: skip
    return run


@router.post("/optimizations/{run_id}/reject", responses=problem_responses(409))
def reject_plan(run_id: IdPath, principal: Executor, session: SessionDep) -> RunOut:
    """Reject a plan that awaits approval (409 for any other run)."""
    run = runs.decide_run(
        session, tenant_id=principal.tenant_id, run_id=run_id, decision="rejected",
        by=principal.subject, now_s=now_s(),
    )  # fmt: skip
    record(session, principal, action="optimization.reject", target=f"run:{run_id}")
    return run
