"""3GPP TS 28.532 PM XML files (``measDataFile``), as gNBs write them.

One record per ``measValue`` of a cell: the interval is ``granPeriod@endTime`` minus its
``duration``; the cell is ``fileHeader@dnPrefix`` + ``measObjLdn``. Per-slice and per-PLMN
sub-counters (``RRU.PrbUsedDl.010003e8``) are kept under their full names; ``suspect`` is
carried to the sample. Values of objects that are not cells (``ManagedElement``,
``GNBCUUPFunction``, ``NRCellRelation``, an empty LDN) are counted in ``skipped``.
"""

import re
from xml.etree.ElementTree import Element  # the type only; parsing is defused

import defusedxml.ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from ranopt.errors import ValidationError
from ranopt.ingest.batch import (
    CELL_CLASSES,
    ParsedBatch,
    RecordBuilder,
    object_class,
    parse_value,
)
from ranopt.ingest.times import parse_duration_s, parse_time_s

NS = {"m": "http://www.3gpp.org/ftp/specs/archive/28_series/28.532#measData"}
# Some writers put a stylesheet instruction before the XML declaration, which XML forbids;
# the declaration then carries nothing a UTF-8 parser needs and is dropped.
_LATE_DECLARATION = re.compile(rb"(?<=.)<\?xml\s[^>]*\?>", re.DOTALL)
_ENCODING = re.compile(r"""<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")
# TS 32.435 files are UTF-8; UTF-16 (with its byte order mark) is read too, ASCII is UTF-8
ACCEPTED_ENCODINGS = frozenset({"utf8", "utf16", "utf16le", "utf16be", "usascii", "ascii"})


def declared_encoding(data: bytes) -> str | None:
    """Return the encoding the XML declaration names (None if it names none)."""
    head = data[:512]
    if _is_utf16(head):
        text = head.decode("utf-16", errors="ignore")
    else:
        text = head.decode("utf-8", errors="ignore")
    match = _ENCODING.search(text)
    return match.group(1) if match else None


def _is_utf16(head: bytes) -> bool:
    return head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:2] in (b"<\x00", b"\x00<")


def as_utf8(data: bytes) -> bytes:
    """Return a UTF-16 document as UTF-8 (its declaration saying so); UTF-8 as it is."""
    if not _is_utf16(data[:2]):
        return data
    text = data.decode("utf-16")
    return _ENCODING.sub(lambda m: m.group(0).replace(m.group(1), "UTF-8"), text, count=1).encode()


def encoding_problem(data: bytes) -> str | None:
    """Say why the file's encoding is refused (None when it is UTF-8 or UTF-16)."""
    declared = declared_encoding(data)
    if declared is None:
        return None
    if declared.lower().replace("-", "").replace("_", "") not in ACCEPTED_ENCODINGS:
        return f"encoding {declared!r} is not accepted: PM files must be UTF-8 or UTF-16"
    return None


def parse_pm_xml(data: bytes, *, source: str = "file") -> ParsedBatch:
    """Parse a ``measDataFile`` into records; malformed parts become problems."""
    builder = RecordBuilder(key_kind="dn", time_field="granPeriod@endTime")
    refused = encoding_problem(data)
    if refused is not None:
        builder.problems.add(source, "encoding", refused)
        return builder.build()
    try:
        root = SafeET.fromstring(_LATE_DECLARATION.sub(b"", as_utf8(data), count=1))
    except (SafeET.ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        builder.problems.add(source, "xml", f"not well-formed XML: {exc}")
        return builder.build()
    if root.tag != f"{{{NS['m']}}}measDataFile":
        builder.problems.add(source, "measDataFile", f"root element is {root.tag!r}")
        return builder.build()
    header = root.find("m:fileHeader", NS)
    dn_prefix = "" if header is None else header.get("dnPrefix", "")
    for d, meas_data in enumerate(root.findall("m:measData", NS)):
        for i, info in enumerate(meas_data.findall("m:measInfo", NS)):
            _parse_meas_info(builder, info, dn_prefix, f"measData[{d}]/measInfo[{i}]")
    return builder.build()


def _parse_meas_info(builder: RecordBuilder, info: Element, dn_prefix: str, where: str) -> None:
    info_id = info.get("measInfoId", "")
    where = f"{where} ({info_id})" if info_id else where
    gran = info.find("m:granPeriod", NS)
    try:
        if gran is None:
            raise ValidationError("missing")
        duration_s = parse_duration_s(gran.get("duration", ""))
        start_s = parse_time_s(gran.get("endTime", "")) - duration_s
    except ValidationError as exc:
        builder.problems.add(where, "granPeriod", str(exc))
        return
    names: dict[str, str] = {}
    for meas_type in info.findall("m:measType", NS):
        names[meas_type.get("p", "")] = (meas_type.text or "").strip()
    for j, value in enumerate(info.findall("m:measValue", NS)):
        ldn = value.get("measObjLdn", "")
        dn = f"{dn_prefix},{ldn}" if dn_prefix and ldn else ldn
        kind = object_class(dn) if dn else "(empty measObjLdn)"
        if kind not in CELL_CLASSES:
            builder.skip(kind)
            continue
        ref = f"{where}/measValue[{j}] {ldn}"
        counters: dict[str, float] = {}
        for r in value.findall("m:r", NS):
            p = r.get("p", "")
            name = names.get(p)
            if name is None:
                builder.problems.add(ref, f"r[p={p}]", "no measType with this position")
                continue
            text = (r.text or "").strip()
            if text in ("", "NIL"):  # TS 32.435: an absent value
                continue
            try:
                counters[name] = parse_value(text)
            except ValueError as exc:
                builder.problems.add(ref, name, str(exc))
        suspect_el = value.find("m:suspect", NS)
        suspect_text = "false" if suspect_el is None else (suspect_el.text or "").strip()
        if suspect_text not in ("true", "false"):
            builder.problems.add(ref, "suspect", f"{suspect_text!r} is not true or false")
        builder.add(
            key=dn,
            time_s=start_s,
            duration_s=duration_s,
            counters=counters,
            suspect=suspect_text == "true",
            ref=ref,
        )
