"""Database failover on a real primary and synchronous standby (loopback), with a real service.

``ranopt serve`` runs the loop and takes telemetry through a URL naming both hosts with
``target_session_attrs=read-write``; ``ranopt ops failover --watch`` probes it. The primary is
SIGKILLed (with every process it started) while batches are being ingested and the loop steps:
the watcher promotes the standby, the service answers again by itself, every acknowledged batch
is on the new primary, the loop resumes without a gap, and the old primary rejoins as a
standby with ``ranopt ops rejoin`` (pg_rewind).
"""

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import httpx
import pytest
from ops_world import LoopNetwork, Serve, loop_network, record_figures, wait_for
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from ranopt.cli.main import app
from ranopt.ops.failover import Criteria, Probe, ServiceProber, decide, measure, watch
from ranopt.ops.postgres import cluster_state
from ranopt.store import loops
from ranopt.store.engine import make_engine, open_store
from ranopt.store.pgcluster import ClusterError, ReplicatedPair
from ranopt.store.tables import KpiSample, LoopInterval

SERVING_BOUND_S = 30.0
BATCH_START_S = 1_748_736_000  # 2025-06-01 00:00 UTC, away from the loop's own intervals
CELLS = ("S000-1-cov", "S001-1-cov", "S002-1-cov")


@pytest.fixture(scope="module")
def pair() -> Iterator[ReplicatedPair]:
    made = ReplicatedPair().start()
    yield made
    made.stop()


@dataclass
class Ingestion:
    """Posts one telemetry batch (3 cells, one interval) after another; keeps the answers."""

    base: str
    network: LoopNetwork
    acked: dict[int, float] = field(default_factory=dict)  # batch -> monotonic time of 201
    failed: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        path = f"{self.base}/api/v2/networks/{self.network.network_id}/telemetry"
        with httpx.Client(headers=self.network.headers, timeout=10) as client:
            i = 0
            while not self.stop.is_set():
                records = [
                    {"cell": cell, "interval_start_s": BATCH_START_S + 900 * i,
                     "counters": {"RRU.PrbUsedDl": float(i % 100), "RRU.PrbAvailDl": 106.0}}
                    for cell in CELLS
                ]  # fmt: skip
                try:
                    answer = client.post(path, json={"records": records})
                except httpx.HTTPError:
                    answer = None
                if answer is not None and answer.status_code == 201:
                    self.acked[i] = time.monotonic()
                    i += 1  # the next batch; a refused one is sent again
                else:
                    self.failed += 1
                    time.sleep(0.1)
                time.sleep(0.05)


def _interval_numbers(url: str, network_id: int) -> list[int]:
    store = open_store(url)
    try:
        with store.transaction() as session:
            return list(
                session.scalars(
                    select(LoopInterval.interval).where(LoopInterval.network_id == network_id)
                )
            )
    finally:
        store.dispose()


def _next_interval(url: str, network: LoopNetwork) -> int:
    store = open_store(url)
    try:
        with store.transaction() as session:
            return loops.loop_settings(
                session, tenant_id=network.tenant_id, network_id=network.network_id
            ).next_interval
    finally:
        store.dispose()


def _service_database(pair: ReplicatedPair) -> tuple[str, LoopNetwork]:
    """Create database ``ranopt`` on the primary with a loop network; return the both-host URL."""
    admin = make_engine(pair.a.url())
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CREATE DATABASE ranopt"))
    admin.dispose()
    url = pair.url("ranopt")
    return url, loop_network(url)


def _ready_probes(server: Serve) -> float:
    """Return how many /ready requests the server counted (the dry run's and the watcher's)."""
    metrics = httpx.get(f"{server.base}/metrics", timeout=5).text
    found = re.search(
        r'ranopt_http_requests_total\{method="GET",route="/ready",status="200"\} (\S+)', metrics
    )
    return float(found.group(1)) if found else 0.0


def _lost_batches(url: str, ingestion: Ingestion) -> set[int]:
    """Return the acknowledged batches (their interval start) not on the primary now."""
    store = open_store(url)
    try:
        with store.transaction() as session:
            stored = set(
                session.scalars(
                    select(KpiSample.interval_start_s)
                    .where(KpiSample.interval_start_s >= BATCH_START_S)
                    .where(KpiSample.interval_start_s < BATCH_START_S + 900 * 100_000)
                    .group_by(KpiSample.interval_start_s)
                    .having(func.count() == len(CELLS))
                )
            )
    finally:
        store.dispose()
    return {BATCH_START_S + 900 * i for i in ingestion.acked} - stored


def _rejoin_old_primary(pair: ReplicatedPair, url: str) -> None:
    """``ranopt ops rejoin`` node a to node b; it streams and b commits synchronously again."""
    rejoin = CliRunner().invoke(app, [
        "ops", "rejoin", str(pair.a.data), "--source", pair.b.url("ranopt"), "--start",
        pair.a.options, "--log", str(pair.a.log), "--no-sync",
    ])  # fmt: skip
    log = pair.a.log.read_text()[-3000:] if pair.a.log.exists() else ""
    assert rejoin.exit_code == 0, f"{rejoin.output}\n{log}"
    states = {s.node.port: s for s in cluster_state(url)}
    assert states[pair.a.port].in_recovery is True
    assert states[pair.b.port].in_recovery is False
    try:
        pair.wait_streaming(pair.b)  # synchronous again
    except ClusterError as exc:
        raise AssertionError(pair.a.log.read_text()[-3000:]) from exc


def test_decision_needs_two_criteria() -> None:
    healthy = Probe(0.0, True, True, 0.01, 100.0, 0.0, True)
    down = Probe(1.0, True, False, 0.02, 120.0, 10.0, False)
    slow = Probe(1.0, True, True, 6.0, 120.0, 0.0, True)
    one = decide(measure([healthy] * 18 + [slow] * 2), Criteria())  # p95 is slow
    assert one.held == ["response time"]
    assert not one.failover
    both = decide(measure([healthy] * 18 + [down, down]), Criteria())
    assert both.held == ["availability", "error rate", "database unreachable"]
    assert both.failover
    # one failed connection is not "unreachable"; no traffic is no error rate
    blip = measure([Probe(0.0, True, True, 0.01, None, None, True)] * 3 + [down, healthy])
    assert blip.database_reachable
    assert blip.error_rate is None


def test_kill_the_primary_during_ingestion_and_a_loop_step(
    pair: ReplicatedPair, tmp_path: Path
) -> None:
    url, network = _service_database(pair)
    server = Serve(
        {"RANOPT_DATABASE_URL": url, "RANOPT_DATA_DIR": str(tmp_path),
         "RANOPT_LOOP_ENABLED": "true", "RANOPT_LOOP_TICK_S": "0.2"},
        tmp_path / "serve.log",
    ).start()  # fmt: skip
    ingestion = Ingestion(server.base, network)
    feeder = threading.Thread(target=ingestion.run, daemon=True)
    watcher = None
    try:
        server.wait_healthy()
        dry = CliRunner().invoke(app, [
            "ops", "failover", "--service", server.base, "--database-url", url, "--window", "3",
            "--interval-s", "0.1", "--dry-run",
        ])  # fmt: skip
        assert dry.exit_code == 0, dry.output
        assert "no failover: 0 criteria hold" in dry.output
        first = _next_interval(url, network)
        feeder.start()
        watcher = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "ranopt.cli.main", "ops", "failover", "--service",
             server.base, "--database-url", url, "--watch", "--window", "10",
             "--interval-s", "0.25", "--timeout-s", "5", "--max-s", "120", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_for(lambda: _next_interval(url, network) >= first + 2, 60.0, "the loop stepping")
        wait_for(lambda: len(ingestion.acked) >= 10, 30.0, "ten batches acknowledged")
        # the watcher's window is full of healthy probes
        wait_for(lambda: _ready_probes(server) >= 15, 60.0, "the watcher probing")

        killed_at = time.monotonic()
        pair.a.kill()
        out, err = watcher.communicate(timeout=120)
        assert watcher.returncode == 0, err[-3000:]
        report = json.loads(out)
        assert report["action"] == "promoted", report["detail"]
        assert report["promoted"] == f"127.0.0.1:{pair.b.port}"
        assert "database unreachable" in report["decision"]["held"]
        assert len(report["decision"]["held"]) >= 2
        # the service answers again (a write acknowledged) within the bound
        wait_for(
            lambda: any(t > killed_at for t in ingestion.acked.values()), SERVING_BOUND_S,
            "an acknowledged write after the kill",
        )  # fmt: skip
        serving_s = min(t for t in ingestion.acked.values() if t > killed_at) - killed_at
        resumed = len(ingestion.acked)
        wait_for(lambda: len(ingestion.acked) >= resumed + 5, 30.0, "five more batches")
        at_failover = _next_interval(url, network)
        wait_for(lambda: _next_interval(url, network) >= at_failover + 2, 60.0, "loop resumed")
    finally:
        ingestion.stop.set()
        if feeder.is_alive():
            feeder.join(15)
        if watcher is not None and watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
        server.stop()

    lost = _lost_batches(url, ingestion)
    assert not lost, f"{len(lost)} acknowledged batches lost"
    assert ingestion.failed > 0  # the outage was seen
    # the loop saw the outage (a step failed, or its lease could not be renewed and it stopped
    # there, whichever came first), and no interval was skipped or run twice
    log = (tmp_path / "serve.log").read_text()
    loop = f"loop of network {network.network_id}"
    assert f"{loop} failed" in log or f"{loop}: stopped here" in log, log[-3000:]
    numbers = _interval_numbers(url, network.network_id)
    assert sorted(numbers) == list(range(min(numbers), max(numbers) + 1))
    _rejoin_old_primary(pair, url)
    record_figures(
        failover_detect_s=report["decided_s"] - killed_at,
        failover_serving_s=serving_s,
        failover_writes_acked=len(ingestion.acked),
        failover_writes_lost=len(lost),
        **{f"failover_{k}": v for k, v in report["timings"].items()},
    )


@dataclass
class _ScriptedProbes:
    """Stands in for the HTTP prober: the probes a watch would take, in order."""

    probes: list[Probe]

    def probe(self) -> Probe:
        return self.probes.pop(0)


def test_watch_goes_on_through_an_overload_beside_a_healthy_primary() -> None:
    slow = Probe(0.0, True, False, 6.0, 100.0, 10.0, True)  # unavailable, slow, errors
    down = Probe(1.0, True, False, 6.0, 120.0, 20.0, False)
    script = _ScriptedProbes([slow] * 6 + [down] * 2)
    probes, decision = watch(
        cast(ServiceProber, script), Criteria(), window=3, interval_s=0.0, until_failover=True
    )
    # the overload alone indicated failover from the third probe on, but the primary answered:
    # the watch went on until the primary itself was unreachable
    assert decision.failover
    assert "database unreachable" in decision.held
    assert probes[-2:] == [down, down]
    assert not script.probes  # every scripted probe was taken
