"""The dashboard on a server whose closed loop really runs: live map, runs, a fault, alerts.

The server runs ``ranopt serve``'s loop runner with a short tick on a 7-site twin; nothing of
ranopt is stubbed. The browser polls as an operator's would.
"""

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from web_world import PASSWORD, TENANT, WAIT_MS

from conftest import _serve, _tenant_with_users
from ranopt.api.app import create_app
from ranopt.api.settings import Settings
from ranopt.store import runs
from ranopt.store.engine import Store, open_store
from ranopt.store.runs import LOOP_EPOCH_S
from ranopt.store.tables import Network

LOOP_WAIT_S = 120.0  # upper bound for the loop to reach a state on a busy 2-core machine


def _settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url, argon2_time_cost=1, argon2_memory_kib=1024,
        rate_limit="100000/minute", login_rate_limit="1000/minute",
        loop_enabled=True, loop_tick_s=0.05,
    )  # fmt: skip


class LoopServer:
    """The served app, its store and network, and an admin's API client."""

    def __init__(self, base: str, store: Store, network_id: int, admin_token: str) -> None:
        self.base = base
        self.store = store
        self.network_id = network_id
        self.headers = {"Authorization": f"Bearer {admin_token}"}

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.base}{path}", headers=self.headers, timeout=30, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def put_loop(self, **settings: Any) -> None:
        response = httpx.put(
            f"{self.base}/api/v2/networks/{self.network_id}/loop", headers=self.headers,
            json=settings, timeout=30,
        )  # fmt: skip
        assert response.status_code == 200, response.text

    def until(self, what: str, check: Any) -> Any:
        """Poll ``check()`` until it returns something truthy; return that."""
        deadline = time.monotonic() + LOOP_WAIT_S
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.2)
        pytest.fail(f"the loop did not reach: {what}")

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
        yield LoopServer(base, store, network["id"], token)
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


TICK_GAPS_JS = """async (testid) => {
    const { labelWidthPx } = await import('/ui/charts.js');
    const ticks = JSON.parse(document.querySelector(`[data-testid=${testid}]`).dataset.xTicks);
    const gaps = [];
    for (let i = 1; i < ticks.length; i += 1) {
        const [left, leftLabel] = ticks[i - 1];
        const [right, rightLabel] = ticks[i];
        gaps.push((right - labelWidthPx(rightLabel) / 2) - (left + labelWidthPx(leftLabel) / 2));
    }
    return { ticks, gaps };
}"""


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
    # each loop run names its objective and its window in network time (the loop's day 14)
    expect(page.get_by_test_id("runs-table")).to_contain_text("energy")
    expect(page.get_by_test_id("runs-table")).to_contain_text("2026-01-19 ")
    # a run's detail: its window, confidence and every action per cell and interval
    run = next(
        r
        for r in loop_server.get(
            "/api/v2/optimizations", network_id=loop_server.network_id, status="applied"
        )
        if r["plan"]["actions"]
    )
    page.evaluate(f"location.hash = '#/n/{loop_server.network_id}/runs/{run['id']}'")
    page.wait_for_selector("body[data-ready=run]")
    names = [c["name"] for c in loop_server.get(f"/api/v2/networks/{loop_server.network_id}/cells")]
    asleep = {names[i] for interval in run["plan"]["window"]["asleep"] for i in interval}
    cells = {a["cell"] for a in run["plan"]["actions"]} | asleep
    expect(page.locator("[data-testid=run-actions] tbody tr")).to_have_count(len(cells))
    first = run["plan"]["actions"][0]
    row = page.locator(f"[data-testid=run-actions] tr[data-cell='{first['cell']}']")
    expect(row).to_contain_text(first["action"])
    expect(page.get_by_test_id("run-fact-window")).to_contain_text("2026-01-")
    expect(page.get_by_test_id("run-fact-confidence")).to_contain_text(f"{run['confidence']:.3f}")
    page.screenshot(path=str(artifacts / "dashboard-live-loop-run.png"), full_page=True)

    # charts on network time with tick labels apart (range and zoom: test_runs_and_charts)
    _open(page, loop_server, "charts")
    expect(page.get_by_test_id("energy-today")).to_contain_text("kWh")
    expect(page.locator(".uplot")).to_have_count(2)
    expect(page.get_by_test_id("saving-explained")).not_to_be_empty()
    # the pace achieved, from the loop's own step times (the demo's promise made visible)
    pace = loop_server.get(f"/api/v2/networks/{loop_server.network_id}/loop")["pace"]
    assert pace["intervals"] >= 1
    assert pace["seconds_per_interval"] == max(pace["target_s"], pace["step_s_median"])
    expect(page.get_by_test_id("pace")).to_contain_text("1 interval / ")
    expect(page.get_by_test_id("pace")).to_contain_text("median")
    for chart in ("chart-traffic", "chart-power"):
        drawn = page.evaluate(TICK_GAPS_JS, chart)
        assert min(drawn["gaps"], default=1.0) > 0, f"{chart}: tick labels overlap: {drawn}"
    page.screenshot(path=str(artifacts / "dashboard-live-loop-charts.png"))


def test_a_fault_shows_red_on_the_map_raises_an_alert_and_clears(
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
    faults_url = f"/api/v2/networks/{loop_server.network_id}/faults"
    fault = loop_server.until(
        "the fault compensated",
        lambda: next(
            (f for f in loop_server.get(faults_url) if f["status"] == "compensated"), None
        ),
    )
    assert fault["compensated_interval"] == fault["fault_interval"] + 1
    # a second alert of the network, to resolve by hand
    with loop_server.store.transaction() as session:
        tenant_id = session.scalar(
            select(Network.tenant_id).where(Network.id == loop_server.network_id)
        )
        assert tenant_id is not None
        other = runs.add_alert(
            session, tenant_id=tenant_id, network_id=loop_server.network_id,
            severity="warning", kind="low_confidence", message="run 1: plan confidence 0.5",
            now_s=int(time.time()),
        )  # fmt: skip
    _sign_in(page, loop_server, "network_admin")
    _open(page, loop_server, "map")
    expect(page.get_by_test_id("cells-failed")).to_have_text("1")
    page.screenshot(path=str(artifacts / "dashboard-live-loop-fault.png"))
    _open(page, loop_server, "alerts")
    (outage,) = [
        a
        for a in loop_server.get(f"/api/v2/networks/{loop_server.network_id}/alerts")
        if a["kind"] == "cell_outage"
    ]
    row = page.get_by_test_id(f"alert-{outage['id']}")
    expect(row).to_contain_text(victim)
    expect(row).to_contain_text("loop-twin")  # the network's name, not its id
    fault_time = datetime.fromtimestamp(LOOP_EPOCH_S + fault["fault_interval"] * 900, tz=UTC)
    expect(row).to_contain_text(f"at {fault_time:%Y-%m-%d %H:%M}")  # not "in interval N"
    expect(row).not_to_contain_text("interval")
    expect(page.get_by_test_id(f"fault-status-{fault['id']}")).to_have_text("compensated")
    # triage: acknowledge the outage, resolve the other alert by hand
    page.get_by_test_id(f"acknowledge-{outage['id']}").click()
    expect(page.get_by_test_id("feedback")).to_have_text(f"Alert {outage['id']} acknowledged.")
    expect(page.get_by_test_id(f"alert-state-{outage['id']}")).to_have_text("acknowledged")
    expect(row).to_contain_text("by network_admin-user")
    page.get_by_test_id(f"resolve-{other}").click()
    expect(page.get_by_test_id(f"alert-state-{other}")).to_have_text("resolved")
    # the charts mark the fault and say why the saving is what it is
    _open(page, loop_server, "charts")
    expect(page.get_by_test_id("chart-annotations")).to_contain_text(f"{victim} failed")
    expect(page.get_by_test_id("chart-annotations")).to_contain_text("(still open)")
    expect(page.get_by_test_id("chart-annotations")).to_contain_text("compensation (run")
    page.screenshot(path=str(artifacts / "dashboard-live-loop-fault-charts.png"))
    # repairing the cell clears the fault and the alert it raised
    _open(page, loop_server, "alerts")
    page.get_by_test_id(f"repair-{fault['id']}").click()
    expect(page.get_by_test_id("feedback")).to_contain_text(f"{victim} repaired")
    expect(page.get_by_test_id(f"fault-status-{fault['id']}")).to_have_text("cleared")
    expect(page.get_by_test_id(f"alert-state-{outage['id']}")).to_have_text("cleared")
    expect(row).to_contain_text(f"fault {fault['id']} cleared")
    page.screenshot(path=str(artifacts / "dashboard-live-loop-cleared.png"), full_page=True)
    audit = httpx.get(f"{loop_server.base}/api/v2/audit", headers=loop_server.headers, timeout=30)
    assert audit.status_code == 403  # the admin's triage is audited; the analyst reads it


def test_the_saving_explanations(page: Page, loop_server: LoopServer) -> None:
    """``explainSaving`` names why a network saves nothing, from what the dashboard reads."""
    _sign_in(page, loop_server, "viewer")
    why = page.evaluate(
        """async () => {
            const { explainSaving } = await import('/ui/charts.js');
            const cells = [{ state: 'active' }, { state: 'active' }];
            const live = { power_w: 1000, always_on_power_w: 1000, cells };
            const saving = { ...live, power_w: 800, cells: [{ state: 'asleep' }, ...cells] };
            const fault = { cell_name: 'S001-2-cap', status: 'compensated' };
            const loop = { auto_apply: false, confidence_threshold: 0.9 };
            const auto = { ...loop, auto_apply: true };
            return [
                explainSaving({ live: null }),
                explainSaving({ live: saving, loop, faults: [], waiting: 0 }).why,
                explainSaving({ live, loop, faults: [fault], waiting: 3 }).why,
                explainSaving({ live, loop, faults: [], waiting: 3 }).why,
                explainSaving({ live, loop: auto, faults: [], waiting: 1 }).why,
                explainSaving({ live, loop, faults: [], waiting: 0 }).why,
            ];
        }"""
    )
    assert why[0] == {"saving": None, "why": "closed loop not running"}
    assert why[1] == "1 of 3 cells asleep"
    assert why[2].startswith("all cells held awake: compensation for S001-2-cap")
    assert why[3] == "nothing applied: 3 plan(s) await approval (auto-apply is off)"
    assert "confidence is below 0.90" in why[4]
    assert why[5].startswith("every cell is needed")
