"""Ingest one file into a network: parse, validate all of it, write it in one transaction."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from ranopt.errors import ValidationError
from ranopt.ingest.batch import CellLookup, ParsedBatch, validate
from ranopt.ingest.pm_xml import parse_pm_xml
from ranopt.ingest.tabular import parse_csv, parse_parquet
from ranopt.ingest.ves import EpochUnit, parse_ves
from ranopt.store import repository as repo
from ranopt.store.engine import Store
from ranopt.store.samples import SampleBatch

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


def concat_batches(batches: Sequence[SampleBatch]) -> SampleBatch:
    """Join validated batches into one (a column missing from a batch is NaN there)."""
    columns = sorted({name for b in batches for name in b.values})
    extra: tuple[dict[str, float] | None, ...] | None = None
    if any(b.extra is not None for b in batches):
        extra = tuple(e for b in batches for e in (b.extra or (None,) * len(b)))
    return SampleBatch(
        cell_id=np.concatenate([b.cell_id for b in batches]),
        interval_start_s=np.concatenate([b.interval_start_s for b in batches]),
        values={
            name: np.concatenate([b.values.get(name, np.full(len(b), np.nan)) for b in batches])
            for name in columns
        },
        suspect=np.concatenate([b.suspect for b in batches]),
        extra=extra,
    )


def ingest_files(
    store: Store,
    paths: Sequence[Path],
    *,
    tenant_id: int,
    network: str,
    options: IngestOptions | None = None,
) -> IngestResult:
    """Ingest many files (e.g. a RAN's back-filled PM files) in one transaction, all or nothing.

    Each file is parsed and validated as ``ingest_file`` does (``BatchRejectedError`` names the
    file, record and field); nothing is written unless every file is valid.
    """
    options = options or IngestOptions()
    with store.transaction() as session:
        net = repo.get_network(session, tenant_id=tenant_id, name=network)
        cells = CellLookup.from_cells(
            repo.network_cells(session, tenant_id=tenant_id, network_id=net.id)
        )
    records, batches = 0, []
    skipped: dict[str, int] = {}
    for path in paths:
        parsed = parse_file(path, options)
        records += len(parsed)
        for kind, n in parsed.skipped.items():
            skipped[kind] = skipped.get(kind, 0) + n
        batches.append(validate(parsed, cells=cells, interval_s=net.interval_s,
                                clock_tolerance_s=options.clock_tolerance_s))  # fmt: skip
    if not batches:
        return IngestResult(num_records=0, num_samples=0, skipped={})
    with store.transaction() as session:
        written = repo.upsert_samples(session, tenant_id=tenant_id, network_id=net.id,
                                      batch=concat_batches(batches),
                                      chunk_rows=options.chunk_rows)  # fmt: skip
    return IngestResult(num_records=records, num_samples=written, skipped=skipped)
