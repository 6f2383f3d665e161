"""Database failover: measure the service, decide by the deployment guide's criteria, promote.

Criteria (each measured over a window of probes): availability below 0.95 (share of
``/ready`` probes answered 200), response time above 5 s (95th percentile of ``/ready``'s
answer time, a timeout counting as the timeout), error rate above 5 % (share of the service's
own requests, from ``/metrics``, that answered 5xx; probes excluded), database unreachable (no
host of the service's database URL accepts writes on the last two probes). Failover is
indicated when at least two hold; the standby is promoted only when the primary is one of
them (unreachable): a failing service beside a healthy primary is not the database's fault,
and promoting then would leave two primaries.
"""

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ranopt.ops.postgres import (
    NodeState,
    best_standby,
    cluster_state,
    primary_reachable,
    promote,
)

PROBE_ROUTES = frozenset({"/health", "/ready", "/metrics"})
DATABASE_CONFIRM_PROBES = 2  # consecutive failed connections before "unreachable"


@dataclass(frozen=True)
class Criteria:
    """The thresholds of failover and how many of them must hold."""

    min_availability: float = 0.95
    max_response_s: float = 5.0
    max_error_rate: float = 0.05
    required: int = 2


@dataclass(frozen=True)
class Probe:
    """One look at the service and its database."""

    at_s: float  # monotonic
    health_ok: bool
    ready_ok: bool
    response_s: float  # /ready's answer time; the timeout when it did not answer
    requests: float | None  # the service's own requests so far (/metrics), None: unread
    errors: float | None  # of which answered 5xx
    database_ok: bool


@dataclass(frozen=True)
class Measurement:
    """The criteria's quantities over a window of probes."""

    probes: int
    availability: float
    response_p95_s: float
    error_rate: float | None  # None: the service served no request of its own meanwhile
    requests: int
    database_reachable: bool


@dataclass(frozen=True)
class Finding:
    """One criterion: its measured value, its threshold, and whether it holds."""

    name: str
    measured: str
    threshold: str
    holds: bool


@dataclass(frozen=True)
class Decision:
    """Whether to fail over, and the findings behind it."""

    failover: bool
    findings: tuple[Finding, ...]

    @property
    def held(self) -> list[str]:
        """Names of the criteria that hold."""
        return [f.name for f in self.findings if f.holds]

    def why(self) -> str:
        """One sentence: the decision and the criteria that made it."""
        held = ", ".join(self.held) or "none"
        verdict = "fail over" if self.failover else "no failover"
        return f"{verdict}: {len(self.held)} criteria hold ({held})"


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def measure(probes: Sequence[Probe]) -> Measurement:
    """Turn a window of probes (oldest first) into the criteria's quantities."""
    if not probes:
        msg = "measure: no probes"
        raise ValueError(msg)
    counted = [
        (p.requests, p.errors) for p in probes if p.requests is not None and p.errors is not None
    ]
    error_rate, requests = None, 0
    if len(counted) >= 2:
        (first_requests, first_errors), (last_requests, last_errors) = counted[0], counted[-1]
        served = last_requests - first_requests
        if served > 0:  # < 0: the service restarted in between (counters reset)
            requests = int(served)
            error_rate = (last_errors - first_errors) / served
    recent = probes[-DATABASE_CONFIRM_PROBES:]
    return Measurement(
        probes=len(probes),
        availability=sum(p.ready_ok for p in probes) / len(probes),
        response_p95_s=_p95([p.response_s for p in probes]),
        error_rate=error_rate,
        requests=requests,
        database_reachable=any(p.database_ok for p in recent),
    )


def decide(measured: Measurement, criteria: Criteria) -> Decision:
    """Apply the criteria: failover when at least ``criteria.required`` hold."""
    rate = measured.error_rate
    findings = (
        Finding(
            "availability", f"{measured.availability:.3f}",
            f"< {criteria.min_availability}", measured.availability < criteria.min_availability,
        ),
        Finding(
            "response time", f"{measured.response_p95_s:.2f} s (p95)",
            f"> {criteria.max_response_s} s", measured.response_p95_s > criteria.max_response_s,
        ),
        Finding(
            "error rate",
            "no requests" if rate is None else f"{100 * rate:.1f} % of {measured.requests}",
            f"> {100 * criteria.max_error_rate:g} %",
            rate is not None and rate > criteria.max_error_rate,
        ),
        Finding(
            "database unreachable",
            "reachable" if measured.database_reachable else "unreachable",
            f"{DATABASE_CONFIRM_PROBES} failed connections", not measured.database_reachable,
        ),
    )  # fmt: skip
    return Decision(sum(f.holds for f in findings) >= criteria.required, findings)


class ServiceProber:
    """Probes the service's ``/health``, ``/ready`` and ``/metrics`` and its database URL."""

    def __init__(self, service_url: str, database_url: str, *, timeout_s: float = 10.0) -> None:
        self.service_url = service_url.rstrip("/")
        self.database_url = database_url
        self.timeout_s = timeout_s
        self._client = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def ready(self) -> tuple[bool, float]:
        """Whether ``/ready`` answers 200, and in how many seconds."""
        return self._ok("/ready")

    def _ok(self, path: str) -> tuple[bool, float]:
        started = time.monotonic()
        try:
            answer = self._client.get(self.service_url + path)
        except httpx.HTTPError:
            return False, max(time.monotonic() - started, 0.0)
        return answer.status_code == 200, time.monotonic() - started

    def _counts(self) -> tuple[float | None, float | None]:
        try:
            answer = self._client.get(self.service_url + "/metrics")
            answer.raise_for_status()
        except httpx.HTTPError:
            return None, None
        requests = errors = 0.0
        for family in text_string_to_metric_families(answer.text):
            if family.name != "ranopt_http_requests":
                continue
            for sample in family.samples:
                if not sample.name.endswith("_total"):
                    continue
                if sample.labels.get("route") in PROBE_ROUTES:
                    continue
                requests += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    errors += sample.value
        return requests, errors

    def probe(self) -> Probe:
        """Take one probe (each call costs up to three timeouts when the service hangs)."""
        at = time.monotonic()
        health_ok, _ = self._ok("/health")
        ready_ok, response_s = self.ready()
        if not ready_ok and response_s >= self.timeout_s * 0.99:
            response_s = self.timeout_s
        requests, errors = self._counts()
        return Probe(
            at_s=at, health_ok=health_ok, ready_ok=ready_ok, response_s=response_s,
            requests=requests, errors=errors,
            database_ok=primary_reachable(self.database_url),
        )  # fmt: skip


@dataclass(frozen=True)
class FailoverReport:
    """What ``ranopt ops failover`` measured, decided and did."""

    measurement: Measurement
    decision: Decision
    states: list[NodeState]
    action: str  # healthy, dry-run, promoted, refused, impossible
    detail: str
    promoted: str | None = None
    first_failure_s: float | None = None  # monotonic time of the window's first failed probe
    decided_s: float | None = None  # monotonic
    serving_s: float | None = None  # monotonic: /ready answered 200 after the promotion
    timings: dict[str, float] = field(default_factory=dict)


def watch(
    prober: ServiceProber,
    criteria: Criteria,
    *,
    window: int,
    interval_s: float,
    until_failover: bool,
    max_s: float | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> tuple[list[Probe], Decision]:
    """Probe every ``interval_s`` over a sliding window of ``window`` probes; decide.

    Without ``until_failover`` one full window is taken and judged; with it the window slides
    until a failover is indicated that promotion can answer, the primary being unreachable (or
    ``max_s`` passes): a slow or failing service beside a healthy primary, an overload, is
    watched on rather than ending the watch with a refusal.
    """
    probes: deque[Probe] = deque(maxlen=window)
    started = time.monotonic()
    while True:
        next_at = time.monotonic() + interval_s
        probes.append(prober.probe())
        if len(probes) == window:
            measured = measure(list(probes))
            decision = decide(measured, criteria)
            if not until_failover or (decision.failover and not measured.database_reachable):
                return list(probes), decision
        if stop() or (max_s is not None and time.monotonic() - started > max_s):
            return list(probes), decide(measure(list(probes)), criteria)
        time.sleep(max(0.0, next_at - time.monotonic()))


def act(
    prober: ServiceProber,
    probes: list[Probe],
    decision: Decision,
    *,
    dry_run: bool,
    ready_timeout_s: float = 60.0,
) -> FailoverReport:
    """Promote the best standby when failover is indicated and the primary is down."""
    measured = measure(probes)
    states = cluster_state(prober.database_url)
    failed = [p.at_s for p in probes if not (p.ready_ok and p.database_ok)]
    decided = time.monotonic()
    report = FailoverReport(
        measurement=measured, decision=decision, states=states, action="healthy",
        detail=decision.why(), first_failure_s=failed[0] if failed else None, decided_s=decided,
    )  # fmt: skip
    if not decision.failover:
        return report
    candidate = best_standby(states)
    if measured.database_reachable:
        return replace(
            report, action="refused",
            detail=f"{decision.why()}; but the primary database answers: the service is at "
            "fault, not the database (promoting a standby now would leave two primaries)",
        )  # fmt: skip
    if candidate is None:
        return replace(
            report, action="impossible",
            detail=f"{decision.why()}; but no standby answers: nothing to promote",
        )  # fmt: skip
    label = candidate.node.label
    if dry_run:
        return replace(
            report, action="dry-run", promoted=label,
            detail=f"{decision.why()}; would promote {label}",
        )  # fmt: skip
    promote(prober.database_url, candidate.node)
    promoted_at = time.monotonic()
    serving = None
    while time.monotonic() - promoted_at < ready_timeout_s:
        if prober.ready()[0]:
            serving = time.monotonic()
            break
        time.sleep(0.1)
    timings = {"promote_s": promoted_at - decided}
    detail = f"{decision.why()}; promoted {label}"
    if serving is None:
        detail += f"; the service was not ready {ready_timeout_s:g} s later"
    else:
        timings["ready_after_promote_s"] = serving - promoted_at
    return replace(
        report, action="promoted", promoted=label, detail=detail, serving_s=serving,
        timings=timings,
    )  # fmt: skip
