"""The small exception hierarchy shared by every layer (mapped to HTTP only in the API)."""


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
