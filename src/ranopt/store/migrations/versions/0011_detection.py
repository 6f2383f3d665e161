"""Detection: alert deduplication and clearing, detector state, the API request log.

Expand-only (nullable columns, new tables, a partial unique index on rows it adds): code of
0010 runs against it.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from ranopt.store.migrations import compatibility

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

JSON_TYPE = sa.JSON().with_variant(JSONB(), "postgresql")
OPEN_KEY = "cleared_s IS NULL AND dedup_key IS NOT NULL"


def upgrade() -> None:
    """Add the alert columns, ``detector_states`` and ``request_log``."""
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("cell_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("dedup_key", sa.String(200), nullable=True))
        batch.add_column(sa.Column("since_s", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("updated_s", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("cleared_s", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("detail", JSON_TYPE, nullable=True))
    op.create_index(
        "uq_alerts_open_key", "alerts", ["tenant_id", "dedup_key"], unique=True,
        sqlite_where=sa.text(OPEN_KEY), postgresql_where=sa.text(OPEN_KEY),
    )  # fmt: skip
    op.create_table(
        "detector_states",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=True),
        sa.Column(
            "network_id", sa.Integer(), sa.ForeignKey("networks.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("updated_s", sa.BigInteger(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
    )  # fmt: skip
    op.create_table(
        "request_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ts_s", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("via", sa.String(20), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("route", sa.String(300), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(100), nullable=False),
    )
    op.create_index("ix_request_log_tenant_id", "request_log", ["tenant_id", "id"])
    op.create_index("ix_request_log_ts_s", "request_log", ["ts_s"])
    compatibility.declare(revision, "0010")


def downgrade() -> None:
    """Drop what ``upgrade`` created."""
    compatibility.withdraw(revision)
    op.drop_table("request_log")
    op.drop_table("detector_states")
    op.drop_index("uq_alerts_open_key", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        for column in ("detail", "cleared_s", "updated_s", "since_s", "dedup_key", "cell_id"):
            batch.drop_column(column)
