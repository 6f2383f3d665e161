"""A network's stored counters as the calibration reads them: per cell, on whole UTC days.

Arrays are ``[num_intervals, num_cells]`` from midnight (UTC) of the first day, one row per
interval of the network's grid; a counter a cell did not report in an interval is NaN. Which
cells were asleep comes from two places: the cell states known to be applied (the loop's
applied plans, later the southbound's per-element transaction outcomes) and the cell's own
``RRU.PrbAvailDl = 0`` (a cell that offers no PRBs is not transmitting).
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.errors import RanoptError, ValidationError
from ranopt.twin.units import FloatArray

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
SECONDS_PER_DAY = 86_400
DAYS_PER_WEEK = 7
EPOCH_WEEKDAY = 3  # 1970-01-01 (day 0) was a Thursday; Monday is 0
REQUIRED_COUNTERS = ("RRU.PrbUsedDl", "DRB.PdcpSduVolumeDL")


def epoch_weekday(days: IntArray) -> IntArray:
    """Weekday (Monday 0) of each day number since the Unix epoch (UTC)."""
    return np.asarray((days + EPOCH_WEEKDAY) % DAYS_PER_WEEK, dtype=np.int64)


def weekday_at(t_s: int) -> int:
    """Weekday (Monday 0) of epoch second ``t_s`` (UTC)."""
    return (t_s // SECONDS_PER_DAY + EPOCH_WEEKDAY) % DAYS_PER_WEEK


class InsufficientTelemetryError(RanoptError):
    """The store holds too little PM history to calibrate a model (mapped to HTTP 409)."""

    def __init__(self, message: str, *, needed_days: float, found_days: float) -> None:
        super().__init__(message)
        self.needed_days = needed_days
        self.found_days = found_days


@dataclass(frozen=True, eq=False)
class PmHistory:
    """Per-cell counters ``[N, C]`` on whole days from ``start_s`` (UTC midnight).

    ``prb_used`` is RRU.PrbUsedDl (PRB), ``prb_avail`` RRU.PrbAvailDl (PRB), ``volume_mbit``
    DRB.PdcpSduVolumeDL (Mbit), ``ue_thp_mbps`` DRB.UEThpDl (Mbit/s), ``conn_mean``
    RRC.ConnMean (UEs); ``applied_asleep`` marks the cells known to have been put to sleep.
    """

    start_s: int
    interval_s: int
    cell_names: tuple[str, ...]
    num_prb: IntArray  # [C] PRBs of each cell's carrier (topology)
    prb_used: FloatArray
    prb_avail: FloatArray
    volume_mbit: FloatArray
    ue_thp_mbps: FloatArray
    conn_mean: FloatArray
    applied_asleep: BoolArray
    # weekday of each day when its days are not consecutive from ``start_s`` (``take_days``)
    day_weekdays: IntArray | None = None

    def __post_init__(self) -> None:
        """Check shapes and the day alignment."""
        shape = self.prb_used.shape
        num_cells = len(self.cell_names)
        if len(shape) != 2 or shape[1] != num_cells:
            msg = f"PmHistory.prb_used must have shape (N, {num_cells}), got {shape}"
            raise ValidationError(msg)
        for name in ("prb_avail", "volume_mbit", "ue_thp_mbps", "conn_mean", "applied_asleep"):
            if getattr(self, name).shape != shape:
                msg = f"PmHistory.{name} must have shape {shape}"
                raise ValidationError(msg)
        if self.num_prb.shape != (num_cells,):
            msg = f"PmHistory.num_prb must have shape ({num_cells},)"
            raise ValidationError(msg)
        if self.interval_s <= 0 or SECONDS_PER_DAY % self.interval_s:
            msg = f"interval_s must divide a day, got {self.interval_s}"
            raise ValidationError(msg)
        if self.start_s % SECONDS_PER_DAY or shape[0] % self.intervals_per_day:
            msg = "PmHistory must cover whole UTC days from midnight"
            raise ValidationError(msg)
        if self.day_weekdays is not None and self.day_weekdays.shape != (self.num_days,):
            msg = f"PmHistory.day_weekdays must have shape ({self.num_days},)"
            raise ValidationError(msg)

    @property
    def num_intervals(self) -> int:
        """Intervals ``N`` (whole days)."""
        return int(self.prb_used.shape[0])

    @property
    def num_cells(self) -> int:
        """Cells ``C``."""
        return len(self.cell_names)

    @property
    def intervals_per_day(self) -> int:
        """Intervals in a day."""
        return SECONDS_PER_DAY // self.interval_s

    @property
    def num_days(self) -> int:
        """Whole days the arrays span (some may hold no data)."""
        return self.num_intervals // self.intervals_per_day

    @property
    def first_day(self) -> int:
        """Day number (days since the Unix epoch, UTC) of row 0."""
        return self.start_s // SECONDS_PER_DAY

    @property
    def weekdays(self) -> IntArray:
        """Weekday of each day, Monday 0, ``[num_days]``."""
        if self.day_weekdays is not None:
            return self.day_weekdays
        return epoch_weekday(self.first_day + np.arange(self.num_days))

    @property
    def row_weekdays(self) -> IntArray:
        """Weekday of each row, ``[N]``."""
        return np.repeat(self.weekdays, self.intervals_per_day)

    @property
    def row_intervals(self) -> IntArray:
        """Interval of the day of each row, ``[N]``."""
        return np.tile(np.arange(self.intervals_per_day, dtype=np.int64), self.num_days)

    @property
    def reported(self) -> BoolArray:
        """Samples carrying both a PRB and a volume counter, ``[N, C]``."""
        return np.isfinite(self.prb_used) & np.isfinite(self.volume_mbit)

    @property
    def asleep(self) -> BoolArray:
        """Cells asleep: known to be put to sleep, or reporting no available PRBs, ``[N, C]``."""
        offered_none = np.isfinite(self.prb_avail) & (self.prb_avail <= 0.0)
        return np.asarray(self.applied_asleep | offered_none, dtype=bool)

    @property
    def prb_load(self) -> FloatArray:
        """PRB load (0-1) of reporting awake cells, ``[N, C]``; NaN elsewhere."""
        avail = np.where(np.isfinite(self.prb_avail), self.prb_avail, self.num_prb[None, :])
        with np.errstate(invalid="ignore", divide="ignore"):
            load = np.where(avail > 0, self.prb_used / avail, np.nan)
        return np.asarray(np.where(self.asleep, np.nan, np.clip(load, 0.0, 1.0)), dtype=float)

    @property
    def served_mbps(self) -> FloatArray:
        """Served DL rate (volume over the interval), Mbit/s ``[N, C]``; NaN where unreported."""
        return np.asarray(self.volume_mbit / self.interval_s, dtype=np.float64)

    def days_found(self) -> float:
        """Days of usable history: reported samples over the cells' samples in one day."""
        return float(self.reported.sum()) / float(self.num_cells * self.intervals_per_day)

    def day_coverage(self) -> FloatArray:
        """Share of each day's samples that were reported, ``[num_days]``."""
        per_day = self.reported.reshape(self.num_days, self.intervals_per_day, -1)
        return np.asarray(per_day.mean(axis=(1, 2)), dtype=np.float64)

    def take_days(self, days: IntArray) -> "PmHistory":
        """Return the history of some of its days (indices into ``range(num_days)``), in order.

        The result's ``start_s`` is that of the first day taken; the days need not be
        consecutive (its rows are then not a continuous time range; its ``weekdays`` are
        those of the days taken).
        """
        ipd = self.intervals_per_day
        rows = (np.asarray(days)[:, None] * ipd + np.arange(ipd)[None, :]).ravel()

        def pick(values: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
            return np.asarray(values[rows])

        return PmHistory(
            start_s=self.start_s + int(days[0]) * SECONDS_PER_DAY if len(days) else self.start_s,
            interval_s=self.interval_s,
            cell_names=self.cell_names,
            num_prb=self.num_prb,
            prb_used=np.asarray(pick(self.prb_used), dtype=np.float64),
            prb_avail=np.asarray(pick(self.prb_avail), dtype=np.float64),
            volume_mbit=np.asarray(pick(self.volume_mbit), dtype=np.float64),
            ue_thp_mbps=np.asarray(pick(self.ue_thp_mbps), dtype=np.float64),
            conn_mean=np.asarray(pick(self.conn_mean), dtype=np.float64),
            applied_asleep=np.asarray(pick(self.applied_asleep), dtype=bool),
            day_weekdays=np.asarray(self.weekdays[np.asarray(days, dtype=np.int64)]),
        )


def require_history(history: PmHistory, min_days: float) -> None:
    """Raise ``InsufficientTelemetryError`` naming what is missing when the history is short."""
    found = history.days_found()
    absent = [
        name
        for name, values in zip(
            REQUIRED_COUNTERS, (history.prb_used, history.volume_mbit), strict=True
        )
        if not np.isfinite(values).any()
    ]
    if absent:
        msg = (
            f"{min_days:g} days of PM history needed, {found:.1f} found: no "
            f"{' or '.join(absent)} stored for any cell"
        )
        raise InsufficientTelemetryError(msg, needed_days=min_days, found_days=found)
    if found + 1e-9 < min_days:
        msg = f"{min_days:g} days of PM history needed, {found:.1f} found"
        raise InsufficientTelemetryError(msg, needed_days=min_days, found_days=found)
