"""The loop runner: a thread that steps every enabled network loop once per tick.

A tick is one interval of network time (15 min) in ``tick_s`` seconds of wall time: 900 s in
real time, 1 s in the demo. A step that fails (an optimizer exception, a database outage, an
actuator error) is logged, raised as an alert when the database lets it, and retried with
exponential back-off; the other networks, and the API serving beside the runner, go on.

Replicas: several ``ranopt serve`` processes may share one database; each network's loop runs
in the one that holds its lease (``ranopt.store.leases``, named ``loop:<network id>``). The
holder renews it every ``lease_ttl_s / 4`` from a thread of its own, fences each of the loop's
transactions with the lease's token, and records when the network's next interval is due; a
replica that finds the lease expired (its holder was killed, or hung for ``lease_ttl_s``)
takes it with the next token and runs the next interval when it is due: none skipped, none
run twice, since a deposed holder's transactions fail on its old token.
"""

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ranopt.service.calibration import NetworkCalibrationConfig
from ranopt.service.loop import LoopConfig, NetworkLoop, StepReport
from ranopt.service.optimize import cached_twin
from ranopt.service.southbound_loop import SouthboundLoop
from ranopt.store import leases, loops, runs
from ranopt.store import southbound as sb
from ranopt.store.engine import Store
from ranopt.store.leases import Lease, LeaseLost
from ranopt.store.loops import LoopSettings
from ranopt.store.secrets import Keyring

logger = logging.getLogger("ranopt.service.runner")

MAX_BACKOFF_S = 60.0
DEFAULT_LEASE_TTL_S = 3.0  # a killed leader's loop resumes elsewhere within about this
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
        self.leader = Gauge(
            "ranopt_loop_leader", "1 where this replica holds the network's loop lease",
            ["network_id"], registry=registry, multiprocess_mode="livesum",
        )  # fmt: skip
        self.takeovers = Counter(
            "ranopt_loop_lease_takeovers", "Loop leases this replica took (new fencing token)",
            ["network_id"], registry=registry,
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


def default_holder() -> str:
    """Return this process's lease holder name: host, process id and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def loop_lease_name(network_id: int) -> str:
    """Return the lease name of a network's loop."""
    return f"loop:{network_id}"


class LoopRunner:
    """Steps each enabled network loop whose lease it holds, once per tick, in a thread."""

    def __init__(
        self,
        store: Store,
        *,
        tick_s: float,
        metrics: LoopMetrics,
        config: LoopConfig | None = None,
        clock: Callable[[], float] = time.time,
        lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
        holder: str | None = None,
        keyring: Keyring | None = None,
        calibration: NetworkCalibrationConfig | None = None,
    ) -> None:
        self.store = store
        self.keyring = keyring  # unseals O1 credentials: without it, O1 networks cannot loop
        self.calibration = calibration  # an O1 network's model (None: the defaults)
        self.tick_s = tick_s
        self.metrics = metrics
        self.config = config or LoopConfig()
        self.clock = clock
        self.lease_ttl_s = lease_ttl_s
        self.holder = holder or default_holder()
        self._loops: dict[int, NetworkLoop | SouthboundLoop] = {}
        self._backoff: dict[int, _Backoff] = {}
        self._held: dict[int, Lease] = {}  # network -> the lease this runner holds
        self._due: dict[int, float] = {}  # network -> monotonic time its next interval is due
        self._lock = threading.Lock()  # guards _held between the runner and the keeper
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._keeper: threading.Thread | None = None

    @property
    def renew_s(self) -> float:
        """How often held leases are renewed and free ones looked for."""
        return self.lease_ttl_s / 4.0

    def held(self) -> dict[int, Lease]:
        """Return the loop leases this runner holds now, by network."""
        with self._lock:
            return dict(self._held)

    def start(self) -> None:
        """Start the runner thread and the thread that keeps its leases."""
        self._thread = threading.Thread(target=self._run, name="ranopt-loop", daemon=True)
        self._keeper = threading.Thread(target=self._keep, name="ranopt-lease", daemon=True)
        self._thread.start()
        self._keeper.start()
        self.metrics.runners.inc()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask the threads to stop after the current step, wait, and give the leases up."""
        self._stop.set()
        for thread in (self._thread, self._keeper):
            if thread is not None:
                thread.join(timeout_s)
        self._release_all()
        if self._thread is not None:
            self.metrics.runners.dec()
            self._thread = self._keeper = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                enabled = self._claim()
                self._step_all(enabled, due_only=True)
            except Exception:  # the runner thread must outlive anything a tick raises
                logger.exception("loop runner: tick failed")
            now = time.monotonic()
            with self._lock:
                dues = [self._due.get(n, now) for n in self._held]
            wake = min([*dues, now + self.renew_s])
            self._stop.wait(max(0.0, wake - time.monotonic()))

    def _keep(self) -> None:
        """Renew the held leases every ``renew_s`` (a long step must not lose its lease)."""
        while not self._stop.wait(self.renew_s):
            for network_id, lease in self.held().items():
                try:
                    with self.store.transaction() as session:
                        renewed = leases.renew(session, lease=lease, ttl_s=self.lease_ttl_s)
                except Exception:  # the database may be down: the fence decides later
                    logger.warning("loop of network %s: cannot renew its lease", network_id)
                    continue
                if renewed is None:
                    self._lost(network_id, "its lease passed to another replica")
                    continue
                with self._lock:
                    if self._held.get(network_id, renewed).token == renewed.token:
                        self._held[network_id] = renewed

    def _lost(self, network_id: int, why: str) -> None:
        with self._lock:
            had = self._held.pop(network_id, None)
            self._due.pop(network_id, None)
        if had is not None:
            logger.warning("loop of network %s: stopped here, %s", network_id, why)
            self.metrics.leader.labels(str(network_id)).set(0)

    def _claim(self) -> list[LoopSettings]:
        """Take or renew the lease of each enabled loop; give up those no longer enabled."""
        try:
            with self.store.transaction() as session:
                enabled = loops.enabled_loops(session)
        except Exception as exc:  # the database may be down: log, and try at the next tick
            # every renewal period while it lasts: one line each, no traceback
            logger.warning("loop runner: cannot list the enabled loops (%s)", exc)
            return []
        names = {s.network_id for s in enabled}
        for network_id, lease in self.held().items():
            if network_id not in names:
                self._release(network_id, lease)
        for settings in enabled:
            self._claim_one(settings.network_id)
        return enabled

    def _claim_one(self, network_id: int) -> None:
        try:
            with self.store.transaction() as session:
                lease = leases.acquire(
                    session, name=loop_lease_name(network_id), holder=self.holder,
                    ttl_s=self.lease_ttl_s,
                )  # fmt: skip
        except Exception:  # the database may be down: the next claim tries again
            logger.warning("loop of network %s: cannot take its lease", network_id)
            return
        if lease is None:
            self._lost(network_id, "another replica holds its lease")
            return
        with self._lock:
            before = self._held.get(network_id)
            self._held[network_id] = lease
            if before is None or before.token != lease.token:
                # taken (or taken back): run the next interval when the last holder said
                lease_now = lease.expires_s - self.lease_ttl_s
                wait_s = 0.0 if lease.due_s is None else max(0.0, lease.due_s - lease_now)
                self._due[network_id] = time.monotonic() + wait_s
        if before is None or before.token != lease.token:
            self._loops.pop(network_id, None)  # its memory belongs to the old token
            self.metrics.leader.labels(str(network_id)).set(1)
            if lease.token > 1:
                self.metrics.takeovers.labels(str(network_id)).inc()
            logger.info("loop of network %s: lease taken (token %d)", network_id, lease.token)

    def _release(self, network_id: int, lease: Lease) -> None:
        try:
            with self.store.transaction() as session:
                leases.release(session, lease=lease)
        except Exception:  # it expires by itself
            logger.warning("loop of network %s: cannot release its lease", network_id)
        self._lost(network_id, "released")
        self._loops.pop(network_id, None)

    def _release_all(self) -> None:
        for network_id, lease in self.held().items():
            self._release(network_id, lease)

    def tick(self) -> dict[int, StepReport]:
        """Claim the leases, step every held loop that is not backing off; return reports."""
        return self._step_all(self._claim(), due_only=False)

    def _step_all(self, enabled: list[LoopSettings], *, due_only: bool) -> dict[int, StepReport]:
        reports: dict[int, StepReport] = {}
        for settings in enabled:
            if self._stop.is_set():
                break
            network_id = settings.network_id
            lease = self.held().get(network_id)
            if lease is None:
                continue
            due = self._due.get(network_id, 0.0)
            if due_only and time.monotonic() < due:
                continue
            backoff = self._backoff.setdefault(network_id, _Backoff())
            if self.clock() < backoff.retry_at:
                continue
            started = time.perf_counter()
            try:
                loop = self._loop(settings.tenant_id, network_id, lease)
                reports[network_id] = loop.step()
                self._schedule(network_id, lease, due)
            except LeaseLost as exc:  # another replica took over: not a failure here
                self._loops.pop(network_id, None)
                self._lost(network_id, str(exc))
                continue
            except Exception as exc:  # the loop must survive its own failures
                self._failed(settings.tenant_id, network_id, backoff, exc)
                continue
            backoff.failures, backoff.retry_at = 0, 0.0
            self.metrics.observe(network_id, reports[network_id], time.perf_counter() - started)
            try:
                self._observe_compensations(settings.tenant_id, network_id, reports)
            except Exception:  # a metric is not worth a step: log and go on
                logger.exception("loop of network %s: cannot read its faults", network_id)
        return reports

    def _schedule(self, network_id: int, lease: Lease, due: float) -> None:
        """Set the next interval one tick after this one was due, and tell the lease row."""
        now = time.monotonic()
        next_due = max(due + self.tick_s, now) if due > 0 else now + self.tick_s
        with self._lock:
            self._due[network_id] = next_due
        with self.store.transaction() as session:
            leases.set_due(session, lease=lease, in_s=next_due - now)

    def _loop(self, tenant_id: int, network_id: int, lease: Lease) -> NetworkLoop | SouthboundLoop:
        if network_id not in self._loops:
            with self.store.transaction() as session:
                binding = runs.twin_binding(session, tenant_id=tenant_id, network_id=network_id)
                kind = sb.get_southbound(session, tenant_id=tenant_id, network_id=network_id).kind
            # every transaction of the loop first checks that this runner still holds the lease
            fenced = self.store.fenced(lambda session: leases.fence(session, lease))
            if kind == "o1":  # counters in, O1 transactions out
                if self.keyring is None:
                    msg = f"network {network_id} loops over O1, and this runner has no keyring"
                    raise LookupError(msg)
                self._loops[network_id] = SouthboundLoop(
                    fenced, tenant_id=tenant_id, network_id=network_id, keyring=self.keyring,
                    clock=self.clock, limits=self.config.limits, calibration=self.calibration,
                )  # fmt: skip
                return self._loops[network_id]
            if binding is None:
                msg = f"network {network_id} has no twin to run its loop on"
                raise LookupError(msg)
            twin = cached_twin(binding.scenario, binding.seed, binding.num_sites, binding.num_ues)
            self._loops[network_id] = NetworkLoop(
                fenced, tenant_id=tenant_id, network_id=network_id, twin=twin,
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
