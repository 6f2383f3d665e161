"""What the emulator emits: TS 28.532 PM XML files, VES 7 perf3gpp and fault events, ground truth.

Counters are TS 28.552 names in the standard's units (what ``ranopt ingest`` and the VES
listener assume when a format declares none): ``DRB.UEThpDl`` in kbit/s, ``PEE.AvgPower`` in W,
``PEE.Energy`` in kWh, volumes in Mbit. One PM file per interval for the whole subnetwork
(``dnPrefix`` in the header, each cell's ``measObjLdn`` below it); a failed cell is left out.
"""

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement

import numpy as np

from ranopt.emulate.render import xml_bytes
from ranopt.emulate.topology import EmulatedCell
from ranopt.twin.simulate import IntervalKpis
from ranopt.twin.units import FloatArray

PM_NS = "http://www.3gpp.org/ftp/specs/archive/28_series/28.532#measData"
VES_VERSION = "7.2.1"
COUNTER_NAMES = (
    "RRU.PrbUsedDl", "RRU.PrbAvailDl", "RRU.PrbTotDl", "DRB.UEThpDl", "RRC.ConnMean",
    "PEE.AvgPower", "PEE.Energy", "DRB.PdcpSduVolumeDL", "VS.OfferedVolumeDl",
)  # fmt: skip
KBIT_PER_MBIT = 1000.0


def cell_counters(
    kpis: IntervalKpis, num_prb: FloatArray, interval_s: int
) -> dict[str, FloatArray]:
    """One interval's counters per cell ``[C]``, in the standard units, from the twin's KPIs."""
    active = kpis.active[0].astype(np.float64)
    return {
        "RRU.PrbUsedDl": kpis.prb_load[0] * num_prb,
        "RRU.PrbAvailDl": active * num_prb,
        "RRU.PrbTotDl": 100.0 * kpis.prb_load[0],
        "DRB.UEThpDl": kpis.ue_thp_mbps[0] * KBIT_PER_MBIT,
        "RRC.ConnMean": kpis.num_ues[0].astype(np.float64),
        "PEE.AvgPower": kpis.power_w[0],
        "PEE.Energy": kpis.energy_kwh[0],
        "DRB.PdcpSduVolumeDL": kpis.served_mbps[0] * interval_s,
        "VS.OfferedVolumeDl": kpis.offered_mbps[0] * interval_s,
    }


def iso(t_s: int) -> str:
    """``2026-01-05T00:15:00+00:00``."""
    return datetime.fromtimestamp(t_s, UTC).isoformat()


def pm_file_name(start_s: int, interval_s: int, sender: str) -> str:
    """TS 32.432 style name: ``A20260105.0000+0000-0015+0000_<sender>.xml``."""
    begin = datetime.fromtimestamp(start_s, UTC)
    end = datetime.fromtimestamp(start_s + interval_s, UTC)
    return f"A{begin:%Y%m%d.%H%M}+0000-{end:%H%M}+0000_{sender}.xml"


def pm_xml(
    *,
    start_s: int,
    interval_s: int,
    dn_prefix: str,
    cells: Sequence[EmulatedCell],
    counters: dict[str, FloatArray],
    reporting: Sequence[int],
) -> bytes:
    """Return a ``measDataFile`` with one ``measInfo`` of every counter of the reporting cells."""
    root = Element(f"{{{PM_NS}}}measDataFile")
    header = SubElement(root, f"{{{PM_NS}}}fileHeader", {
        "fileFormatVersion": "28.532 V16.0.0", "dnPrefix": dn_prefix, "vendorName": "ranopt",
    })  # fmt: skip
    SubElement(header, f"{{{PM_NS}}}fileSender", {"senderName": dn_prefix, "senderType": "EMS"})
    SubElement(header, f"{{{PM_NS}}}measData", {"beginTime": iso(start_s)})
    data = SubElement(root, f"{{{PM_NS}}}measData")
    SubElement(data, f"{{{PM_NS}}}measEntity", {"localDn": dn_prefix.rsplit(",", 1)[-1]})
    info = SubElement(data, f"{{{PM_NS}}}measInfo", {"measInfoId": "NRCellDU"})
    SubElement(info, f"{{{PM_NS}}}granPeriod", {
        "duration": f"PT{interval_s}S", "endTime": iso(start_s + interval_s),
    })  # fmt: skip
    for p, name in enumerate(COUNTER_NAMES, start=1):
        SubElement(info, f"{{{PM_NS}}}measType", {"p": str(p)}).text = name
    for c in reporting:
        cell = cells[c]
        ldn = cell.du_path.local_dn
        value = SubElement(info, f"{{{PM_NS}}}measValue", {"measObjLdn": ldn})
        for p, name in enumerate(COUNTER_NAMES, start=1):
            SubElement(
                value, f"{{{PM_NS}}}r", {"p": str(p)}
            ).text = f"{float(counters[name][c]):.6g}"
        SubElement(value, f"{{{PM_NS}}}suspect").text = "false"
    footer = SubElement(root, f"{{{PM_NS}}}fileFooter")
    SubElement(footer, f"{{{PM_NS}}}measData", {"endTime": iso(start_s + interval_s)})
    return xml_bytes(root, declaration=True)


def _header(
    domain: str, name: str, source: str, start_s: int, end_s: int, seq: int
) -> dict[str, Any]:
    return {
        "domain": domain, "eventId": f"{domain}-{uuid.uuid4()}", "eventName": name,
        "sourceName": source, "reportingEntityName": "ranopt-emulate", "priority": "Normal",
        "sequence": seq, "startEpochMicrosec": start_s * 1_000_000,
        "lastEpochMicrosec": end_s * 1_000_000, "version": "4.1",
        "vesEventListenerVersion": VES_VERSION, "timeZoneOffset": "+00:00",
    }  # fmt: skip


def ves_perf3gpp(
    *,
    start_s: int,
    interval_s: int,
    dn_prefix: str,
    cells: Sequence[EmulatedCell],
    counters: dict[str, FloatArray],
    reporting: Sequence[int],
    sequence: int,
) -> dict[str, Any]:
    """One VES 7 ``perf3gpp`` event carrying the interval's counters of the reporting cells."""
    values = [
        {
            "measObjInstId": cells[c].du_path.local_dn,
            "suspectFlag": "false",
            "measResults": [
                {"p": p, "rValue": round(float(counters[name][c]), 6)}
                for p, name in enumerate(COUNTER_NAMES, start=1)
            ],
        }
        for c in reporting
    ]
    return {"event": {
        "commonEventHeader": _header("perf3gpp", "perf3gpp_RnNode-NRCellDU_pmMeasResult",
                                     dn_prefix, start_s, start_s + interval_s, sequence),
        "perf3gppFields": {
            "perf3gppFieldsVersion": "1.0",
            "measDataCollection": {
                "granularityPeriod": interval_s, "measuredEntityUserName": "ranopt-emulate",
                "measuredEntityDn": dn_prefix, "measuredEntitySoftwareVersion": "1",
                "measInfoList": [{
                    "measInfoId": {"sMeasInfoId": "NRCellDU"},
                    "measTypes": {"sMeasTypesList": list(COUNTER_NAMES)},
                    "measValuesList": values,
                }],
            },
        },
    }}  # fmt: skip


def ves_fault(
    *, cell: EmulatedCell, dn_prefix: str, t_s: int, cleared: bool, sequence: int
) -> dict[str, Any]:
    """Return a VES 7 ``fault`` event: the cell is out of service (or back, ``cleared``)."""
    dn = f"{dn_prefix},{cell.du_path.local_dn}"
    return {"event": {
        "commonEventHeader": _header("fault", "Fault_NRCellDU_CellOutOfService", dn, t_s, t_s,
                                     sequence),
        "faultFields": {
            "faultFieldsVersion": "4.0", "alarmCondition": "cellOutOfService",
            "eventCategory": "equipment", "eventSeverity": "NORMAL" if cleared else "CRITICAL",
            "eventSourceType": "NRCellDU", "specificProblem": "cell out of service",
            "vfStatus": "Active", "alarmInterfaceA": dn,
            "alarmAdditionalInformation": {"cell": cell.name, "operationalState":
                                           "ENABLED" if cleared else "DISABLED"},
        },
    }}  # fmt: skip


def truth_line(
    *,
    interval: int,
    start_s: int,
    phase: str,
    energy_kwh: FloatArray,
    always_on_energy_kwh: FloatArray,
    served_mbit: FloatArray,
    always_on_served_mbit: FloatArray,
    offered_mbit: FloatArray,
    prb_load: FloatArray,
    prb_over_limit: Sequence[bool],
    violations: Sequence[str],
    asleep: Sequence[int],
    failed: Sequence[int],
) -> str:
    """One JSON line of ground truth for one interval (per-cell arrays in topology order)."""

    def r(values: FloatArray) -> list[float]:
        return [round(float(v), 6) for v in values]

    return json.dumps({
        "interval": interval, "start_s": start_s, "phase": phase,
        "energy_kwh": r(energy_kwh), "always_on_energy_kwh": r(always_on_energy_kwh),
        "served_mbit": r(served_mbit), "always_on_served_mbit": r(always_on_served_mbit),
        "offered_mbit": r(offered_mbit), "prb_load": r(prb_load),
        "prb_over_limit": [bool(v) for v in prb_over_limit],
        "violations": list(violations), "qos_ok": not violations,
        "asleep": list(asleep), "failed": list(failed),
    }, separators=(",", ":"))  # fmt: skip
