"""TS 28.532 PM XML: the real Keysight RIC-test file, read in place from shared/specs."""

from pathlib import Path

import numpy as np
import pytest

from ranopt.ingest.batch import BatchRejectedError, CellLookup, validate
from ranopt.ingest.pm_xml import parse_pm_xml
from ranopt.store import repository as repo
from ranopt.store.engine import Store
from ranopt.store.schemas import CellIn, NetworkIn, SiteIn, TopologyIn

PREFIX = "DC=Keysight.com,SubNetwork=Morrisville"
ME = f"{PREFIX},ManagedElement=GNB-1"
T0934 = 1_733_909_640  # 2024-12-11T09:34:00Z


@pytest.fixture
def keysight_file(specs: Path) -> bytes:
    files = sorted((specs / "pm").glob("*.xml"))
    assert len(files) == 1, f"expected the Keysight PM file in {specs / 'pm'}"
    return files[0].read_bytes()


def keysight_topology() -> TopologyIn:
    return TopologyIn(
        network=NetworkIn(name="keysight", interval_s=60, dn_prefix=PREFIX),
        sites=[SiteIn(name="GNB-1", x_m=0.0, y_m=0.0, height_m=20.0)],
        cells=[
            CellIn(
                name="GNB-1-1",
                site="GNB-1",
                dn=f"{ME},GNBDUFunction=1,NRCellDU=1",
                cu_dn=f"{ME},GNBCUCPFunction=1,NRCellCU=1",
                nci=(1 << 14) | 1,
                layer="coverage",
                azimuth_deg=0.0,
                carrier_ghz=3.5,
                bandwidth_mhz=5.0,
                scs_khz=30,
                num_prb=14,
                max_tx_power_w=1.0,
            )
        ],
    )


def lookup() -> CellLookup:
    return CellLookup.from_cells(
        [repo.CellRef(id=7, name="GNB-1-1", dn=f"{ME},GNBDUFunction=1,NRCellDU=1",
                      cu_dn=f"{ME},GNBCUCPFunction=1,NRCellCU=1", nci=16385)]
    )  # fmt: skip


def test_parses_cells_and_skips_other_objects(keysight_file: bytes) -> None:
    parsed = parse_pm_xml(keysight_file)
    assert parsed.problems.count == 0
    # per granularity period: 18 measInfo with an NRCellDU value, 21 with an NRCellCU value
    assert len(parsed) == 2 * (18 + 21)
    assert parsed.skipped == {
        "ManagedElement": 8, "GNBCUUPFunction": 8, "NRCellRelation": 58,
        "(empty measObjLdn)": 14,
    }  # fmt: skip
    # granPeriod endTime 09:34:23 and 09:35:23, PT60S
    assert sorted(set(parsed.time_s.tolist())) == [T0934 - 60 + 23, T0934 + 23]
    assert set(parsed.keys) == {
        f"{ME},GNBDUFunction=1,NRCellDU=1",
        f"{ME},GNBCUCPFunction=1,NRCellCU=1",
    }


def test_off_grid_end_times_are_rejected_without_clock_tolerance(keysight_file: bytes) -> None:
    parsed = parse_pm_xml(keysight_file)
    with pytest.raises(BatchRejectedError) as info:
        validate(parsed, cells=lookup(), interval_s=60)
    problems = info.value.problems
    assert len(problems) == len(parsed)  # every record, none left out
    assert problems[0].field == "granPeriod@endTime"
    assert "09:33:23Z is off the 60 s grid" in problems[0].message
    assert "measInfo[0] (5.1.1.1.1)/measValue[0]" in problems[0].record


def test_merges_du_and_cu_counters_with_slice_subcounters(keysight_file: bytes) -> None:
    batch = validate(
        parse_pm_xml(keysight_file), cells=lookup(), interval_s=60, clock_tolerance_s=30
    )
    assert batch.cell_id.tolist() == [7, 7]
    assert batch.interval_start_s.tolist() == [T0934 - 60, T0934]
    np.testing.assert_array_equal(batch.values["prb_avail_dl"], [14.0, 14.0])  # RRU.PrbAvailDl
    np.testing.assert_array_equal(batch.values["rrc_conn_mean"], [0.0, 0.0])  # from NRCellCU
    assert not batch.suspect.any()
    assert batch.extra is not None
    extra = batch.extra[0]
    assert extra is not None
    assert extra["DRB.RlcSduDelayDl.01"] == 1198.0  # per-S-NSSAI (SST 01)
    assert extra["DRB.SessionTime"] == 11084.0  # NRCellCU counter outside the catalogue
    assert {"RRU.PrbUsedDl.01", "RRU.PrbUsedDl.010003e8", "RRU.PrbUsedDl.226F04"} <= set(extra)


def test_suspect_flag_reaches_the_sample(keysight_file: bytes) -> None:
    data = keysight_file.replace(b"<suspect>false</suspect>", b"<suspect>true</suspect>", 1)
    batch = validate(parse_pm_xml(data), cells=lookup(), interval_s=60, clock_tolerance_s=30)
    assert batch.suspect.tolist() == [True, False]


def test_bad_values_name_record_and_counter(keysight_file: bytes) -> None:
    data = keysight_file.replace(b'<r p="1">14.000000</r>', b'<r p="1">-3</r>', 1).replace(
        b'<r p="1">25.000000</r>', b'<r p="1">abc</r>', 1
    )
    parsed = parse_pm_xml(data)
    assert [str(p) for p in parsed.problems.problems] == []  # abc is on a ManagedElement: skipped
    with pytest.raises(BatchRejectedError) as info:
        validate(parsed, cells=lookup(), interval_s=60, clock_tolerance_s=30)
    (problem,) = info.value.problems
    assert problem.field == "RRU.PrbAvailDl"
    assert "(5.1.1.2.6)" in problem.record
    assert "-3 PRB is outside [0, 275] PRB" in problem.message


def test_malformed_xml_is_a_problem_not_a_crash() -> None:
    parsed = parse_pm_xml(b"<measDataFile><oops></measDataFile>")
    assert parsed.problems.count == 1
    assert parsed.problems.problems[0].field == "xml"


def test_ingest_real_file_into_store_idempotently(
    store: Store, keysight_file: bytes, tmp_path: Path
) -> None:
    from ranopt.ingest.pipeline import IngestOptions, ingest_file

    with store.transaction() as s:
        tid = repo.ensure_tenant(s, name="default", now_s=T0934)
        repo.create_network(s, tenant_id=tid, topology=keysight_topology(), now_s=T0934)
    path = tmp_path / "keysight.xml"
    path.write_bytes(keysight_file)
    options = IngestOptions(clock_tolerance_s=30)
    with pytest.raises(BatchRejectedError):
        ingest_file(store, path, tenant_id=tid, network="keysight")
    for _ in range(2):
        result = ingest_file(store, path, tenant_id=tid, network="keysight", options=options)
        assert result.num_samples == 2
    with store.transaction() as s:
        assert repo.count_samples(s, tenant_id=tid) == 2


def test_only_utf8_and_utf16_are_read(keysight_file: bytes) -> None:
    utf16 = keysight_file.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    parsed = parse_pm_xml(utf16.encode("utf-16"))
    assert parsed.problems.count == 0
    assert len(parsed) == len(parse_pm_xml(keysight_file))
    for declared in ("UTF-7", "ISO-8859-1", "no-such-codec"):
        data = keysight_file.replace(b'encoding="UTF-8"', f'encoding="{declared}"'.encode(), 1)
        (problem,) = parse_pm_xml(data).problems.problems
        assert problem.field == "encoding"
        assert f"encoding {declared!r} is not accepted" in problem.message


def test_a_utf7_file_is_refused_by_the_cli_without_a_traceback(
    keysight_file: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from ranopt.cli.main import app

    monkeypatch.setenv("RANOPT_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    runner = CliRunner()
    topology = tmp_path / "keysight.topology.json"
    topology.write_text(keysight_topology().model_dump_json())
    created = runner.invoke(app, ["network", "create", "keysight", "--topology", str(topology)])
    assert created.exit_code == 0, created.output
    path = tmp_path / "utf7.xml"
    path.write_bytes(keysight_file.replace(b'encoding="UTF-8"', b'encoding="UTF-7"', 1))
    result = runner.invoke(app, ["ingest", str(path), "--network", "keysight"])
    assert result.exit_code == 1, result.output
    assert "encoding: encoding 'UTF-7' is not accepted" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_file_of_another_subnetwork_is_not_mapped_to_local_cells(keysight_file: bytes) -> None:
    data = keysight_file.replace(b"SubNetwork=Morrisville", b"SubNetwork=Elsewhere")
    with pytest.raises(BatchRejectedError) as info:
        validate(parse_pm_xml(data), cells=lookup(), interval_s=60, clock_tolerance_s=30)
    assert {p.field for p in info.value.problems} == {"cell"}
    assert "not in this network" in info.value.problems[0].message


def test_nan_and_infinite_values_are_refused(keysight_file: bytes) -> None:
    data = keysight_file.replace(b'<r p="1">14.000000</r>', b'<r p="1">NaN</r>', 1)
    data = data.replace(b'<r p="1">14.000000</r>', b'<r p="1">inf</r>', 1)
    problems = parse_pm_xml(data).problems.problems
    assert [p.message for p in problems] == [
        "value 'NaN' is not a finite number",
        "value 'inf' is not a finite number",
    ]
