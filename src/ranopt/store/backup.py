"""Backup and restore with verification: row counts and a content checksum per table.

SQLite goes through its online backup API (consistent while others write); PostgreSQL
through ``pg_dump -Fc`` / ``pg_restore``. A manifest (``PATH.manifest.json``) records each
table's row count and SHA-256 over its rows in primary-key order. A restore goes into a new
database first, recomputes both, and swaps it in only when they match: a backup that does not
verify leaves the live database untouched.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

from ranopt.errors import RanoptError
from ranopt.store.engine import Store, current_revision, make_engine
from ranopt.store.tables import Base, RetentionPolicy, Tenant

MANIFEST_SUFFIX = ".manifest.json"


class BackupError(RanoptError):
    """A backup or restore failed or did not verify."""


@dataclass(frozen=True)
class TableDigest:
    """Row count and content checksum of one table."""

    rows: int
    sha256: str


def _canonical(value: Any) -> Any:
    """Return a JSON-stable form of one cell value."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bytes | memoryview):  # detector state (revision 0011)
        return bytes(value).hex()
    return value


def table_digests(store: Store) -> dict[str, TableDigest]:
    """Return every ranopt table's row count and content checksum (rows in key order)."""
    with store.engine.connect() as conn:
        return connection_digests(conn)


def connection_digests(conn: Connection) -> dict[str, TableDigest]:
    """``table_digests`` read through one connection (and so one snapshot, if it has one)."""
    out: dict[str, TableDigest] = {}
    for table in Base.metadata.sorted_tables:
        digest = hashlib.sha256()
        rows = 0
        query = select(table).order_by(*_key(table))
        for row in conn.execute(query).yield_per(10_000):
            digest.update(json.dumps([_canonical(v) for v in row]).encode())
            digest.update(b"\n")
            rows += 1
        out[table.name] = TableDigest(rows=rows, sha256=digest.hexdigest())
    return out


def _key(table: Table) -> list[Any]:
    return list(table.primary_key.columns) or list(table.columns)


def manifest_path(path: Path) -> Path:
    """Return the manifest beside a backup file."""
    return path.with_name(path.name + MANIFEST_SUFFIX)


def _tenants(conn: Connection) -> list[dict[str, Any]]:
    """Return the tenants a backup holds, with their backup tiers (default 90d)."""
    rows = conn.execute(
        select(Tenant.id, Tenant.name, RetentionPolicy.backup_tier)
        .outerjoin(RetentionPolicy, RetentionPolicy.tenant_id == Tenant.id)
        .order_by(Tenant.id)
    )
    return [{"id": r[0], "name": r[1], "backup_tier": r[2] or "90d"} for r in rows]


def _write_manifest(
    store: Store,
    path: Path,
    digests: dict[str, TableDigest],
    tenants: list[dict[str, Any]],
    taken_s: float,
) -> None:
    manifest = {
        "dialect": store.dialect,
        "revision": current_revision(store.engine),
        "taken_s": taken_s,
        "tenants": tenants,
        "tables": {k: {"rows": v.rows, "sha256": v.sha256} for k, v in digests.items()},
    }
    manifest_path(path).write_text(json.dumps(manifest, indent=1) + "\n")


def _read_manifest(path: Path) -> dict[str, Any]:
    mpath = manifest_path(path)
    if not mpath.is_file():
        msg = f"no manifest {mpath.name} beside the backup: cannot verify it"
        raise BackupError(msg)
    data: dict[str, Any] = json.loads(mpath.read_text())
    return data


def _pg_args(store: Store) -> tuple[list[str], dict[str, str]]:
    """Return the connection arguments and environment of the PostgreSQL client tools.

    A libpq connection string, so that a URL naming several hosts (``host=h1:p1&host=h2:p2``
    with ``target_session_attrs``) reaches the same primary as the service.
    """
    url = make_url(store.engine.url)
    hosts: list[str] = []
    ports: list[str] = []
    listed = url.query.get("host")
    for entry in [listed] if isinstance(listed, str) else list(listed or ()):
        host, sep, port = entry.rpartition(":")
        hosts.append(host if sep and port.isdigit() else entry)
        ports.append(port if sep and port.isdigit() else str(url.port or ""))
    if not hosts and url.host:
        hosts, ports = [url.host], [str(url.port or "")]
    query_port = url.query.get("port")
    if isinstance(query_port, str) and not any(ports):
        ports = [query_port] * len(hosts)
    parts = {"dbname": url.database or "postgres", "user": url.username}
    if hosts:
        parts["host"] = ",".join(hosts)
    if any(ports):
        parts["port"] = ",".join(ports)
    attrs = url.query.get("target_session_attrs")
    if isinstance(attrs, str):
        parts["target_session_attrs"] = attrs
    conninfo = " ".join(f"{k}={v}" for k, v in parts.items() if v)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return ["-d", conninfo], env


def pg_tool(name: str) -> str:
    """Return the path of a PostgreSQL client tool (pg_dump, pg_restore)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not candidates:
        msg = f"{name} not found: install PostgreSQL's client tools"
        raise BackupError(msg)
    return str(candidates[-1])


def _run(cmd: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        msg = f"{Path(cmd[0]).name} failed ({result.returncode}): {result.stderr.strip()}"
        raise BackupError(msg)


def backup(store: Store, path: Path) -> dict[str, TableDigest]:
    """Write a consistent backup of the store to ``path`` and its manifest beside it.

    The manifest describes exactly what the file holds, while others write: SQLite's copy
    is digested itself; PostgreSQL's digests are read in the snapshot ``pg_dump`` dumps
    (``pg_export_snapshot``, ``pg_dump --snapshot``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    taken_s = time.time()
    if store.dialect == "sqlite":
        if path.exists():
            path.unlink()
        raw = store.engine.raw_connection()
        try:
            source = raw.dbapi_connection
            if not isinstance(source, sqlite3.Connection):  # pragma: no cover
                msg = "unexpected SQLite driver"
                raise BackupError(msg)
            with sqlite3.connect(path) as target:
                source.backup(target)
            target.close()
        finally:
            raw.close()
        copy = _open_file(path)
        try:
            with copy.engine.connect() as conn:
                digests, tenants = connection_digests(conn), _tenants(conn)
        finally:
            copy.dispose()
        _to_rollback_journal(path)  # one self-contained file
    else:
        args, env = _pg_args(store)
        with store.engine.connect().execution_options(
            isolation_level="REPEATABLE READ"
        ) as conn, conn.begin():  # fmt: skip
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            digests, tenants = connection_digests(conn), _tenants(conn)
            _run(
                [pg_tool("pg_dump"), "-Fc", "--no-owner", f"--snapshot={snapshot}", "-f",
                 str(path), *args],
                env,
            )  # fmt: skip
    _write_manifest(store, path, digests, tenants, taken_s)
    return digests


def _open_file(path: Path) -> Store:
    engine = make_engine(f"sqlite:///{path}")
    return Store(engine=engine, sessions=sessionmaker(engine))


@dataclass(frozen=True)
class RestoreResult:
    """A verified restore: the restored tables and where the replaced database was kept."""

    digests: dict[str, TableDigest]
    previous: str  # the file or database that held the replaced content


def _expected(manifest: dict[str, Any]) -> dict[str, TableDigest]:
    return {
        name: TableDigest(rows=v["rows"], sha256=v["sha256"])
        for name, v in manifest["tables"].items()
    }


def _check_digests(
    restored: dict[str, TableDigest], expected: dict[str, TableDigest], *, what: str = "restore"
) -> None:
    bad = sorted(n for n in expected.keys() | restored.keys() if expected.get(n) != restored.get(n))
    if bad:
        details = ", ".join(
            f"{n}: {restored.get(n, TableDigest(0, '-')).rows} rows vs "
            f"{expected.get(n, TableDigest(0, '-')).rows} in the manifest"
            for n in bad
        )
        if what == "restore":
            msg = f"restore did not verify ({details}); the live database is unchanged"
        else:
            msg = f"{what} does not match its manifest ({details})"
        raise BackupError(msg)


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def restore(store: Store, path: Path) -> RestoreResult:
    """Replace the store's content by the backup at ``path``, verified before anything changes.

    The backup is restored into a new database (SQLite: a file beside the live one;
    PostgreSQL: a new database), its tables' row counts and checksums are compared with the
    manifest written at backup time, and only then is it swapped in: SQLite by an atomic
    rename over the live file, PostgreSQL by renaming the databases. The replaced database is
    kept (``RestoreResult.previous``). Any failure raises ``BackupError`` and leaves the live
    database as it was. Nothing else may use the database meanwhile (stop the servers).
    """
    manifest = _read_manifest(path)
    if manifest["dialect"] != store.dialect:
        msg = f"backup is of a {manifest['dialect']} store, this one is {store.dialect}"
        raise BackupError(msg)
    if store.dialect == "sqlite":
        return _restore_sqlite(store, path, _expected(manifest))
    return _restore_postgresql(store, path, _expected(manifest))


def _sqlite_path(store: Store) -> Path:
    database = make_url(store.engine.url).database
    if not database or database == ":memory:":
        msg = "restore needs a SQLite database file"
        raise BackupError(msg)
    return Path(database).resolve()


def _drop_sqlite_file(path: Path) -> None:
    for extra in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + extra).unlink(missing_ok=True)


def _to_rollback_journal(path: Path) -> None:
    """Leave ``path`` a single self-contained file (no WAL); BUSY if others have it open."""
    conn = sqlite3.connect(path, timeout=0.5)
    try:
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.OperationalError as exc:
        msg = f"{path.name} is in use ({exc}): stop the servers before restoring"
        raise BackupError(msg) from exc
    finally:
        conn.close()
    if str(mode).lower() != "delete":
        msg = f"{path.name} is in use (still in {mode} mode): stop the servers before restoring"
        raise BackupError(msg)


def _restore_sqlite(store: Store, path: Path, expected: dict[str, TableDigest]) -> RestoreResult:
    live = _sqlite_path(store)
    staged = live.with_name(f"{live.name}.restore-{os.getpid()}")
    _drop_sqlite_file(staged)
    try:
        with sqlite3.connect(path) as source:
            with sqlite3.connect(staged) as target:
                source.backup(target)
            target.close()
        source.close()
        copy = _open_file(staged)
        try:
            restored = table_digests(copy)
        finally:
            copy.dispose()
        _check_digests(restored, expected)
        _to_rollback_journal(staged)
        store.engine.dispose()
        _to_rollback_journal(live)  # no WAL of the old content may follow the new file
        previous = live.with_name(f"{live.name}.pre-restore-{_stamp()}")
        os.link(live, previous)
        os.replace(staged, live)  # atomic: the live path names a whole database throughout
    except (sqlite3.Error, OSError) as exc:
        _drop_sqlite_file(staged)
        msg = f"restore failed ({exc}); the live database is unchanged"
        raise BackupError(msg) from exc
    except BackupError:
        _drop_sqlite_file(staged)
        raise
    return RestoreResult(digests=restored, previous=str(previous))


def _maintenance_engine(store: Store) -> Engine:
    url = make_url(store.engine.url).set(database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _restore_postgresql(
    store: Store, path: Path, expected: dict[str, TableDigest]
) -> RestoreResult:
    live = make_url(store.engine.url).database or "postgres"
    stamp = _stamp().lower()
    staged = f"{live[:40]}_restore_{stamp}"
    previous = f"{live[:36]}_pre_restore_{stamp}"
    maintenance = _maintenance_engine(store)
    staged_url = make_url(store.engine.url).set(database=staged)
    try:
        with maintenance.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {_quoted(staged)} TEMPLATE template0"))
        try:
            staged_engine = make_engine(staged_url.render_as_string(hide_password=False))
            staged_store = Store(engine=staged_engine, sessions=sessionmaker(staged_engine))
            try:
                args, env = _pg_args(staged_store)
                _run(
                    [pg_tool("pg_restore"), "--no-owner", "--single-transaction", *args,
                     str(path)],
                    env,
                )  # fmt: skip
                restored = table_digests(staged_store)
                _check_digests(restored, expected)
            finally:
                staged_store.dispose()
            store.engine.dispose()
            with maintenance.connect() as conn:
                others = conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db"),
                    {"db": live},
                ).scalar_one()
                if others:
                    msg = f"database {live} is in use by {others} session(s): stop the servers"
                    raise BackupError(msg)
                conn.execute(text(f"ALTER DATABASE {_quoted(live)} RENAME TO {_quoted(previous)}"))
                try:
                    conn.execute(
                        text(f"ALTER DATABASE {_quoted(staged)} RENAME TO {_quoted(live)}")
                    )
                except Exception:
                    conn.execute(
                        text(f"ALTER DATABASE {_quoted(previous)} RENAME TO {_quoted(live)}")
                    )
                    raise
        except BaseException:
            with maintenance.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {_quoted(staged)}"))
            raise
    except SQLAlchemyError as exc:
        msg = f"restore failed ({exc.__class__.__name__}: {exc}); the live database is unchanged"
        raise BackupError(msg) from exc
    finally:
        maintenance.dispose()
    return RestoreResult(digests=restored, previous=previous)


def read_digests(path: Path) -> dict[str, TableDigest]:
    """Return the table digests the manifest beside ``path`` records."""
    return _expected(_read_manifest(path))


def read_manifest(path: Path) -> dict[str, Any]:
    """Return the manifest written beside the backup at ``path`` (BackupError if none)."""
    return _read_manifest(path)


def verify_backup(store: Store, path: Path) -> dict[str, TableDigest]:
    """Restore the backup into a scratch database, check it against its manifest, drop it.

    The live database is not touched (PostgreSQL: a scratch database ``<name>_drill_<stamp>``
    on the same server, which needs ``CREATEDB``; SQLite: a temporary file). Raises
    ``BackupError`` naming the tables that differ.
    """
    manifest = _read_manifest(path)
    if manifest["dialect"] != store.dialect:
        msg = f"backup is of a {manifest['dialect']} store, this one is {store.dialect}"
        raise BackupError(msg)
    if store.dialect == "sqlite":
        restored = _scratch_sqlite_digests(path)
    else:
        restored = _scratch_postgresql_digests(store, path)
    _check_digests(restored, _expected(manifest), what="backup")
    return restored


def _scratch_sqlite_digests(path: Path) -> dict[str, TableDigest]:
    scratch_file = path.with_name(f".{path.name}.drill-{os.getpid()}")
    _drop_sqlite_file(scratch_file)
    try:
        with sqlite3.connect(path) as source, sqlite3.connect(scratch_file) as target:
            source.backup(target)
        source.close()
        target.close()
        copy = _open_file(scratch_file)
        try:
            return table_digests(copy)
        finally:
            copy.dispose()
    except (sqlite3.Error, SQLAlchemyError) as exc:
        msg = f"backup does not open ({exc})"
        raise BackupError(msg) from exc
    finally:
        _drop_sqlite_file(scratch_file)


def _scratch_postgresql_digests(store: Store, path: Path) -> dict[str, TableDigest]:
    live = make_url(store.engine.url).database or "postgres"
    name = f"{live[:38]}_drill_{_stamp().lower()}_{os.getpid()}"
    maintenance = _maintenance_engine(store)
    try:
        with maintenance.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {_quoted(name)} TEMPLATE template0"))
        try:
            url = make_url(store.engine.url).set(database=name)
            engine = make_engine(url.render_as_string(hide_password=False))
            scratch = Store(engine=engine, sessions=sessionmaker(engine))
            try:
                args, env = _pg_args(scratch)
                _run([pg_tool("pg_restore"), "--no-owner", "--single-transaction", *args,
                      str(path)], env)  # fmt: skip
                return table_digests(scratch)
            finally:
                scratch.dispose()
        finally:
            with maintenance.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {_quoted(name)}"))
    except SQLAlchemyError as exc:
        msg = f"drill failed ({exc.__class__.__name__}: {exc})"
        raise BackupError(msg) from exc
    finally:
        maintenance.dispose()
