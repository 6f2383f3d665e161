"""KPI generations: a token per network that changes with every write to its samples.

Expand-only (one new table). Code of 0008 runs against it but does not renew the token when
it writes samples: while such a release writes beside this one, serve with
``RANOPT_KPI_CACHE=off`` (docs/operations.md, releases).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from ranopt.store.migrations import compatibility

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``kpi_generations`` (no foreign key: a deleted network's token outlives it)."""
    op.create_table(
        "kpi_generations",
        sa.Column("network_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
    )
    compatibility.declare(revision, "0008")


def downgrade() -> None:
    """Drop ``kpi_generations``."""
    compatibility.withdraw(revision)
    op.drop_table("kpi_generations")
