"""Parsed records before validation, the problem report, and all-or-nothing validation.

Every parser produces a ``ParsedBatch`` (columnar, one entry per measured object and
interval); ``validate`` turns it into a store ``SampleBatch`` or raises ``BatchRejectedError``
naming every bad record and field. Nothing of a rejected batch is written.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ranopt.counters import COUNTER_BY_NAME, base_counter
from ranopt.errors import ValidationError
from ranopt.ingest.times import MAX_TIME_S, MIN_TIME_S, format_time
from ranopt.store.repository import CellRef
from ranopt.store.samples import BoolArray, FloatArray, IntArray, SampleBatch

KeyKind = Literal["dn", "name", "nci", "any"]
MAX_LISTED_PROBLEMS = 1_000
# Measured-object classes that are cells (TS 28.541 NRM, TS 28.658 / 32.762 for E-UTRAN, UTRAN).
CELL_CLASSES = frozenset(
    {"NRCellDU", "NRCellCU", "EUtranCellFDD", "EUtranCellTDD", "UtranCell", "GsmCell"}
)


def parse_value(text: str) -> float:
    """Read a counter value written as text: a finite number, else ``ValueError``.

    ``float`` reads "NaN" and "inf" too; a counter that is absent is left out (or ``NIL``),
    never written as NaN, so those are refused rather than stored as "absent".
    """
    try:
        value = float(text)
    except OverflowError as exc:  # pragma: no cover - float() of a str saturates to inf
        msg = f"value {text!r} is not a finite number"
        raise ValueError(msg) from exc
    except ValueError as exc:
        msg = f"value {text!r} is not a number"
        raise ValueError(msg) from exc
    if not math.isfinite(value):
        msg = f"value {text!r} is not a finite number"
        raise ValueError(msg)
    return value


@dataclass(frozen=True)
class Problem:
    """One bad record and field of an input, and what is wrong with it."""

    record: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.record}: {self.field}: {self.message}"


class BatchRejectedError(ValidationError):
    """A batch failed validation; ``problems`` names each bad record and field."""

    def __init__(self, problems: list[Problem], num_problems: int | None = None) -> None:
        self.problems = problems
        self.num_problems = len(problems) if num_problems is None else num_problems
        listed = "\n".join(f"  {p}" for p in problems[:20])
        more = self.num_problems - min(20, len(problems))
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"batch rejected, nothing written: {self.num_problems} problem(s)\n{listed}{tail}"
        )


@dataclass
class ProblemList:
    """Collects problems, keeping the first ``MAX_LISTED_PROBLEMS`` and counting all."""

    problems: list[Problem] = field(default_factory=list)
    count: int = 0

    def add(self, record: str, field_name: str, message: str) -> None:
        """Record one problem."""
        self.count += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(Problem(record, field_name, message))

    def raise_if_any(self) -> None:
        """Raise ``BatchRejectedError`` if any problem was recorded."""
        if self.count:
            raise BatchRejectedError(self.problems, self.count)


@dataclass(eq=False)
class ParsedBatch:
    """``N`` parsed records: measured object, interval and counters in declared units.

    ``keys`` are the distinct cell identifiers and ``key_index`` ``[N]`` points into them;
    ``counters`` maps a counter name to values ``[N]`` (NaN where a record lacks it) in the
    unit ``units`` declares (None: the standard's unit). ``time_s`` is the interval start,
    ``duration_s`` the reported granularity period (0 when the format has none).
    """

    keys: list[str]
    key_kind: KeyKind
    key_index: IntArray
    time_s: IntArray
    duration_s: IntArray
    counters: dict[str, FloatArray]
    suspect: BoolArray
    ref: Callable[[int], str]  # human reference of record i ("row 7", "measInfo[3] ...")
    time_field: str = "time"
    units: dict[str, str | None] = field(default_factory=dict)
    problems: ProblemList = field(default_factory=ProblemList)  # found while parsing
    skipped: dict[str, int] = field(default_factory=dict)  # non-cell objects etc., by kind

    def __len__(self) -> int:
        return int(self.key_index.shape[0])


@dataclass
class RecordBuilder:
    """Accumulates records one by one (XML, VES, long CSV) into a ``ParsedBatch``."""

    key_kind: KeyKind
    time_field: str = "time"
    keys: dict[str, int] = field(default_factory=dict)
    key_index: list[int] = field(default_factory=list)
    time_s: list[int] = field(default_factory=list)
    duration_s: list[int] = field(default_factory=list)
    suspect: list[bool] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    values: dict[str, dict[int, float]] = field(default_factory=dict)
    units: dict[str, str | None] = field(default_factory=dict)
    problems: ProblemList = field(default_factory=ProblemList)
    skipped: dict[str, int] = field(default_factory=dict)

    def add(
        self,
        *,
        key: str,
        time_s: int,
        duration_s: int,
        counters: dict[str, float],
        suspect: bool,
        ref: str,
    ) -> None:
        """Append one record."""
        i = len(self.key_index)
        self.key_index.append(self.keys.setdefault(key, len(self.keys)))
        self.time_s.append(time_s)
        self.duration_s.append(duration_s)
        self.suspect.append(suspect)
        self.refs.append(ref)
        for name, value in counters.items():
            self.values.setdefault(name, {})[i] = value

    def skip(self, kind: str) -> None:
        """Count one measured object that is not a cell (kept out of the samples)."""
        self.skipped[kind] = self.skipped.get(kind, 0) + 1

    def build(self) -> ParsedBatch:
        """Return the records as a ``ParsedBatch``."""
        n = len(self.key_index)
        counters: dict[str, FloatArray] = {}
        for name, by_row in self.values.items():
            column = np.full(n, np.nan)
            column[np.fromiter(by_row.keys(), dtype=np.int64, count=len(by_row))] = list(
                by_row.values()
            )
            counters[name] = column
        refs = self.refs
        return ParsedBatch(
            keys=list(self.keys),
            key_kind=self.key_kind,
            key_index=np.array(self.key_index, dtype=np.int64),
            time_s=np.array(self.time_s, dtype=np.int64),
            duration_s=np.array(self.duration_s, dtype=np.int64),
            counters=counters,
            suspect=np.array(self.suspect, dtype=np.bool_),
            ref=refs.__getitem__,
            time_field=self.time_field,
            units=self.units,
            problems=self.problems,
            skipped=self.skipped,
        )


def object_class(dn: str) -> str:
    """Return the class of the last RDN of a DN (``...,NRCellDU=1`` -> ``NRCellDU``)."""
    return dn.rsplit(",", 1)[-1].split("=", 1)[0].strip()


def local_dn(dn: str) -> str:
    """Return the DN from its ``ManagedElement`` RDN on (the local DN a PM file names)."""
    at = dn.find("ManagedElement=")
    return dn[at:] if at >= 0 else dn


def dn_prefix_of(dn: str) -> str:
    """Return the part of a DN before its ``ManagedElement`` RDN (``""`` for a local DN)."""
    return dn[: len(dn) - len(local_dn(dn))].rstrip(",")


@dataclass(frozen=True)
class CellLookup:
    """Cell ids by every identifier a RAN may use: DN (full or local), CU DN, name, NCI.

    A full DN must name the cell exactly; a local DN (from ``ManagedElement`` on, as a PM file
    without a ``dnPrefix`` writes it) finds the cell by its local part. A full DN of another
    SubNetwork never lands on a local cell that merely shares the local part.
    """

    by_dn: dict[str, int]
    by_local_dn: dict[str, tuple[int, str]]  # local DN -> (cell id, the cell's DN prefix)
    by_name: dict[str, int]
    by_nci: dict[str, int]

    @classmethod
    def from_cells(cls, cells: list[CellRef]) -> "CellLookup":
        """Index a network's cells."""
        by_dn: dict[str, int] = {}
        by_local: dict[str, tuple[int, str]] = {}
        for c in cells:
            for dn in (c.dn, c.cu_dn):
                if dn:
                    by_dn[dn] = c.id
                    by_local.setdefault(local_dn(dn), (c.id, dn_prefix_of(dn)))
        return cls(
            by_dn=by_dn,
            by_local_dn=by_local,
            by_name={c.name: c.id for c in cells},
            by_nci={str(c.nci): c.id for c in cells if c.nci is not None},
        )

    def _by_dn(self, key: str) -> int | None:
        found = self.by_dn.get(key)
        if found is not None:
            return found
        entry = self.by_local_dn.get(local_dn(key))
        if entry is None:
            return None
        cell_id, cell_prefix = entry
        key_prefix = dn_prefix_of(key)
        # a local DN, or a network whose DNs carry no prefix: the local part decides
        return cell_id if not key_prefix or not cell_prefix else None

    def resolve(self, key: str, kind: KeyKind) -> int | None:
        """Return the cell id of ``key`` or None."""
        if kind == "dn":
            return self._by_dn(key)
        if kind == "name":
            return self.by_name.get(key)
        if kind == "nci":
            return self.by_nci.get(key)
        for table in (self.by_name, self.by_nci):
            if key in table:
                return table[key]
        return self._by_dn(key)

    def why_unknown(self, key: str) -> str:
        """Say why ``key`` names no cell (another SubNetwork, or no such cell at all)."""
        entry = self.by_local_dn.get(local_dn(key))
        if entry is not None and dn_prefix_of(key) and entry[1]:
            return f"DN {key!r} is in {dn_prefix_of(key)!r}, not in this network's {entry[1]!r}"
        return f"unknown cell {key!r}"


def validate(
    parsed: ParsedBatch, *, cells: CellLookup, interval_s: int, clock_tolerance_s: int = 0
) -> SampleBatch:
    """Check every record; return the samples or raise ``BatchRejectedError`` naming all faults.

    Checks: known cell; interval start on the network's grid (within ``clock_tolerance_s``,
    then snapped); granularity period equal to the network's interval; each counter's unit
    accepted and value finite and within range; no two records giving the same counter for
    one cell and interval. Records of one cell and interval (DU and CU objects) are merged.
    """
    problems = parsed.problems
    n = len(parsed)
    # cells
    resolved = [cells.resolve(k, parsed.key_kind) for k in parsed.keys]
    key_ids = np.array([-1 if r is None else r for r in resolved], dtype=np.int64)
    cell_id = key_ids[parsed.key_index] if n else np.zeros(0, dtype=np.int64)
    for i in np.flatnonzero(cell_id < 0):
        problems.add(
            parsed.ref(int(i)), "cell", cells.why_unknown(parsed.keys[parsed.key_index[i]])
        )
    # time range, then grid
    outside = (parsed.time_s < MIN_TIME_S) | (parsed.time_s > MAX_TIME_S)
    for i in np.flatnonzero(outside):
        problems.add(
            parsed.ref(int(i)), parsed.time_field,
            f"{int(parsed.time_s[i])} is not a time between 1970 and 2100 (epoch seconds)",
        )  # fmt: skip
    snapped = (parsed.time_s + interval_s // 2) // interval_s * interval_s
    off_grid = (np.abs(parsed.time_s - snapped) > clock_tolerance_s) & ~outside
    for i in np.flatnonzero(off_grid):
        problems.add(
            parsed.ref(int(i)), parsed.time_field,
            f"interval start {format_time(int(parsed.time_s[i]))} is off the {interval_s} s grid",
        )  # fmt: skip
    for i in np.flatnonzero((parsed.duration_s != 0) & (parsed.duration_s != interval_s)):
        problems.add(
            parsed.ref(int(i)), "granularityPeriod",
            f"{int(parsed.duration_s[i])} s differs from the network's {interval_s} s interval",
        )  # fmt: skip
    # counters
    values: dict[str, FloatArray] = {}
    extra_columns: dict[str, FloatArray] = {}
    for name, raw in parsed.counters.items():
        counter = COUNTER_BY_NAME.get(name)
        sub = base_counter(name) if counter is None else None
        spec = counter or (sub[0] if sub else None)
        unit = parsed.units.get(name)
        bad = ~np.isnan(raw) & ~np.isfinite(raw)
        for i in np.flatnonzero(bad):
            problems.add(parsed.ref(int(i)), name, f"value {raw[i]} is not finite")
        if spec is None:  # a counter we do not know: kept as given, its unit in its key
            extra_columns[f"{name} [{unit}]" if unit else name] = raw
            continue
        factor = spec.factor(unit)
        if factor is None:
            problems.add(
                "all records", name,
                f"unit {unit!r} is not one of {sorted(spec.units)} (stored as {spec.unit})",
            )  # fmt: skip
            continue
        converted = raw * factor
        with np.errstate(invalid="ignore"):
            out = (converted < spec.min_value) | (converted > spec.max_value)
        for i in np.flatnonzero(out):
            problems.add(
                parsed.ref(int(i)), name,
                f"{raw[i]:g} {unit or spec.standard_unit} is outside "
                f"[{spec.min_value:g}, {spec.max_value:g}] {spec.unit}",
            )  # fmt: skip
        if counter is not None:
            values[counter.column] = converted
        else:
            extra_columns[name] = converted
    problems.raise_if_any()
    return _merge(cell_id, snapped, values, extra_columns, parsed.suspect, parsed.ref, problems)


def _merge(
    cell_id: IntArray,
    time_s: IntArray,
    values: dict[str, FloatArray],
    extra_columns: dict[str, FloatArray],
    suspect: BoolArray,
    ref: Callable[[int], str],
    problems: ProblemList,
) -> SampleBatch:
    """Merge records of the same (cell, interval); two values for one counter is a fault."""
    n = cell_id.shape[0]
    # [N] records sorted by (cell, time); starts of each distinct key
    order = np.lexsort((time_s, cell_id))
    c, t = cell_id[order], time_s[order]
    new_key = np.ones(n, dtype=np.bool_)
    new_key[1:] = (c[1:] != c[:-1]) | (t[1:] != t[:-1])
    if n == 0 or new_key.all():
        extra = _extras(extra_columns, np.arange(n)) if extra_columns else None
        return SampleBatch(
            cell_id=cell_id, interval_start_s=time_s, values=values, suspect=suspect, extra=extra
        )
    starts = np.flatnonzero(new_key)
    merged: dict[str, FloatArray] = {}
    for name, column in [*values.items(), *extra_columns.items()]:
        v = column[order]
        present = ~np.isnan(v)
        count = np.add.reduceat(present.astype(np.int64), starts)
        for g in np.flatnonzero(count > 1):
            first = int(order[starts[g]])
            problems.add(ref(first), name, "given twice for the same cell and interval")
        total = np.add.reduceat(np.where(present, v, 0.0), starts)
        merged[name] = np.where(count > 0, total, np.nan)
    problems.raise_if_any()
    rows = order[starts]
    extra = None
    if extra_columns:
        extra = _extras({k: merged[k] for k in extra_columns}, np.arange(starts.size))
    return SampleBatch(
        cell_id=cell_id[rows],
        interval_start_s=time_s[rows],
        values={k: merged[k] for k in values},
        suspect=np.logical_or.reduceat(suspect[order], starts),
        extra=extra,
    )


def _extras(columns: dict[str, FloatArray], rows: IntArray) -> tuple[dict[str, float] | None, ...]:
    """Per-row maps of the non-typed counters (None for a row without any)."""
    out: list[dict[str, float] | None] = []
    for i in rows:
        row = {k: float(v[i]) for k, v in columns.items() if not math.isnan(v[i])}
        out.append(row or None)
    return tuple(out)
