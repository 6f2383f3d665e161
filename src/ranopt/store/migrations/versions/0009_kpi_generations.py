"""KPI generations: a token per network that changes with every write to its samples.

Revision ID: 0009
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``kpi_generations`` (no foreign key: a deleted network's token outlives it)."""
    op.create_table(
        "kpi_generations",
        sa.Column("network_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    """Drop ``kpi_generations``."""
    op.drop_table("kpi_generations")
