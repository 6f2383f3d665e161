"""The API's fast JSON encoder for large numeric answers (orjson, numpy arrays as lists)."""

from typing import Any

import orjson

# numpy arrays are written straight from their buffers; NaN becomes null (a missing value)
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def encode_json(content: Any) -> bytes:
    """Encode ``content`` (dicts, lists, numbers, 1-D numpy arrays) as compact JSON bytes."""
    return orjson.dumps(content, option=_OPTIONS)
