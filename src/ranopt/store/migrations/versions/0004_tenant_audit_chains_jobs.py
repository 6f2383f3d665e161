"""Per-tenant audit chains with sequence numbers; jobs for heavy work.

The one global audit chain becomes one chain per tenant (chain 0 holds platform events):
every existing entry gets its chain and a gap-free ``seq`` in id order, and its hash is
recomputed over the new fields, so no entry's id or hash reveals another tenant's activity.
``audit_head`` (one row) becomes ``audit_heads`` (one row per chain). The existing chain is
re-hashed as it stands: run ``ranopt audit verify`` before upgrading to know it was intact.

Revision ID: 0004
Revises: 0003
"""

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

JSON_TYPE = sa.JSON().with_variant(JSONB(), "postgresql")
GENESIS_HASH = "0" * 64
HEAD_ID = 1

# Frozen copies of the two hash rules: a migration must not change when the code does.
_ENTRY_FIELDS = ("ts_s", "tenant_id", "actor", "action", "target", "outcome", "detail")


def _sha256(fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _chained_hash(row: Any, chain: int, seq: int, prev_hash: str) -> str:
    fields = {k: getattr(row, k) for k in _ENTRY_FIELDS}
    return _sha256({**fields, "chain": chain, "seq": seq, "prev_hash": prev_hash})


def _global_hash(row: Any, prev_hash: str) -> str:
    fields = {k: getattr(row, k) for k in _ENTRY_FIELDS}
    return _sha256({**fields, "id": row.id, "prev_hash": prev_hash})


def _audit_table() -> sa.TableClause:
    return sa.table(
        "audit_log",
        sa.column("id", sa.Integer()),
        sa.column("chain", sa.Integer()),
        sa.column("seq", sa.BigInteger()),
        sa.column("ts_s", sa.BigInteger()),
        sa.column("tenant_id", sa.Integer()),
        sa.column("actor", sa.String()),
        sa.column("action", sa.String()),
        sa.column("target", sa.String()),
        sa.column("outcome", sa.String()),
        sa.column("detail", JSON_TYPE),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )


def upgrade() -> None:
    """Split the audit chain per tenant, add ``audit_heads`` and ``jobs``."""
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("chain", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_table(
        "audit_heads",
        sa.Column("chain", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    bind = op.get_bind()
    log = _audit_table()
    heads: dict[int, tuple[int, str]] = {}
    updates = []
    for row in bind.execute(sa.select(log).order_by(log.c.id)):
        chain = row.tenant_id or 0
        seq, prev = heads.get(chain, (0, GENESIS_HASH))
        seq += 1
        digest = _chained_hash(row, chain, seq, prev)
        heads[chain] = (seq, digest)
        updates.append({"b_id": row.id, "chain": chain, "seq": seq, "prev": prev, "h": digest})
    if updates:
        bind.execute(
            log.update()
            .where(log.c.id == sa.bindparam("b_id"))
            .values(
                chain=sa.bindparam("chain"),
                seq=sa.bindparam("seq"),
                prev_hash=sa.bindparam("prev"),
                hash=sa.bindparam("h"),
            ),
            updates,
        )
    heads_table = sa.table(
        "audit_heads",
        sa.column("chain", sa.Integer()),
        sa.column("last_seq", sa.BigInteger()),
        sa.column("last_hash", sa.String()),
    )
    if heads:
        bind.execute(
            heads_table.insert(),
            [{"chain": c, "last_seq": s, "last_hash": h} for c, (s, h) in heads.items()],
        )
    op.create_index("uq_audit_log_chain_seq", "audit_log", ["chain", "seq"], unique=True)
    op.drop_table("audit_head")
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("request", JSON_TYPE, nullable=False),
        sa.Column("result", JSON_TYPE, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_s", sa.BigInteger(), nullable=False),
        sa.Column("started_s", sa.BigInteger(), nullable=True),
        sa.Column("finished_s", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_jobs_tenant_id", "jobs", ["tenant_id"])


def downgrade() -> None:
    """Back to one global chain (re-hashed in id order) and the one-row ``audit_head``."""
    op.drop_table("jobs")
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("num_entries", sa.Integer(), nullable=False),
    )
    bind = op.get_bind()
    log = _audit_table()
    prev, last_id, count = GENESIS_HASH, 0, 0
    updates = []
    for row in bind.execute(sa.select(log).order_by(log.c.id)):
        digest = _global_hash(row, prev)
        updates.append({"b_id": row.id, "prev": prev, "h": digest})
        prev, last_id, count = digest, row.id, count + 1
    if updates:
        bind.execute(
            log.update()
            .where(log.c.id == sa.bindparam("b_id"))
            .values(prev_hash=sa.bindparam("prev"), hash=sa.bindparam("h")),
            updates,
        )
        bind.execute(
            sa.table(
                "audit_head",
                sa.column("id", sa.Integer()),
                sa.column("last_id", sa.Integer()),
                sa.column("last_hash", sa.String()),
                sa.column("num_entries", sa.Integer()),
            ).insert(),
            [{"id": HEAD_ID, "last_id": last_id, "last_hash": prev, "num_entries": count}],
        )
    op.drop_index("uq_audit_log_chain_seq", table_name="audit_log")
    op.drop_table("audit_heads")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("seq")
        batch.drop_column("chain")
