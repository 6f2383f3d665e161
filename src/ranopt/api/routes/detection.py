"""Detected conditions: a network's KPI anomalies (read), security findings (investigate).

A security analyst triages a finding (``POST /security/alerts/{id}/triage``): benign releases
what it held back from the principal's habits, malicious keeps it held; both resolve it.
"""

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from ranopt.api.deps import Investigator, Reader, SessionDep, now_s, record
from ranopt.api.errors import ProblemError, problem_responses
from ranopt.api.schemas import MAX_DB_ID, IdPath
from ranopt.store import kpi_watch, request_log, security_watch
from ranopt.store import networks as nets
from ranopt.store.audit import AuditOut
from ranopt.store.request_log import RequestOut
from ranopt.store.runs import AlertOut
from ranopt.store.security_watch import Verdict

router = APIRouter(prefix="/api/v2", tags=["detection"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Active = Annotated[bool | None, Query(description="true: open only; false: cleared only")]


class FindingOut(BaseModel):
    """A security finding with its evidence: the audit entries and requests behind it."""

    model_config = ConfigDict(frozen=True)

    alert: AlertOut
    audit_entries: list[AuditOut]
    requests: list[RequestOut]


class TriageIn(BaseModel):
    """A person's verdict on a security finding."""

    model_config = ConfigDict(extra="forbid")

    verdict: Verdict = Field(
        description="benign: the principal's new route, tenant or hour becomes habit at once; "
        "malicious: it stays held back and is raised again on its next use"
    )
    note: str | None = Field(default=None, min_length=1, max_length=400)


@router.get("/networks/{network_id}/anomalies")
def network_anomalies(
    network_id: IdPath,
    principal: Reader,
    session: SessionDep,
    active: Active = None,
    limit: Limit = 100,
) -> list[AlertOut]:
    """Return the network's KPI anomalies (sleeping cells, collapses, counter faults, ...)."""
    nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    return kpi_watch.list_anomalies(
        session, tenant_id=principal.tenant_id, network_id=network_id, active=active,
        limit=limit,
    )  # fmt: skip


@router.get("/security/alerts")
def security_alerts(
    principal: Investigator, session: SessionDep, active: Active = None, limit: Limit = 100
) -> list[AlertOut]:
    """Return the tenant's security findings, newest first (evidence ids in ``detail``)."""
    return security_watch.list_findings(
        session, tenant_id=principal.tenant_id, limit=limit, active=active
    )


@router.get("/security/alerts/{alert_id}", responses=problem_responses(404))
def security_alert(alert_id: IdPath, principal: Investigator, session: SessionDep) -> FindingOut:
    """Return one security finding with the audit entries and requests it names."""
    alert = security_watch.get_finding(session, tenant_id=principal.tenant_id, alert_id=alert_id)
    if alert is None:
        raise ProblemError(404, f"alert_id: no security alert {alert_id}", field="alert_id")
    evidence = (alert.detail or {}).get("evidence", {})
    refs = [(int(a["chain"]), int(a["id"])) for a in evidence.get("audit", [])]
    ids = [int(i) for i in evidence.get("requests", [])]
    return FindingOut(
        alert=alert,
        audit_entries=security_watch.evidence_entries(
            session, tenant_id=principal.tenant_id, refs=refs
        ),
        requests=request_log.requests_by_id(session, ids=ids),
    )


@router.get("/security/requests")
def security_requests(
    principal: Investigator,
    session: SessionDep,
    limit: Limit = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_DB_ID)] = None,
) -> list[RequestOut]:
    """Return the tenant's API request log, newest first; page back with ``before_id``."""
    return request_log.list_requests(
        session, tenant_id=principal.tenant_id, limit=limit, before_id=before_id
    )


@router.post("/security/alerts/{alert_id}/triage", responses=problem_responses(404, 409))
def triage_security_alert(
    alert_id: IdPath, body: TriageIn, principal: Investigator, session: SessionDep
) -> AlertOut:
    """Resolve a security finding with a verdict (409 if it is already resolved).

    ``detail.triage.released`` lists what a benign verdict gave back to the habits.
    """
    alert = security_watch.triage(
        session, tenant_id=principal.tenant_id, alert_id=alert_id, verdict=body.verdict,
        by=principal.subject, now_s=now_s(), note=body.note,
    )  # fmt: skip
    released = (alert.detail or {}).get("triage", {}).get("released", [])
    record(session, principal, action="security.triage", target=f"alert:{alert_id}",
           detail={"kind": alert.kind, "verdict": body.verdict,
                   "released": len(released)})  # fmt: skip
    return alert
