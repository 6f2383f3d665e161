"""Operator views: plans awaiting approval get their own status; alerts get triage fields.

- ``optimization_runs.status``: a finished run whose plan waits for a decision was recorded as
  ``succeeded``; it is now ``awaiting_approval`` (existing rows are renamed, and back on
  downgrade). An index on ``(network_id, status)`` serves the filtered runs list.
- ``alerts``: the network time the alert is about (``network_time_s``), who acknowledged
  and who resolved it and when, and why it was resolved (``resolution``).

Expand with one caveat: code of 0009 reads and lists the renamed runs (status is free text
to it) but will not approve a plan awaiting approval (it looks for ``succeeded``); approve on
the new release during the overlap.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from ranopt.store.migrations import compatibility

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

ALERT_COLUMNS = (
    ("network_time_s", sa.BigInteger()),
    ("acknowledged_by", sa.String(200)),
    ("acknowledged_s", sa.BigInteger()),
    ("resolved_by", sa.String(200)),
    ("resolved_s", sa.BigInteger()),
    ("resolution", sa.String(500)),
)


def _rename_status(old: str, new: str) -> None:
    runs = sa.table("optimization_runs", sa.column("status", sa.String(20)))
    op.execute(runs.update().where(runs.c.status == old).values(status=new))


def upgrade() -> None:
    """Rename the waiting status, index runs by status, add the alerts' triage columns."""
    _rename_status("succeeded", "awaiting_approval")
    op.create_index(
        "ix_optimization_runs_network_status", "optimization_runs", ["network_id", "status"]
    )
    with op.batch_alter_table("alerts") as batch:
        for name, kind in ALERT_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    compatibility.declare(revision, "0009")


def downgrade() -> None:
    """Undo ``upgrade`` (waiting runs are ``succeeded`` again)."""
    compatibility.withdraw(revision)
    with op.batch_alter_table("alerts") as batch:
        for name, _ in reversed(ALERT_COLUMNS):
            batch.drop_column(name)
    op.drop_index("ix_optimization_runs_network_status", table_name="optimization_runs")
    _rename_status("awaiting_approval", "succeeded")
