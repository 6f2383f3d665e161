"""CSV and Parquet KPI tables, long or wide.

- wide: one row per cell and interval, one column per counter;
- long: one row per cell, interval and counter (columns ``counter``, ``value``, optional
  ``unit``).

The cell column is ``cell`` (name, DN or NR cell identity), or ``cell_name``, ``cell_dn``,
``nci``; the interval start is ``time`` (ISO 8601 with offset; a Parquet timestamp with a
time zone) or ``interval_start_s`` (epoch seconds). ``suspect`` (true/false) is optional.
A counter's unit is declared in Parquet field metadata (``unit``), in a CSV header as
``DRB.UEThpDl [Mbit/s]``, or in a long table's ``unit`` column; else the standard's unit.
"""

import csv
import io
import re
from collections.abc import Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ranopt.errors import ValidationError
from ranopt.ingest.batch import KeyKind, ParsedBatch, ProblemList, RecordBuilder, parse_value
from ranopt.ingest.times import parse_time_s
from ranopt.store.samples import BoolArray, FloatArray, IntArray

CELL_COLUMNS: dict[str, KeyKind] = {
    "cell": "any",
    "cell_name": "name",
    "cell_dn": "dn",
    "nci": "nci",
}
TIME_COLUMNS = ("time", "interval_start_s")
LONG_COLUMNS = frozenset({"counter", "value"})
RESERVED = frozenset({*CELL_COLUMNS, *TIME_COLUMNS, "suspect", "counter", "value", "unit"})
_HEADER_UNIT = re.compile(r"^(?P<name>.+?)\s*\[(?P<unit>[^\]]+)\]$")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})


def _pick(columns: Iterable[str], candidates: Iterable[str], what: str) -> str:
    present = [c for c in candidates if c in set(columns)]
    if len(present) != 1:
        msg = f"table needs exactly one {what} column of {list(candidates)}, has {present}"
        raise ValidationError(msg)
    return present[0]


def _header_problem(source: str, exc: ValidationError) -> ParsedBatch:
    builder = RecordBuilder(key_kind="any")
    builder.problems.add(source, "header", str(exc))
    return builder.build()


# --- Parquet --------------------------------------------------------------------------------


def parse_parquet(path: str, *, source: str = "file") -> ParsedBatch:
    """Read a Parquet KPI table (wide or long)."""
    table = pq.read_table(path)
    try:
        cell_col = _pick(table.column_names, CELL_COLUMNS, "cell")
        time_col = _pick(table.column_names, TIME_COLUMNS, "time")
    except ValidationError as exc:
        return _header_problem(source, exc)
    problems = ProblemList()
    time_s = _arrow_time_s(table.column(time_col), time_col, problems, source)
    keys, key_index = _arrow_keys(table.column(cell_col))
    suspect = _arrow_suspect(table, problems)
    if set(table.column_names) >= LONG_COLUMNS:
        return _long_from_columns(
            keys, key_index, CELL_COLUMNS[cell_col], time_s,
            table.column("counter").to_pylist(),
            table.column("value").cast(pa.float64()).to_numpy(zero_copy_only=False),
            table.column("unit").to_pylist() if "unit" in table.column_names else None,
            suspect, time_col, problems, lambda i: f"row {i + 1}",
        )  # fmt: skip
    counters: dict[str, FloatArray] = {}
    units: dict[str, str | None] = {}
    for i, name in enumerate(table.column_names):
        if name in RESERVED:
            continue
        column = table.column(i)
        if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
            problems.add("all records", name, f"column type {column.type} is not numeric")
            continue
        counters[name] = column.cast(pa.float64()).fill_null(np.nan).to_numpy()
        meta = table.schema.field(i).metadata or {}
        unit = meta.get(b"unit")
        units[name] = unit.decode() if unit else None
    return ParsedBatch(
        keys=keys, key_kind=CELL_COLUMNS[cell_col], key_index=key_index, time_s=time_s,
        duration_s=np.zeros(time_s.size, dtype=np.int64), counters=counters,
        suspect=suspect, ref=lambda i: f"row {i + 1}", time_field=time_col, units=units,
        problems=problems,
    )  # fmt: skip


def _arrow_keys(
    column: pa.ChunkedArray,
) -> tuple[list[str], IntArray]:
    encoded = pc.dictionary_encode(column.cast(pa.string())).combine_chunks()
    keys = [str(k) for k in encoded.dictionary.to_pylist()]
    return keys, encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _arrow_time_s(
    column: pa.ChunkedArray, name: str, problems: ProblemList, source: str
) -> IntArray:
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            problems.add(source, name, "timestamp column has no time zone")
        seconds = pc.cast(column, pa.timestamp("s", tz=column.type.tz), safe=False)
        return np.asarray(seconds.cast(pa.int64()).to_numpy(), dtype=np.int64)
    if pa.types.is_integer(column.type):
        return np.asarray(column.cast(pa.int64()).to_numpy(), dtype=np.int64)
    out = np.zeros(len(column), dtype=np.int64)
    for i, text in enumerate(column.to_pylist()):
        try:
            out[i] = parse_time_s(str(text))
        except ValidationError as exc:
            problems.add(f"row {i + 1}", name, str(exc))
    return out


def _arrow_suspect(table: pa.Table, problems: ProblemList) -> BoolArray:
    if "suspect" not in table.column_names:
        return np.zeros(table.num_rows, dtype=np.bool_)
    column = table.column("suspect")
    if pa.types.is_boolean(column.type):
        return np.asarray(column.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.bool_)
    return _text_flags(
        [str(v).lower() if v is not None else "" for v in column.to_pylist()], problems
    )


def _text_flags(texts: list[str], problems: ProblemList) -> BoolArray:
    out = np.zeros(len(texts), dtype=np.bool_)
    for i, text in enumerate(texts):
        if text in _TRUE:
            out[i] = True
        elif text not in _FALSE:
            problems.add(f"row {i + 1}", "suspect", f"{text!r} is not true or false")
    return out


def _long_from_columns(
    keys: list[str],
    key_index: IntArray,
    key_kind: KeyKind,
    time_s: IntArray,
    counter: list[object],
    value: FloatArray,
    unit: list[str] | list[object] | None,
    suspect: BoolArray,
    time_field: str,
    problems: ProblemList,
    ref: Callable[[int], str],
) -> ParsedBatch:
    """Pivot long rows to one record per (cell, interval); a counter keeps one unit."""
    builder = RecordBuilder(key_kind=key_kind, time_field=time_field, problems=problems)
    record_of: dict[tuple[int, int], int] = {}
    for i in range(len(counter)):
        name = counter[i]
        row_ref = ref(i)
        if not isinstance(name, str) or not name:
            problems.add(row_ref, "counter", "missing counter name")
            continue
        if unit is not None:
            declared = str(unit[i]) if unit[i] not in (None, "") else None
            previous = builder.units.setdefault(name, declared)
            if previous != declared:
                problems.add(row_ref, "unit", f"{declared!r} differs from {previous!r} for {name}")
        k = (int(key_index[i]), int(time_s[i]))
        r = record_of.get(k)
        if r is None:
            r = len(record_of)
            record_of[k] = r
            builder.add(
                key=keys[k[0]], time_s=k[1], duration_s=0, counters={},
                suspect=bool(suspect[i]), ref=row_ref,
            )  # fmt: skip
        elif suspect[i]:
            builder.suspect[r] = True
        column = builder.values.setdefault(name, {})
        if r in column:
            problems.add(row_ref, name, "given twice for the same cell and interval")
        column[r] = float(value[i])
    return builder.build()


# --- CSV ------------------------------------------------------------------------------------


def parse_csv(data: bytes, *, source: str = "file") -> ParsedBatch:
    """Read a CSV KPI table (wide or long), UTF-8 with a header row."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _header_problem(source, ValidationError(f"not UTF-8: {exc}"))
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return _header_problem(source, ValidationError("empty file"))
    header = [h.strip() for h in header]
    try:
        cell_col = _pick(header, CELL_COLUMNS, "cell")
        time_col = _pick(header, TIME_COLUMNS, "time")
    except ValidationError as exc:
        return _header_problem(source, exc)
    rows = list(reader)
    problems = ProblemList()
    width = len(header)
    for i, row in enumerate(rows):
        if len(row) != width:
            problems.add(f"line {i + 2}", "row", f"{len(row)} fields, header has {width}")
    rows = [r if len(r) == width else [""] * width for r in rows]
    columns = {name: [r[j].strip() for r in rows] for j, name in enumerate(header)}
    n = len(rows)
    key_text = columns[cell_col]
    key_map: dict[str, int] = {}
    key_index = np.fromiter((key_map.setdefault(k, len(key_map)) for k in key_text), np.int64, n)
    time_s = np.zeros(n, dtype=np.int64)
    for i, t in enumerate(columns[time_col]):
        try:
            time_s[i] = int(t) if time_col == "interval_start_s" else parse_time_s(t)
        except (ValidationError, ValueError, OverflowError) as exc:
            problems.add(f"line {i + 2}", time_col, str(exc))
    suspect = (
        _text_flags([s.lower() for s in columns["suspect"]], problems)
        if "suspect" in columns
        else np.zeros(n, dtype=np.bool_)
    )

    def ref(i: int) -> str:
        return f"line {i + 2}"

    if set(header) >= LONG_COLUMNS:
        value = _floats(columns["value"], "value", problems)
        return _long_from_columns(
            list(key_map), key_index, CELL_COLUMNS[cell_col], time_s, list(columns["counter"]),
            value, columns.get("unit"), suspect, time_col, problems, ref,
        )  # fmt: skip
    counters: dict[str, FloatArray] = {}
    units: dict[str, str | None] = {}
    for name in header:
        if name in RESERVED:
            continue
        match = _HEADER_UNIT.match(name)
        counter = match["name"] if match else name
        units[counter] = match["unit"] if match else None
        counters[counter] = _floats(columns[name], counter, problems)
    return ParsedBatch(
        keys=list(key_map), key_kind=CELL_COLUMNS[cell_col], key_index=key_index, time_s=time_s,
        duration_s=np.zeros(n, dtype=np.int64), counters=counters, suspect=suspect, ref=ref,
        time_field=time_col, units=units, problems=problems,
    )  # fmt: skip


def _floats(texts: list[str], name: str, problems: ProblemList) -> FloatArray:
    out = np.full(len(texts), np.nan)
    for i, text in enumerate(texts):
        if text == "":
            continue
        try:
            out[i] = parse_value(text)
        except ValueError as exc:
            problems.add(f"line {i + 2}", name, str(exc))
    return out
