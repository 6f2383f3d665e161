"""HTTP API latency and throughput: KPI series reads against a real ``ranopt serve``.

For each database (SQLite file, throwaway PostgreSQL): load the 61-site twin network
(``medium``, 366 cells) with one week of 15-min KPIs (one simulated day, six more with seeded
lognormal noise, as ``benchmarks/ingest.py`` does), start ``ranopt serve`` as a subprocess,
and drive it from a separate load-generator process (httpx async):

1. open loop: requests sent on a fixed schedule at rising rates; each step reports p50, p95,
   p99, errors and the achieved rate; the answer is the highest rate whose p95 < 50 ms with no
   errors and >= 97 % of the scheduled requests sent on time;
2. 200 clients, each waiting 1 s (think time) between its requests.

Each read is one random cell's one-day series at 1-hour buckets for two counters, with a
bearer token (so JWT verification, the permission check and the rate limiter are in the
path). Prints one JSON object.

    python benchmarks/api.py [--step-s 4] [--workers 1] [--backends sqlite,postgresql]
"""

import argparse
import asyncio
import json
import os
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

PASSWORD = "benchmark-password-1"
P95_TARGET_S = 0.050
RATES = (25, 50, 100, 150, 200, 300, 400, 600, 800, 1000, 1200, 1500, 2000)
DAY_S = 86_400


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RANOPT_DATABASE_URL": url,
        "RANOPT_RATE_LIMIT": "10000000/minute",
        "RANOPT_LOGIN_RATE_LIMIT": "1000/minute",
    }
    ranopt = str(Path(sys.executable).with_name("ranopt"))
    cmd = [ranopt, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    msg = "server did not become ready"
    raise RuntimeError(msg)


# --- load generator (runs in its own process) -----------------------------------------------


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


def _request_params(rng: np.random.Generator, cells: list[int]) -> dict[str, Any]:
    day = int(rng.integers(0, 7))
    start = int(DEFAULT_EPOCH.timestamp()) + day * DAY_S
    return {
        "start_s": start, "end_s": start + DAY_S, "bucket_s": 3600,
        "cell_id": int(rng.choice(cells)), "counter": ["prb_used_dl", "pee_avg_power_w"],
    }  # fmt: skip


async def _open_loop(base: str, path: str, headers: dict[str, str], cells: list[int],
                     rate: int, seconds: float) -> dict[str, Any]:  # fmt: skip
    rng = np.random.default_rng(rate)
    latencies: list[float] = []
    errors = 0
    late = 0
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=10) as c:

        async def one(params: dict[str, Any], scheduled: float) -> None:
            nonlocal errors, late
            now = time.perf_counter()
            if now - scheduled > 0.010:  # the generator itself fell behind by > 10 ms
                late += 1
            try:
                response = await c.get(path, params=params)
                ok = response.status_code == 200
            except httpx.HTTPError:
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
            tasks.append(asyncio.create_task(one(_request_params(rng, cells), scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    out = _summary(latencies, errors, total, elapsed)
    out["target_per_s"] = rate
    out["sent_late"] = late
    return out


async def _thinking(base: str, path: str, headers: dict[str, str], cells: list[int],
                    clients: int, think_s: float, seconds: float) -> dict[str, Any]:  # fmt: skip
    latencies: list[float] = []
    errors = 0
    sent = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=10) as c:
        stop = time.perf_counter() + seconds

        async def client(k: int) -> None:
            nonlocal errors, sent
            rng = np.random.default_rng(k)
            await asyncio.sleep(float(rng.uniform(0, think_s)))  # spread the first requests
            while time.perf_counter() < stop:
                start = time.perf_counter()
                try:
                    response = await c.get(path, params=_request_params(rng, cells))
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                sent += 1
                if ok:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors += 1
                await asyncio.sleep(think_s)

        t0 = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        elapsed = time.perf_counter() - t0
    out = _summary(latencies, errors, sent, elapsed)
    out.update({"clients": clients, "think_s": think_s})
    return out


def loadgen(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the whole load schedule against ``spec['base']`` (in this separate process)."""
    base = spec["base"]
    token = httpx.post(
        f"{base}/api/v2/auth/token",
        data={"username": "reader", "password": PASSWORD, "tenant": "bench"},
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/api/v2/networks/{spec['network_id']}/kpis/series"
    cells = spec["cells"]
    asyncio.run(_open_loop(base, path, headers, cells, 50, 2.0))  # warm-up
    steps = []
    best: dict[str, Any] | None = None
    for rate in RATES:
        step = asyncio.run(_open_loop(base, path, headers, cells, rate, spec["step_s"]))
        steps.append(step)
        on_time = step["sent_late"] <= 0.03 * step["requests"]
        good = (
            step["errors"] == 0
            and step["p95_ms"] is not None
            and step["p95_ms"] < 1000 * P95_TARGET_S
            and step["achieved_per_s"] >= 0.97 * rate
            and on_time
        )
        if not good:
            break
        best = step
    thinking = asyncio.run(
        _thinking(base, path, headers, cells, spec["clients"], 1.0, spec["think_run_s"])
    )
    return {"max_rate_p95_under_50ms": best, "open_loop_steps": steps, "thinking": thinking}


def run_loadgen_process(spec: dict[str, Any]) -> dict[str, Any]:
    """Start the load generator as its own Python process and read its JSON answer."""
    out = subprocess.run(
        [sys.executable, __file__, "--loadgen", json.dumps(spec)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def bench_backend(url: str, args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    network_id, cells, num_samples = load_network(url)
    load_s = time.perf_counter() - t0
    port = free_port()
    server = start_server(url, port, args.workers)
    try:
        spec = {
            "base": f"http://127.0.0.1:{port}", "network_id": network_id, "cells": cells,
            "step_s": args.step_s, "clients": args.clients, "think_run_s": args.think_run_s,
        }  # fmt: skip
        result = run_loadgen_process(spec)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"num_cells": len(cells), "num_samples": num_samples, "load_s": round(load_s, 1),
            **result}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loadgen", help=argparse.SUPPRESS)
    parser.add_argument("--step-s", type=float, default=4.0)
    parser.add_argument("--think-run-s", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    if args.loadgen:
        print(json.dumps(loadgen(json.loads(args.loadgen))))
        return
    results: dict[str, Any] = {
        "what": "GET /api/v2/networks/{id}/kpis/series: one random cell, one day, 1 h buckets, "
        "2 counters, bearer JWT; 61-site twin (366 cells), 7 days of 15-min samples",
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "p95_target_ms": 1000 * P95_TARGET_S,
    }
    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in backends:
            results["sqlite"] = bench_backend(f"sqlite:///{Path(tmp) / 'bench.db'}", args)
        if "postgresql" in backends:
            cluster = PostgresCluster().start()
            try:
                results["postgresql"] = bench_backend(cluster.create_database("bench"), args)
            finally:
                cluster.stop()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
