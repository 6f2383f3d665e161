"""Issue 11's targets against real ``ranopt serve`` processes, with production settings.

1. kill -9 right after each acknowledged write (telemetry batch, VES event; alternating),
   ``--kill-trials`` times per database: acknowledged writes found missing afterwards;
   a new API key used at once on another open connection, ``--key-trials`` times;
2. an anonymous 150 MB body (chunked, then with its Content-Length), one and six in parallel:
   the server's peak memory growth (VmHWM) and the time from headers to the answer;
3. known versus unknown identities with the default argon2 cost (64 MiB, 3 passes): median
   answer times of HTTP basic, API key and login over ``--timing-tries`` each, and ratios;
4. CPU seconds of the server process per request for a viewer, for the heaviest reads the
   API lets through (KPI series and aggregates at their limits, lists) on the 61-site twin
   network (366 cells) with 30 days of 15-min samples; and what the issue's 2 000-day series
   now answers.

Prints one JSON object.

    python benchmarks/hardening.py [--backends sqlite,postgresql] [--kill-trials 20]
"""

import argparse
import base64
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import text

from ranopt.api.security import TokenService, new_api_key, password_hasher
from ranopt.api.settings import Settings
from ranopt.counters import COUNTER_COLUMNS
from ranopt.ingest.export import DEFAULT_EPOCH, twin_topology
from ranopt.store import accounts
from ranopt.store import repository as repo
from ranopt.store.engine import Store, open_store
from ranopt.store.pgcluster import PostgresCluster
from ranopt.store.samples import SampleBatch
from ranopt.twin import build_twin, scenario_preset
from serving import free_port, start_serve

PASSWORD = "benchmark-password-1"
T0 = int(DEFAULT_EPOCH.timestamp())
CLOCK_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


class Server:
    """A ``ranopt serve`` subprocess."""

    def __init__(self, url: str, data_dir: str, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        full_env = {
            **os.environ, "RANOPT_DATABASE_URL": url, "RANOPT_DATA_DIR": data_dir,
            "RANOPT_RATE_LIMIT": "100000000/minute", **env,
        }  # fmt: skip
        self.proc = start_serve(self.port, full_env)

    def status(self, name: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
        raise KeyError(name)

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * CLOCK_TICK_S  # utime + stime

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


def make_tenant(store: Store, settings: Settings, topology: Any) -> dict[str, Any]:
    hasher = password_hasher(settings)
    now = int(time.time())
    with store.transaction() as s:
        tenant = accounts.create_tenant(s, name="bench", now_s=now)
        users = {
            role: accounts.create_user(
                s,
                tenant_id=tenant.id,
                username=f"{role}-user",
                password_hash=hasher.hash(PASSWORD),
                role=role,
                now_s=now,
            )
            for role in ("network_admin", "viewer")
        }
        net = repo.create_network(s, tenant_id=tenant.id, topology=topology, now_s=now)
        key = new_api_key(hasher)
        accounts.create_api_key(
            s, tenant_id=tenant.id, name="k", prefix=key.prefix, secret_hash=key.secret_hash,
            role="viewer", now_s=now,
        )  # fmt: skip
        cells = repo.network_cells(s, tenant_id=tenant.id, network_id=net.id)
    tokens = TokenService(store, settings)
    out = {"tenant_id": tenant.id, "network_id": net.id, "cells": [c.name for c in cells],
           "cell_ids": [c.id for c in cells], "key_prefix": key.prefix}  # fmt: skip
    for role, user in users.items():
        out[role] = tokens.issue(
            subject=f"user:{user.id}", tenant_id=tenant.id, role=role, amr=("pwd",), now_s=now
        )[0]
    return out


def _ves(cell: str, t_s: int) -> bytes:
    us = t_s * 1_000_000
    return json.dumps({"event": {
        "commonEventHeader": {"domain": "measurement", "sourceName": "gNB",
                              "startEpochMicrosec": us, "lastEpochMicrosec": us + 900_000_000},
        "measurementFields": {"measurementInterval": 900, "additionalMeasurements": [
            {"name": cell, "hashMap": {"RRU.PrbUsedDl": "12"}}]},
    }}).encode()  # fmt: skip


def count_at(store: Store, network_id: int, t_s: int) -> int:
    with store.engine.connect() as conn:
        query = "SELECT count(*) FROM kpi_samples WHERE network_id = :n AND interval_start_s = :t"
        return int(conn.execute(text(query), {"n": network_id, "t": t_s}).scalar_one())


def durability(url: str, trials: int, key_trials: int, data_dir: str) -> dict[str, Any]:
    """kill -9 after each acknowledgement; new API keys used at once."""
    store = open_store(url)
    twin = build_twin(scenario_preset("default", seed=0, num_sites=1, num_ues=60))
    bench = make_tenant(store, Settings(database_url=url), twin_topology(twin, "lab"))
    headers = {"Authorization": f"Bearer {bench['network_admin']}"}
    lost, statuses = [], []
    for trial in range(trials):
        t_s = T0 + 900 * trial
        server = Server(url, data_dir)
        with httpx.Client(base_url=server.base, headers=headers, timeout=60) as client:
            if trial % 2 == 0:
                counters = {"RRU.PrbUsedDl": 1.0}
                records = [
                    {"cell": c, "interval_start_s": t_s, "counters": counters}
                    for c in bench["cells"]
                ]
                response = client.post(
                    f"/api/v2/networks/{bench['network_id']}/telemetry", json={"records": records}
                )
                written = len(records)
            else:
                response = client.post(
                    f"/eventListener/v7?network_id={bench['network_id']}",
                    content=_ves(bench["cells"][0], t_s),
                    headers={"content-type": "application/json"},
                )
                written = 1
            server.kill()  # SIGKILL right after the acknowledgement
        statuses.append(response.status_code)
        if response.is_success and count_at(store, bench["network_id"], t_s) != written:
            lost.append(trial)
    server = Server(url, data_dir)
    refused = 0
    with (
        httpx.Client(base_url=server.base, headers=headers, timeout=60) as client,
        httpx.Client(base_url=server.base, timeout=60) as other,
    ):
        other.get("/health")
        for i in range(key_trials):
            key = client.post("/api/v2/api-keys", json={"name": f"k{i}", "role": "viewer"})
            used = other.get("/api/v2/networks", headers={"X-API-Key": key.json()["key"]})
            refused += used.status_code != 200
    server.stop()
    store.dispose()
    return {
        "kill_trials": trials, "acknowledged": sum(200 <= s < 300 for s in statuses),
        "acknowledged_lost": len(lost), "lost_trials": lost,
        "new_key_trials": key_trials, "new_keys_refused": refused,
    }  # fmt: skip


def anonymous_body(base: str, path: str, num_bytes: int, *, chunked: bool) -> dict[str, Any]:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    framing = "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {num_bytes}\r\n"
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n".encode()
    )
    started = time.perf_counter()
    stop = threading.Event()
    sent = [0]

    def pour() -> None:
        chunk = b'{"records": [' + b" " * (1 << 20)
        try:
            while sent[0] < num_bytes and not stop.is_set():
                piece = chunk[: num_bytes - sent[0]]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent[0] += len(piece)
        except OSError:
            pass

    sender = threading.Thread(target=pour, daemon=True)
    sender.start()
    answer = b""
    while b"\r\n" not in answer:
        data = sock.recv(4096)
        if not data:
            break
        answer += data
    elapsed = time.perf_counter() - started
    stop.set()
    sender.join(timeout=120)
    sock.close()
    return {"status": int(answer.split(b" ", 2)[1]) if answer else None,
            "answer_ms": round(1000 * elapsed, 1), "bytes_sent": sent[0]}  # fmt: skip


def memory(url: str, data_dir: str) -> dict[str, Any]:
    store = open_store(url)
    twin = build_twin(scenario_preset("default", seed=0, num_sites=1, num_ues=60))
    bench = make_tenant(store, Settings(database_url=url), twin_topology(twin, "lab"))
    store.dispose()
    server = Server(url, data_dir)
    size = 150 << 20
    telemetry = f"/api/v2/networks/{bench['network_id']}/telemetry"
    out: dict[str, Any] = {"body_mb": 150}
    for name, chunked in (("chunked_401", True), ("content_length_413", False)):
        before = server.status("VmHWM")
        answer = anonymous_body(server.base, telemetry, size, chunked=chunked)
        answer["peak_growth_mib"] = round((server.status("VmHWM") - before) / 1024, 1)
        out[name] = answer
    before = server.status("VmHWM")
    results: list[dict[str, Any]] = []
    workers = [
        threading.Thread(
            target=lambda: results.append(
                anonymous_body(server.base, telemetry, size, chunked=True)
            )
        )
        for _ in range(6)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out["six_parallel"] = {
        "statuses": sorted(r["status"] for r in results),
        "answer_ms_max": max(r["answer_ms"] for r in results),
        "peak_growth_mib": round((server.status("VmHWM") - before) / 1024, 1),
    }
    server.stop()
    return out


def _median_ms(send: Callable[[], httpx.Response], tries: int) -> list[float]:
    times = []
    for _ in range(tries):
        started = time.perf_counter()
        response = send()
        times.append(1000 * (time.perf_counter() - started))
        assert response.status_code == 401, response.text
    return times


def timing(url: str, tries: int, data_dir: str) -> dict[str, Any]:
    """Default argon2 cost; free failures raised so the back-off does not interfere."""
    store = open_store(url)
    settings = Settings(database_url=url)  # production argon2: 64 MiB, 3 passes
    twin = build_twin(scenario_preset("default", seed=0, num_sites=1, num_ues=60))
    bench = make_tenant(store, settings, twin_topology(twin, "lab"))
    store.dispose()
    server = Server(
        url, data_dir, RANOPT_AUTH_FREE_FAILURES="1000000",
        RANOPT_AUTH_FREE_FAILURES_PER_ADDRESS="1000000",
    )  # fmt: skip

    def basic(login: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{login}:guess".encode()).decode()}

    def login(username: str) -> dict[str, str]:
        return {"tenant": "bench", "username": username, "password": "guess"}

    out: dict[str, Any] = {"argon2": {"time_cost": 3, "memory_kib": 65536}, "tries": tries}
    with httpx.Client(base_url=server.base, timeout=60) as c:
        pairs = {
            "basic": (
                lambda: c.get("/api/v2/networks", headers=basic("bench/nobody")),
                lambda: c.get("/api/v2/networks", headers=basic("bench/viewer-user")),
            ),
            "api_key": (
                lambda: c.get("/api/v2/networks", headers={"X-API-Key": "rk_000000000000.x"}),
                lambda: c.get(
                    "/api/v2/networks", headers={"X-API-Key": f"{bench['key_prefix']}.x"}
                ),
            ),
            "login": (
                lambda: c.post("/api/v2/auth/token", data=login("nobody")),
                lambda: c.post("/api/v2/auth/token", data=login("viewer-user")),
            ),
        }
        for name, (unknown, known) in pairs.items():
            a, b = [], []
            for _ in range(tries):  # interleaved, so drift hits both alike
                a += _median_ms(unknown, 1)
                b += _median_ms(known, 1)
            ma, mb = statistics.median(a), statistics.median(b)
            out[name] = {"unknown_ms": round(ma, 1), "known_ms": round(mb, 1),
                         "ratio": round(max(ma, mb) / min(ma, mb), 3)}  # fmt: skip
    server.stop()
    return out


def load_month(store: Store, tenant_id: int, network_id: int, days: int) -> int:
    """``days`` of 15-min samples for every cell (values are synthetic but realistic ranges)."""
    with store.transaction() as s:
        ids = np.array([c.id for c in repo.network_cells(s, tenant_id=tenant_id,
                                                         network_id=network_id)])  # fmt: skip
    rng = np.random.default_rng(0)
    per_day = 96
    total = 0
    for day in range(days):
        t = T0 + 900 * (day * per_day + np.repeat(np.arange(per_day), ids.size))
        n = t.size
        batch = SampleBatch(
            cell_id=np.tile(ids, per_day), interval_start_s=t,
            values={c: rng.uniform(0, 50, n) for c in COUNTER_COLUMNS},
            suspect=np.zeros(n, dtype=np.bool_),
        )  # fmt: skip
        with store.transaction() as s:
            total += repo.upsert_samples(s, tenant_id=tenant_id, network_id=network_id, batch=batch)
    return total


def viewer_cpu(url: str, days: int, data_dir: str) -> dict[str, Any]:
    store = open_store(url)
    twin = build_twin(scenario_preset("medium", seed=0))
    bench = make_tenant(store, Settings(database_url=url), twin_topology(twin))
    samples = load_month(store, bench["tenant_id"], bench["network_id"], days)
    store.dispose()
    server = Server(url, data_dir)
    net = f"/api/v2/networks/{bench['network_id']}"
    end = T0 + days * 86_400
    five_counters = ["prb_used_dl", "prb_tot_dl_pct", "ue_thp_dl_mbps", "pee_avg_power_w",
                     "rrc_conn_mean"]  # fmt: skip
    requests: dict[str, tuple[str, dict[str, Any]]] = {
        "series, every cell, hourly, 5 days, 5 counters (at the points limit)": (
            f"{net}/kpis/series",
            {"start_s": T0, "end_s": T0 + 5 * 86_400, "bucket_s": 3600, "counter": five_counters},
        ),
        f"series, every cell, {days} days in one bucket (at the scan limit)": (
            f"{net}/kpis/series", {"start_s": T0, "end_s": end, "bucket_s": 31 * 86_400},
        ),
        f"series, one cell, 15 min, {days} days, all counters": (
            f"{net}/kpis/series",
            {"start_s": T0, "end_s": end, "cell_id": bench["cell_ids"][0]},
        ),
        f"aggregate, {days} days": (f"{net}/kpis/aggregate", {"start_s": T0, "end_s": end}),
        "cells (366)": (f"{net}/cells", {}),
        "networks": ("/api/v2/networks", {}),
        "series, 2000 days of 15-min buckets (the issue's request)": (
            f"{net}/kpis/series", {"start_s": T0, "end_s": T0 + 2000 * 86_400},
        ),
        "aggregate, 2000 days": (
            f"{net}/kpis/aggregate", {"start_s": T0, "end_s": T0 + 2000 * 86_400},
        ),
    }  # fmt: skip
    out: dict[str, Any] = {"samples": samples, "cells": len(bench["cell_ids"])}
    headers = {"Authorization": f"Bearer {bench['viewer']}"}
    with httpx.Client(base_url=server.base, headers=headers, timeout=120) as c:
        c.get("/api/v2/networks")  # warm-up
        for name, (path, params) in requests.items():
            cpu, wall, status, size = [], [], 0, 0
            for _ in range(3):
                before = server.cpu_s()
                started = time.perf_counter()
                response = c.get(path, params=params)
                wall.append(time.perf_counter() - started)
                time.sleep(0.05)  # let the accounting settle
                cpu.append(server.cpu_s() - before)
                status, size = response.status_code, len(response.content)
            out[name] = {"status": status, "cpu_s_max": round(max(cpu), 3),
                         "wall_s_median": round(statistics.median(wall), 3),
                         "answer_bytes": size}  # fmt: skip
    server.stop()
    out["max_cpu_s"] = max(v["cpu_s_max"] for v in out.values() if isinstance(v, dict))
    return out


def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        result = {"durability": durability(url, args.kill_trials, args.key_trials, data_dir)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--kill-trials", type=int, default=20)
    parser.add_argument("--key-trials", type=int, default=30)
    parser.add_argument("--timing-tries", type=int, default=40)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    out: dict[str, Any] = {}
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            cluster = None
            if backend == "sqlite":

                def fresh(name: str, tmp: str = tmp) -> str:
                    return f"sqlite:///{Path(tmp) / (name + '.db')}"
            else:
                cluster = PostgresCluster(durable=True).start()

                def fresh(name: str, cluster: PostgresCluster = cluster) -> str:
                    return cluster.create_database(name)

            try:
                section = run(fresh("durability"), args)
                if backend == "sqlite":  # transport-level figures: one database is enough
                    section["memory"] = memory(fresh("memory"), tmp)
                    section["timing"] = timing(fresh("timing"), args.timing_tries, tmp)
                section["viewer_cpu"] = viewer_cpu(fresh("cpu"), args.days, tmp)
                out[backend] = section
            finally:
                if cluster is not None:
                    cluster.stop()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
