"""``ranopt serve``: the HTTP API in N worker processes, the closed loop in exactly one process.

One worker: the app runs in this process, the loop runner (``RANOPT_LOOP_ENABLED``) beside it
as before. Several workers: uvicorn's supervisor starts them (each builds its app from the
environment, with the loop switched off), and, when the loop is enabled, this command starts
one loop process of its own, restarts it if it dies and stops it on exit. Prometheus metrics
of every process go to a shared directory (``PROMETHEUS_MULTIPROC_DIR``) and each worker's
``/metrics`` sums them, so a scrape that lands on any worker sees the whole server.
"""

import logging
import os
import signal
import tempfile
import threading
from typing import Annotated, Any

import typer

from ranopt.cli.highs import silence_highs_banner

logger = logging.getLogger("ranopt.cli.serve")
LOOP_RESTART_MAX_S = 30.0
ORPHAN_CHECK_S = 0.5  # how soon a loop process notices its server is gone
WORKER_HEALTHCHECK_S = 60


def default_workers() -> int:
    """One worker per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return max(1, os.cpu_count() or 1)


def run_loop_process(database_url: str, tick_s: float) -> None:
    """Entry point of the loop process: the loop runner until SIGTERM or SIGINT."""
    from prometheus_client import CollectorRegistry  # noqa: PLC0415 - child process only

    from ranopt.calibrate import CalibrationConfig  # noqa: PLC0415
    from ranopt.service.calibration import NetworkCalibrationConfig  # noqa: PLC0415
    from ranopt.service.runner import LoopMetrics, LoopRunner  # noqa: PLC0415
    from ranopt.store.engine import open_store  # noqa: PLC0415

    logging.basicConfig(level=logging.WARNING)
    silence_highs_banner()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    _stop_when_orphaned(stop, os.getppid())
    store = open_store(database_url)
    from ranopt.api.settings import Settings  # noqa: PLC0415

    settings = Settings(database_url=database_url)  # the rest from RANOPT_* as in serve
    runner = LoopRunner(
        store, tick_s=tick_s, metrics=LoopMetrics(CollectorRegistry()),
        keyring=settings.keyring(),  # the O1 credentials' keyring
        lease_ttl_s=settings.loop_lease_ttl_s,
        calibration=NetworkCalibrationConfig(
            max_days=settings.calibration_history_days,
            calibration=CalibrationConfig(min_days=settings.calibration_min_days),
        ),
    )  # fmt: skip
    runner.start()
    try:
        stop.wait()
    finally:
        runner.stop()
        store.dispose()


def _stop_when_orphaned(stop: threading.Event, parent_pid: int) -> None:
    """Stop the loop process when its ``ranopt serve`` is gone (killed without a word)."""

    def watch() -> None:
        while not stop.wait(ORPHAN_CHECK_S):
            if os.getppid() != parent_pid:
                logger.warning("loop process: ranopt serve (pid %s) is gone; stopping", parent_pid)
                stop.set()

    threading.Thread(target=watch, name="ranopt-loop-parent", daemon=True).start()


class LoopSupervisor:
    """Keeps exactly one loop process running: started, restarted after a crash, stopped."""

    def __init__(self, database_url: str, tick_s: float) -> None:
        import multiprocessing  # noqa: PLC0415

        self._context = multiprocessing.get_context("spawn")
        self._args = (database_url, tick_s)
        self._process: Any = None
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="ranopt-loop-watch", daemon=True)

    def _spawn(self) -> None:
        self._process = self._context.Process(
            target=run_loop_process, args=self._args, name="ranopt-loop"
        )
        self._process.start()

    def start(self) -> None:
        """Start the loop process and the thread that watches it."""
        self._spawn()
        self._watcher.start()

    def _watch(self) -> None:
        delay_s = 1.0
        while not self._stop.wait(1.0):
            if self._process.is_alive():
                delay_s = 1.0
                continue
            logger.error("loop process exited with %s; restarting", self._process.exitcode)
            _mark_dead(self._process.pid)
            if self._stop.wait(delay_s):
                return
            delay_s = min(2 * delay_s, LOOP_RESTART_MAX_S)
            self._spawn()

    def stop(self, timeout_s: float = 35.0) -> None:
        """Ask the loop process to finish its step and exit; kill it past ``timeout_s``."""
        self._stop.set()
        process = self._process
        if process is None:
            return
        if process.is_alive():
            process.terminate()
            process.join(timeout_s)
        if process.is_alive():
            process.kill()
            process.join()
        _mark_dead(process.pid)


def _mark_dead(pid: int | None) -> None:
    """Drop a dead process's live gauges from the shared metrics directory."""
    if pid is None or not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from prometheus_client import multiprocess  # noqa: PLC0415

    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="TCP port.")] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="API worker processes (default: one per CPU)."),
    ] = None,
) -> None:
    """Run the HTTP API with uvicorn (settings from RANOPT_* variables)."""
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    from ranopt.api.app import create_app  # noqa: PLC0415
    from ranopt.cli.admin import load_settings  # noqa: PLC0415
    from ranopt.store.engine import open_store  # noqa: PLC0415

    settings = load_settings()
    count = default_workers() if workers is None else workers
    options: dict[str, Any] = {
        "host": host or settings.host,
        "port": settings.port if port is None else port,
        "log_level": "warning",
        "access_log": False,
        # the client address that rate limits and back-off key on: X-Forwarded-For only
        # from these proxies
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        # request line and headers at most 16 KiB (bodies are capped by RequestGuard)
        "h11_max_incomplete_event_size": 16 * 1024,
        "timeout_keep_alive": 5,
    }
    if count == 1:
        silence_highs_banner()  # the loop and optimization jobs may solve in this process
        uvicorn.run(create_app(settings), **options)
        return
    open_store(settings.database_url).dispose()  # migrate once, before any worker opens it
    with tempfile.TemporaryDirectory(prefix="ranopt-metrics-") as metrics_dir:
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir)
        os.environ["RANOPT_LOOP_ENABLED"] = "false"  # the API workers never run the loop
        loop = (
            LoopSupervisor(settings.database_url, settings.loop_tick_s)
            if settings.loop_enabled
            else None
        )
        if loop is not None:
            loop.start()
        try:  # each worker process builds its own app from the environment
            uvicorn.run(
                "ranopt.api.app:create_app", factory=True, workers=count,
                # a worker answers the supervisor's health check only once its imports are
                # done: seconds on a busy machine, so allow more than uvicorn's default 5 s
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_S, **options,
            )  # fmt: skip
        finally:
            if loop is not None:
                loop.stop()
