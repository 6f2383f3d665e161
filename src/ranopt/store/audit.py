"""The append-only audit log: one hash chain per tenant, anchored by signed checkpoints.

Each tenant's entries form their own chain (``chain`` = the tenant's id; 0 holds platform
events): entry ``seq`` stores the SHA-256 of entry ``seq - 1`` (``prev_hash``) and its own
``hash`` over its fields and ``prev_hash``; ``audit_heads`` holds each chain's last ``seq``
and hash. Editing an entry breaks its own hash, deleting one leaves a gap in ``seq`` and breaks
its successor's link (or the head, for the last entry). Someone who can write the database can
still rebuild a whole chain consistently; signed checkpoints (``ranopt.store.checkpoints``),
kept outside the database, pin entries the rebuilt chain no longer has.

Appends are serialised per chain by updating its head row first: a row lock on PostgreSQL,
the database write lock on SQLite. The API shows ``seq`` as the entry's ``id``, so entry
numbers and hashes say nothing about other tenants.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ranopt.store.tables import AuditChainHead, AuditEntry

GENESIS_HASH = "0" * 64
PLATFORM_CHAIN = 0  # events of no tenant (key rotation, rejected anonymous credentials)


class AuditOut(BaseModel):
    """One audit entry as the API shows it; ``id`` is its number in the tenant's chain."""

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


def chain_of(tenant_id: int | None) -> int:
    """Return the chain a tenant's entries go to (0 for platform events)."""
    return PLATFORM_CHAIN if tenant_id is None else tenant_id


def entry_hash(
    *,
    chain: int,
    seq: int,
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
            "chain": chain,
            "seq": seq,
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


def _row_hash(row: AuditEntry) -> str:
    return entry_hash(
        chain=row.chain, seq=row.seq, ts_s=row.ts_s, tenant_id=row.tenant_id, actor=row.actor,
        action=row.action, target=row.target, outcome=row.outcome, detail=dict(row.detail),
        prev_hash=row.prev_hash,
    )  # fmt: skip


def _lock_head(session: Session, chain: int) -> AuditChainHead:
    """Take the chain's next ``seq`` (creating its head on first use) and return the head."""
    bump = (
        update(AuditChainHead)
        .where(AuditChainHead.chain == chain)
        .values(last_seq=AuditChainHead.last_seq + 1)
    )
    if session.execute(bump).rowcount == 0:  # type: ignore[attr-defined]
        # first entry of this chain: two racing first appends both insert, one waits and
        # then finds the row, so neither fails
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(
            insert(AuditChainHead)
            .values(chain=chain, last_seq=0, last_hash=GENESIS_HASH)
            .on_conflict_do_nothing()
        )
        session.execute(bump)
    return session.get_one(AuditChainHead, chain, populate_existing=True)


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
    """Append one entry to the tenant's chain in the caller's transaction; return its ``seq``."""
    detail = detail or {}
    chain = chain_of(tenant_id)
    head = _lock_head(session, chain)
    seq = head.last_seq
    digest = entry_hash(
        chain=chain, seq=seq, ts_s=ts_s, tenant_id=tenant_id, actor=actor, action=action,
        target=target, outcome=outcome, detail=detail, prev_hash=head.last_hash,
    )  # fmt: skip
    session.add(
        AuditEntry(
            chain=chain, seq=seq, ts_s=ts_s, tenant_id=tenant_id, actor=actor, action=action,
            target=target, outcome=outcome, detail=detail, prev_hash=head.last_hash,
            hash=digest,
        )
    )  # fmt: skip
    head.last_hash = digest
    session.flush()
    return seq


def _out(row: AuditEntry) -> AuditOut:
    return AuditOut(
        id=row.seq,
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
    """Return the tenant's entries, newest first (``before_id``, a ``seq``, pages back)."""
    query = select(AuditEntry).where(AuditEntry.chain == chain_of(tenant_id))
    if before_id is not None:
        query = query.where(AuditEntry.seq < before_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    rows = session.scalars(query.order_by(AuditEntry.seq.desc()).limit(limit))
    return [_out(r) for r in rows]


@dataclass(frozen=True)
class ChainHead:
    """Where one chain ends: its last ``seq`` and that entry's hash."""

    chain: int
    seq: int
    hash: str


def chain_heads(session: Session) -> list[ChainHead]:
    """Return every chain's head (what a checkpoint signs)."""
    rows = session.scalars(select(AuditChainHead).order_by(AuditChainHead.chain))
    return [ChainHead(r.chain, r.last_seq, r.last_hash) for r in rows]


@dataclass(frozen=True)
class Anchor:
    """An entry a signed checkpoint vouches for: chain ``chain`` has ``hash`` at ``seq``."""

    chain: int
    seq: int
    hash: str
    source: str  # the checkpoint it comes from, for the report


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found: ``ok``, or the first fault, where and why."""

    ok: bool
    num_entries: int
    num_chains: int = 0
    num_anchors: int = 0
    bad_chain: int | None = None
    bad_seq: int | None = None
    bad_entry_id: int | None = None  # the row's internal id (for an operator with SQL)
    problem: str | None = None


class _ChainWalk:
    """Checks one chain entry by entry; ``fault`` holds the first problem found."""

    def __init__(self, chain: int, anchors: dict[int, Anchor]) -> None:
        self.chain = chain
        self.seq = 0
        self.hash = GENESIS_HASH
        self.anchors = anchors
        self.fault: tuple[int, int | None, str] | None = None

    def step(self, row: AuditEntry) -> None:
        if self.fault is not None:
            return
        if row.seq != self.seq + 1:
            gone = (
                f"entry {self.seq + 1}"
                if row.seq == self.seq + 2
                else (f"entries {self.seq + 1}..{row.seq - 1}")
            )
            self.fault = (self.seq + 1, row.id, f"{gone} deleted (the sequence has a gap)")
        elif row.prev_hash != self.hash:
            self.fault = (row.seq, row.id, "prev_hash does not match the entry before it")
        elif row.hash != _row_hash(row):
            self.fault = (row.seq, row.id, "hash does not match the entry's content")
        else:
            anchor = self.anchors.get(row.seq)
            if anchor is not None and anchor.hash != row.hash:
                self.fault = (
                    row.seq, row.id,
                    f"differs from the entry signed in {anchor.source} (the chain was rewritten)",
                )  # fmt: skip
        self.seq, self.hash = row.seq, row.hash

    def finish(self, head: ChainHead | None) -> None:
        if self.fault is not None:
            return
        head_seq, head_hash = (0, GENESIS_HASH) if head is None else (head.seq, head.hash)
        if head_seq != self.seq or head_hash != self.hash:
            self.fault = (
                head_seq, None,
                f"the chain ends at entry {self.seq} but its head names entry {head_seq} "
                "(the last entries were deleted)",
            )  # fmt: skip
            return
        beyond = [a for s, a in sorted(self.anchors.items()) if s > self.seq]
        if beyond:
            a = beyond[0]
            self.fault = (
                a.seq, None,
                f"{a.source} signed entry {a.seq}, but the chain ends at entry {self.seq} "
                "(entries were deleted and the head repointed)",
            )  # fmt: skip


def verify_chain(
    session: Session, *, anchors: Iterable[Anchor] = (), batch_rows: int = 10_000
) -> ChainReport:
    """Walk every chain in ``seq`` order: hashes, links, gaps, heads and signed anchors.

    ``anchors`` come from signed checkpoints (``ranopt.store.checkpoints``); a chain that no
    longer has an anchored entry, or has it with another hash, was truncated or rewritten.
    """
    by_chain: dict[int, dict[int, Anchor]] = {}
    num_anchors = 0
    for anchor in anchors:
        by_chain.setdefault(anchor.chain, {})[anchor.seq] = anchor
        num_anchors += 1
    heads = {h.chain: h for h in chain_heads(session)}
    walks: dict[int, _ChainWalk] = {}
    count = 0
    query = (
        select(AuditEntry)
        .order_by(AuditEntry.chain, AuditEntry.seq)
        .execution_options(yield_per=batch_rows)
    )
    result = session.scalars(query)
    try:
        for row in result:
            walk = walks.get(row.chain)
            if walk is None:
                walk = walks[row.chain] = _ChainWalk(row.chain, by_chain.get(row.chain, {}))
            walk.step(row)
            count += 1
    finally:
        result.close()  # a server-side cursor on PostgreSQL: release it
    for chain in sorted(heads.keys() | by_chain.keys() | walks.keys()):
        walk = walks.setdefault(chain, _ChainWalk(chain, by_chain.get(chain, {})))
        walk.finish(heads.get(chain))
        if walk.fault is not None:
            seq, row_id, problem = walk.fault
            return ChainReport(
                False, count, len(walks), num_anchors, bad_chain=chain, bad_seq=seq,
                bad_entry_id=row_id, problem=problem,
            )  # fmt: skip
    return ChainReport(True, count, len(walks), num_anchors)
