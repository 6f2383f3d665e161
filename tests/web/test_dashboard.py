"""The dashboard in chromium against a real server: login, map, runs, roles, loop views."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pyotp
from playwright.sync_api import Page, expect
from web_world import PASSWORD, TENANT, Dashboard

from ranopt.store.schemas import TopologyIn


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
    # the header names the person, not the token's subject
    expect(page.get_by_test_id("whoami")).to_have_text("network_admin-user · network admin")
    page.get_by_test_id(f"network-{dashboard.network_id}").click()
    page.wait_for_selector("body[data-ready=map]")
    expect(page.get_by_test_id("cell-count")).to_have_text(str(dashboard.num_cells))
    expect(page.get_by_test_id("loop-status")).to_be_visible()
    assert page.locator(".leaflet-container canvas").count() >= 1
    expect(page.get_by_test_id("map")).to_have_attribute("data-crs", "Simple")  # x/y only
    expect(page.get_by_test_id("audit-tab")).to_be_hidden()
    page.screenshot(path=str(artifacts / "dashboard-map-admin.png"))

    page.click("#tabs a[data-tab=runs]")
    page.wait_for_selector("body[data-ready=runs]")
    run_id = dashboard.run_to_approve
    expect(page.get_by_test_id(f"run-status-{run_id}")).to_have_text("awaiting approval")
    page.get_by_test_id(f"run-{run_id}").locator("td").nth(1).click()  # the row opens the run
    page.wait_for_selector("body[data-ready=run]")
    expect(page.get_by_test_id("run-detail-status")).to_have_text("awaiting approval")
    expect(page.get_by_test_id("run-fact-window")).to_contain_text(" – ")
    expect(page.get_by_test_id("run-fact-confidence")).to_contain_text("QoS constraint")
    page.get_by_test_id(f"detail-approve-{run_id}").click()
    expect(page.get_by_test_id("feedback")).to_contain_text(f"Run {run_id} approved and applied")
    expect(page.get_by_test_id("run-detail-status")).to_have_text("applied")
    expect(page.get_by_test_id(f"detail-approve-{run_id}")).to_have_count(0)
    expect(page.get_by_test_id("run-fact-decided")).to_contain_text("network_admin-user")
    page.get_by_test_id("runs-back").click()
    page.wait_for_selector("body[data-ready=runs]")
    expect(page.get_by_test_id(f"run-status-{run_id}")).to_have_text("applied")
    expect(page.get_by_test_id(f"run-{run_id}")).to_contain_text("network_admin-user")
    expect(page.get_by_test_id(f"run-{run_id}")).not_to_contain_text("user:")
    page.screenshot(path=str(artifacts / "dashboard-runs-admin.png"), full_page=True)


def test_viewer_has_no_approve_button_and_a_direct_post_is_refused(
    page: Page, dashboard: Dashboard
) -> None:
    _signed_in(page, dashboard, "viewer")
    _open(page, dashboard, "runs")
    run_id = dashboard.run_left_open
    expect(page.get_by_test_id(f"run-status-{run_id}")).to_have_text("awaiting approval")
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


def test_without_the_loop_the_dashboard_says_so_and_keeps_working(
    page: Page, dashboard: Dashboard
) -> None:
    # this network has no closed loop configured: its loop endpoints answer 404
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


def test_a_user_with_mfa_signs_in_with_a_totp_code(page: Page, dashboard: Dashboard) -> None:
    admin = {"Authorization": f"Bearer {dashboard.tokens['network_admin']}"}
    created = httpx.post(
        f"{dashboard.base}/api/v2/users", headers=admin, timeout=30,
        json={"username": "mfa-user", "password": PASSWORD, "role": "viewer"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    enrolled = httpx.post(
        f"{dashboard.base}/api/v2/users/{created.json()['id']}/totp", headers=admin, timeout=30
    )
    assert enrolled.status_code == 201, enrolled.text
    secret = enrolled.json()["secret"]

    def sign_in(code: str | None) -> None:
        page.goto(f"{dashboard.base}/")
        page.fill("#login-form [name=tenant]", TENANT)
        page.fill("#login-form [name=username]", "mfa-user")
        page.fill("#login-form [name=password]", PASSWORD)
        if code is not None:
            page.fill("#login-form [name=totp]", code)
        page.click("#login-form button[type=submit]")

    sign_in(None)  # the password alone is not enough any more
    expect(page.get_by_test_id("error")).to_contain_text("Invalid credentials")
    assert page.evaluate("sessionStorage.getItem('ranopt.token')") is None
    sign_in(pyotp.TOTP(secret).now())
    page.wait_for_selector("body[data-ready=networks]")
    assert page.evaluate("sessionStorage.getItem('ranopt.token')") is not None


def _geo_network(
    dashboard: Dashboard, topology_factory: Callable[..., TopologyIn], name: str
) -> dict[str, Any]:
    """A three-site network placed by latitude / longitude only (Munich, about 1 km apart)."""
    topology = topology_factory(num_sites=3, name=name).model_dump(mode="json")
    for i, site in enumerate(topology["sites"]):
        site.update(
            x_m=None,
            y_m=None,
            latitude_deg=48.137 + 0.009 * i,
            longitude_deg=11.575 + 0.013 * (i % 2),
        )
    created = httpx.post(
        f"{dashboard.base}/api/v2/networks", json=topology, timeout=30,
        headers={"Authorization": f"Bearer {dashboard.tokens['network_admin']}"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    network: dict[str, Any] = created.json()
    return network


def test_a_network_with_coordinates_is_drawn_on_them_and_its_empty_lists_say_so(
    page: Page,
    dashboard: Dashboard,
    artifacts: Path,
    topology_factory: Callable[..., TopologyIn],
) -> None:
    network = _geo_network(dashboard, topology_factory, "munich-geo")
    _signed_in(page, dashboard, "network_admin")
    page.evaluate(f"location.hash = '#/n/{network['id']}/map'")
    page.wait_for_selector("body[data-ready=map]")
    the_map = page.get_by_test_id("map")
    expect(the_map).to_have_attribute("data-crs", "EPSG:3857")
    expect(page.get_by_test_id("cell-count")).to_have_text(str(network["num_cells"]))
    west, south, east, north = (float(v) for v in the_map.get_attribute("data-bounds").split(","))
    assert (south, north) == (48.137, 48.137 + 0.018)
    assert (west, east) == (11.575, 11.575 + 0.013)
    # a scale bar in metres: the map's units are the earth's
    scale = page.locator(".leaflet-control-scale-line").first
    expect(scale).to_have_text(re.compile(r"^\d+ k?m$"))
    page.screenshot(path=str(artifacts / "dashboard-map-geo.png"))
    page.evaluate(f"location.hash = '#/n/{network['id']}/alerts'")
    page.wait_for_selector("body[data-ready=alerts]")
    expect(page.get_by_test_id("alerts-empty")).to_have_text("No alerts for this network.")
    expect(page.get_by_test_id("faults-empty")).to_have_text("No cell faults in this network.")
    page.evaluate(f"location.hash = '#/n/{network['id']}/runs'")
    page.wait_for_selector("body[data-ready=runs]")
    expect(page.get_by_test_id("runs-empty")).to_have_text(
        "No optimization runs for this network yet."
    )
