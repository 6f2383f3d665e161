"""Store: migrations, tenant scoping, idempotent upserts, queries, retention (both backends)."""

from collections.abc import Callable

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from ranopt.counters import COUNTER_BY_COLUMN, COUNTER_COLUMNS
from ranopt.errors import ValidationError
from ranopt.store import repository as repo
from ranopt.store.engine import Store, StoreError, current_revision, head_revision, open_store
from ranopt.store.samples import SampleBatch
from ranopt.store.schemas import NetworkOut, TopologyIn
from ranopt.store.tables import Base, KpiSample

T0_S = 1_767_571_200  # 2026-01-05T00:00:00Z, a Monday
NOW_S = T0_S + 7 * 86_400


def make_network(store: Store, topology: TopologyIn, tenant: str = "default") -> NetworkOut:
    with store.transaction() as s:
        tenant_id = repo.ensure_tenant(s, name=tenant, now_s=NOW_S)
        return repo.create_network(s, tenant_id=tenant_id, topology=topology, now_s=NOW_S)


def random_batch(
    net: NetworkOut, store: Store, num_intervals: int, seed: int = 0, t0_s: int = T0_S
) -> SampleBatch:
    with store.transaction() as s:
        cells = repo.network_cells(s, tenant_id=net.tenant_id, network_id=net.id)
    rng = np.random.default_rng(seed)
    ids = np.array([c.id for c in cells], dtype=np.int64)
    # [T, C] flattened time-major, as a PM stream arrives
    t = t0_s + net.interval_s * np.repeat(np.arange(num_intervals), ids.size)
    cell = np.tile(ids, num_intervals)
    n = t.size
    values = {c: rng.uniform(0, COUNTER_BY_COLUMN[c].max_value / 1000, n) for c in COUNTER_COLUMNS}
    values["prb_tot_dl_pct"] = rng.uniform(0, 100, n)
    return SampleBatch(
        cell_id=cell, interval_start_s=t.astype(np.int64), values=values,
        suspect=rng.random(n) < 0.05,
    )  # fmt: skip


def test_migrations_match_the_table_models(store: Store) -> None:
    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    store = open_store(f"sqlite:///{tmp_path}/wal.db")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    store.dispose()


def test_refuses_to_migrate_a_foreign_database(tmp_path: object) -> None:
    import sqlite3

    path = f"{tmp_path}/foreign.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE other (x)")
    with pytest.raises(StoreError, match="no ranopt schema revision"):
        open_store(f"sqlite:///{path}")


def test_network_roundtrip_and_duplicate_name(
    store: Store, three_site_topology: TopologyIn
) -> None:
    net = make_network(store, three_site_topology)
    assert (net.name, net.num_cells, net.interval_s) == ("three-site", 18, 900)
    with store.transaction() as s:
        cells = repo.network_cells(s, tenant_id=net.tenant_id, network_id=net.id)
        assert [c.name for c in cells][:2] == ["S000-1-cov", "S000-2-cov"]
        assert cells[0].dn.endswith("ManagedElement=gNB-S000,GNBDUFunction=1,NRCellDU=1")
        assert cells[0].nci == (1 << 14) | 1
    with pytest.raises(ValidationError, match="already exists"):
        make_network(store, three_site_topology)


def test_tenants_see_only_their_own_data(store: Store, three_site_topology: TopologyIn) -> None:
    net = make_network(store, three_site_topology, tenant="alpha")
    batch = random_batch(net, store, 4)
    with store.transaction() as s:
        repo.upsert_samples(s, tenant_id=net.tenant_id, network_id=net.id, batch=batch)
        beta = repo.ensure_tenant(s, name="beta", now_s=NOW_S)
    with store.transaction() as s:
        assert repo.list_networks(s, tenant_id=beta) == []
        with pytest.raises(repo.NotFoundError):
            repo.get_network(s, tenant_id=beta, name="three-site")
        assert repo.network_cells(s, tenant_id=beta, network_id=net.id) == []
        assert repo.count_samples(s, tenant_id=beta) == 0
        got = repo.series(
            s, tenant_id=beta, cell_ids=batch.cell_id.tolist(), start_s=T0_S,
            end_s=NOW_S, bucket_s=900,
        )  # fmt: skip
        assert got.cell_id.size == 0
        agg = repo.network_aggregate(
            s, tenant_id=beta, network_id=net.id, start_s=T0_S, end_s=NOW_S
        )
        assert agg.interval_start_s.size == 0
        with pytest.raises(repo.NotFoundError):
            repo.upsert_samples(s, tenant_id=beta, network_id=net.id, batch=batch)
    with store.transaction() as s:
        assert repo.count_samples(s, tenant_id=net.tenant_id) == len(batch)


def test_upsert_is_idempotent_and_merges_counters(
    store: Store, three_site_topology: TopologyIn
) -> None:
    net = make_network(store, three_site_topology)
    batch = random_batch(net, store, 8)
    for _ in range(2):  # the second run takes the merge path (PostgreSQL: stage + ON CONFLICT)
        with store.transaction() as s:
            repo.upsert_samples(s, tenant_id=net.tenant_id, network_id=net.id, batch=batch)
    # a later delivery for one sample with only one counter and an extra one
    one = SampleBatch(
        cell_id=batch.cell_id[:1], interval_start_s=batch.interval_start_s[:1],
        values={"rrc_conn_mean": np.array([42.0])}, suspect=np.array([False]),
        extra=({"RRC.ConnMax": 50.0},),
    )  # fmt: skip
    two = SampleBatch(
        cell_id=batch.cell_id[:1], interval_start_s=batch.interval_start_s[:1],
        values={}, suspect=np.array([True]), extra=({"RRC.ConnMean.226F04": 7.0},),
    )  # fmt: skip
    for extra_batch in (one, two):
        with store.transaction() as s:
            repo.upsert_samples(s, tenant_id=net.tenant_id, network_id=net.id, batch=extra_batch)
    with store.transaction() as s:
        assert repo.count_samples(s, tenant_id=net.tenant_id) == len(batch)
        row = s.get(KpiSample, (net.id, int(batch.interval_start_s[0]), int(batch.cell_id[0])))
        assert row is not None
        assert row.rrc_conn_mean == 42.0
        assert row.prb_used_dl == pytest.approx(batch.values["prb_used_dl"][0])
        assert row.extra == {"RRC.ConnMax": 50.0, "RRC.ConnMean.226F04": 7.0}
        assert row.suspect is True
        row2 = s.get(KpiSample, (net.id, int(batch.interval_start_s[1]), int(batch.cell_id[1])))
        assert row2 is not None
        assert row2.pee_avg_power_w == pytest.approx(batch.values["pee_avg_power_w"][1])


def test_upsert_rejects_cells_of_another_network(
    store: Store, topology_factory: Callable[..., TopologyIn]
) -> None:
    a = make_network(store, topology_factory(name="a"))
    b = make_network(store, topology_factory(name="b"))
    batch = random_batch(a, store, 1)
    with store.transaction() as s, pytest.raises(ValidationError, match="not a cell of network"):
        repo.upsert_samples(s, tenant_id=b.tenant_id, network_id=b.id, batch=batch)


def _expected_series(batch: SampleBatch, cell: int, bucket_s: int) -> dict[str, np.ndarray]:
    """Independent downsampling with numpy: one cell, buckets of ``bucket_s``."""
    mask = batch.cell_id == cell
    t = batch.interval_start_s[mask]
    buckets = t - t % bucket_s
    out: dict[str, np.ndarray] = {}
    for name in COUNTER_COLUMNS:
        v = batch.values[name][mask]
        how = COUNTER_BY_COLUMN[name].aggregation
        fn = {"mean": np.mean, "max": np.max, "sum": np.sum}[how]
        out[name] = np.array([fn(v[buckets == b]) for b in np.unique(buckets)])
    return out


def test_series_downsamples_each_counter_by_its_meaning(
    store: Store, three_site_topology: TopologyIn
) -> None:
    net = make_network(store, three_site_topology)
    batch = random_batch(net, store, 96)
    with store.transaction() as s:
        repo.upsert_samples(s, tenant_id=net.tenant_id, network_id=net.id, batch=batch)
    cell = int(batch.cell_id[5])
    with store.transaction() as s:
        got = repo.series(
            s, tenant_id=net.tenant_id, cell_ids=[cell], start_s=T0_S, end_s=T0_S + 86_400,
            bucket_s=3_600,
        )  # fmt: skip
    assert got.bucket_start_s.tolist() == [T0_S + 3_600 * h for h in range(24)]
    assert got.num_samples.tolist() == [4] * 24
    expected = _expected_series(batch, cell, 3_600)
    for name in COUNTER_COLUMNS:
        np.testing.assert_allclose(got.values[name], expected[name], rtol=1e-12, err_msg=name)


def test_network_aggregate_per_interval(store: Store, three_site_topology: TopologyIn) -> None:
    net = make_network(store, three_site_topology)
    batch = random_batch(net, store, 8)
    with store.transaction() as s:
        repo.upsert_samples(s, tenant_id=net.tenant_id, network_id=net.id, batch=batch)
        agg = repo.network_aggregate(
            s, tenant_id=net.tenant_id, network_id=net.id, start_s=T0_S + 900, end_s=T0_S + 3_600
        )
    assert agg.interval_start_s.tolist() == [T0_S + 900, T0_S + 1_800, T0_S + 2_700]
    assert agg.num_cells.tolist() == [18, 18, 18]
    power = batch.values["pee_avg_power_w"].reshape(8, 18)
    thp = batch.values["ue_thp_dl_mbps"].reshape(8, 18)
    np.testing.assert_allclose(agg.values["pee_avg_power_w"], power[1:4].sum(axis=1))
    np.testing.assert_allclose(agg.values["ue_thp_dl_mbps"], thp[1:4].mean(axis=1))


def test_prune_rolls_up_then_deletes_and_series_still_answers(
    store: Store, three_site_topology: TopologyIn
) -> None:
    net = make_network(store, three_site_topology)
    batch = random_batch(net, store, 144)  # 36 h of samples from T0
    cells = sorted(set(batch.cell_id.tolist()))
    with store.transaction() as s:
        repo.upsert_samples(s, tenant_id=net.tenant_id, network_id=net.id, batch=batch)
        before = repo.series(
            s, tenant_id=net.tenant_id, cell_ids=cells, start_s=T0_S, end_s=T0_S + 86_400,
            bucket_s=6 * 3_600,
        )  # fmt: skip
        repo.set_retention(s, tenant_id=net.tenant_id, raw_days=1, rollup_days=30)
    # the network's time is the end of its newest sample, T0 + 36 h (the wall clock is later):
    # the first 12 hours are past the one raw day and rolled up
    with store.transaction() as s:
        result = repo.prune(s, tenant_id=net.tenant_id, now_s=T0_S + 400 * 86_400)
        assert repo.prune_if_due(s, tenant_id=net.tenant_id, now_s=T0_S + 400 * 86_400) is None
    assert result.raw_cutoff_s == {net.id: T0_S + 12 * 3_600}
    assert result.deleted_samples == 48 * 18
    assert result.rolled_up_hours == 12 * 18
    with store.transaction() as s:
        assert repo.count_samples(s, tenant_id=net.tenant_id) == 96 * 18
        after = repo.series(
            s, tenant_id=net.tenant_id, cell_ids=cells, start_s=T0_S, end_s=T0_S + 86_400,
            bucket_s=6 * 3_600,
        )  # fmt: skip
    np.testing.assert_array_equal(after.bucket_start_s, before.bucket_start_s)
    np.testing.assert_array_equal(after.num_samples, before.num_samples)
    for name in COUNTER_COLUMNS:
        np.testing.assert_allclose(after.values[name], before.values[name], rtol=1e-9, err_msg=name)
    # rollups expire rollup_days after the network's time: one interval 31 days on moves it
    late = random_batch(net, store, 1, t0_s=T0_S + 31 * 86_400)
    with store.transaction() as s:
        repo.upsert_samples(s, tenant_id=net.tenant_id, network_id=net.id, batch=late)
        gone = repo.prune(s, tenant_id=net.tenant_id, now_s=T0_S + 400 * 86_400)
    # raw before T0 + 30 d is rolled up (hours 12-35), then every rollup hour that starts
    # before T0 + 1 d 15 min expires: hours 0-24
    assert gone.rolled_up_hours == 24 * 18
    assert gone.deleted_rollups == 25 * 18


def test_retention_counts_from_the_network_time_not_the_wall_clock(
    store: Store, three_site_topology: TopologyIn
) -> None:
    """A network replaying January (the demo's twin) keeps its history whatever the date."""
    net = make_network(store, three_site_topology)
    batch = random_batch(net, store, 96)  # one day from T0
    with store.transaction() as s:
        repo.upsert_samples(s, tenant_id=net.tenant_id, network_id=net.id, batch=batch)
        # a year later by the wall clock, 90 raw days: nothing is past retention
        result = repo.prune(s, tenant_id=net.tenant_id, now_s=T0_S + 365 * 86_400)
        assert repo.count_samples(s, tenant_id=net.tenant_id) == 96 * 18
    assert result.deleted_samples == 0
    assert result.rolled_up_hours == 0
    with store.transaction() as s:  # the wall clock still caps it: no future sample rules
        assert (
            repo.network_time_s(s, network_id=net.id, interval_s=900, now_s=T0_S + 3_600)
            == T0_S + 3_600
        )


def test_typed_columns_are_the_counter_catalogue() -> None:
    from ranopt.store.tables import KpiHourly

    fixed = {"network_id", "interval_start_s", "hour_start_s", "cell_id", "tenant_id", "suspect",
             "extra", "num_samples"}  # fmt: skip
    for table in (KpiSample.__table__, KpiHourly.__table__):
        assert {c.name for c in table.columns} - fixed == set(COUNTER_COLUMNS)


def test_every_write_to_a_network_s_samples_renews_its_kpi_generation(
    store: Store, three_site_topology: TopologyIn
) -> None:
    """The token cached KPI answers are keyed on (the loop writes through upsert_samples)."""
    from ranopt.store.networks import delete_network
    from ranopt.store.topology import refresh_topology

    def generation() -> int:
        with store.transaction() as s:
            return repo.kpi_generation(s, tenant_id=net.tenant_id, network_id=net.id).generation

    net = make_network(store, three_site_topology)
    seen = [generation()]
    assert seen[0] != 0  # a new network starts with a token of its own
    with store.transaction() as s:
        repo.upsert_samples(
            s, tenant_id=net.tenant_id, network_id=net.id, batch=random_batch(net, store, 8)
        )
    seen.append(generation())
    with store.transaction() as s:  # an empty batch writes nothing and keeps the token
        repo.upsert_samples(
            s, tenant_id=net.tenant_id, network_id=net.id, batch=random_batch(net, store, 0)
        )
    assert generation() == seen[-1]
    with store.transaction() as s:  # a prune that removes nothing keeps it too
        repo.prune(s, tenant_id=net.tenant_id, now_s=T0_S + 86_400)
    assert generation() == seen[-1]
    with store.transaction() as s:
        repo.set_retention(s, tenant_id=net.tenant_id, raw_days=1, rollup_days=1)
        repo.upsert_samples(
            s, tenant_id=net.tenant_id, network_id=net.id,
            batch=random_batch(net, store, 1, t0_s=T0_S + 3 * 86_400),
        )  # fmt: skip
    seen.append(generation())
    with store.transaction() as s:
        assert repo.prune(s, tenant_id=net.tenant_id, now_s=T0_S + 9 * 86_400).deleted_samples
    seen.append(generation())
    bigger = three_site_topology.model_copy(
        update={"cells": [*three_site_topology.cells, three_site_topology.cells[0].model_copy(
            update={"name": "S000-9-new", "dn": three_site_topology.cells[0].dn + "9",
                    "cu_dn": None, "nci": None})]}
    )  # fmt: skip
    with store.transaction() as s:
        refresh_topology(s, tenant_id=net.tenant_id, network_id=net.id, topology=bigger)
    seen.append(generation())
    assert len(set(seen)) == len(seen)  # every write gave a new token
    with store.transaction() as s:
        delete_network(s, tenant_id=net.tenant_id, network_id=net.id)
        with pytest.raises(repo.NotFoundError):
            repo.kpi_generation(s, tenant_id=net.tenant_id, network_id=net.id)
        # a network created under the same id would not inherit a token cached before
        again = repo.create_network(
            s, tenant_id=net.tenant_id, topology=three_site_topology, now_s=T0_S
        )
        fresh = repo.kpi_generation(s, tenant_id=net.tenant_id, network_id=again.id).generation
    assert fresh not in seen
