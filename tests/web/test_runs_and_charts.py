"""Charts and runs in chromium over two days of stored loop history: range, zoom, tick labels,
annotations; runs pages, filters, and an approval refused because its window has passed.

The history is written through the store as the closed loop writes it (intervals, a fault,
runs and decisions), so that the views have days of data at once; the loop itself is stopped.
"""

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from web_world import PASSWORD, TENANT

from conftest import _serve, _settings, _tenant_with_users
from ranopt.api.app import create_app
from ranopt.ingest.export import twin_topology
from ranopt.service.optimize import cached_twin
from ranopt.store import accounts, loops, runs
from ranopt.store import repository as repo
from ranopt.store.engine import open_store

NUM_INTERVALS = 192  # two network days of 15 minutes
STEP_S = 900
FAULT = (150, 161)  # the failed cell's first interval, and the first one it is back
FAILED_CELL = 3
PERSON_PLAN_AT = 170
PASSED_WINDOW_AT = 100  # a waiting plan whose window ended long ago
AHEAD_WINDOW_AT = NUM_INTERVALS  # a waiting plan for the loop's next interval


@dataclass
class History:
    """The served app and the network with its stored history."""

    base: str
    network_id: int
    cell_name: str
    person_run: int
    passed_run: int
    ahead_run: int
    num_runs: int


def _interval(k: int) -> loops.LoopIntervalRow:
    """A loop interval with a diurnal load (more traffic by day, less saving)."""
    hour = (k % 96) / 4
    offered = 400 + 300 * math.sin(math.pi * (hour - 6) / 12)
    failed = [FAILED_CELL] if FAULT[0] <= k < FAULT[1] else []
    return loops.LoopIntervalRow(
        interval=k, phase="loop", offered_mbps=offered, served_mbps=offered * 0.99,
        power_w=6000 - 8 * (700 - offered), always_on_served_mbps=offered,
        always_on_power_w=6000.0, violations=0, switching_breaks=0, home_demand_mbps=[1.0],
        asleep=[], failed=failed, tick_s=0.1,
    )  # fmt: skip


def _plan(first: int) -> dict[str, object]:
    return {
        "interval_min": 15, "num_intervals": 4, "t0_min": (first % 96) * 15, "confidence": 0.97,
        "actions": [{"cell": "S000-1-cap", "t_min": (first % 96) * 15, "action": "sleep",
                     "value": None}],
        "window": {"first_interval": first, "asleep": [[3]] * 4},
    }  # fmt: skip


def _write_history(store: object, tenant_id: int, user_id: int) -> History:
    twin = cached_twin("default", 0, 1, 60)
    now = int(time.time())
    with store.transaction() as session:  # type: ignore[attr-defined]
        net = repo.create_network(
            session, tenant_id=tenant_id, topology=twin_topology(twin, "history"), now_s=now
        )
        runs.bind_twin(
            session, tenant_id=tenant_id, network_id=net.id, scenario="default", seed=0,
            num_sites=1, num_ues=60,
        )  # fmt: skip
        loops.configure_loop(
            session, tenant_id=tenant_id, network_id=net.id, enabled=False, auto_apply=True,
            confidence_threshold=0.9, solver="greedy", horizon_intervals=4, now_s=now,
        )  # fmt: skip
        fault = loops.request_fault(
            session, tenant_id=tenant_id, network_id=net.id, cell_index=FAILED_CELL,
            cell_name=twin.cell_names[FAILED_CELL], by=f"user:{user_id}", at=now,
        )  # fmt: skip
        made: dict[str, int] = {}

        def run(first: int, *, by: str, decided: str | None, objective: str = "energy") -> int:
            created = runs.create_run(
                session, tenant_id=tenant_id, network_id=net.id, objective=objective,
                solver="greedy", horizon_min=60, request={}, created_by=by, now_s=now,
            )  # fmt: skip
            runs.finish_run(
                session, tenant_id=tenant_id, run_id=created.id, now_s=now, plan=_plan(first),
                confidence=0.97, saving_pct=10.0,
            )  # fmt: skip
            if decided is not None:
                runs.decide_run(
                    session, tenant_id=tenant_id, run_id=created.id, decision="applied",
                    by=decided, now_s=now,
                )  # fmt: skip
            return created.id

        for k in range(NUM_INTERVALS):
            loops.record_interval(
                session, tenant_id=tenant_id, network_id=net.id, row=_interval(k), live=None,
                now_s=now,
            )  # fmt: skip
            if k == FAULT[0]:
                loops.update_fault(
                    session, tenant_id=tenant_id, network_id=net.id, fault_id=fault.id,
                    expected=("requested",), status="compensated", fault_interval=k,
                    compensated_interval=k + 1,
                )  # fmt: skip
                run(k + 1, by=loops.LOOP_ACTOR, decided=loops.LOOP_ACTOR, objective="compensation")
            if k == FAULT[1] - 1:
                loops.update_fault(
                    session, tenant_id=tenant_id, network_id=net.id, fault_id=fault.id,
                    status="cleared", cleared_at=now,
                )  # fmt: skip
            if k == PASSED_WINDOW_AT - 1:
                made["passed"] = run(PASSED_WINDOW_AT, by=loops.LOOP_ACTOR, decided=None)
            if k == PERSON_PLAN_AT - 1:
                made["person"] = run(
                    PERSON_PLAN_AT, by=f"user:{user_id}", decided=f"user:{user_id}"
                )
            elif k >= 120:  # the loop's own plans, applied as it goes
                run(k + 1, by=loops.LOOP_ACTOR, decided=loops.LOOP_ACTOR)
        made["ahead"] = run(AHEAD_WINDOW_AT, by=loops.LOOP_ACTOR, decided=None)
        total = runs.count_runs(session, tenant_id=tenant_id, network_id=net.id)
    return History(
        base="", network_id=net.id, cell_name=twin.cell_names[FAILED_CELL],
        person_run=made["person"], passed_run=made["passed"], ahead_run=made["ahead"],
        num_runs=total,
    )  # fmt: skip


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """A server (no loop runner) with tenant ``acme`` and two days of a network's loop."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('history') / 'ranopt.db'}"
    store = open_store(db_url)
    app = create_app(_settings(db_url), store=store)
    _tenant_with_users(store, app.state.services, ("network_admin",))
    with store.transaction() as session:
        tenant_id = accounts.get_tenant(session, name=TENANT).id
        user_id = accounts.list_users(session, tenant_id=tenant_id)[0].id
    world = _write_history(store, tenant_id, user_id)
    server, thread, base = _serve(app)
    try:
        world.base = base
        yield world
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        store.dispose()


def _open(page: Page, history: History, hash_: str, ready: str) -> None:
    page.goto(f"{history.base}/")
    page.fill("#login-form [name=tenant]", TENANT)
    page.fill("#login-form [name=username]", "network_admin-user")
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("body[data-ready=networks]")
    page.evaluate(f"location.hash = '#/n/{history.network_id}/{hash_}'")
    page.wait_for_selector(f"body[data-ready={ready}]")


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


def _x_range(page: Page, testid: str) -> tuple[float, float]:
    chart = page.get_by_test_id(testid)
    low, high = chart.get_attribute("data-x-min"), chart.get_attribute("data-x-max")
    assert low is not None
    assert high is not None
    return float(low), float(high)


def _ticks_apart(page: Page) -> None:
    for chart in ("chart-traffic", "chart-power"):
        drawn = page.evaluate(TICK_GAPS_JS, chart)
        assert len(drawn["ticks"]) >= 3, drawn
        assert min(drawn["gaps"]) > 0, f"{chart}: tick labels overlap: {drawn}"


def test_charts_pick_a_range_zoom_and_mark_faults_and_plans(
    page: Page, history: History, artifacts: Path
) -> None:
    _open(page, history, "charts", "charts")
    first = runs.LOOP_EPOCH_S + (NUM_INTERVALS - 96) * STEP_S  # the last 24 h by default
    assert _x_range(page, "chart-traffic") == (first, first + 95 * STEP_S)
    _ticks_apart(page)
    notes = page.get_by_test_id("chart-annotations")
    expect(notes).to_contain_text(
        f"2026-01-06 13:30 – 16:15: {history.cell_name} failed (repaired)"
    )
    expect(notes).to_contain_text("compensation (run")
    expect(notes).to_contain_text(f"plan {history.person_run} applied by network_admin-user")
    expect(notes).to_contain_text("plans applied by the closed loop")
    page.screenshot(path=str(artifacts / "dashboard-charts-history.png"), full_page=True)
    # the range picker: 6 hours, then 7 days (all there is)
    page.select_option("[data-testid=chart-range]", "24")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=chart-traffic]').dataset.xMax)"
        " - Number(document.querySelector('[data-testid=chart-traffic]').dataset.xMin)"
        f" == {23 * STEP_S}"
    )
    expect(notes).not_to_contain_text("failed")  # the fault lies before these 6 hours
    _ticks_apart(page)
    page.select_option("[data-testid=chart-range]", "672")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=chart-traffic]').dataset.xMin)"
        f" == {runs.LOOP_EPOCH_S}"
    )
    _ticks_apart(page)
    full = _x_range(page, "chart-traffic")
    # drag across the traffic chart: both charts zoom, and a poll keeps the zoom
    box = page.locator("[data-testid=chart-traffic] .u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 0.3 * box["width"], y)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.6 * box["width"], y, steps=8)
    page.mouse.up()
    expect(page.get_by_test_id("reset-zoom")).to_be_enabled()
    zoomed = _x_range(page, "chart-traffic")
    assert full[0] < zoomed[0] < zoomed[1] < full[1]
    assert _x_range(page, "chart-power") == zoomed
    _ticks_apart(page)
    page.wait_for_timeout(2500)  # one poll later
    assert _x_range(page, "chart-traffic") == zoomed
    page.get_by_test_id("reset-zoom").click()
    expect(page.get_by_test_id("reset-zoom")).to_be_disabled()
    assert _x_range(page, "chart-traffic") == full


def test_runs_pages_filters_details_and_a_refused_approval(
    page: Page, history: History, artifacts: Path
) -> None:
    _open(page, history, "runs", "runs")
    total = history.num_runs
    assert total > 50
    expect(page.get_by_test_id("runs-page")).to_have_text(f"runs 1–50 of {total}")
    expect(page.get_by_test_id("runs-newer")).to_be_disabled()
    page.get_by_test_id("runs-older").click()
    expect(page.get_by_test_id("runs-page")).to_have_text(f"runs 51–{min(100, total)} of {total}")
    page.get_by_test_id("runs-newer").click()
    expect(page.get_by_test_id("runs-page")).to_have_text(f"runs 1–50 of {total}")
    # filters: the plans awaiting approval, then the one a person asked for
    page.select_option("[data-testid=filter-status]", "awaiting_approval")
    expect(page.locator("tr.run-row")).to_have_count(2)
    expect(page.get_by_test_id("runs-page")).to_have_text("runs 1–2 of 2")
    page.get_by_test_id(f"approve-{history.passed_run}").click()
    feedback = page.get_by_test_id("feedback")
    expect(feedback).to_contain_text(f"Run {history.passed_run} was not approved")
    expect(feedback).to_contain_text("has passed; the network is at 2026-01-07 00:00 UTC")
    expect(feedback).to_have_attribute("data-kind", "error")
    expect(page.get_by_test_id(f"run-status-{history.passed_run}")).to_have_text(
        "awaiting approval"
    )
    page.screenshot(path=str(artifacts / "dashboard-runs-refused.png"), full_page=True)
    page.get_by_test_id(f"approve-{history.ahead_run}").click()
    expect(feedback).to_contain_text(
        f"Run {history.ahead_run} approved and applied: its plan runs from 2026-01-07 00:00"
    )
    expect(feedback).to_have_attribute("data-kind", "ok")
    expect(page.locator("tr.run-row")).to_have_count(1)  # applied: no longer awaiting
    page.select_option("[data-testid=filter-status]", "")
    page.select_option("[data-testid=filter-source]", "person")
    expect(page.locator("tr.run-row")).to_have_count(1)
    expect(page.get_by_test_id(f"run-{history.person_run}")).to_contain_text("network_admin-user")
    page.get_by_test_id(f"run-link-{history.person_run}").click()
    page.wait_for_selector("body[data-ready=run]")
    expect(page.get_by_test_id("run-fact-window")).to_have_text("2026-01-06 18:30 – 19:30")
    expect(page.get_by_test_id("run-fact-confidence")).to_contain_text("0.970")
    grid = page.get_by_test_id("run-actions")
    expect(grid.locator("tbody tr")).to_have_count(1)
    # the plan's action, then the intervals it keeps the cell asleep
    cells = grid.locator("tr[data-cell='S000-1-cap'] td")
    expect(cells).to_have_text(["sleep", "asleep", "asleep", "asleep"])
