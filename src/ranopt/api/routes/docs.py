"""``/docs``: Swagger UI for the OpenAPI document, from the package's own files (works offline).

FastAPI's page loads Swagger UI from a CDN, so without internet access ``/docs`` stays blank.
Here the same page (``get_swagger_ui_html``) points at the vendored, pinned copy under
``/ui/vendor/`` (``scripts/vendor_web.py``), and answers with a Content-Security-Policy as
strict as the dashboard's: same-origin files only, and the page's one inline script allowed by
its SHA-256 alone. The online validator badge (a request to validator.swagger.io) is off.
"""

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ranopt.api.routes.web import UI_PREFIX

DOCS_PATH = "/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
# the public paths this module adds (``ranopt.api.permissions.PUBLIC_PATHS`` lists them)
DOCS_PATHS = frozenset({DOCS_PATH, OAUTH2_REDIRECT_PATH})
SWAGGER_UI = f"{UI_PREFIX}/vendor/swagger-ui-dist-5.35.0"
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def script_hashes(html: str) -> list[str]:
    """CSP source expressions (``'sha256-...'``) for each inline ``<script>`` of ``html``."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in INLINE_SCRIPT.findall(html)
    ]


def content_security_policy(html: str) -> str:
    """Return the dashboard's policy, with ``html``'s own inline scripts allowed by hash."""
    scripts = " ".join(["'self'", *script_hashes(html)])
    return (
        f"default-src 'self'; script-src {scripts}; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    )


def _page(html: str) -> Response:
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": content_security_policy(html),
            "Cache-Control": "no-cache",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
        },
    )


def swagger_page(app: FastAPI) -> str:
    """Return the ``/docs`` page of ``app``: FastAPI's Swagger UI page on the vendored files."""
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} · API",
        swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
        oauth2_redirect_url=OAUTH2_REDIRECT_PATH,
        swagger_ui_parameters={"validatorUrl": None},
    )
    return bytes(page.body).decode()


def mount(app: FastAPI) -> None:
    """Add ``GET /docs`` and its OAuth2 redirect page to ``app`` (``docs_url=None`` there)."""
    docs_html = swagger_page(app)
    redirect_html = bytes(get_swagger_ui_oauth2_redirect_html().body).decode()

    async def docs(_request: Request) -> Response:
        return _page(docs_html)

    async def oauth2_redirect(_request: Request) -> Response:
        return _page(redirect_html)

    app.router.routes.append(Route(DOCS_PATH, docs, methods=["GET"], name="swagger_ui"))
    app.router.routes.append(
        Route(OAUTH2_REDIRECT_PATH, oauth2_redirect, methods=["GET"], name="swagger_ui_redirect")
    )
