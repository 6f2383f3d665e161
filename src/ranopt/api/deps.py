"""Request dependencies: the store session, the caller (``Principal``) and ``require``.

Every route but the public ones depends on ``require(permission)``: it authenticates the
caller (JWT, API key, external OIDC token, or HTTP basic for the VES listener), checks the
role's permission in ``ranopt.api.permissions`` and counts the call against the rate limit.
"""

import base64
import binascii
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any

from argon2 import PasswordHasher
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ranopt.api.errors import ProblemError
from ranopt.api.metrics import Metrics
from ranopt.api.permissions import ROLE_PERMISSIONS, Permission, Role, allows
from ranopt.api.ratelimit import RateLimiter
from ranopt.api.security import (
    AuthError,
    OidcVerifier,
    TokenService,
    VerifiedCache,
    split_api_key,
    unverified_issuer,
    verify_password,
)
from ranopt.api.settings import Settings
from ranopt.store import accounts, audit
from ranopt.store.engine import Store
from ranopt.store.repository import NotFoundError


@dataclass
class Services:
    """Everything a request may need, made once per app (``app.state.services``)."""

    settings: Settings
    store: Store
    tokens: TokenService
    limiter: RateLimiter
    metrics: Metrics
    oidc: OidcVerifier | None
    hasher: PasswordHasher
    jobs: ThreadPoolExecutor  # background optimization runs
    # verified against when a login names no existing user, so both cost one argon2 check
    dummy_hash: str
    verified: VerifiedCache = field(default_factory=VerifiedCache)


def get_services(request: Request) -> Services:
    """Return the app's services."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with services.store.transaction() as session:
        yield session


# scope "function": committed before the response is sent. With the default ("request") the
# commit runs after the answer, so a client could act on a 201 before its row exists (and a
# failed commit would follow a success answer).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def now_s() -> int:
    """Wall clock, epoch seconds (the shell reads the clock)."""
    return int(time.time())


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: who, of which tenant, with which role, through what."""

    subject: str  # "user:7", "apikey:rk_ab12cd34ef56", "oidc:<sub>"
    tenant_id: int
    role: str
    via: str  # "jwt", "api_key", "oidc", "basic"

    @property
    def permissions(self) -> frozenset[Permission]:
        """What the role grants."""
        try:
            return ROLE_PERMISSIONS[Role(self.role)]
        except ValueError:
            return frozenset()


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, detail, headers={"WWW-Authenticate": 'Bearer realm="ranopt"'})


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
    """Append an audit entry in its own transaction (for events whose request fails)."""
    with services.store.transaction() as session:
        audit.append(
            session, ts_s=now_s(), tenant_id=tenant_id, actor=actor, action=action,
            target=target, outcome=outcome, detail=detail,
        )  # fmt: skip


def _api_key_principal(services: Services, session: Session, token: str) -> Principal:
    parts = split_api_key(token)
    if parts is None:
        msg = "malformed API key"
        raise AuthError(msg)
    prefix, secret = parts
    creds = accounts.api_key_credentials(session, prefix=prefix)
    if creds is None or creds.revoked:
        msg = "unknown or revoked API key"
        raise AuthError(msg)
    if not services.verified.hit(prefix, secret, creds.secret_hash):
        if not verify_password(services.hasher, creds.secret_hash, secret):
            msg = "wrong API key secret"
            raise AuthError(msg)
        services.verified.remember(prefix, secret, creds.secret_hash)
    return Principal(f"apikey:{prefix}", creds.tenant_id, creds.role, "api_key")


def _basic_principal(services: Services, session: Session, encoded: str) -> Principal:
    """HTTP basic as VES collectors send it: ``tenant/username:password`` or an API key."""
    try:
        user_pass = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        msg = "malformed basic credentials"
        raise AuthError(msg) from exc
    login, _, password = user_pass.partition(":")
    if split_api_key(password) is not None:
        return _api_key_principal(services, session, password)
    tenant_name, sep, username = login.partition("/")
    if not sep:
        msg = "basic user must read TENANT/USERNAME"
        raise AuthError(msg)
    try:
        tenant = accounts.get_tenant(session, name=tenant_name)
    except NotFoundError as exc:
        msg = "wrong credentials"
        raise AuthError(msg) from exc
    creds = accounts.user_credentials(session, tenant_id=tenant.id, username=username)
    if creds is None or creds.disabled:
        msg = "wrong credentials"
        raise AuthError(msg)
    if tenant.mfa_required or creds.totp_secret_enc is not None:
        msg = "this account needs a second factor: use an API key for the VES listener"
        raise AuthError(msg)
    cache_key = f"user:{creds.id}"
    if not services.verified.hit(cache_key, password, creds.password_hash):
        if not verify_password(services.hasher, creds.password_hash, password):
            msg = "wrong credentials"
            raise AuthError(msg)
        services.verified.remember(cache_key, password, creds.password_hash)
    return Principal(f"user:{creds.id}", tenant.id, creds.role, "basic")


def _bearer_principal(services: Services, session: Session, token: str) -> Principal:
    if split_api_key(token) is not None:
        return _api_key_principal(services, session, token)
    oidc = services.oidc
    if oidc is not None and unverified_issuer(token) == oidc.issuer:
        claims = oidc.verify(token)
        tenant_name, role = oidc.tenant_and_role(claims)
        try:
            tenant = accounts.get_tenant(session, name=tenant_name)
        except NotFoundError as exc:
            msg = "OIDC token names an unknown tenant"
            raise AuthError(msg) from exc
        if role not in {r.value for r in Role}:
            msg = f"OIDC token names an unknown role {role!r}"
            raise AuthError(msg)
        return Principal(f"oidc:{claims['sub']}", tenant.id, role, "oidc")
    claims_ = services.tokens.verify(token)
    return Principal(claims_.subject, claims_.tenant_id, claims_.role, "jwt")


def _identify(services: Services, scheme: str, credentials: str, api_key: str | None) -> Principal:
    """Resolve credentials that need the database or the network (API keys, basic, OIDC)."""
    with services.store.transaction() as session:
        if api_key:
            return _api_key_principal(services, session, api_key)
        if scheme == "bearer":
            return _bearer_principal(services, session, credentials)
        return _basic_principal(services, session, credentials)


async def authenticate(request: Request, services: ServicesDep) -> Principal:
    """Identify the caller from ``Authorization`` or ``X-API-Key``; 401 when that fails.

    ranopt's own JWTs signed by a key already loaded are checked on the event loop (pure
    CPU); everything that reads the database or an issuer's JWKS runs in a worker thread.
    """
    header = request.headers.get("authorization", "")
    api_key = (request.headers.get("x-api-key") or "").strip() or None
    scheme, _, credentials = header.partition(" ")
    scheme, credentials = scheme.lower(), credentials.strip()
    if api_key is None and (scheme not in ("bearer", "basic") or not credentials):
        msg = "authentication required (Bearer token, API key or basic credentials)"
        raise _unauthorized(msg)
    try:
        if (
            api_key is None
            and scheme == "bearer"
            and split_api_key(credentials) is None
            and (services.oidc is None or unverified_issuer(credentials) != services.oidc.issuer)
            and services.tokens.knows_key_of(credentials)
        ):
            claims = services.tokens.verify(credentials)
            return Principal(claims.subject, claims.tenant_id, claims.role, "jwt")
        return await run_in_threadpool(_identify, services, scheme, credentials, api_key)
    except AuthError as exc:
        await run_in_threadpool(
            audit_event, services, tenant_id=None, actor=f"ip:{_client_ip(request)}",
            action="auth.rejected", target=request.url.path, outcome="failure",
            detail={"reason": str(exc)},
        )  # fmt: skip
        raise _unauthorized(str(exc)) from exc


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


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
