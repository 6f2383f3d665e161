"""The request-log middleware and the periodic security scan (``ranopt.store.request_log``).

``RequestLogMiddleware`` sits outside ``RequestGuard``, so it sees every answer, the 401s and
413s the guard gives before the app runs included. After each request it records the caller
``RequestGuard`` identified (``-`` when none), the route template (never the raw path or the
query), the tenant, a ``network_id`` path parameter, the status and the client address (the
trusted proxy's ``X-Forwarded-For`` once uvicorn applied it). Health, readiness, metrics and
the dashboard's static files are not logged.
"""

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match

from ranopt.api.authn import PRINCIPAL_STATE, Principal
from ranopt.api.metrics import (
    ASGIApp,
    Receive,
    Scope,
    Send,
    call_recording_status,
    leaf_routes,
)
from ranopt.store import security_watch
from ranopt.store.engine import Store
from ranopt.store.request_log import RequestLogWriter, RequestRecord

UNLOGGED_PREFIXES = ("/health", "/ready", "/metrics", "/ui", "/favicon")
logger = logging.getLogger("ranopt.api")


def route_template(routes: Iterable[Any], scope: Scope) -> tuple[str, dict[str, Any]]:
    """Return the matched route template (or ``unmatched``) and its path parameters."""
    for candidate in routes:
        match, child = candidate.matches(scope)
        if match == Match.FULL and hasattr(candidate, "path"):
            return str(candidate.path), dict(child.get("path_params", {}))
    return "unmatched", {}


def route_permissions(routes: Iterable[Any]) -> dict[str, str]:
    """Map ``"METHOD /template"`` to the permission its ``require(...)`` dependency checks."""
    out: dict[str, str] = {}
    for route in leaf_routes(routes):
        if not isinstance(route, APIRoute):
            continue
        permission = "none"
        stack = list(route.dependant.dependencies)
        while stack:
            dep = stack.pop()
            found = getattr(dep.call, "permission", None)
            if found is not None:
                permission = str(getattr(found, "value", found))
                break
            stack.extend(dep.dependencies)
        for method in route.methods or ():
            out[f"{method} {route.path}"] = permission
    return out


class RequestLogMiddleware:
    """Records every API request in the bounded request log (pure ASGI)."""

    def __init__(self, app: ASGIApp, writer: RequestLogWriter, router: Any) -> None:
        self.app = app
        self.writer = writer
        self.router = router
        self._leaves: list[Any] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request, then record it (flushing the buffer in a thread when due)."""
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith(UNLOGGED_PREFIXES):
            await self.app(scope, receive, send)
            return
        await call_recording_status(
            self.app, scope, receive, send, lambda status: self._record(scope, status)
        )

    def _record(self, scope: Scope, status: int) -> None:
        if self._leaves is None:
            self._leaves = leaf_routes(self.router.routes)
        principal = scope.get("state", {}).get(PRINCIPAL_STATE)
        known = isinstance(principal, Principal)
        route, params = route_template(self._leaves, scope)
        raw = str(params.get("network_id", ""))
        network = int(raw) if raw.isdigit() and len(raw) < 10 else None
        client = scope.get("client")
        due = self.writer.add(
            RequestRecord(
                ts_s=int(time.time()),
                tenant_id=principal.tenant_id if known else None,
                principal=principal.subject if known else "-",
                via=principal.via if known else "none",
                method=str(scope.get("method", ""))[:10],
                route=route[:300],
                network_id=network if network is not None and network < 2**31 else None,
                status=status,
                client=(client[0] if client else "unknown")[:100],
            )
        )  # fmt: skip
        if due:
            asyncio.get_running_loop().run_in_executor(None, self._flush)

    def _flush(self) -> None:
        try:
            self.writer.flush()
        except Exception:  # the rows stay buffered for the next flush; log, never raise
            logger.exception("request log flush failed")


def security_scan(store: Store, writer: RequestLogWriter, routes: Iterable[Any]) -> int:
    """Flush the request log and run one security scan; return the findings raised."""
    writer.flush()
    with store.transaction() as session:
        findings = security_watch.scan(
            session, now_s=int(time.time()), route_permission=route_permissions(routes)
        )
    return sum(1 for f in findings if f.raised)


async def security_loop(
    store: Store, writer: RequestLogWriter, routes: Iterable[Any], interval_s: float
) -> None:
    """Every ``interval_s``: flush the request log and scan it with the audit log."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await run_in_threadpool(security_scan, store, writer, routes)
        except Exception:  # keep the loop alive; the next round tries again
            logger.exception("security scan failed")
