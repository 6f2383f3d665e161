"""Security analytics over the stored audit and request logs: one scan, findings as alerts.

``scan`` reads the audit entries and request-log rows written since the previous scan (and
rows below its cursor that were still missing then: transactions commit out of id order),
attributes rejected credentials of no tenant to the tenant their account names
(``user:TENANT/USER``, an API key's prefix), runs the pure detectors
(``ranopt.detect.security``) and writes each finding as an alert of its tenant with its
evidence (audit ``chain``/``seq`` and request ids). Findings no tenant can be named for (an
unknown tenant, an unknown key) are returned but not stored: no tenant may see them.

``triage`` records a person's verdict on a finding: it resolves the alert, and a verdict of
benign releases what the finding held back from the principal's habits (``release``), in the
same transaction as the detector state.
"""

import json
from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ranopt.detect.security import (
    SEVERITY,
    AuditEvent,
    SecurityConfig,
    SecurityFinding,
    SecurityState,
    release,
)
from ranopt.detect.security import scan as scan_events
from ranopt.errors import ConflictError
from ranopt.store import request_log
from ranopt.store.audit import PLATFORM_CHAIN, AuditOut
from ranopt.store.repository import NotFoundError
from ranopt.store.runs import AlertOut, alert_out, alerts_page
from ranopt.store.tables import Alert, ApiKey, AuditEntry, DetectorState, Tenant

STATE_KEY = "security"
Verdict = Literal["benign", "malicious"]
READ_LIMIT = 50_000  # rows of each log read per scan (the next scan reads on)
OVERLAP_IDS = 500  # ids below the cursor still awaited (transactions committing late)


def _load_state(session: Session) -> tuple[DetectorState | None, dict[str, Any]]:
    """Return the detector's stored row (locked until the transaction ends) and its blob."""
    row = session.scalars(
        select(DetectorState).where(DetectorState.key == STATE_KEY).with_for_update()
    ).one_or_none()
    return row, ({} if row is None else json.loads(row.blob))


def scan(
    session: Session,
    *,
    now_s: int,
    route_permission: Mapping[str, str],
    config: SecurityConfig | None = None,
) -> list[SecurityFinding]:
    """Judge what was logged since the last scan; write the findings; return them."""
    row, stored = _load_state(session)
    state = SecurityState.from_json(stored.get("state", {}))
    request_cursor = int(stored.get("request_cursor", 0))
    audit_cursor = int(stored.get("audit_cursor", 0))
    request_gaps = [int(i) for i in stored.get("request_gaps", [])]
    audit_gaps = [int(i) for i in stored.get("audit_gaps", [])]
    requests = request_log.events_after(
        session, after_id=request_cursor, limit=READ_LIMIT, also=request_gaps
    )
    audit_query = select(AuditEntry).where(
        or_(AuditEntry.id > audit_cursor, AuditEntry.id.in_(audit_gaps))
        if audit_gaps else AuditEntry.id > audit_cursor
    )  # fmt: skip
    audit_rows = list(session.scalars(audit_query.order_by(AuditEntry.id).limit(READ_LIMIT)))
    audits = _audit_events(session, audit_rows)
    state, findings = scan_events(state, requests, audits, now_s, route_permission, config)
    # ids below the newest read but not seen belong to transactions not yet committed: they
    # are read when they appear (the newest OVERLAP_IDS such gaps are remembered)
    request_gaps, request_cursor = _gaps(request_gaps, request_cursor, [r.id for r in requests])
    audit_gaps, audit_cursor = _gaps(audit_gaps, audit_cursor, [r.id for r in audit_rows])
    blob = json.dumps(
        {
            "state": state.to_json(),
            "request_cursor": request_cursor,
            "audit_cursor": audit_cursor,
            "request_gaps": request_gaps,
            "audit_gaps": audit_gaps,
        }
    ).encode()
    if row is None:
        session.add(DetectorState(key=STATE_KEY, tenant_id=None, network_id=None,
                                  updated_s=now_s, blob=blob))  # fmt: skip
    else:
        row.blob = blob
        row.updated_s = now_s
    _write_alerts(session, findings, now_s)
    session.flush()
    return findings


def _gaps(gaps: list[int], cursor: int, seen: list[int]) -> tuple[list[int], int]:
    """Return the ids still missing below the new cursor, and the new cursor."""
    if not seen:
        return gaps, cursor
    newest = max(cursor, *seen)
    found = set(seen)
    missing = [i for i in gaps if i not in found]
    missing += [i for i in range(cursor + 1, newest) if i not in found]
    return missing[-OVERLAP_IDS:], newest


def _audit_events(session: Session, rows: list[AuditEntry]) -> list[AuditEvent]:
    """Audit rows as events; a rejected credential of no tenant goes to its account's tenant."""
    tenants = dict(session.execute(select(Tenant.name, Tenant.id)).tuples().all())
    prefixes = dict(session.execute(select(ApiKey.prefix, ApiKey.tenant_id)).tuples().all())

    def owner(account: str) -> int | None:
        kind, _, name = account.partition(":")
        if kind == "user":
            return tenants.get(name.partition("/")[0])
        if kind == "apikey":
            return prefixes.get(name)
        return None

    events = []
    for r in rows:
        detail = r.detail or {}
        tenant = r.tenant_id
        if tenant is None and r.outcome == "failure":
            accounts = [*detail.get("accounts", []), detail.get("account", "")]
            tenant = next((t for a in accounts if (t := owner(str(a))) is not None), None)
        events.append(
            AuditEvent(
                chain=r.chain, seq=r.seq, ts_s=r.ts_s, tenant_id=tenant, actor=r.actor,
                action=r.action, outcome=r.outcome, detail=detail,
            )
        )  # fmt: skip
    return events


def _write_alerts(session: Session, findings: list[SecurityFinding], now_s: int) -> None:
    for f in findings:
        if f.tenant_id is None:
            continue
        open_row = session.scalars(
            select(Alert).where(
                Alert.tenant_id == f.tenant_id, Alert.dedup_key == f.key,
                Alert.cleared_s.is_(None),
            )
        ).one_or_none()  # fmt: skip
        if f.raised and open_row is None:
            session.add(
                Alert(
                    tenant_id=f.tenant_id, network_id=None, created_s=now_s,
                    severity=SEVERITY[f.kind], kind=f.kind, message=f.reason, cell_id=None,
                    dedup_key=f.key, since_s=f.since_s, updated_s=now_s,
                    detail={
                        "evidence": {
                            "audit": [{"chain": c, "id": s} for c, s in f.audit_ids],
                            "requests": list(f.request_ids),
                        },
                        "raised_at_s": f.at_s,
                    },
                )
            )  # fmt: skip
            session.flush()
        elif not f.raised and open_row is not None:
            open_row.cleared_s = f.at_s
            open_row.updated_s = now_s
            open_row.detail = {**(open_row.detail or {}), "cleared_because": f.reason}


def list_findings(
    session: Session, *, tenant_id: int, limit: int = 100, active: bool | None = None
) -> list[AlertOut]:
    """Return the tenant's security alerts, newest first (``active``: open or cleared only)."""
    query = select(Alert).where(Alert.tenant_id == tenant_id, Alert.kind.in_(tuple(SEVERITY)))
    return alerts_page(session, query, active=active, limit=limit)


def get_finding(session: Session, *, tenant_id: int, alert_id: int) -> AlertOut | None:
    """Return one of the tenant's security alerts, or None."""
    row = session.scalars(
        select(Alert).where(
            Alert.tenant_id == tenant_id, Alert.id == alert_id, Alert.kind.in_(tuple(SEVERITY))
        )
    ).one_or_none()
    return None if row is None else alert_out(row)


def evidence_entries(
    session: Session, *, tenant_id: int, refs: list[tuple[int, int]]
) -> list[AuditOut]:
    """Return the audit entries a finding names: the tenant's chain and platform chain 0."""
    allowed = [(c, s) for c, s in refs if c in (tenant_id, PLATFORM_CHAIN)]
    if not allowed:
        return []
    rows = session.scalars(
        select(AuditEntry)
        .where(or_(*(and_(AuditEntry.chain == c, AuditEntry.seq == s) for c, s in allowed)))
        .order_by(AuditEntry.chain, AuditEntry.seq)
    )
    return [
        AuditOut(
            id=r.seq, ts_s=r.ts_s, tenant_id=r.tenant_id, actor=r.actor, action=r.action,
            target=r.target, outcome=r.outcome, detail=dict(r.detail), prev_hash=r.prev_hash,
            hash=r.hash,
        )
        for r in rows
    ]  # fmt: skip


def triage(
    session: Session,
    *,
    tenant_id: int,
    alert_id: int,
    verdict: Verdict,
    by: str,
    now_s: int,
    note: str | None = None,
) -> AlertOut:
    """Resolve one of the tenant's security alerts with a person's verdict.

    ``benign``: what the finding held back from its principal's habits (new routes, a
    tenant, an hour of day) joins them at once, so their next use raises nothing, and the
    finding closes. ``malicious``: the holds stay (each use is judged as new again).
    ``NotFoundError`` for no such alert of the tenant, ``ConflictError`` if it was resolved.
    """
    alert = session.scalars(
        select(Alert)
        .where(Alert.tenant_id == tenant_id, Alert.id == alert_id, Alert.kind.in_(tuple(SEVERITY)))
        .with_for_update()
    ).one_or_none()
    if alert is None:
        msg = f"alert_id: no security alert {alert_id}"
        raise NotFoundError(msg)
    if alert.resolved_s is not None:
        msg = f"alert_id: alert {alert_id} is already resolved ({alert.resolution})"
        raise ConflictError(msg)
    released: list[dict[str, str]] = []
    if verdict == "benign" and alert.dedup_key is not None and alert.since_s is not None:
        row, stored = _load_state(session)
        if row is not None:
            state, done = release(
                SecurityState.from_json(stored.get("state", {})), alert.dedup_key, alert.since_s
            )
            released = [{"principal": who, "item": item} for who, item in done.items]
            row.blob = json.dumps({**stored, "state": state.to_json()}).encode()
            row.updated_s = now_s
            if done.closed and alert.cleared_s is None:
                alert.cleared_s = now_s
    alert.resolved_by, alert.resolved_s = by, now_s
    alert.resolution = f"{verdict}: {note}" if note else verdict
    alert.updated_s = now_s
    alert.detail = {
        **(alert.detail or {}),
        "triage": {"verdict": verdict, "by": by, "at_s": now_s, "released": released},
    }
    session.flush()
    return alert_out(alert)
