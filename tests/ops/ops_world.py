"""Real processes for the operations tests: ``ranopt serve`` replicas, redis-server, a loop.

Everything listens on 127.0.0.1 (ports the OS picks) and is stopped by the test that made it.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ranopt.api.security import new_api_key, password_hasher
from ranopt.api.settings import Settings
from ranopt.ingest.export import twin_topology
from ranopt.service.loop import NetworkLoop
from ranopt.service.optimize import cached_twin
from ranopt.store import accounts, loops, runs
from ranopt.store import repository as repo
from ranopt.store.engine import open_store

SITES, UES = 7, 700
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# cheap argon2 for test identities (the servers verify the API key once, then cache it)
CHEAP_HASH = {"RANOPT_ARGON2_TIME_COST": "1", "RANOPT_ARGON2_MEMORY_KIB": "1024"}


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: object, timeout_s: float, what: str, pause_s: float = 0.05) -> float:
    """Poll ``predicate()`` until true; return the seconds it took, fail after ``timeout_s``."""
    assert callable(predicate)
    started = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(pause_s)


@dataclass
class Serve:
    """One ``ranopt serve`` process on a port of its own."""

    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    # one process per replica (the loop beside the app): three replicas on two cores start in
    # a third of the time; tests/api/test_kpi_cache.py covers several workers and the loop
    # process
    workers: int = 1

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> "Serve":
        env = {**os.environ, **CHEAP_HASH, **self.env}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - our own CLI
                [sys.executable, "-m", "ranopt.cli.main", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", str(self.workers)],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        return self

    def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"ranopt serve exited: {self.log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.base}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_healthy(self, timeout_s: float = 60.0) -> "Serve":
        wait_for(self.healthy, timeout_s, f"ranopt serve on {self.port}", pause_s=0.1)
        return self

    def kill(self) -> None:
        """SIGKILL the server and every process it started (its workers, its loop process):
        a node lost."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def runs(self, pid: int) -> bool:
        """Whether process ``pid`` is this server or one it started (a worker, the loop)."""
        if pid == self.pid:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return int(stat.rsplit(")", 1)[1].split()[1]) == self.pid  # field 4: the parent

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Redis:
    """A redis-server of its own on 127.0.0.1 (no persistence)."""

    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "Redis":
        binary = shutil.which("redis-server")
        assert binary, "redis-server not found: run `make redis` (Debian's redis-server)"
        self.proc = subprocess.Popen(  # noqa: S603 - the system's redis-server
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.root), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._answers, 10.0, "redis-server")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@dataclass(frozen=True)
class LoopNetwork:
    """A tenant with a network whose loop is enabled, its history written, and an API key."""

    tenant_id: int
    network_id: int
    api_key: str  # network_admin of tenant "ops"

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


def loop_network(url: str) -> LoopNetwork:
    """Create tenant ``ops`` with a 7-site twin network, its loop enabled and 14 days of history.

    The history is written here (the first step of a new loop) so that the servers' first
    step is already an interval of the loop.
    """
    twin = cached_twin("default", 0, SITES, UES)
    store = open_store(url)
    settings = Settings(database_url=url, argon2_time_cost=1, argon2_memory_kib=1024)
    made = new_api_key(password_hasher(settings))
    with store.transaction() as session:
        tenant_id = repo.ensure_tenant(session, name="ops", now_s=0)
        net = repo.create_network(
            session, tenant_id=tenant_id, topology=twin_topology(twin, "ops-net"), now_s=0
        )
        runs.bind_twin(
            session, tenant_id=tenant_id, network_id=net.id, scenario="default", seed=0,
            num_sites=SITES, num_ues=UES,
        )  # fmt: skip
        loops.configure_loop(
            session, tenant_id=tenant_id, network_id=net.id, enabled=True, auto_apply=True,
            confidence_threshold=0.9, solver="greedy", horizon_intervals=4, now_s=0,
        )  # fmt: skip
        accounts.create_api_key(
            session, tenant_id=tenant_id, name="ops", prefix=made.prefix,
            secret_hash=made.secret_hash, role="network_admin", now_s=0,
        )  # fmt: skip
    NetworkLoop(
        store, tenant_id=tenant_id, network_id=net.id, twin=twin, seed=0, clock=time.time
    ).step()
    store.dispose()
    return LoopNetwork(tenant_id=tenant_id, network_id=net.id, api_key=made.token)


def record_figures(**figures: float) -> None:
    """Merge measured figures into ``test-artifacts/operations.json`` (ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "operations.json"
    known = json.loads(path.read_text()) if path.is_file() else {}
    known.update({k: round(v, 3) for k, v in figures.items()})
    path.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
