"""Prometheus metrics per route template and optimization outcome."""

import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import text
from starlette.routing import Match

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class DatabaseCollector(Collector):
    """``ranopt_database_up``: 1 when the database answers ``SELECT 1`` at scrape time."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        """Ask the database, now."""
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            up = 1.0
        except Exception:  # any failure to answer is "down"
            up = 0.0
        yield GaugeMetricFamily(
            "ranopt_database_up", "Whether the database answered at scrape time (1 or 0)", up
        )


class Metrics:
    """The app's own registry (one per app, so tests can build many apps).

    Under several worker processes (``PROMETHEUS_MULTIPROC_DIR`` set by ``ranopt serve``),
    every process writes its series to the shared directory and ``exposition`` sums them.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._scrape_time: list[Collector] = []
        self.requests = Counter(
            "ranopt_http_requests_total", "HTTP requests by route template and status",
            ["method", "route", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "ranopt_http_request_duration_seconds", "HTTP request latency by route template",
            ["method", "route"], buckets=LATENCY_BUCKETS_S, registry=self.registry,
        )  # fmt: skip
        self.optimization_runs = Counter(
            "ranopt_optimization_runs_total", "Optimization runs by solver and outcome",
            ["solver", "status"], registry=self.registry,
        )  # fmt: skip
        self.last_confidence = Gauge(
            "ranopt_optimization_last_confidence",
            "Measured confidence of the network's latest plan (0-1)",
            ["network_id"], registry=self.registry, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.kpi_cache = Counter(
            "ranopt_kpi_cache_requests_total",
            "KPI-series reads by cache outcome (hit, miss, error: cache unreachable)",
            ["cache", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.energy_saving = Gauge(
            "ranopt_optimization_energy_saving_pct",
            "Energy saving of the network's latest plan versus always-on, percent",
            ["network_id"], registry=self.registry, multiprocess_mode="mostrecent",
        )  # fmt: skip

    def watch_database(self, engine: Any) -> None:
        """Report ``ranopt_database_up`` for ``engine`` at every scrape."""
        collector = DatabaseCollector(engine)
        self._scrape_time.append(collector)
        self.registry.register(collector)

    def exposition(self) -> bytes:
        """Return the Prometheus text of this process, or of every worker when there are many."""
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not directory:
            return bytes(generate_latest(self.registry))
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        for collector in self._scrape_time:
            registry.register(collector)
        return bytes(generate_latest(registry))


def leaf_routes(routes: Iterable[Any]) -> list[Any]:
    """Return the routes a request can end at, in matching order (included routers too).

    FastAPI keeps an included router as one entry whose own routes carry the full path; the
    leaves are what has a path template and methods.
    """
    out: list[Any] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            out.extend(leaf_routes(inner.routes))
        else:
            out.append(route)
    return out


def _route_template(app: Any, scope: Scope) -> str:
    """Return the matched route template (``/api/v2/networks/{network_id}``) or unmatched."""
    route = scope.get("route")
    if route is not None and hasattr(route, "path"):
        return str(route.path)
    for candidate in leaf_routes(getattr(app, "routes", ())):
        match, _ = candidate.matches(scope)
        if match == Match.FULL and hasattr(candidate, "path"):
            return str(candidate.path)
    return "unmatched"


async def call_recording_status(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, done: Callable[[int], None]
) -> None:
    """Run ``app`` and hand its response status to ``done``, also when it raises (500 if unsent)."""
    status = 500

    async def send_wrapper(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        await send(message)

    try:
        await app(scope, receive, send_wrapper)
    finally:
        done(status)


class MetricsMiddleware:
    """Pure ASGI middleware timing each HTTP request (cheaper than ``BaseHTTPMiddleware``)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, router: Any) -> None:
        self.app = app
        self.metrics = metrics
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request and count it by route template and status."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        def done(status: int) -> None:
            route = _route_template(self.router, scope)
            method = str(scope.get("method", ""))
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
            self.metrics.requests.labels(method, route, str(status)).inc()

        await call_recording_status(self.app, scope, receive, send, done)
