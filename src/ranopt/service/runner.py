"""The loop runner: a thread that steps every enabled network loop once per tick.

A tick is one interval of network time (15 min) in ``tick_s`` seconds of wall time: 900 s in
real time, 1 s in the demo. A step that fails (an optimizer exception, a database outage, an
actuator error) is logged, raised as an alert when the database lets it, and retried with
exponential back-off; the other networks, and the API serving beside the runner, go on.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ranopt.service.loop import LoopConfig, NetworkLoop, StepReport
from ranopt.service.optimize import cached_twin
from ranopt.store import loops, runs
from ranopt.store.engine import Store

logger = logging.getLogger("ranopt.service.runner")

MAX_BACKOFF_S = 60.0
STEP_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0, 10.0)
COMPENSATION_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)


class LoopMetrics:
    """Prometheus series of the loop: energy against always-on, QoS, plans, faults, errors."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._totals: dict[str, list[float]] = {}  # network -> [ranopt, always-on] kWh
        self.energy = Counter(
            "ranopt_loop_energy_kwh", "Energy of the network, with ranopt and always-on (twin)",
            ["network_id", "case"], registry=registry,
        )  # fmt: skip
        self.saving = Gauge(
            "ranopt_loop_energy_saving_pct",
            "Energy saved versus always-on since this process started, percent",
            ["network_id"], registry=registry, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.traffic = Counter(
            "ranopt_loop_traffic_mbit",
            "Traffic offered, served with ranopt and served always-on (twin), Mbit",
            ["network_id", "case"], registry=registry,
        )  # fmt: skip
        self.violations = Counter(
            "ranopt_loop_constraint_violations", "QoS constraints broken in loop intervals",
            ["network_id"], registry=registry,
        )  # fmt: skip
        self.switching_breaks = Counter(
            "ranopt_loop_switching_breaks", "Minimum-sleep or cycle-limit breaks",
            ["network_id"], registry=registry,
        )  # fmt: skip
        self.plans = Counter(
            "ranopt_loop_plans", "Loop plans by outcome (applied or waiting for approval)",
            ["network_id", "outcome"], registry=registry,
        )  # fmt: skip
        self.confidence = Gauge(
            "ranopt_loop_plan_confidence", "Measured confidence of the newest loop plan",
            ["network_id"], registry=registry, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.runners = Gauge(
            "ranopt_loop_runners", "Loop runners alive (one per server: more would double steps)",
            registry=registry, multiprocess_mode="livesum",
        )  # fmt: skip
        self.step_seconds = Histogram(
            "ranopt_loop_step_seconds", "Wall time of one loop step",
            buckets=STEP_BUCKETS_S, registry=registry,
        )  # fmt: skip
        self.errors = Counter(
            "ranopt_loop_errors", "Loop steps that failed and will be retried",
            ["network_id"], registry=registry,
        )  # fmt: skip
        self.compensation_seconds = Histogram(
            "ranopt_fault_compensation_seconds",
            "Wall time from a fault's first telemetry to its applied compensation",
            buckets=COMPENSATION_BUCKETS_S, registry=registry,
        )  # fmt: skip

    def observe(self, network_id: int, report: StepReport, seconds: float) -> None:
        """Count one step's outcome."""
        net = str(network_id)
        self.step_seconds.observe(seconds)
        if report.phase != "loop":
            return
        self.energy.labels(net, "ranopt").inc(report.energy_kwh)
        self.energy.labels(net, "always_on").inc(report.always_on_energy_kwh)
        totals = self._totals.setdefault(net, [0.0, 0.0])
        totals[0] += report.energy_kwh
        totals[1] += report.always_on_energy_kwh
        ranopt, always_on = totals
        if always_on > 0:
            self.saving.labels(net).set(100.0 * (1.0 - ranopt / always_on))
        self.traffic.labels(net, "offered").inc(report.offered_mbit)
        self.traffic.labels(net, "served").inc(report.served_mbit)
        self.traffic.labels(net, "always_on_served").inc(report.always_on_served_mbit)
        self.violations.labels(net).inc(report.violations)
        self.switching_breaks.labels(net).inc(report.switching_breaks)
        if report.plan_confidence is not None:
            self.confidence.labels(net).set(report.plan_confidence)
            self.plans.labels(net, "applied" if report.plan_applied else "pending").inc()


@dataclass
class _Backoff:
    failures: int = 0
    retry_at: float = 0.0


class LoopRunner:
    """Steps each enabled network loop once per tick in a daemon thread."""

    def __init__(
        self,
        store: Store,
        *,
        tick_s: float,
        metrics: LoopMetrics,
        config: LoopConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.tick_s = tick_s
        self.metrics = metrics
        self.config = config or LoopConfig()
        self.clock = clock
        self._loops: dict[int, NetworkLoop] = {}
        self._backoff: dict[int, _Backoff] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the runner thread."""
        self._thread = threading.Thread(target=self._run, name="ranopt-loop", daemon=True)
        self._thread.start()
        self.metrics.runners.inc()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask the thread to stop after its current step and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self.metrics.runners.dec()
            self._thread = None

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the runner thread must outlive anything a tick raises
                logger.exception("loop runner: tick failed")
            next_tick = max(next_tick + self.tick_s, time.monotonic())
            self._stop.wait(max(0.0, next_tick - time.monotonic()))

    def tick(self) -> dict[int, StepReport]:
        """Step every enabled loop that is not backing off; return their reports."""
        try:
            with self.store.transaction() as session:
                enabled = loops.enabled_loops(session)
        except Exception:  # the database may be down: log, and try at the next tick
            logger.exception("loop runner: cannot list the enabled loops")
            return {}
        reports: dict[int, StepReport] = {}
        for settings in enabled:
            if self._stop.is_set():
                break
            backoff = self._backoff.setdefault(settings.network_id, _Backoff())
            if self.clock() < backoff.retry_at:
                continue
            started = time.perf_counter()
            try:
                loop = self._loop(settings.tenant_id, settings.network_id)
                reports[settings.network_id] = loop.step()
            except Exception as exc:  # the loop must survive its own failures
                self._failed(settings.tenant_id, settings.network_id, backoff, exc)
                continue
            backoff.failures, backoff.retry_at = 0, 0.0
            self.metrics.observe(
                settings.network_id, reports[settings.network_id], time.perf_counter() - started
            )
            try:
                self._observe_compensations(settings.tenant_id, settings.network_id, reports)
            except Exception:  # a metric is not worth a step: log and go on
                logger.exception("loop of network %s: cannot read its faults", settings.network_id)
        return reports

    def _loop(self, tenant_id: int, network_id: int) -> NetworkLoop:
        if network_id not in self._loops:
            with self.store.transaction() as session:
                binding = runs.twin_binding(session, tenant_id=tenant_id, network_id=network_id)
            if binding is None:
                msg = f"network {network_id} has no twin to run its loop on"
                raise LookupError(msg)
            twin = cached_twin(binding.scenario, binding.seed, binding.num_sites, binding.num_ues)
            self._loops[network_id] = NetworkLoop(
                self.store, tenant_id=tenant_id, network_id=network_id, twin=twin,
                seed=binding.seed, config=self.config, clock=self.clock,
            )  # fmt: skip
        return self._loops[network_id]

    def _failed(self, tenant_id: int, network_id: int, backoff: _Backoff, exc: Exception) -> None:
        backoff.failures += 1
        delay = min(self.tick_s * 2.0**backoff.failures, MAX_BACKOFF_S)
        backoff.retry_at = self.clock() + delay
        # a failed step may have left the loop's memory half-updated: rebuild it from the store
        self._loops.pop(network_id, None)
        self.metrics.errors.labels(str(network_id)).inc()
        logger.error(
            "loop of network %s failed (%s: %s); retry in %.1f s",
            network_id, type(exc).__name__, exc, delay, exc_info=exc,
        )  # fmt: skip
        try:
            with self.store.transaction() as session:
                runs.add_alert(
                    session, tenant_id=tenant_id, network_id=network_id, severity="warning",
                    kind="loop_error",
                    message=f"loop step failed ({type(exc).__name__}: {exc}); retry in "
                    f"{delay:.0f} s (attempt {backoff.failures})",
                    now_s=int(self.clock()),
                )  # fmt: skip
        except Exception:  # the database itself may be what failed
            logger.exception("loop of network %s: cannot record the alert", network_id)

    def _observe_compensations(
        self, tenant_id: int, network_id: int, reports: dict[int, StepReport]
    ) -> None:
        report = reports[network_id]
        if not report.compensations:
            return
        with self.store.transaction() as session:
            for fault in loops.faults(session, tenant_id=tenant_id, network_id=network_id):
                if fault.id in report.compensations and fault.compensated_at is not None:
                    first = fault.first_telemetry_at or fault.compensated_at
                    self.metrics.compensation_seconds.observe(fault.compensated_at - first)
