"""Jobs: heavy work a request hands to the app's job thread (keyword-only, tenant-scoped)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ranopt.store.repository import NotFoundError
from ranopt.store.tables import Job

JobStatus = Literal["queued", "running", "succeeded", "failed"]
OPEN_STATUSES = ("queued", "running")


class JobOut(BaseModel):
    """A job as the API shows it."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: str
    status: str
    request: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_by: str
    created_s: int
    started_s: int | None
    finished_s: int | None


def _out(row: Job) -> JobOut:
    return JobOut(
        id=row.id, kind=row.kind, status=row.status, request=dict(row.request),
        result=None if row.result is None else dict(row.result), error=row.error,
        created_by=row.created_by, created_s=row.created_s, started_s=row.started_s,
        finished_s=row.finished_s,
    )  # fmt: skip


def create_job(
    session: Session,
    *,
    tenant_id: int,
    kind: str,
    request: dict[str, Any],
    created_by: str,
    now_s: int,
) -> JobOut:
    """Record a queued job."""
    row = Job(
        tenant_id=tenant_id, kind=kind, status="queued", request=request, created_by=created_by,
        created_s=now_s,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return _out(row)


def get_job(session: Session, *, tenant_id: int, job_id: int) -> JobOut:
    """Return one of the tenant's jobs or raise ``NotFoundError``."""
    row = session.scalar(select(Job).where(Job.tenant_id == tenant_id, Job.id == job_id))
    if row is None:
        msg = f"no job {job_id} for this tenant"
        raise NotFoundError(msg)
    return _out(row)


def count_open(session: Session, *, since_s: int) -> int:
    """Return how many jobs created since ``since_s`` are queued or running (all tenants).

    ``since_s`` keeps work a stopped server left unfinished from counting for ever.
    """
    query = select(func.count()).where(Job.status.in_(OPEN_STATUSES), Job.created_s >= since_s)
    return int(session.scalar(query) or 0)


def start_job(session: Session, *, tenant_id: int, job_id: int, now_s: int) -> None:
    """Mark a job running."""
    session.execute(
        update(Job)
        .where(Job.tenant_id == tenant_id, Job.id == job_id)
        .values(status="running", started_s=now_s)
    )


def finish_job(
    session: Session,
    *,
    tenant_id: int,
    job_id: int,
    now_s: int,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> JobOut:
    """Record a job's outcome: ``result`` on success, ``error`` on failure."""
    session.execute(
        update(Job)
        .where(Job.tenant_id == tenant_id, Job.id == job_id)
        .values(
            status="failed" if error is not None else "succeeded",
            result=result, error=error, finished_s=now_s,
        )
    )  # fmt: skip
    return get_job(session, tenant_id=tenant_id, job_id=job_id)
