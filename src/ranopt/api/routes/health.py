"""Liveness, readiness, Prometheus metrics and the public signing keys (no auth)."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from ranopt.api.deps import ServicesDep
from ranopt.api.errors import problem
from ranopt.store.engine import current_revision, head_revision, runs_against

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "database unreachable or not migrated"}})
def ready(services: ServicesDep) -> Any:
    """Readiness: the database answers at this code's schema (or a newer, compatible one)."""
    try:
        with services.store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        revision = current_revision(services.store.engine)
    except Exception:
        return problem(503, "database unreachable", instance="/ready")
    head = head_revision()
    if not runs_against(services.store.engine, revision):
        return problem(
            503, f"database at revision {revision!r}, code expects {head!r}", instance="/ready"
        )
    return JSONResponse({"status": "ready", "revision": revision})


@router.get("/metrics", response_class=Response)
def metrics(services: ServicesDep) -> Response:
    """Prometheus text exposition of the app's metrics."""
    return Response(services.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/.well-known/jwks.json")
def jwks(services: ServicesDep) -> dict[str, Any]:
    """Public keys that verify ranopt's access tokens (JWK Set)."""
    return services.tokens.jwks()
