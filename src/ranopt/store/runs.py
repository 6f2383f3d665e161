"""Optimization runs, the twin a network is bound to, and alerts (keyword-only, scoped)."""

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ranopt.errors import ValidationError
from ranopt.store.repository import NotFoundError
from ranopt.store.tables import Alert, NetworkTwin, OptimizationRun

RunStatus = Literal["queued", "running", "succeeded", "failed", "applied", "rejected", "superseded"]
Decision = Literal["applied", "rejected"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunOut(_Out):
    """An optimization run with its plan and measured confidence."""

    id: int
    network_id: int
    status: str
    objective: str
    solver: str
    horizon_min: int
    request: dict[str, Any]
    plan: dict[str, Any] | None
    confidence: float | None
    saving_pct: float | None
    error: str | None
    created_by: str
    created_s: int
    finished_s: int | None
    decided_by: str | None
    decided_s: int | None


class AlertOut(_Out):
    """An alert; a detected condition also says since when, until when, and its evidence."""

    id: int
    network_id: int | None
    created_s: int
    severity: str
    kind: str
    message: str
    cell_id: int | None = None
    since_s: int | None = None  # the condition's first interval (or first evidence)
    cleared_s: int | None = None  # when it ended; None while it lasts
    detail: dict[str, Any] | None = None  # counter, expected, observed / evidence ids


@dataclass(frozen=True)
class TwinBinding:
    """The twin scenario behind a network (its planning model and default actuator)."""

    network_id: int
    scenario: str
    seed: int
    num_sites: int
    num_ues: int
    applied_run_id: int | None


def bind_twin(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    scenario: str,
    seed: int,
    num_sites: int,
    num_ues: int,
) -> None:
    """Record that the tenant's network was exported from this twin scenario."""
    session.add(
        NetworkTwin(
            network_id=network_id,
            tenant_id=tenant_id,
            scenario=scenario,
            seed=seed,
            num_sites=num_sites,
            num_ues=num_ues,
        )
    )
    session.flush()


def twin_binding(session: Session, *, tenant_id: int, network_id: int) -> TwinBinding | None:
    """Return the twin behind the tenant's network, or None when it has none."""
    row = session.scalar(
        select(NetworkTwin).where(
            NetworkTwin.tenant_id == tenant_id, NetworkTwin.network_id == network_id
        )
    )
    if row is None:
        return None
    return TwinBinding(
        network_id=row.network_id,
        scenario=row.scenario,
        seed=row.seed,
        num_sites=row.num_sites,
        num_ues=row.num_ues,
        applied_run_id=row.applied_run_id,
    )


def _run_out(r: OptimizationRun) -> RunOut:
    return RunOut(
        id=r.id,
        network_id=r.network_id,
        status=r.status,
        objective=r.objective,
        solver=r.solver,
        horizon_min=r.horizon_min,
        request=dict(r.request),
        plan=None if r.plan is None else dict(r.plan),
        confidence=r.confidence,
        saving_pct=r.saving_pct,
        error=r.error,
        created_by=r.created_by,
        created_s=r.created_s,
        finished_s=r.finished_s,
        decided_by=r.decided_by,
        decided_s=r.decided_s,
    )


def create_run(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    objective: str,
    solver: str,
    horizon_min: int,
    request: dict[str, Any],
    created_by: str,
    now_s: int,
) -> RunOut:
    """Record a queued run."""
    row = OptimizationRun(
        tenant_id=tenant_id,
        network_id=network_id,
        status="queued",
        objective=objective,
        solver=solver,
        horizon_min=horizon_min,
        request=request,
        created_by=created_by,
        created_s=now_s,
    )
    session.add(row)
    session.flush()
    return _run_out(row)


def _run_row(session: Session, tenant_id: int, run_id: int) -> OptimizationRun:
    row = session.scalar(
        select(OptimizationRun).where(
            OptimizationRun.tenant_id == tenant_id, OptimizationRun.id == run_id
        )
    )
    if row is None:
        msg = f"no optimization run {run_id} for this tenant"
        raise NotFoundError(msg)
    return row


def count_open(session: Session, *, since_s: int) -> int:
    """Return how many runs (all tenants) created since ``since_s`` are queued or running."""
    return int(
        session.scalar(
            select(func.count()).where(
                OptimizationRun.status.in_(("queued", "running")),
                OptimizationRun.created_s >= since_s,
            )
        )
        or 0
    )


def set_running(session: Session, *, tenant_id: int, run_id: int) -> None:
    """Mark a queued run as running."""
    _run_row(session, tenant_id, run_id).status = "running"
    session.flush()


def finish_run(
    session: Session,
    *,
    tenant_id: int,
    run_id: int,
    now_s: int,
    plan: dict[str, Any] | None = None,
    confidence: float | None = None,
    saving_pct: float | None = None,
    error: str | None = None,
) -> RunOut:
    """Record a run's outcome: its plan and confidence, or the error that stopped it."""
    row = _run_row(session, tenant_id, run_id)
    row.status = "failed" if error is not None else "succeeded"
    row.plan, row.confidence, row.saving_pct, row.error = plan, confidence, saving_pct, error
    row.finished_s = now_s
    session.flush()
    return _run_out(row)


def get_run(session: Session, *, tenant_id: int, run_id: int) -> RunOut:
    """Return one of the tenant's runs."""
    return _run_out(_run_row(session, tenant_id, run_id))


def list_runs(
    session: Session, *, tenant_id: int, network_id: int | None = None, limit: int = 100
) -> list[RunOut]:
    """Return the tenant's runs (of one network if given), newest first."""
    query = select(OptimizationRun).where(OptimizationRun.tenant_id == tenant_id)
    if network_id is not None:
        query = query.where(OptimizationRun.network_id == network_id)
    rows = session.scalars(query.order_by(OptimizationRun.id.desc()).limit(limit))
    return [_run_out(r) for r in rows]


def check_decidable(run: RunOut, *, decision: Decision) -> None:
    """Raise ``ValidationError`` unless the run succeeded (only its plan can be decided)."""
    if run.status != "succeeded":
        msg = f"status: run {run.id} is {run.status!r}; only a succeeded run can be {decision}"
        raise ValidationError(msg)


def decide_run(
    session: Session, *, tenant_id: int, run_id: int, decision: Decision, by: str, now_s: int
) -> RunOut:
    """Apply or reject a succeeded run's plan; applying makes it the twin's running plan."""
    row = _run_row(session, tenant_id, run_id)
    check_decidable(_run_out(row), decision=decision)
    row.status, row.decided_by, row.decided_s = decision, by, now_s
    if decision == "applied":
        twin = session.scalar(
            select(NetworkTwin).where(
                NetworkTwin.tenant_id == tenant_id, NetworkTwin.network_id == row.network_id
            )
        )
        if twin is not None:
            twin.applied_run_id = row.id
    session.flush()
    return _run_out(row)


def add_alert(
    session: Session,
    *,
    tenant_id: int,
    network_id: int | None,
    severity: str,
    kind: str,
    message: str,
    now_s: int,
) -> int:
    """Raise an alert for the tenant; return its id."""
    row = Alert(
        tenant_id=tenant_id,
        network_id=network_id,
        created_s=now_s,
        severity=severity,
        kind=kind,
        message=message,
    )
    session.add(row)
    session.flush()
    return row.id


def list_alerts(
    session: Session, *, tenant_id: int, limit: int = 100, network_id: int | None = None
) -> list[AlertOut]:
    """Return the tenant's alerts (of one network if given), newest first."""
    query = select(Alert).where(Alert.tenant_id == tenant_id)
    if network_id is not None:
        query = query.where(Alert.network_id == network_id)
    rows = session.scalars(query.order_by(Alert.id.desc()).limit(limit))
    return [
        AlertOut(
            id=r.id,
            network_id=r.network_id,
            created_s=r.created_s,
            severity=r.severity,
            kind=r.kind,
            message=r.message,
            cell_id=r.cell_id,
            since_s=r.since_s,
            cleared_s=r.cleared_s,
            detail=r.detail,
        )
        for r in rows
    ]
