"""Timestamps and durations as PM formats write them, to integer epoch seconds."""

import re
from datetime import UTC, datetime

from ranopt.errors import ValidationError

_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$")


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
    return int(moment.timestamp())


def parse_duration_s(text: str) -> int:
    """Return the seconds of an ISO 8601 duration as PM files use it (``PT900S``, ``PT15M``)."""
    match = _DURATION.match(text.strip())
    if not match or not any(match.groups()):
        msg = f"{text!r} is not an ISO 8601 duration like PT900S"
        raise ValidationError(msg)
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def format_time(t_s: int) -> str:
    """Format epoch seconds as ISO 8601 UTC (``2026-01-05T00:00:00Z``)."""
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
