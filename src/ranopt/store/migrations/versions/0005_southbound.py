"""Southbound: settings, discovered O1 elements, transactions, A1 policies, discovery jobs.

Revision ID: 0005
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

JSON_TYPE = sa.JSON().with_variant(JSONB(), "postgresql")


def _tenant() -> sa.Column[int]:
    return sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False)


def _network(*, primary_key: bool = False) -> sa.Column[int]:
    return sa.Column(
        "network_id", sa.Integer(), sa.ForeignKey("networks.id", ondelete="CASCADE"),
        nullable=False, primary_key=primary_key,
    )  # fmt: skip


def upgrade() -> None:
    """Create the southbound tables."""
    op.create_table(
        "network_southbound",
        _network(primary_key=True),
        _tenant(),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("sleep_method", sa.String(30), nullable=False),
        sa.Column("o1_endpoints", JSON_TYPE, nullable=False),
        sa.Column("a1", JSON_TYPE, nullable=True),
        sa.Column("confirm_timeout_s", sa.Integer(), nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=False),
        sa.Column("updated_s", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_network_southbound_tenant_id", "network_southbound", ["tenant_id"])
    op.create_table(
        "o1_elements",
        _network(primary_key=True),
        sa.Column("element", sa.String(200), primary_key=True),
        _tenant(),
        sa.Column("endpoint_index", sa.Integer(), nullable=False),
        sa.Column("detail", JSON_TYPE, nullable=False),
        sa.Column("discovered_s", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_o1_elements_tenant_id", "o1_elements", ["tenant_id"])
    op.create_table(
        "southbound_transactions",
        sa.Column("id", sa.Integer(), primary_key=True),
        _tenant(),
        _network(),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("interface", sa.String(10), nullable=False),
        sa.Column("element", sa.String(200), nullable=False),
        sa.Column("endpoint", sa.String(300), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("num_edits", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(40), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_s", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
    )
    op.create_index(
        "ix_southbound_transactions_tenant_id", "southbound_transactions", ["tenant_id"]
    )
    op.create_index(
        "ix_southbound_transactions_network_id", "southbound_transactions", ["network_id"]
    )
    op.create_table(
        "a1_policies",
        sa.Column("id", sa.Integer(), primary_key=True),
        _tenant(),
        _network(),
        sa.Column("policy_type", sa.String(200), nullable=False),
        sa.Column("policy_id", sa.String(200), nullable=False),
        sa.Column("body", JSON_TYPE, nullable=False),
        sa.Column("enforce_status", sa.String(20), nullable=True),
        sa.Column("enforce_reason", sa.String(40), nullable=True),
        sa.Column("updated_s", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("network_id", "policy_type", "policy_id"),
    )
    op.create_index("ix_a1_policies_tenant_id", "a1_policies", ["tenant_id"])
    op.create_table(
        "discovery_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        _tenant(),
        _network(),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_s", sa.BigInteger(), nullable=False),
        sa.Column("finished_s", sa.BigInteger(), nullable=True),
        sa.Column("report", JSON_TYPE, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_discovery_jobs_tenant_id", "discovery_jobs", ["tenant_id"])
    op.create_index("ix_discovery_jobs_network_id", "discovery_jobs", ["network_id"])


def downgrade() -> None:
    """Drop the southbound tables."""
    op.drop_table("discovery_jobs")
    op.drop_table("a1_policies")
    op.drop_table("southbound_transactions")
    op.drop_table("o1_elements")
    op.drop_table("network_southbound")
