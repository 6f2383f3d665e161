"""The small exception hierarchy shared by every layer (mapped to HTTP only in the API)."""

import difflib
from collections.abc import Iterable


class RanoptError(Exception):
    """Base class of every error ranopt raises on purpose."""


class ValidationError(RanoptError, ValueError):
    """An input value is out of its domain; the message names the field and the value."""


class ConflictError(ValidationError):
    """The input clashes with what exists (a name already taken); the message names the field."""


class SolverError(RanoptError):
    """An optimizer could not produce a plan (not raised for infeasible or time-limited runs)."""


class NotConvergedError(RanoptError):
    """An iterative model did not converge within its iteration budget."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the known names closest to ``name``, or ``""``.

    Appended to a "no such name" message, so a typo costs one glance instead of a lookup.
    """
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
