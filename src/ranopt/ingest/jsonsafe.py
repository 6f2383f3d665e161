"""JSON read safely: nesting depth checked before parsing, finite numbers only.

Python's parser recurses once per nesting level, so a body nested a thousand deep ends in a
``RecursionError`` (a 500) instead of an answer; ``json_depth`` measures the depth first, on
the raw bytes, at C speed (``bytes.replace`` and numpy), so a deep document is refused before
any parser sees it. ``NaN`` and ``Infinity`` (which Python's parser accepts) are refused too.
"""

import json
import math
from typing import Any

import numpy as np

from ranopt.errors import ValidationError

MAX_JSON_DEPTH = 32
# per byte value: +1 opens, -1 closes a level; _MARK: the bytes that matter (brackets, quote)
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1
_MARK = _STEP != 0
_MARK[ord('"')] = True


def json_depth(data: bytes) -> int:
    """Return the deepest nesting of arrays and objects in a JSON text (0 for a scalar).

    Brackets inside strings do not count: escaped backslashes and quotes are removed first,
    then every remaining quote toggles "inside a string". Text that is not JSON gets some
    number; the parser that follows reports what is wrong with it.
    """
    # escaped backslashes first (pairs, left to right), then escaped quotes
    text = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    raw = np.frombuffer(text, dtype=np.uint8)
    # [M] only the brackets and quotes, in order
    marks = raw[_MARK[raw]]
    inside = np.logical_xor.accumulate(marks == ord('"'))  # True from an opening quote on
    step = _STEP[marks].astype(np.int64)
    step[inside] = 0
    if not step.any():
        return 0
    return max(int(np.cumsum(step).max()), 0)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        msg = f"json: {text} is beyond the range of a number (only finite numbers are accepted)"
        raise ValidationError(msg)
    return value


def _refuse_constant(name: str) -> Any:
    msg = f"json: {name} is not a JSON number (only finite numbers are accepted)"
    raise ValidationError(msg)


def loads(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON whose nesting is at most ``max_depth`` and whose numbers are finite.

    Raises ``ValidationError`` (naming ``json``) for a deeper document, ``NaN``/``Infinity``,
    or text that is not JSON.
    """
    raw = data.encode() if isinstance(data, str) else data
    depth = json_depth(raw)
    if depth > max_depth:
        msg = f"json: nested {depth} levels deep, more than the {max_depth} accepted"
        raise ValidationError(msg)
    try:
        return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        msg = f"json: not valid JSON: {exc}"
        raise ValidationError(msg) from exc
    except RecursionError as exc:  # pragma: no cover - json_depth keeps this from happening
        msg = "json: nested too deep"
        raise ValidationError(msg) from exc
