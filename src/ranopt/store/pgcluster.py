"""Throwaway PostgreSQL servers in a temporary directory, for tests and benchmarks.

``initdb`` into a temp dir, ``pg_ctl start`` listening on a unix socket only (no TCP), and
``stop`` removes everything. As root the server runs as the ``postgres`` system user, since
PostgreSQL refuses to run as root. ``ReplicatedPair`` is a primary and a synchronous streaming
standby on loopback TCP, for the failover tests.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
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


# A primary and a streaming standby: settings both nodes share (pg_basebackup copies them).
# wal_log_hints lets pg_rewind turn a failed primary into a standby of its successor; every
# commit waits for a standby to flush its WAL (no acknowledged write is lost at failover).
REPLICATED_CONF = """
listen_addresses = '127.0.0.1'
wal_level = replica
wal_log_hints = on
full_page_writes = on
synchronous_commit = on
synchronous_standby_names = '*'
hot_standby = on
wal_keep_size = '256MB'
max_wal_senders = 5
"""


class PostgresNode:
    """One server of a replicated pair: TCP on 127.0.0.1 and a unix socket in its folder."""

    def __init__(self, root: Path, name: str, prefix: list[str], *, durable: bool) -> None:
        self.name = name
        self.root = root / name
        self.data = self.root / "data"
        self.log = self.root / "log"
        self.prefix = prefix
        self.durable = durable
        self.root.mkdir(parents=True)
        if prefix:
            shutil.chown(self.root, user="postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])

    @property
    def options(self) -> str:
        """Per-node server options (``pg_ctl -o``): not in the data folder, which is copied."""
        options = f"-p {self.port} -k {self.root}"
        if not self.durable:
            options += " -c fsync=off"
        return options

    def url(self, database: str = "postgres") -> str:
        """Return the SQLAlchemy URL of a database on this node alone."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, *args: str) -> str:
        """Run a PostgreSQL binary as the server's user; return its output."""
        result = subprocess.run(  # noqa: S603 - fixed binaries, our own arguments
            [*self.prefix, *args], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            msg = f"{Path(args[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}"
            raise ClusterError(msg)
        return result.stdout

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self.run(pg_server_bin("pg_ctl"), "-D", str(self.data), "-o", self.options, "-w",
                 "-l", str(self.log), "start")  # fmt: skip

    def stop(self) -> None:
        """Stop the server at once if it runs (crash semantics: no checkpoint)."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(  # noqa: S603
                [*self.prefix, pg_server_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate",
                 "-w", "stop"], capture_output=True, check=False,
            )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL the postmaster and every process it started (a crashed database host)."""
        pid_file = self.data / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        children = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and _parent_pid(p) == postmaster
        ]
        for pid in (postmaster, *children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in (postmaster, *children)):
            if time.monotonic() > deadline:
                msg = f"node {self.name}: processes outlived SIGKILL"
                raise ClusterError(msg)
            time.sleep(0.02)


def _parent_pid(proc: Path) -> int | None:
    try:
        stat = (proc / "stat").read_text()
    except OSError:
        return None
    # the command name may hold spaces: the fields after its closing parenthesis
    return int(stat.rsplit(")", 1)[1].split()[1])


class ReplicatedPair:
    """A primary and a synchronous streaming standby on loopback, for tests and benchmarks.

    Node ``a`` is made by ``initdb`` and starts as the primary; node ``b`` is copied from it
    with ``pg_basebackup -R`` and streams from it. ``url`` names both hosts with
    ``target_session_attrs=read-write``, so a client connects to whichever is the primary.
    """

    def __init__(self, *, durable: bool = False) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ranopt-pgpair-"))
        prefix: list[str] = []
        if os.geteuid() == 0:
            prefix = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, user="postgres")
        self.root.chmod(0o755)
        self.a = PostgresNode(self.root, "a", prefix, durable=durable)
        self.b = PostgresNode(self.root, "b", prefix, durable=durable)

    @property
    def nodes(self) -> tuple[PostgresNode, PostgresNode]:
        """Both nodes."""
        return self.a, self.b

    def start(self) -> "ReplicatedPair":
        """Create the primary, copy the standby from it, start both; wait for streaming."""
        try:
            self.a.run(pg_server_bin("initdb"), "-D", str(self.a.data), "-U", "postgres",
                       "-A", "trust", "-E", "UTF8", "--no-sync")  # fmt: skip
            with (self.a.data / "postgresql.conf").open("a") as conf:
                conf.write(REPLICATED_CONF)
            self.a.start()
            self.b.run(pg_server_bin("pg_basebackup"), "-D", str(self.b.data), "-h", "127.0.0.1",
                       "-p", str(self.a.port), "-U", "postgres", "-R", "-X", "stream",
                       "--no-sync", "-c", "fast")  # fmt: skip
            self.b.start()
            self.wait_streaming(self.a)
        except BaseException:
            self.stop()
            raise
        return self

    def url(self, database: str = "postgres") -> str:
        """Return a URL naming both nodes; it connects to the read-write one."""
        hosts = "&".join(f"host=127.0.0.1:{n.port}" for n in self.nodes)
        return f"postgresql+psycopg://postgres@/{database}?{hosts}&target_session_attrs=read-write"

    def wait_streaming(self, primary: PostgresNode, timeout_s: float = 30.0) -> None:
        """Wait until ``primary`` has a synchronous standby streaming from it."""
        engine = make_engine(primary.url())
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                with engine.connect() as conn:
                    state = conn.execute(
                        text("SELECT count(*) FROM pg_stat_replication "
                             "WHERE state = 'streaming' AND sync_state IN ('sync', 'quorum')")
                    ).scalar_one()  # fmt: skip
                if state:
                    return
                if time.monotonic() > deadline:
                    msg = f"no synchronous standby streams from node {primary.name}"
                    raise ClusterError(msg)
                time.sleep(0.05)
        finally:
            engine.dispose()

    def stop(self) -> None:
        """Stop both servers and remove the pair's folder."""
        try:
            for node in self.nodes:
                node.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
