"""A RAN for tests: one ``ranopt emulate`` process beside one ranopt API server, on loopback.

Starting an emulator costs seconds, so the session shares one (``ran_world`` in
``tests/conftest.py``): the ranopt server (uvicorn in a thread, a SQLite file) has tenant
``acme`` with an admin token and a write API key, and the network ``emulated`` registered
from the emulator's topology; the emulator runs with that API key, posts its VES events to
the server's listener for that network, writes PM files and keeps a manual clock. A test
that changes the emulated network (sleeps a cell, fails one) puts it back.
"""

import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr

from ranopt.api.app import create_app
from ranopt.api.settings import Settings
from ranopt.southbound.o1 import O1Endpoint, RetryPolicy
from ranopt.store import accounts
from ranopt.store.engine import Store, open_store
from ranopt.store.schemas import TopologyIn
from spec_files import SPECS

TENANT = "acme"
PASSWORD = "correct horse battery staple"  # noqa: S105 - test users only
O1_USER = "ranopt"


def emulator_start() -> str:
    """Yesterday 00:00 UTC: recent enough that no retention prune touches the samples."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (today - timedelta(days=1)).isoformat()


class RunningEmulator:
    """A started emulator: its process, run directory and endpoints."""

    def __init__(self, run_dir: Path, args: list[str]) -> None:
        self.run_dir = run_dir
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    def start(self) -> "RunningEmulator":
        (self.run_dir / "endpoints.json").unlink(missing_ok=True)
        self.proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "ranopt.cli.main", "emulate", "run", "--run-dir",
             str(self.run_dir), "--a1-types", str(SPECS / "a1" / "policy-types-oran"),
             *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while not (self.run_dir / "endpoints.json").exists():
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"emulator exited: {err[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("emulator did not start in 120 s")
            time.sleep(0.05)
        self.info = json.loads((self.run_dir / "endpoints.json").read_text())
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    @property
    def password(self) -> str:
        return str(json.loads((self.run_dir / "credentials.json").read_text())["o1_password"])

    @property
    def topology(self) -> TopologyIn:
        return TopologyIn.model_validate_json((self.run_dir / "topology.json").read_text())

    def endpoints(self) -> dict[str, O1Endpoint]:
        """ManagedElement id -> its endpoint."""
        out = {}
        for e in self.info["o1"]:
            endpoint = O1Endpoint(
                host=e["host"], port=e["port"], username=O1_USER,
                password=SecretStr(self.password), host_key=self.info["host_key"], timeout_s=5.0,
                retry=RetryPolicy(attempts=2, backoff_s=0.05),
            )  # fmt: skip
            for element in e["elements"]:
                out[element] = endpoint
        return out

    def admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call the emulator's admin API (fault, advance, status)."""
        token = json.loads((self.run_dir / "credentials.json").read_text())["admin_token"]
        url = self.info["admin"]["url"] + path
        headers = {"Authorization": f"Bearer {token}"}
        response = (httpx.post(url, json=body, headers=headers, timeout=120.0) if body is not None
                    else httpx.get(url, headers=headers, timeout=30.0))  # fmt: skip
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


def test_settings(db_url: str) -> Settings:
    """Server settings for tests: cheap argon2, generous limits."""
    return Settings(
        database_url=db_url, argon2_time_cost=1, argon2_memory_kib=1024,
        rate_limit="100000/minute", login_rate_limit="1000/minute",
    )  # fmt: skip


@dataclass
class RanoptServer:
    """ranopt's API served by uvicorn in a thread on 127.0.0.1, on its own SQLite file."""

    base: str
    db_url: str
    store: Store
    settings: Settings
    server: uvicorn.Server
    thread: threading.Thread
    tenant_id: int
    admin_token: str  # network_admin of tenant acme
    api_key: str  # write key of tenant acme (what the emulator sends with VES and A1 notices)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=self.headers, timeout=120.0)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.store.dispose()


def start_server(db_path: Path) -> RanoptServer:
    """Serve a fresh store with tenant ``acme``, an admin user and a write API key."""
    db_url = f"sqlite:///{db_path}"
    store = open_store(db_url)
    settings = test_settings(db_url)
    app = create_app(settings, store=store)
    services = app.state.services
    now = int(time.time())
    with store.transaction() as session:
        tenant_id = accounts.create_tenant(session, name=TENANT, now_s=now).id
        user = accounts.create_user(
            session, tenant_id=tenant_id, username="admin-user",
            password_hash=services.hasher.hash(PASSWORD), role="network_admin", now_s=now,
        )  # fmt: skip
    token, _ = services.tokens.issue(
        subject=f"user:{user.id}", tenant_id=tenant_id, role="network_admin", amr=("pwd",),
        now_s=now,
    )  # fmt: skip
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    made = httpx.post(f"{base}/api/v2/api-keys", json={"name": "ran", "role": "network_admin"},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
    assert made.status_code == 201, made.text
    return RanoptServer(base=base, db_url=db_url, store=store, settings=settings, server=server,
                        thread=thread, tenant_id=tenant_id, admin_token=token,
                        api_key=made.json()["key"])  # fmt: skip


@dataclass
class RanWorld:
    """The session's emulator and the ranopt server it reports to."""

    server: RanoptServer
    emulator: RunningEmulator
    network_id: int  # the network ``emulated``, registered from the emulator's topology
