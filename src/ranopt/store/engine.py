"""Engines, sessions and migrations: SQLite (WAL) embedded, PostgreSQL through psycopg 3."""

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ranopt.errors import RanoptError
from ranopt.store.config import database_url, sqlite_synchronous

SCRIPT_LOCATION = "ranopt.store:migrations"
logger = logging.getLogger("ranopt.store")


class StoreError(RanoptError):
    """The database is unusable as it is (wrong schema revision, unknown backend, ...)."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Turn on WAL, durable commits, foreign keys and a busy timeout for every connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL (the default): the WAL is fsynced at every commit, so a commit that returned (and
    # the answer a request sends after it) survives a crash of the process or the machine
    cursor.execute(f"PRAGMA synchronous={sqlite_synchronous()}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, *, pool_size: int | None = None) -> Engine:
    """Create an engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``).

    ``pool_size`` (default: SQLAlchemy's 5) is the number of pooled connections; a server
    sizes it to the requests it lets in at once.
    """
    parsed = make_url(url)
    pool: dict[str, Any] = {} if pool_size is None else {"pool_size": pool_size}
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        # a commit returns only once its WAL record is flushed, whatever the server's default
        durable = {"options": "-c synchronous_commit=on"}
        return create_engine(url, pool_pre_ping=True, connect_args=durable, **pool)
    msg = f"RANOPT_DATABASE_URL: unsupported backend {parsed.get_backend_name()!r}"
    raise StoreError(msg)


def alembic_config() -> Config:
    """Return an Alembic config for the packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


@functools.cache
def head_revision() -> str:
    """Return the newest migration revision."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        msg = "no migration scripts found"
        raise StoreError(msg)
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the database's migration revision (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@functools.cache
def known_revisions() -> frozenset[str]:
    """Return every revision this code's migration scripts know (the head and its ancestors)."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return frozenset(script.revision for script in scripts.walk_revisions())


def oldest_compatible(engine: Engine, revision: str) -> str | None:
    """Return the oldest revision whose code runs against ``revision`` (None: not recorded)."""
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT oldest_compatible FROM schema_compatibility WHERE revision = :r"),
                {"r": revision},
            ).scalar_one_or_none()
    except SQLAlchemyError:  # a schema from before revision 0008 has no such table
        return None
    return None if found is None else str(found)


def runs_against(engine: Engine, revision: str | None) -> bool:
    """Whether this code can run against a database at ``revision``.

    Its own head, or a newer revision (one it does not know) whose migrations declared code of
    a revision this code knows compatible: the expand phase of a blue-green release, where the
    previous release keeps serving (or is rolled back to) after the new one migrated.
    """
    if revision == head_revision():
        return True
    if revision is None or revision in known_revisions():
        return False  # empty, or older: it needs ``ranopt db upgrade``
    oldest = oldest_compatible(engine, revision)
    return oldest is not None and oldest in known_revisions()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (``ranopt db upgrade``)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@dataclass(frozen=True, eq=False)
class Store:
    """An engine and its session factory; the unit every repository call works in."""

    engine: Engine
    sessions: sessionmaker[Session]
    # checked first in every transaction (a lease's fencing token): raising aborts it
    fence: Callable[[Session], None] | None = None

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Yield a session in one transaction: committed on success, rolled back on error."""
        with self.sessions.begin() as session:
            if self.fence is not None:
                self.fence(session)
            yield session

    def fenced(self, fence: Callable[[Session], None]) -> "Store":
        """Return this store (same engine) with ``fence`` run first in every transaction."""
        return replace(self, fence=fence)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_store(
    url: str | None = None, *, auto_upgrade: bool = True, pool_size: int | None = None
) -> Store:
    """Open the store at ``url`` (default from the environment).

    An empty database is migrated on first use; one at an older revision raises
    ``StoreError`` so that the operator runs ``ranopt db upgrade`` deliberately.
    """
    engine = make_engine(url or database_url(), pool_size=pool_size)
    revision = current_revision(engine)
    if revision is None and auto_upgrade:
        if inspect(engine).get_table_names():
            msg = "database has tables but no ranopt schema revision; refusing to migrate it"
            raise StoreError(msg)
        upgrade(engine)
    elif revision != head_revision() and auto_upgrade:
        if not runs_against(engine, revision):
            msg = f"database schema is at revision {revision!r}, run `ranopt db upgrade`"
            if revision not in known_revisions():
                msg = (
                    f"database schema is at revision {revision!r}, newer than this code "
                    f"({head_revision()!r}) and not declared compatible with it"
                )
            raise StoreError(msg)
        logger.warning(
            "database schema is at %r, newer than this code's %r: running against it "
            "(its migrations declared this code compatible)",
            revision,
            head_revision(),
        )
    return Store(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))
