"""Operations: leases (one loop leader among replicas), backup tiers, schema compatibility.

An expand-only migration: it adds two tables and a column with a server default, so the
code of the revision before keeps working against it (it records that in
``schema_compatibility``).

Revision ID: 0008
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from ranopt.store.migrations import compatibility

revision = "0008"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

# the oldest revision whose code runs against this schema: every change here is additive, so
# the code of the revision before runs against it
OLDEST_COMPATIBLE = down_revision


def upgrade() -> None:
    """Create ``leases`` and ``schema_compatibility``; add ``retention_policies.backup_tier``."""
    op.create_table(
        "leases",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("expires_s", sa.Float(), nullable=False),
        sa.Column("acquired_s", sa.Float(), nullable=False),
        sa.Column("due_s", sa.Float(), nullable=True),
    )
    op.create_table(
        "schema_compatibility",
        sa.Column("revision", sa.String(32), primary_key=True),
        sa.Column("oldest_compatible", sa.String(32), nullable=False),
    )
    with op.batch_alter_table("retention_policies") as batch:
        batch.add_column(
            sa.Column("backup_tier", sa.String(8), nullable=False, server_default="90d")
        )
    compatibility.declare(revision, OLDEST_COMPATIBLE or revision)


def downgrade() -> None:
    """Drop what ``upgrade`` created."""
    with op.batch_alter_table("retention_policies") as batch:
        batch.drop_column("backup_tier")
    op.drop_table("schema_compatibility")
    op.drop_table("leases")
