"""The closed loop: per-network loop settings and clock, loop intervals, cell faults.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision: str | None = "0002"
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
    """Create the loop tables."""
    op.create_table(
        "network_loops",
        _network(primary_key=True),
        _tenant(),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("auto_apply", sa.Boolean(), nullable=False),
        sa.Column("confidence_threshold", sa.Float(), nullable=False),
        sa.Column("solver", sa.String(20), nullable=False),
        sa.Column("horizon_intervals", sa.Integer(), nullable=False),
        sa.Column("next_interval", sa.Integer(), nullable=False),
        sa.Column("live", JSON_TYPE, nullable=True),
        sa.Column("updated_s", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_network_loops_tenant_id", "network_loops", ["tenant_id"])
    op.create_table(
        "loop_intervals",
        sa.Column("id", sa.Integer(), primary_key=True),
        _tenant(),
        _network(),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(10), nullable=False),
        sa.Column("offered_mbps", sa.Float(), nullable=False),
        sa.Column("served_mbps", sa.Float(), nullable=True),
        sa.Column("power_w", sa.Float(), nullable=True),
        sa.Column("always_on_served_mbps", sa.Float(), nullable=True),
        sa.Column("always_on_power_w", sa.Float(), nullable=True),
        sa.Column("violations", sa.Integer(), nullable=False),
        sa.Column("switching_breaks", sa.Integer(), nullable=False),
        sa.Column("home_demand_mbps", JSON_TYPE, nullable=False),
        sa.Column("asleep", JSON_TYPE, nullable=False),
        sa.Column("failed", JSON_TYPE, nullable=False),
        sa.Column("tick_s", sa.Float(), nullable=True),
        sa.UniqueConstraint("network_id", "interval"),
    )
    op.create_index("ix_loop_intervals_tenant_id", "loop_intervals", ["tenant_id"])
    op.create_table(
        "cell_faults",
        sa.Column("id", sa.Integer(), primary_key=True),
        _tenant(),
        _network(),
        sa.Column("cell_index", sa.Integer(), nullable=False),
        sa.Column("cell_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.Float(), nullable=False),
        sa.Column("fault_interval", sa.Integer(), nullable=True),
        sa.Column("first_telemetry_at", sa.Float(), nullable=True),
        sa.Column("detected_at", sa.Float(), nullable=True),
        sa.Column("compensated_at", sa.Float(), nullable=True),
        sa.Column("compensated_interval", sa.Integer(), nullable=True),
        sa.Column("compensation_run_id", sa.Integer(), nullable=True),
        sa.Column("lost_mbit", sa.Float(), nullable=True),
        sa.Column("recovered_ratio", sa.Float(), nullable=True),
        sa.Column("cleared_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_cell_faults_tenant_id", "cell_faults", ["tenant_id"])
    op.create_index(
        "uq_cell_faults_open", "cell_faults", ["network_id", "cell_index"], unique=True,
        sqlite_where=sa.text("status != 'cleared'"),
        postgresql_where=sa.text("status != 'cleared'"),
    )  # fmt: skip


def downgrade() -> None:
    """Drop the loop tables."""
    op.drop_table("cell_faults")
    op.drop_table("loop_intervals")
    op.drop_table("network_loops")
