"""HTTP API latency and throughput: KPI series reads against a real ``ranopt serve``.

For each database (SQLite file, throwaway PostgreSQL): load the 61-site twin network
(``medium``, 366 cells) with one week of 15-min KPIs (one simulated day, six more with seeded
lognormal noise, as ``benchmarks/ingest.py`` does). Then for each KPI cache (``memory``: in
each worker process; ``redis``: a throwaway Debian ``redis-server`` that also holds the rate
limits) start ``ranopt serve --workers N`` as a subprocess and drive it from a separate
load-generator process (a minimal asyncio HTTP/1.1 keep-alive client on uvloop, so that the
generator takes as little of the two cores as it can):

1. cached (after a warm-up over every key): one random cell's one-day series out of the
   2 562 (cell, day) keys; open loop at rising rates, each step reporting p50/p95/p99, errors,
   the achieved rate and the cache's hit ratio over the step (from ``/metrics``); the answer is
   the highest rate whose p95 < 50 ms with no errors and >= 97 % of requests sent on time;
2. uncached: the same, but every request's key is new (its start moves by 15 min), so every
   read misses and runs its one SQL statement;
3. thinking clients (1 000 by default), each waiting 1 s between its requests, on the cached
   mix: p95 against 25 ms.

Each read is one cell's one-day series at 1-hour buckets for two counters, with a bearer
token (JWT verification, the permission check and the rate limiter are in the path). Prints
one JSON object with the machine's load average before and after each run.

    python benchmarks/api.py [--step-s 4] [--workers N] [--backends sqlite,postgresql]
                             [--caches memory,redis] [--clients 1000]
"""

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvloop

from ranopt.api.security import password_hasher
from ranopt.api.settings import Settings
from ranopt.ingest.export import DEFAULT_EPOCH, twin_topology
from ranopt.store import accounts
from ranopt.store import repository as repo
from ranopt.store.engine import open_store
from ranopt.store.pgcluster import PostgresCluster
from ranopt.store.samples import SampleBatch
from ranopt.twin import CellState, build_twin, scenario_preset, simulate
from ranopt.twin.traffic import demand_for_intervals
from serving import free_port, start_serve

PASSWORD = "benchmark-password-1"
P95_TARGET_S = 0.050
THINKING_P95_TARGET_S = 0.025
RATES = (50, 100, 200, 400, 600, 800, 1000, 1200, 1500, 2000, 2500, 3000)
DAY_S = 86_400
EPOCH_S = int(DEFAULT_EPOCH.timestamp())


def week_batch(cell_ids: np.ndarray[Any, Any], days: int = 7) -> SampleBatch:
    """One simulated day of the medium twin, extended to ``days`` with seeded noise."""
    twin = build_twin(scenario_preset("medium", seed=0))
    per_day = twin.scenario.intervals_per_day
    day = simulate(
        twin, demand_for_intervals(twin.traffic, 0, 0, per_day), CellState.all_on(twin.num_cells)
    )
    rng = np.random.default_rng(7)
    # [days * T, C]
    noise = np.concatenate(
        [np.ones((per_day, twin.num_cells))]
        + [rng.lognormal(0.0, 0.1, (per_day, twin.num_cells)) for _ in range(days - 1)]
    )
    load = np.minimum(np.concatenate([day.prb_load] * days) * noise, 1.0)
    num_prb = np.array([c.num_prb for c in twin.cells], dtype=np.float64)
    power = np.concatenate([day.power_w] * days)
    num_t, num_c = load.shape
    start_s = int(DEFAULT_EPOCH.timestamp()) + np.arange(num_t, dtype=np.int64) * 900
    values = {
        "prb_used_dl": load * num_prb,
        "prb_tot_dl_pct": 100.0 * load,
        "pee_avg_power_w": power,
        "ue_thp_dl_mbps": np.concatenate([day.ue_thp_mbps] * days) / noise,
    }
    return SampleBatch(
        cell_id=np.tile(cell_ids, num_t),
        interval_start_s=np.repeat(start_s, num_c),
        values={k: np.ascontiguousarray(v).reshape(-1) for k, v in values.items()},
        suspect=np.zeros(num_t * num_c, dtype=np.bool_),
    )


def load_network(url: str) -> tuple[int, list[int], int]:
    """Create tenant, user and the 61-site network with a week of KPIs; return ids."""
    store = open_store(url)
    settings = Settings(database_url=url)
    twin = build_twin(scenario_preset("medium", seed=0))
    with store.transaction() as s:
        tenant = accounts.create_tenant(s, name="bench", now_s=0)
        accounts.create_user(
            s, tenant_id=tenant.id, username="reader",
            password_hash=password_hasher(settings).hash(PASSWORD), role="viewer", now_s=0,
        )  # fmt: skip
        net = repo.create_network(s, tenant_id=tenant.id, topology=twin_topology(twin), now_s=0)
        ids = np.array(
            [c.id for c in repo.network_cells(s, tenant_id=tenant.id, network_id=net.id)]
        )
    batch = week_batch(ids)
    with store.transaction() as s:
        repo.upsert_samples(s, tenant_id=tenant.id, network_id=net.id, batch=batch)
    store.dispose()
    return net.id, ids.tolist(), len(batch)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class RedisServer:
    """A throwaway Debian ``redis-server`` on a free loopback port, without persistence."""

    def __init__(self, directory: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            msg = "redis-server not found: `make redis` installs Debian's redis-server"
            raise RuntimeError(msg)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", directory],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                msg = "redis-server did not start"
                raise RuntimeError(msg)
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def start_server(
    url: str, port: int, workers: int, env_extra: dict[str, str]
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RANOPT_DATABASE_URL": url,
        "RANOPT_RATE_LIMIT": "10000000/minute",
        **env_extra,
    }
    return start_serve(port, env, workers=workers, ready_s=180)


# --- load generator (runs in its own process) -----------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection: GET a path, read the status and the whole body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def get(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        if b"connection: close" in head.lower():
            raise ConnectionError("server closed the connection")
        return status

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Idle connections reused first; a new one opened when none is idle (up to ``size``)."""

    def __init__(self, port: int, size: int) -> None:
        self.port = port
        self.idle: list[Connection] = []
        self.slots = asyncio.Semaphore(size)

    async def get(self, request: bytes) -> int:
        async with self.slots:
            conn = self.idle.pop() if self.idle else await Connection.open(self.port)
            try:
                status = await conn.get(request)
            except Exception:
                conn.close()
                raise
            self.idle.append(conn)
            return status

    def close(self) -> None:
        for conn in self.idle:
            conn.close()


class Requests:
    """The GET requests of one scenario: cached keys drawn at random, or every key new."""

    def __init__(self, spec: dict[str, Any], token: str) -> None:
        self.path = f"/api/v2/networks/{spec['network_id']}/kpis/series"
        self.cells: list[int] = spec["cells"]
        self.auth = f"Authorization: Bearer {token}\r\n".encode()
        self.host = f"Host: 127.0.0.1:{spec['port']}\r\n".encode()
        self.fresh = 0  # the next unused (cell, 15-min offset) key for the uncached scenario

    def _request(self, cell: int, start: int) -> bytes:
        query = (
            f"start_s={start}&end_s={start + DAY_S}&bucket_s=3600&cell_id={cell}"
            "&counter=prb_used_dl&counter=pee_avg_power_w"
        )
        return (
            b"GET "
            + f"{self.path}?{query}".encode()
            + b" HTTP/1.1\r\n"
            + self.host
            + self.auth
            + b"\r\n"
        )

    def cached(self, rng: np.random.Generator) -> bytes:
        day = int(rng.integers(0, 7))
        return self._request(int(rng.choice(self.cells)), EPOCH_S + day * DAY_S)

    def every_key(self) -> list[bytes]:
        return [self._request(c, EPOCH_S + d * DAY_S) for c in self.cells for d in range(7)]

    def uncached(self) -> bytes:
        # (cell, start) never asked before: starts move by 15 min over the first six days
        k = self.fresh
        self.fresh += 1
        cell = self.cells[k % len(self.cells)]
        step = (k // len(self.cells)) % (6 * 95)
        step += step // 95 + 1  # 1..575 quarter-hours, never a whole day (the cached keys)
        return self._request(cell, EPOCH_S + 900 * step)


def _summary(latencies_s: list[float], errors: int, sent: int, seconds: float) -> dict[str, Any]:
    ms = sorted(1000 * x for x in latencies_s)

    def q(p: float) -> float | None:
        return round(ms[min(len(ms) - 1, int(p * len(ms)))], 2) if ms else None

    return {
        "requests": sent,
        "errors": errors,
        "error_rate": round(errors / sent, 5) if sent else 0.0,
        "achieved_per_s": round(sent / seconds, 1),
        "p50_ms": q(0.50),
        "p95_ms": q(0.95),
        "p99_ms": q(0.99),
        "mean_ms": round(statistics.fmean(ms), 2) if ms else None,
    }


def cache_counts(port: int) -> dict[str, float]:
    """The KPI cache's outcome counters, summed over every worker (``/metrics``)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    counts = {"hit": 0.0, "miss": 0.0, "error": 0.0}
    for line in text.splitlines():
        if line.startswith("ranopt_kpi_cache_requests_total{"):
            outcome = line.split('outcome="')[1].split('"')[0]
            counts[outcome] += float(line.rsplit(" ", 1)[1])
    return counts


def hit_ratio(before: dict[str, float], after: dict[str, float]) -> float | None:
    delta = {k: after[k] - before[k] for k in after}
    total = sum(delta.values())
    return round(delta["hit"] / total, 4) if total else None


async def _open_loop(port: int, next_request: Any, rate: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    late = 0
    pool = Pool(port, 512)

    async def one(request: bytes, scheduled: float) -> None:
        nonlocal errors, late
        now = time.perf_counter()
        if now - scheduled > 0.010:  # the generator itself fell behind by > 10 ms
            late += 1
        try:
            ok = await asyncio.wait_for(pool.get(request), 10) == 200
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            ok = False
        if ok:
            latencies.append(time.perf_counter() - now)
        else:
            errors += 1

    total = int(rate * seconds)
    t0 = time.perf_counter()
    tasks = []
    for i in range(total):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(next_request(), scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    pool.close()
    out = _summary(latencies, errors, total, elapsed)
    out["target_per_s"] = rate
    out["sent_late"] = late
    return out


async def _warm(port: int, requests: list[bytes], rounds: int) -> None:
    """Ask every key ``rounds`` times over 64 connections (so every worker sees each)."""
    pool = Pool(port, 64)
    todo = [r for _ in range(rounds) for r in requests]
    for start in range(0, len(todo), 256):
        await asyncio.gather(*(pool.get(r) for r in todo[start : start + 256]))
    pool.close()


async def _thinking(port: int, requests: Requests, clients: int, think_s: float,
                    seconds: float) -> dict[str, Any]:  # fmt: skip
    latencies: list[float] = []
    errors = 0
    sent = 0
    stop = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal errors, sent
        rng = np.random.default_rng(k)
        await asyncio.sleep(float(rng.uniform(0, think_s)))  # spread the first requests
        conn = await Connection.open(port)
        while time.perf_counter() < stop:
            start = time.perf_counter()
            try:
                ok = await asyncio.wait_for(conn.get(requests.cached(rng)), 10) == 200
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                ok = False
                conn.close()
                conn = await Connection.open(port)
            sent += 1
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                errors += 1
            await asyncio.sleep(think_s)
        conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    elapsed = time.perf_counter() - t0
    out = _summary(latencies, errors, sent, elapsed)
    out.update({"clients": clients, "think_s": think_s})
    return out


def drain(port: int, limit_s: float = 60.0) -> float:
    """Wait until the server answers ``/health`` within 20 ms (a failed step left a backlog)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        start = time.perf_counter()
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=30)
        if time.perf_counter() - start < 0.020:
            break
        time.sleep(0.5)
    return round(time.perf_counter() - t0, 1)


def _sweep(port: int, next_request: Any, step_s: float) -> dict[str, Any]:
    """Open-loop steps at rising rates until one misses the target; the last good one wins."""
    drain(port)
    steps = []
    best: dict[str, Any] | None = None
    for rate in RATES:
        before = cache_counts(port)
        step = asyncio.run(_open_loop(port, next_request, rate, step_s))
        step["hit_ratio"] = hit_ratio(before, cache_counts(port))
        steps.append(step)
        good = (
            step["errors"] == 0
            and step["p95_ms"] is not None
            and step["p95_ms"] < 1000 * P95_TARGET_S
            and step["achieved_per_s"] >= 0.97 * rate
            and step["sent_late"] <= 0.03 * step["requests"]
        )
        if not good:
            break
        best = step
    return {"max_rate_p95_under_50ms": best, "steps": steps}


def loadgen(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the whole load schedule against ``spec['port']`` (in this separate process)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one socket per thinking client
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    port = spec["port"]
    token = httpx.post(
        f"http://127.0.0.1:{port}/api/v2/auth/token",
        data={"username": "reader", "password": PASSWORD, "tenant": "bench"},
    ).json()["access_token"]
    requests = Requests(spec, token)
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    asyncio.run(_warm(port, requests.every_key(), 3))
    out["warm_up_s"] = round(time.perf_counter() - t0, 1)
    rng = np.random.default_rng(1)
    out["cached"] = _sweep(port, lambda: requests.cached(rng), spec["step_s"])
    out["uncached"] = _sweep(port, requests.uncached, spec["step_s"])
    drain(port)
    before = cache_counts(port)
    out["thinking"] = asyncio.run(
        _thinking(port, requests, spec["clients"], 1.0, spec["think_run_s"])
    )
    out["thinking"]["hit_ratio"] = hit_ratio(before, cache_counts(port))
    out["thinking"]["p95_target_ms"] = 1000 * THINKING_P95_TARGET_S
    return out


def run_loadgen_process(spec: dict[str, Any]) -> dict[str, Any]:
    """Start the load generator as its own Python process and read its JSON answer."""
    out = subprocess.run(
        [sys.executable, __file__, "--loadgen", json.dumps(spec)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def bench_server(url: str, loaded: tuple[int, list[int], int], cache: str,
                 args: argparse.Namespace, tmp: str) -> dict[str, Any]:  # fmt: skip
    """One ``ranopt serve`` with ``cache`` against the loaded database, driven by the loadgen."""
    network_id, cells, _ = loaded
    redis = RedisServer(tmp) if cache == "redis" else None
    env = {"RANOPT_KPI_CACHE": cache}
    if redis is not None:  # shared cache and shared rate limits, as replicas would run
        env |= {"RANOPT_REDIS_URL": redis.url, "RANOPT_RATE_LIMIT_STORAGE_URI": redis.url}
    port = free_port()
    try:
        server = start_server(url, port, args.workers, env)
        try:
            spec = {
                "port": port, "network_id": network_id, "cells": cells, "step_s": args.step_s,
                "clients": args.clients, "think_run_s": args.think_run_s,
            }  # fmt: skip
            load_before = load_average()
            result = run_loadgen_process(spec)
            result["load_average_before_after"] = [load_before, load_average()]
        finally:
            server.terminate()
            server.wait(timeout=60)
    finally:
        if redis is not None:
            redis.stop()
    return result


def bench_backend(url: str, args: argparse.Namespace, tmp: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    loaded = load_network(url)
    out: dict[str, Any] = {"num_cells": len(loaded[1]), "num_samples": loaded[2],
                           "load_s": round(time.perf_counter() - t0, 1)}  # fmt: skip
    for cache in args.caches.split(","):
        out[f"cache_{cache}"] = bench_server(url, loaded, cache, args, tmp)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loadgen", help=argparse.SUPPRESS)
    parser.add_argument("--step-s", type=float, default=4.0)
    parser.add_argument("--think-run-s", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--caches", default="memory,redis")
    args = parser.parse_args()
    if args.loadgen:
        print(json.dumps(loadgen(json.loads(args.loadgen))))
        return
    results: dict[str, Any] = {
        "what": "GET /api/v2/networks/{id}/kpis/series: one cell, one day, 1 h buckets, "
        "2 counters, bearer JWT; 61-site twin (366 cells), 7 days of 15-min samples",
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "p95_target_ms": 1000 * P95_TARGET_S,
        "thinking_p95_target_ms": 1000 * THINKING_P95_TARGET_S,
        "load_average_at_start": load_average(),
    }
    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in backends:
            results["sqlite"] = bench_backend(f"sqlite:///{Path(tmp) / 'bench.db'}", args, tmp)
        if "postgresql" in backends:
            cluster = PostgresCluster().start()
            try:
                results["postgresql"] = bench_backend(cluster.create_database("bench"), args, tmp)
            finally:
                cluster.stop()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
