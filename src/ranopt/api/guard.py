"""``RequestGuard``: what every request passes before the app reads a byte of its body.

In order, per HTTP request:

1. a ``Content-Length`` above the route's cap answers 413 at once (nothing is read);
2. a guarded route (any but ``PUBLIC_PATHS``) identifies its caller from the headers alone
   (401, or 429 while that caller's address backs off): an unauthenticated body is never read;
3. at most ``limit`` requests are inside the app at once (the rest wait in the event loop);
4. the body of a matched route is read while counting bytes: past the cap it answers 413 and
   stops reading (a chunked upload without ``Content-Length`` included); a JSON body nested
   deeper than ``max_json_depth`` answers 400 before any parser sees it.

Unknown paths (404) and wrong methods (405) reach the app without their body being read.
Sync routes hold a pooled connection while they hop between worker threads, so more requests
inside than pooled connections could starve the thread pool waiting on the connection pool;
admitting no more than the pool size rules that out.
"""

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match, Mount

from ranopt.api.authn import PRINCIPAL_STATE, Authenticator
from ranopt.api.errors import ProblemError, problem
from ranopt.api.metrics import ASGIApp, Message, Receive, Scope, Send, leaf_routes
from ranopt.api.permissions import PUBLIC_PATHS
from ranopt.ingest.jsonsafe import json_depth

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_MATCHED_PATHS = 4096  # remembered (method, path) -> route answers; then forgotten at once


def _is_public(route: BaseRoute) -> bool:
    if isinstance(route, Mount):
        return True  # the dashboard's static files
    if isinstance(route, APIRoute):
        return route.path in PUBLIC_PATHS
    return True  # plain routes: docs, OpenAPI, the dashboard's redirect


class RequestGuard:
    """Size cap, authentication and admission before any body is read (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Callable[[], list[BaseRoute]],
        authenticator: Callable[[], Authenticator],
        max_body_bytes: int,
        body_caps: Mapping[str, int],
        max_json_depth: int,
        limit: int,
    ) -> None:
        self.app = app
        self._routes = routes
        self._authenticator = authenticator
        self.max_body_bytes = max_body_bytes
        self.body_caps = dict(body_caps)
        self.max_json_depth = max_json_depth
        self.limit = limit
        self._semaphore: asyncio.Semaphore | None = None
        self._flat: list[BaseRoute] | None = None
        self._matched: dict[tuple[str, str], tuple[BaseRoute | None, Match]] = {}

    def _leaves(self) -> list[BaseRoute]:
        if self._flat is None:  # the route table is complete once the app serves
            self._flat = leaf_routes(self._routes())
        return self._flat

    def _match(self, scope: Scope) -> tuple[BaseRoute | None, Match]:
        """Match the route once per (method, path); later requests read the answer back."""
        key = (str(scope.get("method", "")), str(scope.get("path", "")))
        found = self._matched.get(key)
        if found is None:
            found = self._match_routes(scope)
            if len(self._matched) >= MAX_MATCHED_PATHS:
                self._matched.clear()
            self._matched[key] = found
        return found

    def _match_routes(self, scope: Scope) -> tuple[BaseRoute | None, Match]:
        partial: BaseRoute | None = None
        for route in self._leaves():
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route, Match.FULL
            if match == Match.PARTIAL and partial is None:
                partial = route
        return partial, Match.PARTIAL if partial is not None else Match.NONE

    def _cap(self, route: BaseRoute | None) -> int:
        path = getattr(route, "path", None)
        return self.body_caps.get(path, self.max_body_bytes) if path else self.max_body_bytes

    async def _answer(self, scope: Scope, receive: Receive, send: Send, exc: ProblemError) -> None:
        headers = dict(exc.headers)
        request = Headers(scope=scope)
        if request.get("content-length", "0") != "0" or "transfer-encoding" in request:
            # the body stays unread: close the connection rather than read and drop it
            headers["Connection"] = "close"
        response = problem(
            exc.status, exc.detail, instance=scope.get("path", ""), title=exc.title,
            headers=headers, field=exc.field, **exc.extra,
        )  # fmt: skip
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check size and caller, take an admission slot, read the body, run the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route, match = self._match(scope)
        cap = self._cap(route)
        headers = Headers(scope=scope)
        try:
            _check_length(headers.get("content-length"), cap)
            if route is not None and match == Match.FULL and not _is_public(route):
                client = scope.get("client")
                address = client[0] if client else "unknown"
                principal = await self._authenticator().authenticate(
                    headers, address, scope.get("path", "")
                )
                scope.setdefault("state", {})[PRINCIPAL_STATE] = principal
        except ProblemError as exc:
            await self._answer(scope, receive, send, exc)
            return
        if self._semaphore is None:  # made inside the server's event loop
            self._semaphore = asyncio.Semaphore(self.limit)
        async with self._semaphore:
            if match == Match.FULL and scope.get("method") in BODY_METHODS:
                try:
                    body = await _read_body(receive, cap)
                    if body and "json" in headers.get("content-type", ""):
                        _check_depth(body, self.max_json_depth)
                except ProblemError as exc:
                    await self._answer(scope, receive, send, exc)
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, send)


def _too_large(cap: int) -> ProblemError:
    return ProblemError(413, f"body: larger than {cap} bytes", field="body")


def _check_length(value: str | None, cap: int) -> None:
    if value is None:
        return
    if not value.isdigit():
        raise ProblemError(400, f"content-length: {value!r} is not a byte count", field="body")
    if int(value) > cap:
        raise _too_large(cap)


def _check_depth(body: bytes, max_depth: int) -> None:
    depth = json_depth(body)
    if depth > max_depth:
        raise ProblemError(
            400, f"body: JSON nested {depth} levels deep, more than the {max_depth} accepted",
            field="body",
        )  # fmt: skip


async def _read_body(receive: Receive, cap: int) -> bytes:
    """Read the whole body, refusing (413) as soon as it passes ``cap`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise _too_large(cap)
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """Return a ``receive`` that hands over the body already read, then the real events."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            message: dict[str, Any] = {"type": "http.request", "body": body, "more_body": False}
            return message
        return await receive()

    return replay
