"""The dashboard in chromium against a real server: login, map, runs, roles, loop views."""

import json
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, Route, expect
from web_world import PASSWORD, TENANT, Dashboard


def _login(page: Page, dashboard: Dashboard, role: str, password: str = PASSWORD) -> None:
    page.goto(f"{dashboard.base}/")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    page.fill("#login-form [name=tenant]", TENANT)
    page.fill("#login-form [name=username]", dashboard.username(role))
    page.fill("#login-form [name=password]", password)
    page.click("#login-form button[type=submit]")


def _signed_in(page: Page, dashboard: Dashboard, role: str) -> None:
    _login(page, dashboard, role)
    page.wait_for_selector("body[data-ready=networks]")


def _open(page: Page, dashboard: Dashboard, tab: str) -> None:
    page.evaluate(f"location.hash = '#/n/{dashboard.network_id}/{tab}'")
    page.wait_for_selector(f"body[data-ready={tab}]")


def test_wrong_password_shows_an_error_and_no_token(page: Page, dashboard: Dashboard) -> None:
    _login(page, dashboard, "viewer", password="wrong-password")  # noqa: S106
    expect(page.get_by_test_id("error")).to_contain_text("Invalid credentials")
    assert page.evaluate("sessionStorage.getItem('ranopt.token')") is None
    expect(page.get_by_test_id("login-form")).to_be_visible()


def test_admin_sees_every_cell_on_the_map_and_approves_a_run(
    page: Page, dashboard: Dashboard, artifacts: Path
) -> None:
    _signed_in(page, dashboard, "network_admin")
    page.get_by_test_id(f"network-{dashboard.network_id}").click()
    page.wait_for_selector("body[data-ready=map]")
    expect(page.get_by_test_id("cell-count")).to_have_text(str(dashboard.num_cells))
    expect(page.get_by_test_id("loop-status")).to_be_visible()
    assert page.locator(".leaflet-container canvas").count() >= 1
    expect(page.get_by_test_id("audit-tab")).to_be_hidden()
    page.screenshot(path=str(artifacts / "dashboard-map-admin.png"))

    page.click("#tabs a[data-tab=runs]")
    page.wait_for_selector("body[data-ready=runs]")
    run_id = dashboard.run_to_approve
    expect(page.get_by_test_id(f"run-status-{run_id}")).to_have_text("succeeded")
    page.get_by_test_id(f"run-{run_id}").locator("td").first.click()
    expect(page.get_by_test_id(f"run-actions-{run_id}")).to_be_visible()
    page.get_by_test_id(f"approve-{run_id}").click()
    expect(page.get_by_test_id(f"run-status-{run_id}")).to_have_text("applied")
    expect(page.get_by_test_id(f"approve-{run_id}")).to_have_count(0)
    expect(page.get_by_test_id(f"run-{run_id}")).to_contain_text("user:")
    page.screenshot(path=str(artifacts / "dashboard-runs-admin.png"), full_page=True)


def test_viewer_has_no_approve_button_and_a_direct_post_is_refused(
    page: Page, dashboard: Dashboard
) -> None:
    _signed_in(page, dashboard, "viewer")
    _open(page, dashboard, "runs")
    run_id = dashboard.run_left_open
    expect(page.get_by_test_id(f"run-status-{run_id}")).to_have_text("succeeded")
    expect(page.get_by_test_id(f"approve-{run_id}")).to_have_count(0)
    expect(page.get_by_test_id(f"reject-{run_id}")).to_have_count(0)
    expect(page.get_by_test_id("audit-tab")).to_be_hidden()
    answer = page.evaluate(
        """async (runId) => {
            const token = sessionStorage.getItem('ranopt.token');
            const r = await fetch(`/api/v2/optimizations/${runId}/apply`,
                {method: 'POST', headers: {Authorization: `Bearer ${token}`}});
            return {status: r.status, type: r.headers.get('content-type'), body: await r.json()};
        }""",
        run_id,
    )
    assert answer["status"] == 403
    assert answer["type"] == "application/problem+json"
    assert "execute" in answer["body"]["detail"]


def test_security_analyst_sees_the_audit_log_and_alerts(
    page: Page, dashboard: Dashboard, artifacts: Path
) -> None:
    _signed_in(page, dashboard, "security_analyst")
    _open(page, dashboard, "map")
    expect(page.get_by_test_id("audit-tab")).to_be_visible()
    page.get_by_test_id("audit-tab").click()
    page.wait_for_selector("body[data-ready=audit]")
    expect(page.get_by_test_id("audit-table")).to_contain_text("optimization.request")
    _open(page, dashboard, "alerts")
    expect(page.get_by_test_id("alerts-table")).to_be_visible()
    page.screenshot(path=str(artifacts / "dashboard-audit-analyst.png"))


def _cells(dashboard: Dashboard) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {dashboard.tokens['viewer']}"}
    url = f"{dashboard.base}/api/v2/networks/{dashboard.network_id}/cells"
    cells: list[dict[str, Any]] = httpx.get(url, headers=headers, timeout=30).json()
    return cells


def _live(cells: list[dict[str, Any]]) -> dict[str, Any]:
    states = ["failed", "asleep"] + ["active"] * (len(cells) - 2)
    return {
        "network_id": cells[0]["network_id"], "sim_min": 1530, "day": 1, "minute_of_day": 90,
        "interval_min": 15, "offered_mbps": 812.5, "served_mbps": 800.0, "power_w": 41000.0,
        "always_on_power_w": 52000.0,
        "cells": [
            {"id": c["id"], "name": c["name"], "prb_load": (i % 10) / 10, "state": s,
             "cio_db": 0.0}
            for i, (c, s) in enumerate(zip(cells, states, strict=True))
        ],
    }  # fmt: skip


def _kpis(num: int) -> list[dict[str, Any]]:
    return [
        {"sim_min": 15 * i, "day": 15 * i // 1440, "minute_of_day": 15 * i % 1440,
         "offered_mbps": 500.0 + i, "served_mbps": 495.0 + i, "power_w": 40000.0,
         "always_on_power_w": 52000.0, "energy_kwh": 10.0, "always_on_energy_kwh": 13.0,
         "violations": i % 2}
        for i in range(num)
    ]  # fmt: skip


def _fulfil(body: Any) -> Any:
    def handle(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    return handle


def test_live_loop_state_colours_the_map_and_fills_the_charts(
    page: Page, dashboard: Dashboard, artifacts: Path
) -> None:
    """The loop endpoints (served by ``ranopt.service`` after merge) are stubbed in the browser."""
    cells = _cells(dashboard)
    energy = {
        "today": {"energy_kwh": 90.0, "always_on_kwh": 120.0, "saved_kwh": 30.0,
                  "saved_pct": 25.0},
        "week": {"energy_kwh": 700.0, "always_on_kwh": 840.0, "saved_kwh": 140.0,
                 "saved_pct": 16.7},
    }  # fmt: skip
    page.route("**/api/v2/networks/*/live", _fulfil(_live(cells)))
    page.route("**/api/v2/networks/*/loop/kpis*", _fulfil(_kpis(96)))
    page.route("**/api/v2/networks/*/loop/energy", _fulfil(energy))
    _signed_in(page, dashboard, "viewer")
    _open(page, dashboard, "map")
    expect(page.get_by_test_id("cells-failed")).to_have_text("1")
    expect(page.get_by_test_id("cells-asleep")).to_have_text("1")
    expect(page.get_by_test_id("cells-active")).to_have_text(str(len(cells) - 2))
    expect(page.get_by_test_id("loop-status")).to_have_text("closed loop running")
    page.screenshot(path=str(artifacts / "dashboard-map-live.png"))

    _open(page, dashboard, "charts")
    expect(page.get_by_test_id("energy-today")).to_contain_text("30.0 kWh")
    expect(page.get_by_test_id("energy-week")).to_contain_text("16.7 %")
    expect(page.get_by_test_id("violations")).to_contain_text("48")
    expect(page.locator(".uplot")).to_have_count(2)
    page.screenshot(path=str(artifacts / "dashboard-charts-live.png"))


def test_without_the_loop_the_dashboard_says_so_and_keeps_working(
    page: Page, dashboard: Dashboard
) -> None:
    page.route(
        "**/api/v2/networks/*/l*",  # /live and /loop/...: as before the loop is merged
        lambda route: route.fulfill(
            status=404, content_type="application/problem+json",
            body='{"title": "Not Found", "status": 404, "detail": "Not Found"}',
        ),
    )  # fmt: skip
    _signed_in(page, dashboard, "viewer")
    _open(page, dashboard, "charts")
    expect(page.get_by_test_id("loop-status")).to_have_text("closed loop not running")
    expect(page.get_by_test_id("energy-today")).to_contain_text("closed loop not running")
    expect(page.get_by_test_id("error")).to_be_hidden()
    _open(page, dashboard, "map")
    expect(page.get_by_test_id("cell-count")).to_have_text(str(dashboard.num_cells))
    expect(page.get_by_test_id("cells-unknown")).to_have_text(str(dashboard.num_cells))


def test_phone_width_has_no_horizontal_scroll(page: Page, dashboard: Dashboard) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    _signed_in(page, dashboard, "network_admin")
    for tab in ("map", "charts", "runs"):
        _open(page, dashboard, tab)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{tab}: {overflow}px wider than the phone"
