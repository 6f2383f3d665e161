"""The KPI-series cache: a write is visible to the next read, in every worker process.

One real ``ranopt serve --workers 2`` with the loop enabled and the cache in a throwaway
Redis: every write path (telemetry batch, VES listener, ``ranopt ingest`` in another process)
is followed by reads over fresh connections, so they land on both workers, each of which
cached the old answer. In-process, on both backends: hits and misses are counted, a cached
answer never crosses tenants, and a dead Redis only turns hits into database reads.
"""

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_world import World

from ranopt.api.kpi_cache import MemoryCache
from ranopt.api.security import TokenService
from ranopt.api.settings import Settings
from ranopt.store import accounts
from ranopt.store import repository as repo
from ranopt.store.engine import open_store
from ranopt.store.schemas import TopologyIn
from redis_server import RedisServer, free_port

T0_S = 1_767_225_600  # 2026-01-01T00:00:00Z
US = 1_000_000
CELL = "S000-1-cov"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def _series_params(cell_id: int) -> dict[str, Any]:
    return {"start_s": T0_S, "end_s": T0_S + 900, "bucket_s": 900, "cell_id": cell_id,
            "counter": "prb_used_dl"}  # fmt: skip


def _metric(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (r"\{" + labels + r"\}" if labels else "") + r" ([0-9.e+]+)"
    found = re.search(pattern, text)
    assert found, f"{name}{{{labels}}} not in /metrics"
    return float(found.group(1))


def _ves_event(value: float) -> dict[str, Any]:
    start_us = T0_S * US
    return {"event": {
        "commonEventHeader": {"domain": "measurement", "sourceName": "gNB",
                              "startEpochMicrosec": start_us,
                              "lastEpochMicrosec": start_us + 900 * US},
        "measurementFields": {"measurementInterval": 900, "additionalMeasurements": [
            {"name": CELL, "hashMap": {"RRU.PrbUsedDl": str(value)}}]},
    }}  # fmt: skip


@pytest.mark.slow
def test_every_write_path_is_visible_to_the_next_read_in_every_worker(  # noqa: PLR0915
    tmp_path: Path, redis_server: RedisServer, topology_factory: Callable[..., TopologyIn]
) -> None:
    db_url = f"sqlite:///{tmp_path / 'ranopt.db'}"
    settings = Settings(database_url=db_url, argon2_time_cost=1, argon2_memory_kib=64)
    store = open_store(db_url)
    with store.transaction() as s:
        tenant = accounts.create_tenant(s, name="acme", now_s=T0_S)
        user = accounts.create_user(
            s, tenant_id=tenant.id, username="admin", password_hash="-",  # noqa: S106 - no login
            role="network_admin",
            now_s=T0_S,
        )  # fmt: skip
        net = repo.create_network(s, tenant_id=tenant.id, topology=topology_factory(), now_s=T0_S)
        cell_id = next(c.id for c in repo.network_cells(s, tenant_id=tenant.id, network_id=net.id)
                       if c.name == CELL)  # fmt: skip
    token, _ = TokenService(store, settings).issue(
        subject=f"user:{user.id}", tenant_id=tenant.id, role="network_admin", amr=("pwd",),
        now_s=int(time.time()),
    )  # fmt: skip
    store.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    env = {
        **os.environ, "RANOPT_DATABASE_URL": db_url, "RANOPT_DATA_DIR": str(tmp_path),
        "RANOPT_KPI_CACHE": "redis", "RANOPT_REDIS_URL": redis_server.url,
        "RANOPT_LOOP_ENABLED": "true", "RANOPT_LOOP_TICK_S": "0.5",
        "RANOPT_RATE_LIMIT": "100000/minute",
    }  # fmt: skip
    ranopt = [sys.executable, "-m", "ranopt.cli.main"]
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(  # noqa: S603 - our own CLI
            [*ranopt, "serve", "--port", str(port), "--workers", "2"], env=env,
            stdout=subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "ranopt serve did not become ready"
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)

        def reads(n: int = 8) -> set[float | None]:
            """``n`` reads, each on a new connection (the workers share the socket)."""
            seen = set()
            for _ in range(n):
                answer = httpx.get(
                    f"{base}/api/v2/networks/{net.id}/kpis/series",
                    params=_series_params(cell_id),
                    headers=headers,
                    timeout=30,
                )
                assert answer.status_code == 200, answer.text
                seen.add(answer.json()["values"]["prb_used_dl"][0])
            return seen

        record = {"cell": CELL, "interval_start_s": T0_S, "counters": {"RRU.PrbUsedDl": 10.0}}
        made = httpx.post(f"{base}/api/v2/networks/{net.id}/telemetry", headers=headers,
                          json={"records": [record]}, timeout=30)  # fmt: skip
        assert made.status_code == 201, made.text
        assert reads() == {10.0}  # both workers now hold this answer in the cache
        record["counters"] = {"RRU.PrbUsedDl": 20.0}
        made = httpx.post(f"{base}/api/v2/networks/{net.id}/telemetry", headers=headers,
                          json={"records": [record]}, timeout=30)  # fmt: skip
        assert made.status_code == 201, made.text
        assert reads() == {20.0}
        ves = httpx.post(f"{base}/eventListener/v7", params={"network_id": net.id},
                         headers=headers, json=_ves_event(30.0), timeout=30)  # fmt: skip
        assert ves.status_code == 202, ves.text
        assert reads() == {30.0}
        csv = tmp_path / "pm.csv"
        csv.write_text(f"cell,interval_start_s,RRU.PrbUsedDl\n{CELL},{T0_S},40\n")
        cli = subprocess.run(  # noqa: S603 - our own CLI
            [*ranopt, "ingest", str(csv), "--network", net.name, "--tenant", "acme"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert cli.returncode == 0, cli.stderr
        assert reads() == {40.0}
        metrics = httpx.get(f"{base}/metrics", timeout=30).text  # every process, summed
        assert _metric(metrics, "ranopt_kpi_cache_requests_total",
                       'cache="redis",outcome="hit"') > 0  # fmt: skip
        assert _metric(metrics, "ranopt_loop_runners") == 1.0  # the loop runs in one process
        assert _metric(metrics, "ranopt_database_up") == 1.0
        redis_server.stop()  # a dead cache: answers come from the database
        assert reads(4) == {40.0}
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_hits_and_misses_are_counted_and_never_cross_tenants(
    world: World, topology_factory: Callable[..., TopologyIn]
) -> None:
    network = topology_factory()
    acme = world.headers("acme", "network_admin")
    made = world.client.post("/api/v2/networks", json=network.model_dump(mode="json"),
                             headers=acme)  # fmt: skip
    assert made.status_code == 201, made.text
    network_id = made.json()["id"]
    record = {"cell": CELL, "interval_start_s": T0_S, "counters": {"RRU.PrbUsedDl": 5.0}}
    path = f"/api/v2/networks/{network_id}"
    assert world.client.post(f"{path}/telemetry", json={"records": [record]},
                             headers=acme).status_code == 201  # fmt: skip
    params = {"start_s": T0_S, "end_s": T0_S + 900, "bucket_s": 900, "counter": "prb_used_dl"}
    counts = world.services.metrics.kpi_cache
    first = world.client.get(f"{path}/kpis/series", params=params, headers=acme)
    second = world.client.get(f"{path}/kpis/series", params=params, headers=acme)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert counts.labels("memory", "miss")._value.get() == 1
    assert counts.labels("memory", "hit")._value.get() == 1
    # the same query by another tenant: 404, not the cached answer
    other = world.client.get(f"{path}/kpis/series", params=params,
                             headers=world.headers("globex", "network_admin"))  # fmt: skip
    assert other.status_code == 404
    aggregate = world.client.get(f"{path}/kpis/aggregate", params=params, headers=acme)
    assert aggregate.status_code == 200
    assert aggregate.json()["values"]["prb_used_dl"] == [5.0]
    # a write renews the generation: the next read is a miss that sees it
    record["counters"] = {"RRU.PrbUsedDl": 7.0}
    assert world.client.post(f"{path}/telemetry", json={"records": [record]},
                             headers=acme).status_code == 201  # fmt: skip
    third = world.client.get(f"{path}/kpis/series", params=params, headers=acme)
    assert third.json()["values"]["prb_used_dl"] == [7.0]
    assert counts.labels("memory", "miss")._value.get() == 3  # series, aggregate, series


def test_memory_cache_evicts_the_least_recently_used_within_its_budget() -> None:
    cache = MemoryCache(max_bytes=400)
    for k in "abcd":
        cache.put(k, b"x" * 100)
    assert cache.get("a") == (b"x" * 100, "hit")  # a is now the most recent
    cache.put("e", b"y" * 100)
    assert cache.get("b") == (None, "miss")  # b was the least recently used
    assert cache.get("a")[1] == cache.get("e")[1] == "hit"
    cache.put("huge", b"z" * 101)  # more than a quarter of the budget: not kept
    assert cache.get("huge") == (None, "miss")
