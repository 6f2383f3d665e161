"""Ingest one file into a network: parse, validate all of it, write it in one transaction."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ranopt.errors import ValidationError
from ranopt.ingest.batch import CellLookup, ParsedBatch, validate
from ranopt.ingest.pm_xml import parse_pm_xml
from ranopt.ingest.tabular import parse_csv, parse_parquet
from ranopt.ingest.ves import EpochUnit, parse_ves
from ranopt.store import repository as repo
from ranopt.store.engine import Store

Format = Literal["auto", "pm-xml", "ves", "csv", "parquet"]
FORMAT_BY_SUFFIX: dict[str, Format] = {
    ".xml": "pm-xml",
    ".json": "ves",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass(frozen=True)
class IngestOptions:
    """How to read a file: format, clock skew accepted on the grid, VES epoch unit."""

    format: Format = "auto"
    clock_tolerance_s: int = 0
    epoch_unit: EpochUnit = "us"
    chunk_rows: int = 50_000


@dataclass(frozen=True)
class IngestResult:
    """What one ingest wrote."""

    num_records: int  # records parsed (a cell's DU and CU objects are two)
    num_samples: int  # (cell, interval) samples written
    skipped: dict[str, int] = field(default_factory=dict)  # non-cell objects, other domains


def detect_format(path: Path, requested: Format = "auto") -> Format:
    """Return the file's format from ``requested`` or its suffix."""
    if requested != "auto":
        return requested
    fmt = FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        msg = f"cannot tell the format of {path.name!r} from its suffix; pass --format"
        raise ValidationError(msg)
    return fmt


def parse_file(path: Path, options: IngestOptions) -> ParsedBatch:
    """Parse ``path`` with the parser of its format."""
    fmt = detect_format(path, options.format)
    if fmt == "parquet":
        return parse_parquet(str(path), source=path.name)
    data = path.read_bytes()
    if fmt == "pm-xml":
        return parse_pm_xml(data, source=path.name)
    if fmt == "ves":
        return parse_ves(data, source=path.name, epoch_unit=options.epoch_unit)
    return parse_csv(data, source=path.name)


def ingest_file(
    store: Store,
    path: Path,
    *,
    tenant_id: int,
    network: str,
    options: IngestOptions | None = None,
    on_total: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestResult:
    """Ingest ``path`` into the tenant's network, all or nothing.

    The whole file is validated before anything is written (``BatchRejectedError`` names each
    bad record and field) and written in one transaction, so a crash leaves either all
    of it or none of it. ``on_total`` receives the number of samples about to be written,
    ``progress`` the number written after each chunk.
    """
    options = options or IngestOptions()
    parsed = parse_file(path, options)
    with store.transaction() as session:
        net = repo.get_network(session, tenant_id=tenant_id, name=network)
        cells = CellLookup.from_cells(
            repo.network_cells(session, tenant_id=tenant_id, network_id=net.id)
        )
    batch = validate(
        parsed, cells=cells, interval_s=net.interval_s, clock_tolerance_s=options.clock_tolerance_s
    )
    if on_total is not None:
        on_total(len(batch))
    with store.transaction() as session:
        written = repo.upsert_samples(
            session, tenant_id=tenant_id, network_id=net.id, batch=batch,
            chunk_rows=options.chunk_rows, progress=progress,
        )  # fmt: skip
    return IngestResult(num_records=len(parsed), num_samples=written, skipped=parsed.skipped)
