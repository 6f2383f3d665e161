"""PostgreSQL nodes behind one service URL: who is primary, promotion, rejoin with pg_rewind.

The service names every node in one URL with ``target_session_attrs=read-write``
(``postgresql+psycopg://user@/db?host=h1:p1&host=h2:p2&target_session_attrs=read-write``):
libpq tries the hosts in order and keeps the one that accepts writes, so after a promotion the
service follows the new primary by itself (its pool discards dead connections on checkout).
"""

import os
import pwd
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from ranopt.errors import RanoptError
from ranopt.store.backup import pg_tool

CONNECT_TIMEOUT_S = 3


class NodeError(RanoptError):
    """A PostgreSQL node could not be reached, promoted or rejoined."""


@dataclass(frozen=True)
class Node:
    """One host of the service's database URL."""

    host: str
    port: int | None

    @property
    def label(self) -> str:
        """``host:port`` as an operator reads it."""
        return self.host if self.port is None else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class NodeState:
    """What a node says about itself (``reachable`` False: the rest is unknown)."""

    node: Node
    reachable: bool
    in_recovery: bool | None = None
    replay_lsn: int | None = None  # bytes of WAL replayed (standby) or written (primary)
    error: str | None = None


def nodes_of(url: str) -> list[Node]:
    """Return the hosts a PostgreSQL URL names, in order (``host=h:p`` repeated, or one)."""
    parsed = make_url(url)
    hosts = parsed.query.get("host")
    if hosts is None:
        return [Node(parsed.host or "localhost", parsed.port)]
    listed = [hosts] if isinstance(hosts, str) else list(hosts)
    out = []
    for entry in listed:
        host, _, port = entry.rpartition(":") if ":" in entry else (entry, "", "")
        out.append(Node(host, int(port) if port else parsed.port))
    return out


def node_url(url: str, node: Node, database: str | None = None) -> URL:
    """Return ``url`` narrowed to one node (any session attributes), optionally another db."""
    parsed = make_url(url)
    query = {k: v for k, v in parsed.query.items() if k not in {"host", "target_session_attrs"}}
    narrowed = parsed.set(host=node.host, port=node.port, query=query)
    if narrowed.drivername == "postgresql":
        narrowed = narrowed.set(drivername="postgresql+psycopg")
    return narrowed if database is None else narrowed.set(database=database)


def conninfo(url: URL) -> str:
    """Return a libpq connection string of a one-node URL (for pg_rewind's primary_conninfo)."""
    parts = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
    }
    return " ".join(f"{k}={v}" for k, v in parts.items() if v not in (None, ""))


def _reason(exc: SQLAlchemyError) -> str:
    """Return the driver's message without SQLAlchemy's wrapping, on one line."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    return " ".join(str(cause).split())[:300]


def _engine(url: URL) -> Engine:
    return create_engine(
        url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )  # fmt: skip


def node_state(url: str, node: Node) -> NodeState:
    """Connect to one node and ask whether it is a standby and how far its WAL goes."""
    engine = _engine(node_url(url, node))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() "
                    "THEN pg_last_wal_replay_lsn() - '0/0' "
                    "ELSE pg_current_wal_lsn() - '0/0' END"
                )
            ).one()
    except SQLAlchemyError as exc:
        return NodeState(node, reachable=False, error=_reason(exc))
    finally:
        engine.dispose()
    return NodeState(node, reachable=True, in_recovery=bool(row[0]), replay_lsn=int(row[1] or 0))


def cluster_state(url: str) -> list[NodeState]:
    """Return every node's state, in the URL's order."""
    return [node_state(url, node) for node in nodes_of(url)]


def primary_reachable(url: str) -> bool:
    """Whether the URL reaches a node that accepts writes (what the service needs)."""
    parsed = make_url(url)
    engine = create_engine(
        parsed, poolclass=NullPool,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "target_session_attrs": "read-write"},
    )  # fmt: skip
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return True


def best_standby(states: list[NodeState]) -> NodeState | None:
    """Return the reachable standby that replayed the most WAL (None: no standby answers)."""
    standbys = [s for s in states if s.reachable and s.in_recovery]
    return max(standbys, key=lambda s: s.replay_lsn or 0, default=None)


def promote(url: str, node: Node, *, timeout_s: int = 60) -> None:
    """Promote a standby (``pg_promote``), then let it commit without a synchronous standby.

    Every node carries the primary's ``synchronous_standby_names``; a promoted standby has no
    standby of its own yet, and would make every commit wait. Until the old primary rejoins
    (``rejoin``), the new primary commits asynchronously: availability first, said in the log.
    """
    engine = _engine(node_url(url, node))
    try:
        with engine.connect() as conn:
            done = conn.execute(
                text("SELECT pg_promote(true, :wait)"), {"wait": timeout_s}
            ).scalar_one()
            if not done:
                msg = f"{node.label}: not promoted within {timeout_s} s"
                raise NodeError(msg)
            set_synchronous_standbys(conn, "")
    except SQLAlchemyError as exc:
        msg = f"{node.label}: promotion failed ({_reason(exc)})"
        raise NodeError(msg) from exc
    finally:
        engine.dispose()


def set_synchronous_standbys(conn: Connection, names: str) -> None:
    """``ALTER SYSTEM SET synchronous_standby_names`` and reload (an AUTOCOMMIT connection)."""
    # ALTER SYSTEM takes no bind parameters: the value is checked and quoted here
    conn.execute(text(f"ALTER SYSTEM SET synchronous_standby_names = '{_quoted_names(names)}'"))
    conn.execute(text("SELECT pg_reload_conf()"))


def _quoted_names(names: str) -> str:
    if "'" in names or "\\" in names:
        msg = f"synchronous_standby_names: quotes are not accepted ({names!r})"
        raise NodeError(msg)
    return names


def streaming_standbys(url: str, node: Node) -> int:
    """Return how many standbys stream from ``node`` now."""
    engine = _engine(node_url(url, node))
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
                ).scalar_one()
            )
    finally:
        engine.dispose()


@dataclass(frozen=True)
class RejoinResult:
    """What ``rejoin`` did: pg_rewind's summary and how long the standby took to stream."""

    rewind: str
    streaming_s: float | None  # None: not started here


def _as_owner(path: Path) -> list[str]:
    """PostgreSQL's tools refuse root: run them as the data folder's owner."""
    if os.geteuid() != 0:
        return []
    owner = pwd.getpwuid(path.stat().st_uid).pw_name
    return ["runuser", "-u", owner, "--"]


def _run(args: list[str]) -> str:
    result = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        msg = f"{Path(args[0]).name} failed: {(result.stderr or result.stdout).strip()[-800:]}"
        raise NodeError(msg)
    return (result.stdout + result.stderr).strip()


def _server_pid(pgdata: Path) -> int | None:
    """Return the pid of the server running on ``pgdata`` (None: none, or a stale pid file)."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def _checkpoint(url: URL) -> None:
    """Run ``CHECKPOINT`` on the new primary before ``pg_rewind`` reads it.

    Until a checkpoint runs after its promotion, its control file still names the old timeline
    and ``pg_rewind`` finds "no rewind required" (PostgreSQL docs, pg_rewind notes), leaving
    the failed primary's extra WAL in place.
    """
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
    finally:
        engine.dispose()


def rejoin(
    pgdata: Path,
    source_url: str,
    *,
    start_options: str | None = None,
    log: Path | None = None,
    synchronous_names: str = "*",
    timeout_s: float = 60.0,
    sync_files: bool = True,
) -> RejoinResult:
    """Turn a failed primary's data folder into a standby of the new primary.

    ``pg_rewind`` rewinds the folder to where the timelines forked (it needs
    ``wal_log_hints=on`` or data checksums, and runs crash recovery first when the server was
    killed) and writes ``standby.signal`` with ``primary_conninfo`` (``-R``). With
    ``start_options`` the server is started here (``pg_ctl -o``) and, once it streams, the
    primary commits synchronously again (``synchronous_standby_names``).
    """
    if _server_pid(pgdata) is not None:
        msg = f"{pgdata}: a server runs on it (postmaster.pid): stop it before a rejoin"
        raise NodeError(msg)
    primary = nodes_of(source_url)[0]
    owner = _as_owner(pgdata)
    _checkpoint(node_url(source_url, primary))
    rewind = [
        *owner, pg_tool("pg_rewind"), "--target-pgdata", str(pgdata),
        "--source-server", conninfo(node_url(source_url, primary)), "--write-recovery-conf",
    ]  # fmt: skip
    if not sync_files:
        rewind.append("--no-sync")
    summary = _run(rewind).splitlines()
    if start_options is None:
        return RejoinResult(rewind=summary[-1] if summary else "", streaming_s=None)
    started = time.monotonic()
    start = [*owner, pg_tool("pg_ctl"), "-D", str(pgdata), "-o", start_options, "-w"]
    if log is not None:
        start += ["-l", str(log)]
    _run([*start, "start"])
    while streaming_standbys(source_url, primary) == 0:
        if time.monotonic() - started > timeout_s:
            msg = f"{pgdata}: started but not streaming from {primary.label} in {timeout_s} s"
            raise NodeError(msg)
        time.sleep(0.05)
    streaming_s = time.monotonic() - started
    engine = _engine(node_url(source_url, primary))
    try:
        with engine.connect() as conn:
            set_synchronous_standbys(conn, synchronous_names)
    finally:
        engine.dispose()
    return RejoinResult(rewind=summary[-1] if summary else "", streaming_s=streaming_s)
