"""The append-only, hash-chained audit log.

Each entry stores the SHA-256 of its predecessor (``prev_hash``) and its own ``hash`` over its
fields and ``prev_hash``; the one-row ``audit_head`` holds the last entry's id and hash. Editing
an entry breaks its own hash, deleting one breaks its successor's ``prev_hash`` (or the head,
for the last entry). Appends are serialised by updating the head row first: a row lock on
PostgreSQL, the database write lock on SQLite.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ranopt.store.tables import AuditEntry, AuditHead

GENESIS_HASH = "0" * 64
HEAD_ID = 1


class AuditOut(BaseModel):
    """One audit entry as the API shows it."""

    model_config = ConfigDict(frozen=True)

    id: int
    ts_s: int
    tenant_id: int | None
    actor: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


def entry_hash(
    *,
    entry_id: int,
    ts_s: int,
    tenant_id: int | None,
    actor: str,
    action: str,
    target: str,
    outcome: str,
    detail: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 (hex) over the entry's canonical JSON, chained to ``prev_hash``."""
    canonical = json.dumps(
        {
            "id": entry_id,
            "ts_s": ts_s,
            "tenant_id": tenant_id,
            "actor": actor,
            "action": action,
            "target": target,
            "outcome": outcome,
            "detail": detail,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def append(
    session: Session,
    *,
    ts_s: int,
    tenant_id: int | None,
    actor: str,
    action: str,
    target: str,
    outcome: str = "success",
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one entry in the caller's transaction and return its id."""
    detail = detail or {}
    locked = session.execute(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(num_entries=AuditHead.num_entries + 1)
    )
    if locked.rowcount == 0:  # type: ignore[attr-defined]
        session.add(AuditHead(id=HEAD_ID, last_id=0, last_hash=GENESIS_HASH, num_entries=1))
        session.flush()
    head = session.get_one(AuditHead, HEAD_ID, populate_existing=True)
    row = AuditEntry(
        ts_s=ts_s,
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        target=target,
        outcome=outcome,
        detail=detail,
        prev_hash=head.last_hash,
        hash="",
    )
    session.add(row)
    session.flush()
    row.hash = entry_hash(
        entry_id=row.id,
        ts_s=ts_s,
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        target=target,
        outcome=outcome,
        detail=detail,
        prev_hash=head.last_hash,
    )
    head.last_id = row.id
    head.last_hash = row.hash
    session.flush()
    return row.id


def _out(row: AuditEntry) -> AuditOut:
    return AuditOut(
        id=row.id,
        ts_s=row.ts_s,
        tenant_id=row.tenant_id,
        actor=row.actor,
        action=row.action,
        target=row.target,
        outcome=row.outcome,
        detail=dict(row.detail),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def list_entries(
    session: Session,
    *,
    tenant_id: int,
    limit: int = 100,
    before_id: int | None = None,
    action: str | None = None,
) -> list[AuditOut]:
    """Return the tenant's entries, newest first (``before_id`` pages back)."""
    query = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit))
    return [_out(r) for r in rows]


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found: ``ok`` or the first broken entry and why."""

    ok: bool
    num_entries: int
    bad_entry_id: int | None = None
    problem: str | None = None


def verify_chain(session: Session, *, batch_rows: int = 10_000) -> ChainReport:
    """Walk the whole chain in id order and check every hash and link, then the head."""
    prev_hash = GENESIS_HASH
    count = 0
    last_id = 0
    query = select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=batch_rows)
    result = session.scalars(query)
    try:
        for row in result:
            if row.prev_hash != prev_hash:
                problem = "prev_hash does not match the entry before it (an entry was deleted)"
                return ChainReport(False, count, row.id, problem)
            expected = entry_hash(
                entry_id=row.id, ts_s=row.ts_s, tenant_id=row.tenant_id, actor=row.actor,
                action=row.action, target=row.target, outcome=row.outcome,
                detail=dict(row.detail), prev_hash=row.prev_hash,
            )  # fmt: skip
            if row.hash != expected:
                return ChainReport(False, count, row.id, "hash does not match the entry's content")
            prev_hash = row.hash
            last_id = row.id
            count += 1
    finally:
        result.close()  # a server-side cursor on PostgreSQL: release it on an early return
    head = session.get(AuditHead, HEAD_ID)
    head_hash, head_id = (GENESIS_HASH, 0) if head is None else (head.last_hash, head.last_id)
    if head_hash != prev_hash or head_id != last_id:
        problem = f"chain ends at entry {last_id} but the head names entry {head_id}"
        return ChainReport(False, count, head_id, problem + " (the last entry was deleted)")
    return ChainReport(True, count)
