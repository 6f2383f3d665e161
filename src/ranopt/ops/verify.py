"""Blue-green release checks against a running service: health, readiness, canary, load.

The deployment guide's gate before traffic moves to a new release (and the signal to roll
back when it fails): ``/health`` and ``/ready`` answer 200; an optimization of the canary
network succeeds with a measured confidence above 0.85; 100 users (each one request, then
a think time) are served with a 95th-percentile latency below 50 ms and no error.
"""

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

# a run that finished its plan waits for a decision ("awaiting_approval"), or was decided
PLANNED_RUN_STATES = frozenset({"awaiting_approval", "applied", "rejected", "superseded"})
TERMINAL_RUN_STATES = PLANNED_RUN_STATES | {"failed"}


@dataclass(frozen=True)
class VerifyConfig:
    """Thresholds and load shape of the checks."""

    canary: str  # the canary network's name (or id)
    min_confidence: float = 0.85
    horizon_min: int = 60
    users: int = 100
    duration_s: float = 10.0
    think_s: float = 1.0  # each user waits this long between answer and next request
    max_p95_ms: float = 50.0
    timeout_s: float = 30.0
    optimize_timeout_s: float = 300.0


@dataclass(frozen=True)
class CheckResult:
    """One check: passed or not, and what it measured."""

    name: str
    ok: bool
    detail: str
    figures: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadFigures:
    """Latency and errors of a load run."""

    requests: int
    errors: dict[str, int]  # status (or exception name) -> count
    p50_ms: float
    p95_ms: float
    rate_per_s: float


def percentile(values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0-1) of ``values`` by the nearest-rank method."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan


def _get_ok(client: httpx.Client, path: str) -> CheckResult:
    name = path.strip("/")
    try:
        answer = client.get(path)
    except httpx.HTTPError as exc:
        return CheckResult(name, False, f"no answer from {path} ({type(exc).__name__}: {exc})")
    if answer.status_code != 200:
        detail = answer.text[:200].replace("\n", " ")
        return CheckResult(name, False, f"{path} answered {answer.status_code}: {detail}")
    return CheckResult(name, True, f"{path} answered 200")


def _canary_id(client: httpx.Client, canary: str) -> int:
    answer = client.get("/api/v2/networks")
    answer.raise_for_status()
    for net in answer.json():
        if net["name"] == canary or str(net["id"]) == canary:
            return int(net["id"])
    msg = f"no network {canary!r} visible to this API key"
    raise LookupError(msg)


def _wait_run(client: httpx.Client, answer: httpx.Response, timeout_s: float) -> dict[str, Any]:
    """Return the run of an optimize answer, polling its status URL when it was queued."""
    if answer.status_code == 202:
        where = answer.headers.get("Location") or answer.json()["status_url"]
        deadline = time.monotonic() + timeout_s
        while True:
            polled = client.get(where)
            polled.raise_for_status()
            run: dict[str, Any] = polled.json()
            if run["status"] in TERMINAL_RUN_STATES:
                return run
            if time.monotonic() > deadline:
                msg = f"the canary optimization did not finish in {timeout_s:g} s"
                raise TimeoutError(msg)
            time.sleep(0.5)
    answer.raise_for_status()
    done: dict[str, Any] = answer.json()
    return done


def check_canary(client: httpx.Client, config: VerifyConfig) -> tuple[CheckResult, int | None]:
    """Optimize the canary network; pass when the run succeeds above the confidence bar."""
    started = time.monotonic()
    try:
        network_id = _canary_id(client, config.canary)
        answer = client.post(
            "/api/v2/cognitive/optimize",
            json={"network_id": network_id, "horizon_min": config.horizon_min},
        )
        if answer.status_code >= 400:
            detail = answer.json().get("detail", answer.text[:200])
            return CheckResult("canary", False, f"optimize answered {answer.status_code}: "
                               f"{detail}"), network_id  # fmt: skip
        run = _wait_run(client, answer, config.optimize_timeout_s)
    except (httpx.HTTPError, LookupError, TimeoutError) as exc:
        return CheckResult("canary", False, f"{type(exc).__name__}: {exc}"), None
    seconds = time.monotonic() - started
    confidence = run.get("confidence")
    figures = {"seconds": seconds}
    if run["status"] not in PLANNED_RUN_STATES or confidence is None:
        error = run.get("error") or "no confidence"
        return CheckResult("canary", False, f"run {run['id']} {run['status']}: {error}"), network_id
    figures["confidence"] = float(confidence)
    ok = confidence > config.min_confidence
    relation = ">" if ok else "<="
    detail = (
        f"run {run['id']} on network {network_id}: confidence {confidence:.3f} {relation} "
        f"{config.min_confidence}"
    )
    return CheckResult("canary", ok, detail, figures), network_id


async def _user(
    client: httpx.AsyncClient,
    path: str,
    start_after_s: float,
    until: float,
    think_s: float,
    latencies: list[float],
    errors: dict[str, int],
) -> None:
    await asyncio.sleep(start_after_s)
    while time.monotonic() < until:
        started = time.perf_counter()
        try:
            answer = await client.get(path)
            key = None if answer.status_code < 400 else str(answer.status_code)
        except httpx.HTTPError as exc:
            key = type(exc).__name__
        latencies.append(time.perf_counter() - started)
        if key is not None:
            errors[key] = errors.get(key, 0) + 1
        await asyncio.sleep(think_s)


async def _load(
    base_url: str, headers: dict[str, str], path: str, config: VerifyConfig
) -> LoadFigures:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=config.users, max_keepalive_connections=config.users)
    started = time.monotonic()
    until = started + config.duration_s
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=config.timeout_s, limits=limits
    ) as client:
        # users start spread over one think time, as people arrive, not in one burst
        await asyncio.gather(*[
            _user(client, path, config.think_s * i / config.users, until, config.think_s,
                  latencies, errors)
            for i in range(config.users)
        ])  # fmt: skip
    elapsed = time.monotonic() - started
    return LoadFigures(
        requests=len(latencies), errors=errors,
        p50_ms=1000.0 * percentile(latencies, 0.5), p95_ms=1000.0 * percentile(latencies, 0.95),
        rate_per_s=len(latencies) / elapsed,
    )  # fmt: skip


def check_load(
    base_url: str, headers: dict[str, str], network_id: int | None, config: VerifyConfig
) -> CheckResult:
    """Serve ``users`` users reading the canary network; pass on p95 below the bar, no error."""
    path = "/api/v2/networks" if network_id is None else f"/api/v2/networks/{network_id}"
    figures = asyncio.run(_load(base_url, headers, path, config))
    numbers = {
        "requests": float(figures.requests), "p50_ms": figures.p50_ms, "p95_ms": figures.p95_ms,
        "rate_per_s": figures.rate_per_s,
    }  # fmt: skip
    what = (
        f"{config.users} users on GET {path}: {figures.requests} requests "
        f"({figures.rate_per_s:.0f}/s), p50 {figures.p50_ms:.1f} ms, p95 {figures.p95_ms:.1f} ms"
    )
    if figures.requests == 0:
        return CheckResult("load", False, f"{what}: no request was made", numbers)
    if figures.errors:
        failed = sum(figures.errors.values())
        kinds = ", ".join(f"{n} x {k}" for k, n in sorted(figures.errors.items()))
        return CheckResult("load", False, f"{what}; {failed} failed ({kinds})", numbers)
    ok = figures.p95_ms < config.max_p95_ms
    relation = "<" if ok else ">="
    return CheckResult("load", ok, f"{what} {relation} {config.max_p95_ms:g} ms", numbers)


def verify(
    base_url: str,
    api_key: str,
    config: VerifyConfig,
    progress: Callable[[CheckResult], None] = lambda _: None,
) -> list[CheckResult]:
    """Run the checks in order; stop after health or readiness fails (nothing else can pass)."""
    headers = {"X-API-Key": api_key}
    results: list[CheckResult] = []
    base = base_url.rstrip("/")
    with httpx.Client(base_url=base, headers=headers, timeout=config.timeout_s) as client:
        for path in ("/health", "/ready"):
            result = _get_ok(client, path)
            results.append(result)
            progress(result)
            if not result.ok:
                return results
        canary, network_id = check_canary(client, config)
        results.append(canary)
        progress(canary)
    load = check_load(base, headers, network_id, config)
    results.append(load)
    progress(load)
    return results
