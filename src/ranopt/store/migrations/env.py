"""Alembic environment: runs on the connection ``ranopt.store.engine.upgrade`` hands over."""

from alembic import context
from sqlalchemy.engine import Connection

from ranopt.store.tables import Base


def run_migrations_online() -> None:
    """Run the migrations on the caller's connection (never opens its own)."""
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        msg = "ranopt migrations run through ranopt.store.engine.upgrade (ranopt db upgrade)"
        raise RuntimeError(msg)
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
