"""JSON telemetry records (the API's batch format) into a ``ParsedBatch``.

One record is one cell's counters over one interval::

    {"cell": "S000-1-cov", "interval_start_s": 1767225600, "suspect": false,
     "counters": {"RRU.PrbUsedDl": 31.0, "PEE.AvgPower": 412.5}}

``cell`` is the cell's name, DN or NR cell identity; counters are named as in TS 28.552 and
carried in the standard's unit. Validation is the same all-or-nothing ``validate`` every other
format goes through.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from ranopt.ingest.batch import ParsedBatch, RecordBuilder


@dataclass(frozen=True)
class TelemetryRecord:
    """One record of a JSON batch."""

    cell: str
    interval_start_s: int
    counters: dict[str, float] = field(default_factory=dict)
    suspect: bool = False


def parse_records(records: Sequence[TelemetryRecord], *, source: str = "batch") -> ParsedBatch:
    """Turn JSON records into a ``ParsedBatch`` (referenced as ``records[i]``)."""
    builder = RecordBuilder(key_kind="any", time_field="interval_start_s")
    for i, record in enumerate(records):
        builder.add(
            key=record.cell,
            time_s=record.interval_start_s,
            duration_s=0,
            counters=dict(record.counters),
            suspect=record.suspect,
            ref=f"{source}.records[{i}] {record.cell}",
        )
    return builder.build()
