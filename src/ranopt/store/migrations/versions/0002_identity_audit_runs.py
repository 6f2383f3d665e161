"""Identity, audit and optimization runs; tenants' MFA flag.

Users, API keys, signing keys, sealed secrets, the hash-chained audit log, twin bindings,
optimization runs and alerts.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

JSON_TYPE = sa.JSON().with_variant(JSONB(), "postgresql")


def _tenant() -> sa.Column[int]:
    return sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False)


def upgrade() -> None:
    """Create the tables and add ``tenants.mfa_required``."""
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column("mfa_required", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        _tenant(),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("totp_secret_enc", sa.Text(), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_s", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("tenant_id", "username"),
    )
    op.create_index("ix_users_tenant_id", "users", ["tenant_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        _tenant(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("created_s", sa.BigInteger(), nullable=False),
        sa.Column("revoked_s", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_api_keys_tenant_id", "api_keys", ["tenant_id"])
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_key_enc", sa.Text(), nullable=False),
        sa.Column("public_jwk", JSON_TYPE, nullable=False),
        sa.Column("created_s", sa.BigInteger(), nullable=False),
        sa.Column("retired_s", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "stored_secrets",
        sa.Column("id", sa.Integer(), primary_key=True),
        _tenant(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("updated_s", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("tenant_id", "name"),
    )
    op.create_index("ix_stored_secrets_tenant_id", "stored_secrets", ["tenant_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ts_s", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", sa.String(400), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", JSON_TYPE, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_tenant_id", "audit_log", ["tenant_id"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("num_entries", sa.Integer(), nullable=False),
    )
    op.create_table(
        "network_twins",
        sa.Column(
            "network_id",
            sa.Integer(),
            sa.ForeignKey("networks.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        _tenant(),
        sa.Column("scenario", sa.String(40), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("num_sites", sa.Integer(), nullable=False),
        sa.Column("num_ues", sa.Integer(), nullable=False),
        sa.Column("applied_run_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_network_twins_tenant_id", "network_twins", ["tenant_id"])
    op.create_table(
        "optimization_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        _tenant(),
        sa.Column(
            "network_id",
            sa.Integer(),
            sa.ForeignKey("networks.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("objective", sa.String(20), nullable=False),
        sa.Column("solver", sa.String(20), nullable=False),
        sa.Column("horizon_min", sa.Integer(), nullable=False),
        sa.Column("request", JSON_TYPE, nullable=False),
        sa.Column("plan", JSON_TYPE, nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("saving_pct", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_s", sa.BigInteger(), nullable=False),
        sa.Column("finished_s", sa.BigInteger(), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_s", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_optimization_runs_tenant_id", "optimization_runs", ["tenant_id"])
    op.create_index("ix_optimization_runs_network_id", "optimization_runs", ["network_id"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        _tenant(),
        sa.Column(
            "network_id",
            sa.Integer(),
            sa.ForeignKey("networks.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("created_s", sa.BigInteger(), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index("ix_alerts_tenant_id", "alerts", ["tenant_id"])


def downgrade() -> None:
    """Drop what ``upgrade`` created."""
    for table in (
        "alerts",
        "optimization_runs",
        "network_twins",
        "audit_head",
        "audit_log",
        "stored_secrets",
        "signing_keys",
        "api_keys",
        "users",
    ):
        op.drop_table(table)
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("mfa_required")
