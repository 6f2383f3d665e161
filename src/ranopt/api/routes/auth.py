"""``POST /api/v2/auth/token``: OAuth2 password login with tenant and optional TOTP.

The login goes through the same credential guard as every other credential: in back-off it
answers 429 before any hash is computed; a wrong password, unknown user or tenant, disabled
account or wrong second factor all answer the same 401 after the same argon2 work.
"""

from typing import Annotated

from fastapi import APIRouter, Form, Request

from ranopt.api.authn import WWW_AUTHENTICATE, Authenticator
from ranopt.api.deps import ServicesDep, audit_event, client_address, now_s
from ranopt.api.errors import ProblemError, problem_responses
from ranopt.api.schemas import TokenOut
from ranopt.api.security import verify_totp
from ranopt.store import accounts
from ranopt.store.repository import NotFoundError
from ranopt.store.secrets import totp_aad

TOKEN_PATH = "/api/v2/auth/token"  # noqa: S105 - a path, not a secret
router = APIRouter(prefix="/api/v2/auth", tags=["auth"])


class _LoginFailedError(Exception):
    def __init__(self, tenant_id: int | None, reason: str) -> None:
        super().__init__(reason)
        self.tenant_id = tenant_id
        self.reason = reason


def _check_login(
    services: ServicesDep, tenant: str, username: str, password: str, totp: str | None
) -> tuple[accounts.UserCredentials, accounts.TenantOut, tuple[str, ...]]:
    """Check the password (always one argon2 verification), then the second factor."""
    authn: Authenticator = services.authenticator
    with services.store.transaction() as session:
        try:
            tenant_row: accounts.TenantOut | None = accounts.get_tenant(session, name=tenant)
        except NotFoundError:
            tenant_row = None
        creds = (
            None
            if tenant_row is None
            else accounts.user_credentials(session, tenant_id=tenant_row.id, username=username)
        )
    usable = creds is not None and not creds.disabled
    stored = creds.password_hash if usable and creds is not None else None
    password_ok = authn.check_secret(None, password, stored)
    tenant_id = None if tenant_row is None else tenant_row.id
    if not password_ok or creds is None or tenant_row is None:
        reason = "no such user" if creds is None else "wrong password or disabled"
        raise _LoginFailedError(tenant_id, reason)
    if creds.totp_secret_enc is None:
        if tenant_row.mfa_required:
            raise _LoginFailedError(tenant_row.id, "tenant requires TOTP; none enrolled")
        return creds, tenant_row, ("pwd",)
    secret = services.settings.keyring().open(creds.totp_secret_enc, aad=totp_aad(creds.id))
    step = verify_totp(secret.decode(), totp) if totp else None
    if step is None:
        raise _LoginFailedError(tenant_row.id, "missing or wrong TOTP code")
    with services.store.transaction() as session:
        fresh = accounts.claim_totp_step(
            session, tenant_id=tenant_row.id, user_id=creds.id, step=step
        )
    if not fresh:
        raise _LoginFailedError(tenant_row.id, "TOTP code already used")
    return creds, tenant_row, ("pwd", "otp")


@router.post("/token", responses=problem_responses(401, 413, 429))
def token(
    request: Request,
    services: ServicesDep,
    username: Annotated[str, Form(min_length=1, max_length=100)],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
    tenant: Annotated[str, Form(min_length=1, max_length=100)],
    totp: Annotated[str | None, Form(max_length=10)] = None,
) -> TokenOut:
    """Exchange username, password, tenant (and a TOTP code when required) for a token."""
    address = client_address(request)
    account = f"user:{tenant}/{username}"
    try:
        services.guard.check(address, account)
    except ProblemError:
        services.failures.record(
            tenant_id=None, address=address, action="auth.login", account=account,
            target=f"{tenant}/{username}", reason="throttled (back-off)",
        )  # fmt: skip
        raise
    try:
        creds, tenant_row, amr = _check_login(services, tenant, username, password, totp)
    except _LoginFailedError as exc:
        services.authenticator.rejected(
            address=address, account=account, tenant_id=exc.tenant_id, action="auth.login",
            target=f"{tenant}/{username}", reason=exc.reason,
        )  # fmt: skip
        raise ProblemError(401, "invalid credentials", headers=dict(WWW_AUTHENTICATE)) from exc
    services.guard.succeeded(address, account)
    hasher = services.hasher
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
        target=f"{tenant}/{username}", outcome="success",
        detail={"amr": list(amr), "ip": address},
    )  # fmt: skip
    return TokenOut(access_token=access_token, expires_in=ttl)
