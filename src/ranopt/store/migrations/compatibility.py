"""Rows of ``schema_compatibility``: which older release's code runs against a revision.

An expand-only migration (new tables, nullable or defaulted columns) declares the code of the
revision before it compatible, so a blue-green release keeps the old replicas serving while
the new one migrates (``ranopt.store.engine.runs_against``).
"""

import sqlalchemy as sa
from alembic import op

_TABLE = sa.table(
    "schema_compatibility",
    sa.column("revision", sa.String),
    sa.column("oldest_compatible", sa.String),
)


def declare(revision: str, oldest_compatible: str) -> None:
    """Record that code of ``oldest_compatible`` (and later) runs against ``revision``."""
    op.bulk_insert(_TABLE, [{"revision": revision, "oldest_compatible": oldest_compatible}])


def withdraw(revision: str) -> None:
    """Remove ``revision``'s row (its downgrade)."""
    op.execute(_TABLE.delete().where(_TABLE.c.revision == revision))
