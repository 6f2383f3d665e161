"""``/docs`` in chromium with no network beyond the server: Swagger UI from the package."""

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from conftest import _serve, _settings
from ranopt.api.app import create_app
from ranopt.api.routes.docs import SWAGGER_UI
from ranopt.store.engine import open_store


@pytest.fixture(scope="module")
def bare_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on an empty SQLite file (the docs need no tenant, user or token)."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('docs') / 'ranopt.db'}"
    store = open_store(db_url)
    server, thread, base = _serve(create_app(_settings(db_url), store=store))
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        store.dispose()


def test_docs_show_every_operation_without_leaving_the_server(page: Page, bare_server: str) -> None:
    """Every request that is not to the server is refused and recorded: none may happen."""
    outside: list[str] = []

    def only_the_server(route: Route) -> None:
        if route.request.url.startswith(bare_server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/*", only_the_server)
    page.goto(f"{bare_server}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("ranopt")
    expect(
        page.locator(".opblock-summary-path[data-path='/api/v2/networks']").first
    ).to_be_visible()
    expect(page.locator(".opblock")).not_to_have_count(0)
    operations = page.locator(".opblock").count()
    spec = httpx.get(f"{bare_server}/openapi.json", timeout=30).json()
    documented = sum(len(item) for item in spec["paths"].values())
    assert operations == documented
    assert outside == []


def test_docs_page_is_public_strict_and_points_at_vendored_files(bare_server: str) -> None:
    answer = httpx.get(f"{bare_server}/docs", timeout=30)
    assert answer.status_code == 200
    csp = answer.headers["content-security-policy"]
    assert "unsafe-inline" not in csp
    assert "script-src 'self' 'sha256-" in csp
    assert f"{SWAGGER_UI}/swagger-ui-bundle.js" in answer.text
    assert "cdn.jsdelivr.net" not in answer.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        assert httpx.get(f"{bare_server}{SWAGGER_UI}/{asset}", timeout=30).status_code == 200
    redirect = httpx.get(f"{bare_server}/docs/oauth2-redirect", timeout=30)
    assert redirect.status_code == 200
    assert "sha256-" in redirect.headers["content-security-policy"]
    assert httpx.get(f"{bare_server}/redoc", timeout=30).status_code == 404
