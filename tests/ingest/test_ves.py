"""VES 7.x: the O-RAN SC perf3gpp event and a measurement event built from its template."""

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ranopt.ingest.batch import BatchRejectedError, CellLookup, ProblemList, validate
from ranopt.ingest.ves import VesFault, parse_ves
from ranopt.store.repository import CellRef
from ranopt.store.ves_faults import resolve_cells

RNC = "SubNetwork=CountryNN,MeContext=MEC-Gbg-1,ManagedElement=RNC-Gbg-1"
T_REPORT = 951_912_000  # 2000-03-01T12:00:00Z: pm_report.json's epoch fields read as ms
T0 = 1_767_571_200  # 2026-01-05T00:00:00Z
US = 1_000_000


def rnc_cells() -> CellLookup:
    return CellLookup.from_cells(
        [CellRef(id=100 + i, name=f"Gbg-{n}", dn=f"{RNC},RncFunction=RF-1,UtranCell=Gbg-{n}",
                 cu_dn=None, nci=None) for i, n in enumerate((997, 998, 999))]
    )  # fmt: skip


def nr_cells() -> CellLookup:
    me = "DC=x,ManagedElement=gNB-S000"
    return CellLookup.from_cells(
        [
            CellRef(id=k, name=f"S000-{k}-cov", dn=f"{me},GNBDUFunction=1,NRCellDU={k}",
                    cu_dn=None, nci=16384 + k)
            for k in (1, 2)
        ]
    )  # fmt: skip


@pytest.fixture
def pm_report(specs: Path) -> bytes:
    return (specs / "ves" / "examples-oran-sc-oam" / "pm_report.json").read_bytes()


def test_perf3gpp_report_epochs_are_milliseconds_and_rejected_as_microseconds(
    pm_report: bytes,
) -> None:
    parsed = parse_ves(pm_report)
    with pytest.raises(BatchRejectedError) as info:
        validate(parsed, cells=rnc_cells(), interval_s=900)
    fields = {p.field for p in info.value.problems}
    assert fields == {"perf3gppFields.measDataCollection.granularityPeriod"}
    assert "differs from lastEpochMicrosec - startEpochMicrosec = 0 s" in str(info.value)


def test_perf3gpp_report_merges_meas_infos_per_cell(pm_report: bytes) -> None:
    parsed = parse_ves(pm_report, epoch_unit="ms")
    assert parsed.skipped == {"ENodeBFunction": 1}
    batch = validate(parsed, cells=rnc_cells(), interval_s=900)
    assert batch.cell_id.tolist() == [100, 101, 102]
    assert batch.interval_start_s.tolist() == [T_REPORT] * 3
    assert batch.suspect.tolist() == [False, False, True]  # Gbg-999 is suspect in the file
    assert batch.extra is not None
    first = batch.extra[0]
    assert first is not None
    # legacy counter names are kept in extra; two measInfo blocks merged into one sample
    assert first["attTCHSeizures"] == 813.0
    assert first["attTCHSeizures5"] == 238.0
    assert len(first) == 8


def measurement_event(
    template: str, *, start_s: int, names: list[str], hash_maps: list[dict[str, str]]
) -> dict[str, Any]:
    """Fill the O-RAN SC measurement template's @placeholders@ into a valid VES event."""
    numbers = {"collectionStartTime": start_s * US, "collectionEndTime": (start_s + 900) * US}
    strings = {
        "domain": "measurement", "eventId": f"pm15-{start_s}", "eventType": "o-ran-pm",
        "granularity": "PM15min", "controllerName": "smo-1", "pnfId": "gNB-S000",
        "intervalStartTime": str(start_s), "intervalEndTime": str(start_s + 900),
        "interface": "cell",
    }  # fmt: skip
    text = template
    for key, value in numbers.items():
        text = text.replace(f'"@{key}@"', str(value))
    for key, value in strings.items():
        text = text.replace(f"@{key}@", value)
    assert not re.search(r"@\w+@", text), "unfilled placeholder"
    event: dict[str, Any] = json.loads(text)
    fields = event["event"]["measurementFields"]
    fields["measurementInterval"] = 900
    fields["additionalMeasurements"] = [
        {"name": n, "hashMap": {**fields["additionalMeasurements"][0]["hashMap"], **m}}
        for n, m in zip(names, hash_maps, strict=True)
    ]
    return event


@pytest.fixture
def template(specs: Path) -> str:
    return (specs / "ves" / "examples-oran-sc-oam" / "measurement.json").read_text()


def test_measurement_event_list_with_another_domain(template: str, specs: Path) -> None:
    counters = {"RRU.PrbTotDl": "35.5", "DRB.UEThpDl": "12000", "PEE.AvgPower": "310"}
    events = [
        measurement_event(template, start_s=T0 + 900 * k, names=["S000-1-cov", "16386"],
                          hash_maps=[counters, {**counters, "RRU.PrbTotDl": "50"}])["event"]
        for k in range(2)
    ]  # fmt: skip
    fault = json.loads(
        (specs / "ves" / "examples-onap" / "ves7_valid_30_1_1_event.json").read_text()
    )
    document = {"eventList": [*events, fault["event"]]}
    parsed = parse_ves(json.dumps(document).encode())
    assert parsed.skipped == {"fault event": 1}
    batch = validate(parsed, cells=nr_cells(), interval_s=900)
    assert batch.cell_id.tolist() == [1, 2, 1, 2]  # the name and the NCI both resolve
    assert batch.interval_start_s.tolist() == [T0, T0, T0 + 900, T0 + 900]
    np.testing.assert_allclose(batch.values["ue_thp_dl_mbps"], 12.0)  # kbit/s -> Mbit/s
    np.testing.assert_allclose(batch.values["prb_tot_dl_pct"], [35.5, 50, 35.5, 50])
    assert batch.extra is not None
    assert batch.extra[0] == {"es": 0.0, "ses": 1.0, "cses": 0.0, "unavailability": 0.0}


def test_template_interval_mismatch_and_malformed_events_are_named(template: str) -> None:
    good = measurement_event(template, start_s=T0, names=["S000-1-cov"], hash_maps=[{}])["event"]
    wrong_interval = json.loads(json.dumps(good))
    wrong_interval["measurementFields"]["measurementInterval"] = 234  # the template's value
    no_domain = json.loads(json.dumps(good))
    del no_domain["commonEventHeader"]["domain"]
    bad_value = json.loads(json.dumps(good))
    bad_value["measurementFields"]["additionalMeasurements"][0]["hashMap"]["RRC.ConnMean"] = "x"
    unknown = measurement_event(template, start_s=T0, names=["nope"], hash_maps=[{}])["event"]
    parsed = parse_ves(
        json.dumps({"eventList": [good, wrong_interval, no_domain, bad_value, unknown]}).encode()
    )
    with pytest.raises(BatchRejectedError) as info:
        validate(parsed, cells=nr_cells(), interval_s=900)
    got = {(p.record.split(" ")[0].split(".")[0], p.field) for p in info.value.problems}
    assert got == {
        ("eventList[1]", "measurementFields.measurementInterval"),
        ("eventList[2]", "domain"),
        ("eventList[3]", "hashMap.RRC.ConnMean"),
        ("eventList[4]", "cell"),
    }


def test_not_json_is_a_problem() -> None:
    parsed = parse_ves(b"{not json")
    assert parsed.problems.problems[0].field == "json"


def _event(start_us: object, value: str = "12", name: str = "S000-1-cov") -> dict[str, Any]:
    last = start_us + 900 * US if isinstance(start_us, int) else start_us
    return {"event": {
        "commonEventHeader": {"domain": "measurement", "sourceName": "gNB",
                              "startEpochMicrosec": start_us, "lastEpochMicrosec": last},
        "measurementFields": {"measurementInterval": 900, "additionalMeasurements": [
            {"name": name, "hashMap": {"RRU.PrbUsedDl": value}}]},
    }}  # fmt: skip


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (b'{"event": ' + b"[" * 1000 + b"]" * 1000 + b"}", "json", "nested 1001 levels"),
        (json.dumps(_event(10**19)).encode(), "commonEventHeader.startEpochMicrosec", "2100"),
        (json.dumps(_event(-5)).encode(), "commonEventHeader.startEpochMicrosec", "1970"),
        (json.dumps(_event(T0 * US, "NaN")).encode(), "hashMap.RRU.PrbUsedDl", "finite"),
        (json.dumps(_event(T0 * US, "1e999")).encode(), "hashMap.RRU.PrbUsedDl", "finite"),
        (b'{"event": {"commonEventHeader": {"startEpochMicrosec": NaN}}}', "json", "NaN"),
    ],
)
def test_bad_events_are_problems_naming_the_field(data: bytes, field: str, message: str) -> None:
    parsed = parse_ves(data)
    problems = parsed.problems.problems
    if not problems:  # found only once the records are checked against the network
        with pytest.raises(BatchRejectedError) as info:
            validate(parsed, cells=nr_cells(), interval_s=900)
        problems = info.value.problems
    assert problems[0].field == field
    assert message in problems[0].message


def test_fault_events_are_collected_when_asked_and_checked_at_the_boundary(specs: Path) -> None:
    onap = json.loads(
        (specs / "ves" / "examples-onap" / "ves7_valid_30_1_1_event.json").read_text()
    )
    faults: list[VesFault] = []
    parsed = parse_ves(json.dumps(onap).encode(), faults=faults)
    assert parsed.skipped == {}
    assert not parsed.problems.count
    (fault,) = faults
    # no alarmInterfaceA: the header's sourceName names the object
    assert (fault.key, fault.key_field) == ("scfx0001vm002cap001", "commonEventHeader.sourceName")
    assert fault.alarm_condition == "PilotNumberPoolExhaustion"
    assert fault.specific_problem == "Calls cannot complete - pilot numbers are unavailable"
    assert fault.raises
    assert not fault.clears
    problems = ProblemList()
    assert resolve_cells(faults, nr_cells(), problems) == [None]  # not a cell of ours
    assert [(p.record, p.field) for p in problems.problems] == [
        ("event", "commonEventHeader.sourceName")]  # fmt: skip
    # the O-RAN SC OAM fault template, filled for a cell named by alarmInterfaceA, cleared
    dn = "DC=x,ManagedElement=gNB-S000,GNBDUFunction=1,NRCellDU=2"
    text = (specs / "ves" / "examples-oran-sc-oam" / "fault.json").read_text()
    for name, value in {"domain": "fault", "interface": dn, "severity": "NORMAL",
                        "alarm": "cellOutOfService", "pnfId": "gNB-S000"}.items():  # fmt: skip
        text = text.replace(f"@{name}@", value)
    text = text.replace('"@timestamp@"', str(T0 * US))
    faults = []
    assert not parse_ves(text.encode(), faults=faults).problems.count
    assert (faults[0].key, faults[0].time_s, faults[0].clears) == (dn, T0, True)
    assert resolve_cells(faults, nr_cells(), ProblemList()) == [2]
    # a malformed one is a problem naming the field; without a collector, faults are skipped
    onap["event"]["faultFields"]["eventSeverity"] = "FATAL"
    del onap["event"]["faultFields"]["specificProblem"]
    bad = parse_ves(json.dumps(onap).encode(), faults=[])
    fields = sorted((p.record, p.field) for p in bad.problems.problems)
    assert fields == [("event.faultFields", "eventSeverity"),
                      ("event.faultFields", "specificProblem")]  # fmt: skip
    assert parse_ves(json.dumps(onap).encode()).skipped == {"fault event": 1}
