"""``POST /api/v2/auth/token``: OAuth2 password login with tenant and optional TOTP."""

from typing import Annotated

from fastapi import APIRouter, Form, Request

from ranopt.api.deps import ServicesDep, audit_event, now_s
from ranopt.api.errors import ProblemError
from ranopt.api.schemas import TokenOut
from ranopt.api.security import verify_password, verify_totp
from ranopt.store import accounts
from ranopt.store.repository import NotFoundError
from ranopt.store.secrets import totp_aad

router = APIRouter(prefix="/api/v2/auth", tags=["auth"])


def _fail(services: ServicesDep, tenant_id: int | None, actor: str, reason: str) -> ProblemError:
    audit_event(
        services, tenant_id=tenant_id, actor=actor, action="auth.login", target=actor,
        outcome="failure", detail={"reason": reason},
    )  # fmt: skip
    return ProblemError(
        401, "invalid credentials", headers={"WWW-Authenticate": 'Bearer realm="ranopt"'}
    )


@router.post("/token", responses={401: {}, 429: {}})
def token(
    request: Request,
    services: ServicesDep,
    username: Annotated[str, Form(min_length=1, max_length=100)],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
    tenant: Annotated[str, Form(min_length=1, max_length=100)],
    totp: Annotated[str | None, Form(max_length=10)] = None,
) -> TokenOut:
    """Exchange username, password, tenant (and a TOTP code when required) for a token."""
    services.limiter.hit_login(tenant, username)
    actor = f"{tenant}/{username}"
    hasher = services.hasher
    with services.store.transaction() as session:
        try:
            tenant_row = accounts.get_tenant(session, name=tenant)
        except NotFoundError:
            tenant_row = None
        creds = (
            None
            if tenant_row is None
            else accounts.user_credentials(session, tenant_id=tenant_row.id, username=username)
        )
    if creds is None or tenant_row is None:
        verify_password(hasher, services.dummy_hash, password)  # same cost as a real check
        raise _fail(services, None if tenant_row is None else tenant_row.id, actor, "no such user")
    if creds.disabled or not verify_password(hasher, creds.password_hash, password):
        raise _fail(services, tenant_row.id, actor, "wrong password or disabled")
    amr: tuple[str, ...] = ("pwd",)
    if creds.totp_secret_enc is not None:
        secret = services.settings.keyring().open(creds.totp_secret_enc, aad=totp_aad(creds.id))
        step = verify_totp(secret.decode(), totp) if totp else None
        if step is None:
            raise _fail(services, tenant_row.id, actor, "missing or wrong TOTP code")
        with services.store.transaction() as session:
            fresh = accounts.claim_totp_step(
                session, tenant_id=tenant_row.id, user_id=creds.id, step=step
            )
        if not fresh:
            raise _fail(services, tenant_row.id, actor, "TOTP code already used")
        amr = ("pwd", "otp")
    elif tenant_row.mfa_required:
        raise _fail(services, tenant_row.id, actor, "tenant requires TOTP; none enrolled")
    if hasher.check_needs_rehash(creds.password_hash):
        with services.store.transaction() as session:
            accounts.set_password_hash(
                session, tenant_id=tenant_row.id, user_id=creds.id,
                password_hash=hasher.hash(password),
            )  # fmt: skip
    access_token, ttl = services.tokens.issue(
        subject=f"user:{creds.id}", tenant_id=tenant_row.id, role=creds.role, amr=amr,
        now_s=now_s(),
    )  # fmt: skip
    audit_event(
        services, tenant_id=tenant_row.id, actor=f"user:{creds.id}", action="auth.login",
        target=actor, outcome="success",
        detail={"amr": list(amr), "ip": request.client.host if request.client else "unknown"},
    )  # fmt: skip
    return TokenOut(access_token=access_token, expires_in=ttl)
