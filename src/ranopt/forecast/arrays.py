"""Array types and the input checks shared by the forecast modules."""

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from ranopt.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

NUM_WEEKDAYS = 7  # 0 = Monday ... 6 = Sunday (ISO 8601 order, as ``datetime.weekday``)
MIN_INTERVALS_PER_DAY = 3  # the intra-day residual model needs lag-1 and lag-2 pairs


def as_history(history: npt.ArrayLike, *, name: str = "history", min_days: int = 1) -> FloatArray:
    """Check and return demand history, ``[num_days, intervals_per_day, num_series]``.

    Raises
    ------
    ValidationError
        If the array is not 3-D, too short, or holds a NaN, an infinity or a negative value.
    """
    values = np.asarray(history, dtype=np.float64)
    if values.ndim != 3:
        msg = (
            f"{name} must have shape [num_days, intervals_per_day, num_series], got {values.shape}"
        )
        raise ValidationError(msg)
    num_days, num_intervals, num_series = values.shape
    if num_days < min_days:
        msg = f"{name} must hold at least {min_days} days, got {num_days}"
        raise ValidationError(msg)
    if num_intervals < MIN_INTERVALS_PER_DAY or num_series < 1:
        msg = (
            f"{name} needs >= {MIN_INTERVALS_PER_DAY} intervals per day and >= 1 series, "
            f"got shape {values.shape}"
        )
        raise ValidationError(msg)
    return check_demand(values, name=name)


def check_demand(values: FloatArray, *, name: str) -> FloatArray:
    """Return ``values`` if every entry is finite and >= 0; else name the first bad one."""
    if not np.isfinite(values).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
        msg = f"{name} must be finite, got {values[bad]} at index {bad}"
        raise ValidationError(msg)
    if (values < 0.0).any():
        bad = tuple(int(i) for i in np.argwhere(values < 0.0)[0])
        msg = f"{name} must be >= 0 (demand), got {values[bad]} at index {bad}"
        raise ValidationError(msg)
    return values


def as_weekdays(weekdays: npt.ArrayLike, num_days: int, *, name: str = "weekdays") -> IntArray:
    """Check and return the weekday of each day, ``[num_days]``, 0 = Monday.

    Raises
    ------
    ValidationError
        If the shape does not match ``num_days`` or a value is not an integer in 0..6.
    """
    values = np.asarray(weekdays)
    if values.shape != (num_days,):
        msg = f"{name} must have shape ({num_days},), got {values.shape}"
        raise ValidationError(msg)
    if values.dtype.kind not in "iu":
        msg = f"{name} must hold integers 0..6 (0 = Monday), got dtype {values.dtype}"
        raise ValidationError(msg)
    if ((values < 0) | (values >= NUM_WEEKDAYS)).any():
        msg = f"{name} must hold integers 0..6 (0 = Monday), got {values.tolist()}"
        raise ValidationError(msg)
    return values.astype(np.int64)


def check_weekday(weekday: int, *, name: str = "weekday") -> int:
    """Check one weekday, an ``int`` in 0..6 (0 = Monday)."""
    if isinstance(weekday, bool) or not isinstance(weekday, int | np.integer):
        msg = f"{name} must be an int 0..6 (0 = Monday), got {weekday!r}"
        raise ValidationError(msg)
    if not 0 <= weekday < NUM_WEEKDAYS:
        msg = f"{name} must be in 0..6 (0 = Monday), got {weekday}"
        raise ValidationError(msg)
    return int(weekday)


def as_quantile_levels(levels: Sequence[float], *, name: str = "quantiles") -> tuple[float, ...]:
    """Check quantile levels: non-empty, strictly increasing, each strictly between 0 and 1."""
    values = tuple(float(q) for q in levels)
    if not values:
        msg = f"{name} must hold at least one level"
        raise ValidationError(msg)
    if any(not 0.0 < q < 1.0 for q in values):
        msg = f"{name} must lie strictly between 0 and 1, got {values}"
        raise ValidationError(msg)
    if any(b <= a for a, b in pairwise(values)):
        msg = f"{name} must be strictly increasing, got {values}"
        raise ValidationError(msg)
    return values
