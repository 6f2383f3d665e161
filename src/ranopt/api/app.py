"""The app factory: ``create_app(settings)`` wires store, security, routers and metrics."""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from ranopt.api import errors, openapi
from ranopt.api.authn import Authenticator
from ranopt.api.deps import Services
from ranopt.api.failures import FailureAudit
from ranopt.api.guard import RequestGuard
from ranopt.api.kpi_cache import open_cache
from ranopt.api.metrics import Metrics, MetricsMiddleware
from ranopt.api.ratelimit import BackoffPolicy, CredentialGuard, RateLimiter, open_storage
from ranopt.api.request_log import RequestLogMiddleware, security_loop
from ranopt.api.routes import (
    a1,
    auth,
    calibration,
    detection,
    docs,
    health,
    investigate,
    jobs,
    loop,
    networks,
    optimize,
    secrets,
    southbound,
    telemetry,
    users,
    ves,
    web,
)
from ranopt.api.security import OidcVerifier, TokenService, generate_password, password_hasher
from ranopt.api.settings import Settings
from ranopt.calibrate import CalibrationConfig
from ranopt.service.calibration import NetworkCalibrationConfig
from ranopt.service.runner import LoopMetrics, LoopRunner, default_holder
from ranopt.store import backups, checkpoints
from ranopt.store.engine import Store, open_store
from ranopt.store.request_log import RequestLogWriter

API_VERSION = "2.0.0"
FAILURE_FLUSH_S = 5.0
logger = logging.getLogger("ranopt.api")


def _services(settings: Settings, store: Store, metrics: Metrics) -> Services:
    hasher = password_hasher(settings)
    tokens = TokenService(store, settings)
    oidc = OidcVerifier(settings) if settings.oidc_issuer else None
    storage = open_storage(settings.rate_limit_storage_uri)
    guard = CredentialGuard(
        storage,
        BackoffPolicy(
            free_per_account=settings.auth_free_failures,
            free_per_address=settings.auth_free_failures_per_address,
            window_s=settings.auth_failure_window_s,
            base_s=settings.auth_backoff_base_s,
            max_s=settings.auth_backoff_max_s,
        ),
    )
    failures = FailureAudit(store, window_s=settings.audit_failure_window_s)
    authenticator = Authenticator(
        store=store, tokens=tokens, oidc=oidc, hasher=hasher,
        # checked when a credential names no identity, so that costs one argon2 check too
        dummy_hash=hasher.hash(generate_password()), guard=guard, failures=failures,
        max_concurrent_hashes=settings.max_concurrent_hashes,
    )  # fmt: skip
    return Services(
        settings=settings, store=store, tokens=tokens,
        limiter=RateLimiter(storage, settings.rate_limit), guard=guard, failures=failures,
        authenticator=authenticator, metrics=metrics, oidc=oidc, hasher=hasher,
        jobs=ThreadPoolExecutor(max_workers=1, thread_name_prefix="ranopt-job"),
        reads=ThreadPoolExecutor(
            max_workers=settings.max_concurrent_requests, thread_name_prefix="ranopt-read"
        ),
        kpi_cache=open_cache(
            settings.kpi_cache, redis_url=settings.cache_redis_url(),
            max_bytes=settings.kpi_cache_bytes, ttl_s=settings.kpi_cache_ttl_s,
        ),
    )  # fmt: skip


def write_checkpoint_if_keyed(services: Services) -> bool:
    """Sign and export an audit checkpoint when the signing key file exists."""
    settings = services.settings
    if not settings.audit_key_file.is_file():
        return False
    with services.store.transaction() as session:
        checkpoints.write_checkpoint(
            session, key_file=settings.audit_key_file, directory=settings.audit_checkpoint_dir
        )
    return True


def backup_if_due(services: Services, holder: str) -> None:
    """Take the scheduled backup when it is this replica's turn (the ``backup`` lease)."""
    settings = services.settings
    path = backups.backup_if_due(
        services.store, settings.backup_dir, keep=settings.backup_keep,
        interval_s=settings.backup_interval_s, holder=holder,
    )  # fmt: skip
    if path is not None:
        logger.warning("scheduled backup written: %s", path)


async def _housekeeping(services: Services) -> None:
    """Every few seconds: failure summaries; on schedule: audit checkpoints, backups.

    A backup (``RANOPT_BACKUP_INTERVAL_S`` > 0) is taken by one replica per interval.
    """
    interval_s = services.settings.audit_checkpoint_interval_s
    next_checkpoint = time.monotonic() + interval_s if interval_s > 0 else float("inf")
    pause_s = min(FAILURE_FLUSH_S, interval_s) if interval_s > 0 else FAILURE_FLUSH_S
    backup_s = services.settings.backup_interval_s
    if backup_s > 0:
        pause_s = min(pause_s, max(0.5, backup_s / 4))
    holder = default_holder()
    while True:
        await asyncio.sleep(pause_s)
        try:
            await run_in_threadpool(services.failures.flush_due)
            if time.monotonic() >= next_checkpoint:
                next_checkpoint = time.monotonic() + interval_s
                await run_in_threadpool(write_checkpoint_if_keyed, services)
            if backup_s > 0:
                await run_in_threadpool(backup_if_due, services, holder)
        except Exception:  # keep the loop alive; the next round tries again
            logger.exception("housekeeping failed")


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
    metrics.watch_database(opened.engine)
    services = _services(settings, opened, metrics)

    requests = RequestLogWriter(
        opened, retention_days=settings.request_log_days, max_rows=settings.request_log_max_rows
    )
    runner = None
    if settings.loop_enabled:
        runner = LoopRunner(
            opened, tick_s=settings.loop_tick_s, metrics=LoopMetrics(metrics.registry),
            lease_ttl_s=settings.loop_lease_ttl_s, keyring=settings.keyring(),
            calibration=NetworkCalibrationConfig(
                max_days=settings.calibration_history_days,
                calibration=CalibrationConfig(min_days=settings.calibration_min_days),
            ),
        )  # fmt: skip

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if runner is not None:
            runner.start()
        housekeeping = asyncio.create_task(_housekeeping(services))
        scans = (
            asyncio.create_task(
                security_loop(
                    opened, requests, app.router.routes, settings.security_scan_interval_s
                )
            )
            if settings.security_scan_interval_s > 0
            else None
        )
        yield
        for task in (housekeeping, scans):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if runner is not None:
            runner.stop()
        services.jobs.shutdown(wait=True, cancel_futures=True)
        services.reads.shutdown(wait=True, cancel_futures=True)
        services.failures.flush_all()
        await run_in_threadpool(requests.flush)
        if owns_store:
            opened.dispose()

    app = FastAPI(
        title="ranopt",
        version=API_VERSION,
        description="Energy and QoS optimizer for 5G Open RAN: networks, telemetry, KPIs, "
        "optimization runs, identity and audit.",
        lifespan=lifespan,
        docs_url=None,  # ranopt.api.routes.docs serves /docs from the package's own files
        redoc_url=None,  # ReDoc, too, came from a CDN; /docs is the interactive reference
    )
    app.state.services = services
    app.state.loop_runner = runner
    app.state.request_log = requests
    errors.install(app)
    for module in (
        health, telemetry, auth, users, networks, optimize, jobs, investigate, secrets, ves, loop,
        southbound, a1, calibration, detection,
    ):  # fmt: skip
        app.include_router(module.router)
    web.mount(app)
    docs.mount(app)
    openapi.install(app)
    app.add_middleware(
        RequestGuard,
        routes=lambda: app.router.routes,
        authenticator=lambda: services.authenticator,
        max_body_bytes=settings.max_body_bytes,
        body_caps={auth.TOKEN_PATH: settings.max_form_bytes, **ves.BODY_CAPS},
        max_json_depth=settings.max_json_depth,
        limit=settings.max_concurrent_requests,
    )
    app.add_middleware(RequestLogMiddleware, writer=requests, router=app.router)
    app.add_middleware(MetricsMiddleware, metrics=metrics, router=app.router)
    return app
