"""The dashboard on a server whose closed loop really runs: live map, runs, a fault, alerts.

The server runs ``ranopt serve``'s loop runner with a short tick on a 7-site twin; nothing of
ranopt is stubbed. The browser polls as an operator's would.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from web_world import PASSWORD, TENANT, WAIT_MS

from conftest import _serve, _tenant_with_users
from ranopt.api.app import create_app
from ranopt.api.settings import Settings
from ranopt.store.engine import open_store

LOOP_WAIT_S = 120.0  # upper bound for the loop to reach a state on a busy 2-core machine


def _settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url, argon2_time_cost=1, argon2_memory_kib=1024,
        rate_limit="100000/minute", login_rate_limit="1000/minute",
        loop_enabled=True, loop_tick_s=0.05,
    )  # fmt: skip


class LoopServer:
    """The served app, its network, and an admin's API client."""

    def __init__(self, base: str, network_id: int, admin_token: str) -> None:
        self.base = base
        self.network_id = network_id
        self.headers = {"Authorization": f"Bearer {admin_token}"}

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.base}{path}", headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(self, what: str, check: Any) -> Any:
        deadline = time.monotonic() + LOOP_WAIT_S
        while time.monotonic() < deadline:
            live = httpx.get(
                f"{self.base}/api/v2/networks/{self.network_id}/live",
                headers=self.headers, timeout=30,
            )  # fmt: skip
            if live.status_code == 200 and check(live.json()):
                return live.json()
            time.sleep(0.2)
        pytest.fail(f"the loop did not reach: {what}")


@pytest.fixture(scope="module")
def loop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopServer]:
    """A server running the closed loop of a 7-site twin network for tenant ``acme``."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('loop-web') / 'ranopt.db'}"
    store = open_store(db_url)
    app = create_app(_settings(db_url), store=store)
    _tenant_with_users(store, app.state.services, ("network_admin", "viewer"))
    server, thread, base = _serve(app)
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            token = client.post(
                "/api/v2/auth/token",
                data={"username": "network_admin-user", "password": PASSWORD, "tenant": TENANT},
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            network = client.post(
                "/api/v2/networks/from-twin", headers=headers,
                json={"name": "loop-twin", "scenario": "default", "num_sites": 7, "num_ues": 700},
            ).json()  # fmt: skip
            loop = client.put(
                f"/api/v2/networks/{network['id']}/loop", headers=headers, json={"enabled": True}
            )
            assert loop.status_code == 200, loop.text
        yield LoopServer(base, network["id"], token)
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        store.dispose()


def _sign_in(page: Page, server: LoopServer, role: str) -> None:
    page.goto(f"{server.base}/")
    page.fill("#login-form [name=tenant]", TENANT)
    page.fill("#login-form [name=username]", f"{role}-user")
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("body[data-ready=networks]")


def _open(page: Page, server: LoopServer, tab: str) -> None:
    page.evaluate(f"location.hash = '#/n/{server.network_id}/{tab}'")
    page.wait_for_selector(f"body[data-ready={tab}]")


def test_the_running_loop_shows_on_the_map_runs_and_charts(
    page: Page, loop_server: LoopServer, artifacts: Path
) -> None:
    live = loop_server.wait_for(
        "cells asleep", lambda live: any(c["state"] == "asleep" for c in live["cells"])
    )
    _sign_in(page, loop_server, "viewer")
    _open(page, loop_server, "map")
    expect(page.get_by_test_id("loop-status")).to_have_text("closed loop running")
    expect(page.get_by_test_id("cell-count")).to_have_text(str(len(live["cells"])))
    page.wait_for_function(
        "Number(document.querySelector('[data-testid=cells-asleep]').textContent) > 0",
        timeout=WAIT_MS,
    )
    page.screenshot(path=str(artifacts / "dashboard-live-loop-map.png"))
    _open(page, loop_server, "runs")
    expect(page.locator("[data-testid^=run-status-]").first).to_be_visible()
    expect(page.locator("[data-testid^=run-status-]", has_text="applied").first).to_be_visible()
    expect(page.locator("button[data-testid^=approve-]")).to_have_count(0)  # a viewer
    # each loop run names its objective and its window in network time
    expect(page.get_by_test_id("runs-table")).to_contain_text("energy")
    expect(page.get_by_test_id("runs-table")).to_contain_text("day 14")
    expect(page.get_by_test_id("runs-table")).to_contain_text("60 min")
    _open(page, loop_server, "charts")
    expect(page.get_by_test_id("energy-today")).to_contain_text("kWh")
    expect(page.locator(".uplot")).to_have_count(2)
    page.screenshot(path=str(artifacts / "dashboard-live-loop-charts.png"))


def test_a_fault_shows_red_on_the_map_and_raises_an_alert(
    page: Page, loop_server: LoopServer, artifacts: Path
) -> None:
    live = loop_server.wait_for("a running interval", lambda live: bool(live["cells"]))
    active = [c for c in live["cells"] if c["state"] == "active"]
    victim = max(active, key=lambda c: c["prb_load"])["name"]
    made = httpx.post(
        f"{loop_server.base}/api/v2/networks/{loop_server.network_id}/faults",
        headers=loop_server.headers, json={"cell": victim}, timeout=30,
    )  # fmt: skip
    assert made.status_code == 202, made.text
    loop_server.wait_for(
        "the cell failed",
        lambda live: any(c["name"] == victim and c["state"] == "failed" for c in live["cells"]),
    )
    # the live state is written before the step judges it: wait for the compensation too
    deadline = time.monotonic() + LOOP_WAIT_S
    faults = loop_server.get(f"/api/v2/networks/{loop_server.network_id}/faults")
    while faults[-1]["status"] != "compensated" and time.monotonic() < deadline:
        time.sleep(0.2)
        faults = loop_server.get(f"/api/v2/networks/{loop_server.network_id}/faults")
    assert faults[-1]["status"] == "compensated"
    assert faults[-1]["compensated_interval"] == faults[-1]["fault_interval"] + 1
    _sign_in(page, loop_server, "network_admin")
    _open(page, loop_server, "map")
    expect(page.get_by_test_id("cells-failed")).to_have_text("1")
    page.screenshot(path=str(artifacts / "dashboard-live-loop-fault.png"))
    _open(page, loop_server, "alerts")
    expect(page.get_by_test_id("alerts-table")).to_contain_text(victim)
