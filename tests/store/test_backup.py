"""Backup and restore round trip with verification, on both backends."""

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete

from ranopt.counters import COUNTER_COLUMNS
from ranopt.store import repository as repo
from ranopt.store.backup import BackupError, backup, manifest_path, restore, table_digests
from ranopt.store.engine import Store
from ranopt.store.samples import SampleBatch
from ranopt.store.schemas import TopologyIn
from ranopt.store.tables import KpiSample

T0_S = 1_767_571_200


def fill(store: Store, topology: TopologyIn) -> int:
    with store.transaction() as s:
        tid = repo.ensure_tenant(s, name="default", now_s=T0_S)
        net = repo.create_network(s, tenant_id=tid, topology=topology, now_s=T0_S)
        ids = np.array([c.id for c in repo.network_cells(s, tenant_id=tid, network_id=net.id)])
        rng = np.random.default_rng(1)
        n = ids.size * 4
        t = T0_S + 900 * np.repeat(np.arange(4), ids.size)
        batch = SampleBatch(
            cell_id=np.tile(ids, 4), interval_start_s=t,
            values={c: rng.uniform(0, 50, n) for c in COUNTER_COLUMNS},
            suspect=np.zeros(n, dtype=np.bool_),
            extra=tuple({"RRU.PrbUsedDl.01": float(i)} if i % 3 == 0 else None for i in range(n)),
        )  # fmt: skip
        repo.upsert_samples(s, tenant_id=tid, network_id=net.id, batch=batch)
    return tid


def test_backup_restore_round_trip_verifies(
    store: Store, three_site_topology: TopologyIn, tmp_path: Path
) -> None:
    tid = fill(store, three_site_topology)
    path = tmp_path / "ranopt.backup"
    taken = backup(store, path)
    assert taken["kpi_samples"].rows == 18 * 4
    manifest = json.loads(manifest_path(path).read_text())
    assert manifest["tables"]["cells"]["rows"] == 18
    # damage the live database after the backup
    with store.transaction() as s:
        s.execute(delete(KpiSample).where(KpiSample.tenant_id == tid))
        repo.ensure_tenant(s, name="intruder", now_s=T0_S)
    assert table_digests(store) != taken
    restored = restore(store, path)
    assert restored.digests == taken
    with store.transaction() as s:
        assert repo.count_samples(s, tenant_id=tid) == 18 * 4
        assert [n.name for n in repo.list_networks(s, tenant_id=tid)] == ["three-site"]
    # the replaced database is kept, with the damage it had
    if store.dialect == "sqlite":
        assert Path(restored.previous).is_file()
    else:
        assert restored.previous.startswith("ranopt_test_pre_restore_")


def _tamper(store: Store, path: Path) -> None:
    """Change one sample inside the backup itself (SQLite) or its dump's manifest (PostgreSQL)."""
    if store.dialect == "sqlite":
        with sqlite3.connect(path) as conn:
            conn.execute(
                "UPDATE kpi_samples SET prb_used_dl = prb_used_dl + 1 "
                "WHERE interval_start_s = (SELECT MIN(interval_start_s) FROM kpi_samples)"
            )
        conn.close()
        return
    manifest = json.loads(manifest_path(path).read_text())
    manifest["tables"]["kpi_samples"]["sha256"] = "0" * 64
    manifest_path(path).write_text(json.dumps(manifest))


def test_a_tampered_backup_leaves_the_live_database_unchanged(
    store: Store, three_site_topology: TopologyIn, tmp_path: Path
) -> None:
    fill(store, three_site_topology)
    path = tmp_path / "ranopt.backup"
    backup(store, path)
    with store.transaction() as s:  # the live database moves on after the backup
        repo.ensure_tenant(s, name="after-backup", now_s=T0_S)
    live = table_digests(store)
    _tamper(store, path)
    with pytest.raises(BackupError, match=r"did not verify.*live database is unchanged"):
        restore(store, path)
    assert table_digests(store) == live
    with store.transaction() as s:
        assert repo.ensure_tenant(s, name="after-backup", now_s=T0_S) > 0
    if store.dialect == "sqlite":  # no staged copy left behind
        assert sorted(p.name for p in tmp_path.iterdir() if "restore" in p.name) == []


def test_restore_refuses_a_backup_that_does_not_match_its_manifest(
    store: Store, three_site_topology: TopologyIn, tmp_path: Path
) -> None:
    fill(store, three_site_topology)
    path = tmp_path / "ranopt.backup"
    backup(store, path)
    manifest = json.loads(manifest_path(path).read_text())
    manifest["tables"]["kpi_samples"]["rows"] += 1
    manifest["tables"]["kpi_samples"]["sha256"] = "0" * 64
    manifest_path(path).write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="kpi_samples: 72 rows vs 73 in the manifest"):
        restore(store, path)


def test_checksum_sees_a_changed_value(store: Store, three_site_topology: TopologyIn) -> None:
    fill(store, three_site_topology)
    before = table_digests(store)
    with store.transaction() as s:
        row = s.query(KpiSample).first()
        assert row is not None
        row.prb_used_dl = (row.prb_used_dl or 0.0) + 1e-9
    after = table_digests(store)
    assert after["kpi_samples"].rows == before["kpi_samples"].rows
    assert after["kpi_samples"].sha256 != before["kpi_samples"].sha256
    assert after["cells"] == before["cells"]


def test_restore_without_manifest_fails(store: Store, tmp_path: Path) -> None:
    (tmp_path / "x.backup").write_bytes(b"")
    with pytest.raises(BackupError, match="no manifest"):
        restore(store, tmp_path / "x.backup")
