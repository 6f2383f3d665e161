"""Calibration: cells' antenna downtilt and stored calibration reports.

Revision ID: 0006
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

JSON_TYPE = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    """Add ``cells.tilt_deg`` and create ``calibration_reports``."""
    with op.batch_alter_table("cells") as batch:
        batch.add_column(sa.Column("tilt_deg", sa.Float(), nullable=True))
    op.create_table(
        "calibration_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column(
            "network_id", sa.Integer(), sa.ForeignKey("networks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_s", sa.BigInteger(), nullable=False),
        sa.Column("data_end_s", sa.BigInteger(), nullable=False),
        sa.Column("days_found", sa.Float(), nullable=False),
        sa.Column("prb_load_wape", sa.Float(), nullable=True),
        sa.Column("report", JSON_TYPE, nullable=False),
    )  # fmt: skip
    op.create_index("ix_calibration_reports_tenant_id", "calibration_reports", ["tenant_id"])
    op.create_index(
        "ix_calibration_reports_network_created", "calibration_reports",
        ["network_id", "created_s"],
    )  # fmt: skip


def downgrade() -> None:
    """Drop what ``upgrade`` created."""
    op.drop_table("calibration_reports")
    with op.batch_alter_table("cells") as batch:
        batch.drop_column("tilt_deg")
