"""Twin export round trip and CSV/Parquet tables (long, wide), written to both backends."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ranopt.ingest.batch import BatchRejectedError
from ranopt.ingest.export import DEFAULT_EPOCH, export_twin_run
from ranopt.ingest.pipeline import ingest_file
from ranopt.store import repository as repo
from ranopt.store.engine import Store
from ranopt.store.schemas import TopologyIn
from ranopt.store.tables import KpiSample
from ranopt.twin.model import Twin
from ranopt.twin.simulate import IntervalKpis

T9_S = int(DEFAULT_EPOCH.timestamp()) + 9 * 3600


def register(store: Store, topology: TopologyIn) -> tuple[int, int]:
    with store.transaction() as s:
        tid = repo.ensure_tenant(s, name="default", now_s=T9_S)
        net = repo.create_network(s, tenant_id=tid, topology=topology, now_s=T9_S)
    return tid, net.id


def test_export_writes_wide_kpis_and_topology(
    small_twin_run: tuple[Twin, IntervalKpis], tmp_path: Path
) -> None:
    twin, kpis = small_twin_run
    path, topo = export_twin_run(tmp_path / "run.parquet", twin, kpis)
    assert topo == tmp_path / "run.topology.json"
    table = pq.read_table(path)
    assert table.num_rows == 8 * 42
    assert table.column_names == [
        "time", "cell", "RRU.PrbUsedDl", "RRU.PrbAvailDl", "RRU.PrbTotDl", "DRB.UEThpDl",
        "RRC.ConnMean", "PEE.AvgPower", "PEE.Energy", "DRB.PdcpSduVolumeDL",
        "VS.OfferedVolumeDl",
    ]  # fmt: skip
    assert table.schema.field("DRB.UEThpDl").metadata == {b"unit": b"Mbit/s"}
    assert table.column("time")[0].as_py().isoformat() == "2026-01-05T09:00:00+00:00"
    topology = TopologyIn.model_validate(json.loads(topo.read_text()))
    assert len(topology.cells) == 42
    cell = topology.cells[4]
    assert cell.dn == (
        "DC=ranopt.twin,SubNetwork=default-s0,ManagedElement=gNB-S000,GNBDUFunction=1,NRCellDU=5"
    )
    assert cell.nci == (1 << 14) | 5
    assert (cell.name, cell.layer) == (twin.cells[4].name, twin.cells[4].layer)


def test_export_ingests_back_exactly_and_idempotently(
    store: Store, small_twin_run: tuple[Twin, IntervalKpis], tmp_path: Path
) -> None:
    twin, kpis = small_twin_run
    path, topo = export_twin_run(tmp_path / "run.parquet", twin, kpis)
    tid, net_id = register(store, TopologyIn.model_validate(json.loads(topo.read_text())))
    for _ in range(2):
        result = ingest_file(store, path, tenant_id=tid, network="default-s0")
        assert result.num_samples == 8 * 42
    with store.transaction() as s:
        assert repo.count_samples(s, tenant_id=tid) == 8 * 42
        cells = repo.network_cells(s, tenant_id=tid, network_id=net_id)
        c = 7
        got = repo.series(
            s, tenant_id=tid, cell_ids=[cells[c].id], start_s=T9_S, end_s=T9_S + 7200,
            bucket_s=900,
        )  # fmt: skip
    assert cells[c].name == twin.cells[c].name
    np.testing.assert_allclose(got.values["prb_tot_dl_pct"], 100 * kpis.prb_load[:, c])
    np.testing.assert_allclose(got.values["ue_thp_dl_mbps"], kpis.ue_thp_mbps[:, c])
    np.testing.assert_allclose(got.values["pee_avg_power_w"], kpis.power_w[:, c])
    np.testing.assert_allclose(got.values["pee_energy_kwh"], kpis.energy_kwh[:, c])
    np.testing.assert_allclose(got.values["dl_volume_mbit"], kpis.served_mbps[:, c] * 900)
    np.testing.assert_allclose(got.values["rrc_conn_mean"], kpis.num_ues[:, c])


CSV_WIDE = """cell,time,RRU.PrbTotDl,DRB.UEThpDl [Mbit/s],PEE.AvgPower,suspect
S000-1-cov,2026-01-05T09:00:00Z,40,25.5,300,false
S000-2-cov,2026-01-05T09:00:00+00:00,10,80,250,true
16385,2026-01-05T09:15:00Z,45,22,310,
"""

CSV_LONG = """cell,time,counter,value,unit
"DC=ranopt.test,SubNetwork=lab,ManagedElement=gNB-S000,GNBDUFunction=1,NRCellDU=1",2026-01-05T09:00:00Z,RRC.ConnMean,12,UE
"DC=ranopt.test,SubNetwork=lab,ManagedElement=gNB-S000,GNBDUFunction=1,NRCellDU=1",2026-01-05T09:00:00Z,DRB.UEThpDl,26000,kbit/s
"ManagedElement=gNB-S000,GNBCUCPFunction=1,NRCellCU=1",2026-01-05T09:00:00Z,RRC.ConnMax,20,
"""


def test_csv_wide_with_header_units(
    store: Store, three_site_topology: TopologyIn, tmp_path: Path
) -> None:
    tid, _ = register(store, three_site_topology)
    path = tmp_path / "kpis.csv"
    path.write_text(CSV_WIDE)
    assert ingest_file(store, path, tenant_id=tid, network="three-site").num_samples == 3
    with store.transaction() as s:
        rows = s.query(KpiSample).order_by(KpiSample.interval_start_s, KpiSample.cell_id).all()
        assert [(r.prb_tot_dl_pct, r.ue_thp_dl_mbps, r.suspect) for r in rows] == [
            (40.0, 25.5, False), (10.0, 80.0, True), (45.0, 22.0, False),
        ]  # fmt: skip
        assert rows[0].cell_id == rows[2].cell_id  # name and NCI of the same cell


def test_csv_long_merges_with_the_wide_sample(
    store: Store, three_site_topology: TopologyIn, tmp_path: Path
) -> None:
    tid, _ = register(store, three_site_topology)
    (tmp_path / "wide.csv").write_text(CSV_WIDE)
    (tmp_path / "long.csv").write_text(CSV_LONG)
    ingest_file(store, tmp_path / "wide.csv", tenant_id=tid, network="three-site")
    result = ingest_file(store, tmp_path / "long.csv", tenant_id=tid, network="three-site")
    assert (result.num_records, result.num_samples) == (2, 1)  # DU and CU objects, one cell
    with store.transaction() as s:
        assert repo.count_samples(s, tenant_id=tid) == 3
        row = s.query(KpiSample).order_by(KpiSample.interval_start_s, KpiSample.cell_id).first()
        assert row is not None
        assert (row.prb_tot_dl_pct, row.rrc_conn_mean, row.ue_thp_dl_mbps) == (40.0, 12.0, 26.0)
        assert row.extra == {"RRC.ConnMax": 20.0}


def test_parquet_long(store: Store, three_site_topology: TopologyIn, tmp_path: Path) -> None:
    tid, _ = register(store, three_site_topology)
    table = pa.table({
        "cell": ["S001-1-cap", "S001-1-cap", "S001-2-cap"],
        "interval_start_s": [T9_S, T9_S, T9_S + 900],
        "counter": ["PEE.Energy", "RRU.PrbUsedDl.01", "PEE.Energy"],
        "value": [65.0, 12.0, 70.0],
        "unit": ["Wh", "PRB", "Wh"],
    })  # fmt: skip
    pq.write_table(table, tmp_path / "long.parquet")
    assert (
        ingest_file(
            store, tmp_path / "long.parquet", tenant_id=tid, network="three-site"
        ).num_samples
        == 2
    )
    with store.transaction() as s:
        rows = s.query(KpiSample).order_by(KpiSample.interval_start_s).all()
        assert [r.pee_energy_kwh for r in rows] == [pytest.approx(0.065), pytest.approx(0.07)]
        assert rows[0].extra == {"RRU.PrbUsedDl.01": 12.0}


def test_every_bad_record_is_named_and_nothing_is_written(
    store: Store, three_site_topology: TopologyIn, tmp_path: Path
) -> None:
    tid, _ = register(store, three_site_topology)
    (tmp_path / "good.csv").write_text(CSV_WIDE)
    ingest_file(store, tmp_path / "good.csv", tenant_id=tid, network="three-site")
    bad = (
        "cell,time,RRU.PrbTotDl,DRB.UEThpDl [Mbit/s],PEE.Energy [MWh]\n"
        "S000-1-cov,2026-01-05T09:30:00Z,40,25,1\n"  # PEE.Energy unit
        "S999-1-cov,2026-01-05T09:30:00Z,40,25,1\n"  # unknown cell
        "S000-2-cov,2026-01-05T09:37:00Z,40,25,1\n"  # off grid
        "S000-3-cov,2026-01-05T09:30:00Z,140,25,1\n"  # PRB usage over 100 %
        "S001-1-cov,2026-01-05T09:30:00,40,fast,1\n"  # no offset, not a number
        "S001-2-cov,2026-01-05T09:30:00Z,40,25,1\n"  # the only good row
    )
    (tmp_path / "bad.csv").write_text(bad)
    with pytest.raises(BatchRejectedError) as info:
        ingest_file(store, tmp_path / "bad.csv", tenant_id=tid, network="three-site")
    got = {(p.record, p.field) for p in info.value.problems}
    assert got == {
        ("line 6", "time"),
        ("line 6", "DRB.UEThpDl"),
        ("all records", "PEE.Energy"),
        ("line 3", "cell"),
        ("line 4", "time"),
        ("line 5", "RRU.PrbTotDl"),
    }
    assert "nothing written" in str(info.value)
    with store.transaction() as s:
        assert repo.count_samples(s, tenant_id=tid) == 3  # only the earlier good file


def test_duplicate_rows_are_rejected(
    store: Store, three_site_topology: TopologyIn, tmp_path: Path
) -> None:
    tid, _ = register(store, three_site_topology)
    (tmp_path / "dup.csv").write_text(
        "cell,time,RRU.PrbTotDl\nS000-1-cov,2026-01-05T09:00:00Z,40\n"
        "S000-1-cov,2026-01-05T09:00:00Z,41\n"
    )
    with pytest.raises(BatchRejectedError, match="given twice"):
        ingest_file(store, tmp_path / "dup.csv", tenant_id=tid, network="three-site")
