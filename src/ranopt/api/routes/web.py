"""The operations dashboard: ``GET /`` redirects to ``/ui/``, ``/ui/...`` serves static files.

The files (``ranopt.web``'s package data) carry no data, so they are public; everything they
show comes from the authenticated API. HTML answers carry a strict Content-Security-Policy
(same-origin only, no inline script); the vendored libraries, whose paths name their pinned
version, are cached for a year, the app's own files are revalidated on every load.
"""

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

UI_PREFIX = "/ui"
# the public paths this module adds (``ranopt.api.permissions.PUBLIC_PATHS`` lists them)
WEB_PATHS = frozenset({"/", UI_PREFIX})

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
VENDOR_CACHE = "public, max-age=31536000, immutable"
APP_CACHE = "no-cache"


def static_dir() -> Path:
    """Directory of the dashboard's static files (inside the installed ``ranopt.web``)."""
    return Path(str(resources.files("ranopt.web") / "static"))


class DashboardFiles(StaticFiles):
    """``StaticFiles`` that adds cache and security headers by kind of file."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """Serve ``path`` with ``Cache-Control``, ``nosniff`` and, on HTML, the CSP."""
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        if response.status_code >= 400:
            return response
        vendored = path.startswith("vendor/")
        response.headers["Cache-Control"] = VENDOR_CACHE if vendored else APP_CACHE
        if response.media_type == "text/html" or path in ("", ".", "index.html"):
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["X-Frame-Options"] = "DENY"
        return response


async def _root(_request: Request) -> Response:
    return RedirectResponse(f"{UI_PREFIX}/", status_code=307)


def mount(app: FastAPI) -> None:
    """Add ``GET /`` (redirect) and the ``/ui`` static mount to ``app`` (not in OpenAPI)."""
    app.router.routes.append(Route("/", _root, methods=["GET"], name="dashboard_root"))
    app.mount(UI_PREFIX, DashboardFiles(directory=static_dir(), html=True), name="dashboard")
