"""Timestamps and durations as PM formats write them, to integer epoch seconds."""

import re
from datetime import UTC, datetime

from ranopt.errors import ValidationError

_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$")
# Times ranopt accepts, epoch seconds: 1970-01-01 up to 2100-01-01 (exclusive). Anything
# later is a unit mistake (milliseconds for seconds) or garbage, and beyond year 9999 no
# calendar library can even print it.
MIN_TIME_S = 0
MAX_TIME_S = 4_102_444_800 - 1
MAX_DURATION_S = 31 * 86_400


def check_time_s(t_s: int | float, field: str) -> int:
    """Return ``t_s`` as int if it is a time ranopt accepts, else raise naming ``field``."""
    if not MIN_TIME_S <= t_s <= MAX_TIME_S:
        msg = f"{field}: {t_s!r} is not a time between 1970 and 2100 (epoch seconds)"
        raise ValidationError(msg)
    return int(t_s)


def parse_time_s(text: str) -> int:
    """Return epoch seconds of an ISO 8601 time with a UTC offset (``Z`` or ``+hh:mm``)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        msg = f"{text!r} is not an ISO 8601 time"
        raise ValidationError(msg) from exc
    if moment.tzinfo is None:
        msg = f"{text!r} has no UTC offset"
        raise ValidationError(msg)
    return check_time_s(int(moment.timestamp()), "time")


def parse_duration_s(text: str) -> int:
    """Return the seconds of an ISO 8601 duration as PM files use it (``PT900S``, ``PT15M``)."""
    match = _DURATION.match(text.strip())
    if not match or not any(match.groups()):
        msg = f"{text!r} is not an ISO 8601 duration like PT900S"
        raise ValidationError(msg)
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total_s = hours * 3600 + minutes * 60 + seconds
    if total_s > MAX_DURATION_S:
        msg = f"{text!r} is longer than {MAX_DURATION_S} s"
        raise ValidationError(msg)
    return total_s


def format_time(t_s: int) -> str:
    """Format epoch seconds as ISO 8601 UTC (``2026-01-05T00:00:00Z``); never raises.

    A time no calendar can hold (before year 1 or after 9999) is shown as its number.
    """
    try:
        return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{t_s} (epoch s)"
