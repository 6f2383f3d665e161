"""The app factory: ``create_app(settings)`` wires store, security, routers and metrics."""

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ranopt.api import errors
from ranopt.api.deps import Services
from ranopt.api.metrics import ConcurrencyLimitMiddleware, Metrics, MetricsMiddleware
from ranopt.api.ratelimit import RateLimiter
from ranopt.api.routes import (
    auth,
    calibration,
    health,
    investigate,
    loop,
    networks,
    optimize,
    secrets,
    telemetry,
    users,
    ves,
    web,
)
from ranopt.api.security import OidcVerifier, TokenService, generate_password, password_hasher
from ranopt.api.settings import Settings
from ranopt.service.runner import LoopMetrics, LoopRunner
from ranopt.store.engine import Store, open_store

API_VERSION = "2.0.0"


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> FastAPI:
    """Build the API for ``settings`` (default: from ``RANOPT_*``); ``store`` overrides the DB.

    The store must be at the newest migration (an empty database is migrated); a store handed
    in stays open when the app shuts down, one opened here is closed.
    """
    settings = settings or Settings()
    owns_store = store is None
    # one pooled connection for each request let in at once, so none waits on the pool
    opened = store or open_store(settings.database_url, pool_size=settings.max_concurrent_requests)
    metrics = Metrics()
    hasher = password_hasher(settings)
    jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ranopt-job")
    services = Services(
        settings=settings,
        store=opened,
        tokens=TokenService(opened, settings),
        limiter=RateLimiter(
            settings.rate_limit_storage_uri, settings.rate_limit, settings.login_rate_limit
        ),
        metrics=metrics,
        oidc=OidcVerifier(settings) if settings.oidc_issuer else None,
        hasher=hasher,
        jobs=jobs,
        dummy_hash=hasher.hash(generate_password()),
    )

    runner = (
        LoopRunner(opened, tick_s=settings.loop_tick_s, metrics=LoopMetrics(metrics.registry))
        if settings.loop_enabled
        else None
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if runner is not None:
            runner.start()
        yield
        if runner is not None:
            runner.stop()
        jobs.shutdown(wait=True, cancel_futures=True)
        if owns_store:
            opened.dispose()

    app = FastAPI(
        title="ranopt",
        version=API_VERSION,
        description="Energy and QoS optimizer for 5G Open RAN: networks, telemetry, KPIs, "
        "optimization runs, identity and audit.",
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.loop_runner = runner
    errors.install(app)
    for module in (
        health, auth, users, networks, telemetry, optimize, investigate, secrets, ves, loop,
        calibration,
    ):  # fmt: skip
        app.include_router(module.router)
    web.mount(app)
    app.add_middleware(ConcurrencyLimitMiddleware, limit=settings.max_concurrent_requests)
    app.add_middleware(MetricsMiddleware, metrics=metrics, router=app.router)
    return app
