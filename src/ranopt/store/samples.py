"""Columnar KPI sample batches: what ingestion hands the store and queries hand back."""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.counters import COUNTER_COLUMNS
from ranopt.errors import ValidationError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class SampleBatch:
    """``N`` KPI samples as arrays ``[N]``; a missing counter value is NaN.

    ``values`` maps typed columns (``ranopt.counters``) to stored-unit values; ``extra`` holds
    each sample's other counters (None where it has none).
    """

    cell_id: IntArray
    interval_start_s: IntArray
    values: dict[str, FloatArray]
    suspect: BoolArray
    extra: tuple[dict[str, float] | None, ...] | None = None

    def __post_init__(self) -> None:
        """Check that every array has one entry per sample and columns are known."""
        n = self.cell_id.shape[0]
        arrays = [self.interval_start_s, self.suspect, *self.values.values()]
        if any(a.shape != (n,) for a in arrays) or (
            self.extra is not None and len(self.extra) != n
        ):
            msg = f"SampleBatch arrays must all have shape ({n},)"
            raise ValidationError(msg)
        unknown = set(self.values) - set(COUNTER_COLUMNS)
        if unknown:
            msg = f"SampleBatch.values: unknown columns {sorted(unknown)}"
            raise ValidationError(msg)

    def __len__(self) -> int:
        return int(self.cell_id.shape[0])

    def take(self, start: int, stop: int) -> "SampleBatch":
        """Return samples ``start:stop``."""
        return SampleBatch(
            cell_id=self.cell_id[start:stop],
            interval_start_s=self.interval_start_s[start:stop],
            values={k: v[start:stop] for k, v in self.values.items()},
            suspect=self.suspect[start:stop],
            extra=None if self.extra is None else self.extra[start:stop],
        )


@dataclass(frozen=True, eq=False)
class Series:
    """Bucketed KPI series, one entry per (cell, bucket), sorted by cell then time ``[K]``."""

    cell_id: IntArray
    bucket_start_s: IntArray
    num_samples: IntArray  # raw samples behind each bucket
    values: dict[str, FloatArray]  # column -> [K], NaN where no sample had the counter


@dataclass(frozen=True, eq=False)
class NetworkAggregate:
    """Network-wide figures per interval ``[T]`` (sums of volumes, power, energy; mean load)."""

    interval_start_s: IntArray
    num_cells: IntArray  # cells that reported in the interval
    values: dict[str, FloatArray]  # column -> [T], aggregated over cells
