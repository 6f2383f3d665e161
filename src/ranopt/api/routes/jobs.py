"""Jobs: heavy work runs after the request, in the app's job thread; ``GET /jobs/{id}`` tells.

A request that would take more than a moment of CPU (building a large twin network) answers
202 with ``Location: /api/v2/jobs/{id}`` at once; the job's status moves queued -> running ->
succeeded (with a ``result``) or failed (with an ``error``). At most ``RANOPT_MAX_OPEN_JOBS``
are queued or running at once; beyond that a new one answers 429.
"""

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from ranopt.api.deps import Principal, Reader, Services, SessionDep, now_s
from ranopt.api.errors import ProblemError
from ranopt.api.schemas import Accepted, IdPath
from ranopt.errors import RanoptError
from ranopt.store import audit, runs
from ranopt.store import jobs as job_store
from ranopt.store.engine import Store
from ranopt.store.jobs import JobOut

router = APIRouter(prefix="/api/v2", tags=["jobs"])
logger = logging.getLogger("ranopt.api.jobs")
JOB_URL = "/api/v2/jobs/{job_id}"
JobWork = Callable[[Store], dict[str, Any]]
OPEN_WINDOW_S = 2 * 3600  # older unfinished work was left by a stopped server


def accepted(status_url: str, run_id: int, state: str = "queued") -> JSONResponse:
    """Return the 202: the id, status and where to poll it (also ``Location``)."""
    return JSONResponse(
        Accepted(id=run_id, status=state, status_url=status_url).model_dump(),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": status_url},
    )


def check_capacity(services: Services) -> None:
    """429 when the job thread already has its fill of queued and running work."""
    since_s = now_s() - OPEN_WINDOW_S
    with services.store.transaction() as session:
        open_jobs = job_store.count_open(session, since_s=since_s) + runs.count_open(
            session, since_s=since_s
        )
    if open_jobs >= services.settings.max_open_jobs:
        raise ProblemError(
            429, f"{open_jobs} jobs are queued or running; retry when one has finished",
            headers={"Retry-After": "30"},
        )  # fmt: skip


def _run(services: Services, principal: Principal, job_id: int, work: JobWork) -> None:
    tenant_id = principal.tenant_id
    with services.store.transaction() as session:
        job_store.start_job(session, tenant_id=tenant_id, job_id=job_id, now_s=now_s())
    # a failure is recorded on the job: its error for ranopt's own errors, "internal error"
    # (with the traceback in the log) for anything else
    result: dict[str, Any] | None = None
    error: str | None = None
    try:
        result = work(services.store)
    except RanoptError as exc:
        error = str(exc)
    except Exception:  # a job must never die silently: record the failure on the job
        logger.exception("job %s crashed", job_id)
        error = "internal error"
    with services.store.transaction() as session:
        job = job_store.finish_job(
            session, tenant_id=tenant_id, job_id=job_id, now_s=now_s(),
            result=result, error=error,
        )  # fmt: skip
        audit.append(
            session, ts_s=now_s(), tenant_id=tenant_id, actor=principal.subject,
            action=f"job.{job.status}", target=f"job:{job_id}",
            outcome="success" if error is None else "failure",
            detail={"kind": job.kind, **({"error": error} if error else {})},
        )  # fmt: skip


def submit(services: Services, principal: Principal, job: JobOut, work: JobWork) -> JSONResponse:
    """Hand ``work`` to the job thread and answer 202 with the job's status URL."""
    services.jobs.submit(_run, services, principal, job.id, work)
    return accepted(JOB_URL.format(job_id=job.id), job.id)


@router.get("/jobs/{job_id}")
def get_job(job_id: IdPath, principal: Reader, session: SessionDep) -> JobOut:
    """Return one job: its status and, once finished, its result or error."""
    return job_store.get_job(session, tenant_id=principal.tenant_id, job_id=job_id)
