"""The calibration panel in chromium: the stored report's figures, and "Calibrate now"."""

from pathlib import Path

import httpx
from playwright.sync_api import Page, expect
from web_world import PASSWORD, TENANT, Dashboard


def _open_calibration(page: Page, dashboard: Dashboard, role: str) -> None:
    page.goto(f"{dashboard.base}/")
    page.fill("#login-form [name=tenant]", TENANT)
    page.fill("#login-form [name=username]", dashboard.username(role))
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("body[data-ready=networks]")
    page.evaluate(f"location.hash = '#/n/{dashboard.network_id}/calibration'")
    page.wait_for_selector("body[data-ready=calibration]")


def _latest(dashboard: Dashboard) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {dashboard.tokens['viewer']}"}
    response = httpx.get(
        f"{dashboard.base}/api/v2/networks/{dashboard.network_id}/calibration",
        headers=headers, timeout=30,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_viewer_reads_the_held_out_fit_and_layer_shares(
    page: Page, dashboard: Dashboard, artifacts: Path
) -> None:
    stored = _latest(dashboard)
    _open_calibration(page, dashboard, "viewer")
    wape = stored["prb_load_wape"]
    assert isinstance(wape, float)
    expect(page.get_by_test_id("calibration-prb-wape")).to_have_text(f"{100 * wape:.1f} %")
    fit = page.get_by_test_id("calibration-fit")
    expect(fit.locator("tbody tr")).to_have_count(4)
    expect(fit).to_contain_text("PRB load per cell")
    layers = page.get_by_test_id("calibration-layers")
    expect(layers.locator("tbody tr")).to_have_count(2)
    expect(layers).to_contain_text("capacity")
    expect(page.get_by_test_id("calibration-facts")).to_contain_text("days of PM history found")
    # a viewer may read the report but not start a calibration
    expect(page.get_by_test_id("calibrate-now")).to_be_hidden()
    page.screenshot(path=str(artifacts / "dashboard-calibration.png"), full_page=True)


def test_admin_calibrates_now_and_sees_the_new_report(page: Page, dashboard: Dashboard) -> None:
    before = _latest(dashboard)
    _open_calibration(page, dashboard, "network_admin")
    button = page.get_by_test_id("calibrate-now")
    expect(button).to_be_visible()
    button.click()
    expect(button).to_be_enabled(timeout=60_000)
    after = _latest(dashboard)
    assert after["id"] != before["id"]
    expect(page.get_by_test_id("error")).to_be_hidden()
    expect(page.get_by_test_id("calibration-verdict")).to_be_visible()
