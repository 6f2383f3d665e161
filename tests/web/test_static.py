"""The dashboard's static files: vendored-file integrity, package data, serving headers."""

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ranopt.api.app import create_app
from ranopt.api.routes.docs import SWAGGER_UI
from ranopt.api.routes.web import CONTENT_SECURITY_POLICY, static_dir
from ranopt.api.settings import Settings

STATIC = static_dir()
VENDOR = STATIC / "vendor"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app on an empty SQLite file: the static files need no tenant, user or token."""
    db = tmp_path_factory.mktemp("static") / "ranopt.db"
    with TestClient(create_app(Settings(database_url=f"sqlite:///{db}"))) as test_client:
        yield test_client


def _manifest() -> list[dict[str, object]]:
    packages: list[dict[str, object]] = json.loads((VENDOR / "vendor.json").read_text())["packages"]
    return packages


def test_every_vendored_file_matches_its_recorded_sha256() -> None:
    recorded: dict[str, str] = {}
    for package in _manifest():
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/]+=*", str(package["integrity"]))
        files = package["files"]
        assert isinstance(files, dict)
        assert f"{package['name']}-{package['version']}/LICENSE" in files
        recorded.update(files)
    on_disk = {str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*") if p.is_file()} - {
        "vendor.json"
    }
    assert on_disk == set(recorded), "vendored files and vendor.json disagree"
    for name, sha256 in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == sha256, name


def test_pinned_versions_are_the_ones_the_pages_import() -> None:
    versions = {str(p["name"]): str(p["version"]) for p in _manifest()}
    assert versions == {"uplot": "1.6.31", "leaflet": "1.9.4", "swagger-ui-dist": "5.35.0"}
    sources = (
        "".join(p.read_text() for p in STATIC.glob("*.js")) + (STATIC / "index.html").read_text()
    )
    for name in ("uplot", "leaflet"):
        assert f"vendor/{name}-{versions[name]}/" in sources
    # Swagger UI is the /docs page's (ranopt.api.routes.docs), not the dashboard's
    assert SWAGGER_UI.endswith(f"/vendor/swagger-ui-dist-{versions['swagger-ui-dist']}")
    # no CDN, no inline script: every script and stylesheet is a same-origin file
    assert "http://" not in sources
    assert "https://" not in sources
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", (STATIC / "index.html").read_text()) is None


def test_static_files_are_package_data() -> None:
    assert STATIC.is_dir()
    for name in (
        "index.html",
        "app.js",
        "api.js",
        "map.js",
        "charts.js",
        "tables.js",
        "run-detail.js",
        "format.js",
        "calibration.js",
        "app.css",
    ):
        assert (STATIC / name).is_file(), name


def test_root_redirects_to_the_dashboard(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/ui/"


def test_index_is_public_with_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/ui/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/ui/index.html").headers["content-security-policy"] == csp


@pytest.mark.parametrize(
    ("path", "content_type", "cache"),
    [
        ("/ui/app.js", "javascript", "no-cache"),
        ("/ui/app.css", "text/css", "no-cache"),
        ("/ui/vendor/uplot-1.6.31/uPlot.esm.js", "javascript", "immutable"),
        ("/ui/vendor/leaflet-1.9.4/leaflet.css", "text/css", "immutable"),
        ("/ui/vendor/leaflet-1.9.4/images/layers.png", "image/png", "immutable"),
    ],
)
def test_static_files_have_content_types_and_cache_headers(
    client: TestClient, path: str, content_type: str, cache: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert content_type in response.headers["content-type"]
    assert cache in response.headers["cache-control"]
    assert "content-security-policy" not in response.headers


def test_nothing_outside_the_static_folder_is_served(client: TestClient) -> None:
    assert client.get("/ui/missing.js").status_code == 404
    assert client.get("/ui/../__init__.py").status_code == 404
    assert client.get("/ui/%2e%2e/__init__.py").status_code == 404
    # the API behind the dashboard still wants a token
    assert client.get("/api/v2/networks").status_code == 401


def test_the_static_folder_holds_no_python_or_data(client: TestClient) -> None:
    allowed = {".html", ".js", ".css", ".json", ".png", ""}
    suffixes = {p.suffix for p in Path(STATIC).rglob("*") if p.is_file()}
    assert suffixes <= allowed, suffixes - allowed
