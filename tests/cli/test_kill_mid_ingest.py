"""A real ``ranopt ingest`` process killed with SIGKILL mid-write leaves the database consistent."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import text

from ranopt.ingest.pipeline import ingest_file
from ranopt.store import repository as repo
from ranopt.store.engine import open_store
from ranopt.store.schemas import TopologyIn

T0_S = 1_767_571_200
NUM_INTERVALS = 4_000  # x 18 cells = 72 000 samples, written in 1 000-sample chunks


def wide_file(path: Path, topology: TopologyIn, first_interval: int) -> int:
    names = [c.name for c in topology.cells]
    t = T0_S + 900 * (first_interval + np.repeat(np.arange(NUM_INTERVALS), len(names)))
    n = t.size
    rng = np.random.default_rng(first_interval)
    table = pa.table({
        "cell": pa.array(names * NUM_INTERVALS),
        "interval_start_s": pa.array(t),
        "RRU.PrbTotDl": pa.array(rng.uniform(0, 100, n)),
        "PEE.AvgPower": pa.array(rng.uniform(100, 900, n)),
    })  # fmt: skip
    pq.write_table(table, path)
    return n


def ingest_cmd(path: Path) -> list[str]:
    return [sys.executable, "-m", "ranopt.cli.main", "ingest", str(path), "--network",
            "three-site", "--chunk-rows", "1000"]  # fmt: skip


def test_sigkill_mid_ingest_leaves_all_or_nothing(
    db_url: str, three_site_topology: TopologyIn, tmp_path: Path
) -> None:
    store = open_store(db_url)
    with store.transaction() as s:
        tid = repo.ensure_tenant(s, name="default", now_s=T0_S + 10 * 86_400)
        repo.create_network(s, tenant_id=tid, topology=three_site_topology, now_s=T0_S)
        # no automatic prune during the test: the last one was "just now"
        repo.prune(s, tenant_id=tid, now_s=2**40)
    env = {**os.environ, "RANOPT_DATABASE_URL": db_url, "RANOPT_DATA_DIR": str(tmp_path)}
    first, second = tmp_path / "first.parquet", tmp_path / "second.parquet"
    n_first = wide_file(first, three_site_topology, 0)
    n_second = wide_file(second, three_site_topology, NUM_INTERVALS)
    ingest_file(store, first, tenant_id=tid, network="three-site")

    with subprocess.Popen(ingest_cmd(second), env=env, stderr=subprocess.PIPE, text=True) as proc:  # noqa: S603
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # wait until the process is writing inside its transaction
            seen.append(line)
            if line.startswith("wrote 2000/"):
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    assert seen[-1].startswith("wrote 2000/72000"), "".join(seen)

    with store.transaction() as s:
        assert repo.count_samples(s, tenant_id=tid) == n_first  # none of the killed batch
    if store.dialect == "sqlite":
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    ingest_file(store, second, tenant_id=tid, network="three-site")
    with store.transaction() as s:
        assert repo.count_samples(s, tenant_id=tid) == n_first + n_second
    store.dispose()
