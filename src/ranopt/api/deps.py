"""Request dependencies: the store session, the caller (``Principal``) and ``require``.

Every route but the public ones depends on ``require(permission)``: the caller was already
identified by ``RequestGuard`` (before the body was read); ``require`` checks the role's
permission in ``ranopt.api.permissions`` and counts the call against the rate limit.

``SessionDep`` is one transaction per request, committed when the route returns and before
the answer is sent (``scope="function"``): a client that got its 201 can rely on the write.
"""

import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Any

from argon2 import PasswordHasher
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from ranopt.api.authn import PRINCIPAL_STATE, Authenticator, Principal
from ranopt.api.errors import ProblemError
from ranopt.api.failures import FailureAudit
from ranopt.api.kpi_cache import SeriesCache
from ranopt.api.metrics import Metrics
from ranopt.api.permissions import Permission, allows, permissions_of, role_within
from ranopt.api.ratelimit import CredentialGuard, RateLimiter
from ranopt.api.security import OidcVerifier, TokenService
from ranopt.api.settings import Settings
from ranopt.store import audit
from ranopt.store.engine import Store

__all__ = ["Principal"]


@dataclass
class Services:
    """Everything a request may need, made once per app (``app.state.services``)."""

    settings: Settings
    store: Store
    tokens: TokenService
    limiter: RateLimiter
    guard: CredentialGuard
    failures: FailureAudit
    authenticator: Authenticator
    metrics: Metrics
    oidc: OidcVerifier | None
    hasher: PasswordHasher
    jobs: ThreadPoolExecutor  # background optimization runs and twin builds
    kpi_cache: SeriesCache
    # KPI reads: a plain executor hands work to a thread in tens of microseconds, where
    # Starlette's threadpool (anyio) takes ten times that, more than a cached read itself
    reads: ThreadPoolExecutor


async def get_services(request: Request) -> Services:
    """Return the app's services (async: no worker-thread hop for a dictionary lookup)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with services.store.transaction() as session:
        yield session


# scope="function": the commit runs when the route function returns, before the response is
# sent (the default, "request", would commit after the client already has its answer)
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def now_s() -> int:
    """Wall clock, epoch seconds (the shell reads the clock)."""
    return int(time.time())


def client_address(request: Request) -> str:
    """Return the client's address (a trusted proxy's X-Forwarded-For when behind one)."""
    return request.client.host if request.client else "unknown"


def audit_event(
    services: Services,
    *,
    tenant_id: int | None,
    actor: str,
    action: str,
    target: str,
    outcome: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an audit entry in its own transaction (for events outside a route's session)."""
    with services.store.transaction() as session:
        audit.append(
            session, ts_s=now_s(), tenant_id=tenant_id, actor=actor, action=action,
            target=target, outcome=outcome, detail=detail,
        )  # fmt: skip


async def authenticate(request: Request, services: ServicesDep) -> Principal:
    """Return the caller ``RequestGuard`` identified (or identify it now, if none ran)."""
    found = request.scope.get("state", {}).get(PRINCIPAL_STATE)
    if isinstance(found, Principal):
        return found
    return await services.authenticator.authenticate(
        request.headers, client_address(request), request.url.path
    )


PermissionCheck = Callable[..., Awaitable[Principal]]


def require(permission: Permission) -> PermissionCheck:
    """Dependency factory: the caller must hold ``permission``; returns the ``Principal``."""

    async def check(
        principal: Annotated[Principal, Depends(authenticate)], services: ServicesDep
    ) -> Principal:
        if not allows(principal.role, permission):
            raise ProblemError(
                403, f"role {principal.role!r} lacks the {permission.value!r} permission"
            )
        services.limiter.hit_api(principal.subject)
        return principal

    check.permission = permission  # type: ignore[attr-defined]
    check.__name__ = f"require_{permission.value}"
    return check


Reader = Annotated[Principal, Depends(require(Permission.READ))]
Writer = Annotated[Principal, Depends(require(Permission.WRITE))]
Executor = Annotated[Principal, Depends(require(Permission.EXECUTE))]
Investigator = Annotated[Principal, Depends(require(Permission.INVESTIGATE))]


def require_role_within(principal: Principal, role: str, *, field: str) -> None:
    """403 unless every permission of ``role`` is one the caller holds itself.

    No principal grants (a user, an API key) or acts on (a second-factor reset) a role
    stronger than its own in any permission.
    """
    if not role_within(role, principal.role):
        missing = sorted(p.value for p in permissions_of(role) - principal.permissions)
        raise ProblemError(
            403,
            f"{field}: a {principal.role} cannot act on the {role} role "
            f"(it lacks {', '.join(missing)})",
            field=field,
        )


def record(
    session: Session,
    principal: Principal,
    *,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Audit a write in the request's own transaction (it commits or rolls back with it)."""
    audit.append(
        session, ts_s=now_s(), tenant_id=principal.tenant_id, actor=principal.subject,
        action=action, target=target, outcome="success", detail=detail,
    )  # fmt: skip
