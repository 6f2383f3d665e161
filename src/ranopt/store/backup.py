"""Backup and restore with verification: row counts and a content checksum per table.

SQLite goes through its online backup API (consistent while others write); PostgreSQL
through ``pg_dump -Fc`` / ``pg_restore``. A manifest (``PATH.manifest.json``) records each
table's row count and SHA-256 over its rows in primary-key order; a restore recomputes both
and fails loudly on any difference.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.engine import make_url

from ranopt.errors import RanoptError
from ranopt.store.engine import Store, current_revision, make_engine
from ranopt.store.tables import Base

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
    return value


def table_digests(store: Store) -> dict[str, TableDigest]:
    """Return every ranopt table's row count and content checksum (rows in key order)."""
    out: dict[str, TableDigest] = {}
    with store.engine.connect() as conn:
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


def _write_manifest(store: Store, path: Path, digests: dict[str, TableDigest]) -> None:
    manifest = {
        "dialect": store.dialect,
        "revision": current_revision(store.engine),
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
    """Return the connection arguments and environment of the PostgreSQL client tools."""
    url = make_url(store.engine.url)
    args = ["-d", url.database or "postgres"]
    host = url.host or str(url.query.get("host", ""))
    if host:
        args += ["-h", host]
    port = url.port or url.query.get("port")
    if port:
        args += ["-p", str(port)]
    if url.username:
        args += ["-U", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


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
    """Write a consistent backup of the store to ``path`` and its manifest beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digests = table_digests(store)
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
        copied = table_digests(_open_file(path))
        if copied != digests:
            msg = "backup file differs from the database it was taken from (written meanwhile?)"
            raise BackupError(msg)
    else:
        args, env = _pg_args(store)
        _run([pg_tool("pg_dump"), "-Fc", "--no-owner", "-f", str(path), *args], env)
    _write_manifest(store, path, digests)
    return digests


def _open_file(path: Path) -> Store:
    from sqlalchemy.orm import sessionmaker  # noqa: PLC0415

    engine = make_engine(f"sqlite:///{path}")
    return Store(engine=engine, sessions=sessionmaker(engine))


def restore(store: Store, path: Path) -> dict[str, TableDigest]:
    """Replace the store's content by the backup at ``path``, then verify it.

    Raises ``BackupError`` if the restored tables' row counts or checksums differ from the
    manifest written at backup time.
    """
    manifest = _read_manifest(path)
    if manifest["dialect"] != store.dialect:
        msg = f"backup is of a {manifest['dialect']} store, this one is {store.dialect}"
        raise BackupError(msg)
    if store.dialect == "sqlite":
        with sqlite3.connect(path) as source:
            store.engine.dispose()
            raw = store.engine.raw_connection()
            try:
                target = raw.dbapi_connection
                if not isinstance(target, sqlite3.Connection):  # pragma: no cover
                    msg = "unexpected SQLite driver"
                    raise BackupError(msg)
                source.backup(target)
            finally:
                raw.close()
        source.close()
    else:
        store.engine.dispose()
        args, env = _pg_args(store)
        _run(
            [pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
             *args, str(path)],
            env,
        )  # fmt: skip
    restored = table_digests(store)
    expected = {
        name: TableDigest(rows=v["rows"], sha256=v["sha256"])
        for name, v in manifest["tables"].items()
    }
    bad = sorted(n for n in expected.keys() | restored.keys() if expected.get(n) != restored.get(n))
    if bad:
        details = ", ".join(
            f"{n}: {restored.get(n, TableDigest(0, '-')).rows} rows vs "
            f"{expected.get(n, TableDigest(0, '-')).rows} in the manifest"
            for n in bad
        )
        msg = f"restore did not verify ({details})"
        raise BackupError(msg)
    return restored
