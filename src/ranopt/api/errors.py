"""RFC 9457 problem details: every error answers ``application/problem+json``.

Client mistakes map to 4xx naming the field at fault; only a fault of the server is a 500,
and its body never carries internals.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ranopt.api.metrics import leaf_routes
from ranopt.errors import ConflictError, RanoptError, ValidationError
from ranopt.ingest.batch import BatchRejectedError
from ranopt.store.engine import StoreError
from ranopt.store.repository import NotFoundError

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger("ranopt.api")


class ProblemError(Exception):
    """An HTTP error raised on purpose: status, title, detail and the field at fault."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.field = field
        self.headers = headers or {}
        self.extra = extra or {}


TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class ProblemOut(BaseModel):
    """An RFC 9457 problem: what went wrong and, for a client mistake, the field at fault."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    field: str | None = None


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the problems a route answers besides the common ones.

    ``ranopt.api.openapi`` gives every 4xx/5xx the ``application/problem+json`` schema.
    """
    return {code: {"description": TITLES.get(code, "Error")} for code in codes}


def allowed_methods(app: Any, path: str) -> list[str]:
    """Every method some route of ``app`` answers at ``path`` (for a 405's ``Allow``)."""
    methods: set[str] = set()
    for route in leaf_routes(app.router.routes):
        regex = getattr(route, "path_regex", None)
        route_methods = getattr(route, "methods", None)
        if regex is not None and route_methods and regex.match(path):
            methods |= set(route_methods)
    return sorted(methods)


def problem(
    status: int,
    detail: str,
    *,
    instance: str,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build a problem+json response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "records", 3, "cell")`` -> ``body.records[3].cell``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def install(app: FastAPI) -> None:
    """Register the problem+json handlers."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem(
            exc.status, exc.detail, instance=request.url.path, title=exc.title,
            headers=exc.headers, field=exc.field, **exc.extra,
        )  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        raw = list(exc.errors())
        errors = [
            {"field": _field_path(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in raw
        ]
        first = errors[0] if errors else {"field": "", "message": "invalid request"}
        # a body that is not JSON at all cannot be read: 400; a JSON body that is wrong: 422
        status = 400 if raw and raw[0].get("type") == "json_invalid" else 422
        return problem(
            status, f"{first['field']}: {first['message']}", instance=request.url.path,
            field=first["field"], errors=errors,
        )  # fmt: skip

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, not just one route's
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return problem(exc.status_code, str(exc.detail), instance=request.url.path, headers=headers)

    @app.exception_handler(BatchRejectedError)
    async def _rejected(request: Request, exc: BatchRejectedError) -> JSONResponse:
        problems = [
            {"record": p.record, "field": p.field, "message": p.message} for p in exc.problems
        ]
        first = problems[0]["field"] if problems else None
        return problem(
            422, f"batch rejected, nothing written: {exc.num_problems} problem(s)",
            instance=request.url.path, title="Batch rejected", field=first,
            problems=problems[:100], num_problems=exc.num_problems,
        )  # fmt: skip

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return problem(404, str(exc), instance=request.url.path)

    @app.exception_handler(ValidationError)
    async def _domain_invalid(request: Request, exc: ValidationError) -> JSONResponse:
        message = str(exc)
        field = message.split(":", 1)[0] if ":" in message else None
        return problem(422, message, instance=request.url.path, field=field)

    @app.exception_handler(ConflictError)
    async def _conflict(request: Request, exc: ConflictError) -> JSONResponse:
        message = str(exc)
        field = message.split(":", 1)[0] if ":" in message else None
        return problem(409, message, instance=request.url.path, field=field)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # two requests raced for one name or id: the loser is told, nothing half-written
        logger.info("integrity conflict on %s: %s", request.url.path, exc.orig)
        return problem(
            409, "conflicts with data written meanwhile (a name or id already taken); retry",
            instance=request.url.path,
        )  # fmt: skip

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        logger.error("store unusable: %s", exc)
        return problem(503, "the database is not ready", instance=request.url.path)

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError) -> JSONResponse:
        # the database went away (a failover, a restart): the client retries, nothing was
        # acknowledged; a connection error is not a fault of this request
        logger.error("database unavailable on %s: %s", request.url.path, exc.orig)
        return problem(
            503, "the database is unavailable; retry", instance=request.url.path,
            headers={"Retry-After": "1"},
        )  # fmt: skip

    @app.exception_handler(SQLAlchemyTimeoutError)
    async def _pool_timeout(request: Request, exc: SQLAlchemyTimeoutError) -> JSONResponse:
        logger.error("database pool exhausted on %s", request.url.path)
        return problem(
            503, "the database is busy; retry", instance=request.url.path,
            headers={"Retry-After": "1"},
        )  # fmt: skip

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s", request.url.path, exc_info=exc)
        return problem(500, "internal error", instance=request.url.path)

    @app.exception_handler(RanoptError)
    async def _ranopt(request: Request, exc: RanoptError) -> JSONResponse:
        logger.error("unhandled ranopt error on %s: %s", request.url.path, type(exc).__name__)
        return problem(500, "internal error", instance=request.url.path)
