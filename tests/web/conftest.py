"""Dashboard fixtures: a real uvicorn server on a SQLite file, a tenant, and Debian's chromium.

The browser is Debian's ``/usr/bin/chromium`` driven by Playwright (``make chromium``
installs it; ``playwright install`` is never run). One server and one browser serve the
whole module; each test opens its own page, so its ``sessionStorage`` (the token) is fresh.
"""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, sync_playwright
from web_world import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    ROLES,
    TENANT,
    WAIT_MS,
    Dashboard,
)

from pm_history import write_history
from ranopt.api.app import create_app
from ranopt.api.deps import Services
from ranopt.api.settings import Settings
from ranopt.store import accounts
from ranopt.store import repository as repo
from ranopt.store.engine import Store, open_store


def _settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url, argon2_time_cost=1, argon2_memory_kib=1024,
        rate_limit="100000/minute", login_rate_limit="1000/minute",
        optimize_history_days=2, confidence_scenarios=8,
    )  # fmt: skip


def _serve(app: object) -> tuple[uvicorn.Server, threading.Thread, str]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


def _tenant_with_users(store: Store, services: Services, roles: tuple[str, ...]) -> None:
    """Tenant ``acme`` with a user ``<role>-user`` per role, password ``PASSWORD``."""
    now = int(time.time())
    with store.transaction() as session:
        tenant_id = accounts.create_tenant(session, name=TENANT, now_s=now).id
        for role in roles:
            accounts.create_user(
                session, tenant_id=tenant_id, username=f"{role}-user",
                password_hash=services.hasher.hash(PASSWORD), role=role, now_s=now,
            )  # fmt: skip


def _wait_committed(store: Store, tenant_id: int, network_id: int) -> None:
    """Wait until the request's transaction is committed (its session closes after the reply)."""
    deadline = time.monotonic() + 10
    while True:
        with store.transaction() as session:
            if repo.list_networks(session, tenant_id=tenant_id):
                return
        assert time.monotonic() < deadline, f"network {network_id} never committed"
        time.sleep(0.02)


def _seed(base: str, store: Store) -> Dashboard:
    """Log in each role, make a twin network and two optimization runs through the API.

    The network gets 8 days of stored counters first: runs plan on its calibrated model.
    """
    with httpx.Client(base_url=base, timeout=120) as client:
        tokens = {
            role: client.post(
                "/api/v2/auth/token",
                data={"username": f"{role}-user", "password": PASSWORD, "tenant": TENANT},
            ).json()["access_token"]
            for role in ROLES
        }
        admin = {"Authorization": f"Bearer {tokens['network_admin']}"}
        created = client.post(
            "/api/v2/networks/from-twin", headers=admin,
            json={"name": "web-twin", "scenario": "default", "num_sites": 7, "num_ues": 300},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        network = created.json()
        _wait_committed(store, network["tenant_id"], network["id"])
        write_history(
            store, tenant_id=network["tenant_id"], network_id=network["id"], days=8,
            num_ues=300,
        )  # fmt: skip
        calibrated = client.post(f"/api/v2/networks/{network['id']}/calibration", headers=admin)
        assert calibrated.status_code == 200, calibrated.text
        run_ids = []
        for _ in range(2):
            run = client.post(
                "/api/v2/cognitive/optimize", headers=admin,
                json={"network_id": network["id"], "horizon_min": 60},
            )  # fmt: skip
            assert run.status_code == 200, run.text
            assert run.json()["status"] == "awaiting_approval", run.json()
            run_ids.append(run.json()["id"])
    return Dashboard(
        base=base, network_id=network["id"], num_cells=network["num_cells"],
        run_to_approve=run_ids[0], run_left_open=run_ids[1], tokens=tokens,
    )  # fmt: skip


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """A served app with tenant ``acme``: one user per role, a 7-site twin network, two runs."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'ranopt.db'}"
    store = open_store(db_url)
    app = create_app(_settings(db_url), store=store)
    _tenant_with_users(store, app.state.services, ROLES)
    server, thread, base = _serve(app)
    try:
        yield _seed(base, store)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        store.dispose()


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Debian's chromium, headless, with a throwaway profile (fails without it: no skip)."""
    assert CHROMIUM.exists(), f"{CHROMIUM} missing: run `make chromium`"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 800},
        )
        context.set_default_timeout(WAIT_MS)
        yield context
        context.close()


@pytest.fixture
def page(browser_context: BrowserContext) -> Iterator[Page]:
    """A fresh tab (its own sessionStorage); page errors and CSP violations fail the test.

    Failed requests (404 from the loop endpoints, 401 from a wrong login) are logged by the
    browser as console errors too: those are expected and left out.
    """
    tab = browser_context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            errors.append(message.text)

    tab.on("console", on_console)
    yield tab
    tab.close()
    assert not errors, f"errors in the page: {errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (``test-artifacts/``, ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
