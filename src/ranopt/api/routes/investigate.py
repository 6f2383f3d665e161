"""Alerts and the audit log (the ``investigate`` permission)."""

from typing import Annotated

from fastapi import APIRouter, Query

from ranopt.api.deps import Investigator, SessionDep
from ranopt.api.schemas import MAX_DB_ID
from ranopt.store import audit, runs
from ranopt.store.audit import AuditOut
from ranopt.store.runs import AlertOut, AlertStatus

router = APIRouter(prefix="/api/v2", tags=["investigate"])


@router.get("/alerts")
def list_alerts(
    principal: Investigator,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    status: Annotated[AlertStatus | None, Query(description="only alerts in this state")] = None,
) -> list[AlertOut]:
    """List the tenant's alerts, newest first (of one triage state if ``status`` is given)."""
    return runs.list_alerts(session, tenant_id=principal.tenant_id, limit=limit, status=status)


@router.get("/audit")
def list_audit(
    principal: Investigator,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_DB_ID)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
) -> list[AuditOut]:
    """List the tenant's audit entries, newest first; page back with ``before_id``."""
    return audit.list_entries(
        session, tenant_id=principal.tenant_id, limit=limit, before_id=before_id, action=action
    )
