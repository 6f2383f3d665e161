"""A throwaway PostgreSQL cluster in a temporary directory, for tests and benchmarks.

``initdb`` into a temp dir, ``pg_ctl start`` listening on a unix socket only (no TCP), and
``stop`` removes everything. As root the server runs as the ``postgres`` system user, since
PostgreSQL refuses to run as root.
"""

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import text

from ranopt.errors import RanoptError
from ranopt.store.engine import make_engine


class ClusterError(RanoptError):
    """The throwaway cluster could not be created or started."""


def pg_server_bin(name: str) -> str:
    """Return the path of a PostgreSQL server binary (initdb, pg_ctl)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not candidates:
        msg = f"{name} not found: run `make postgres` (installs Debian's postgresql)"
        raise ClusterError(msg)
    return str(candidates[-1])


class PostgresCluster:
    """A PostgreSQL cluster of its own; ``durable=False`` turns fsync off (tests)."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="ranopt-pg-"))
        self.data = self.root / "data"
        with socket.socket() as s:  # a free port number names the socket file
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            self.prefix = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, user="postgres")
        self.root.chmod(0o755)

    def _run(self, *args: str) -> None:
        result = subprocess.run(  # noqa: S603 - fixed binaries, our own arguments
            [*self.prefix, *args], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            msg = f"{Path(args[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}"
            raise ClusterError(msg)

    def start(self) -> "PostgresCluster":
        """Create and start the cluster; on failure remove it and raise ``ClusterError``."""
        try:
            self._run(pg_server_bin("initdb"), "-D", str(self.data), "-U", "postgres",
                      "-A", "trust", "-E", "UTF8", "--no-sync")  # fmt: skip
            options = f"-k {self.root} -p {self.port} -c listen_addresses=''"
            if not self.durable:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            self._run(pg_server_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-w",
                      "-l", str(self.root / "log"), "start")  # fmt: skip
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        return self

    def url(self, database: str = "postgres") -> str:
        """Return the SQLAlchemy URL of a database of the cluster."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.root}&port={self.port}"

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return its URL."""
        engine = make_engine(self.url())
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and remove the cluster's directory."""
        try:
            self._run(
                pg_server_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
