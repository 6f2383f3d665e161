"""Who is calling: one authenticator for every credential (token, API key, basic, OIDC, login).

Every path that checks a secret goes through the same ``CredentialGuard`` (refuse in
back-off before any hash is computed, count failures per address and per account and address)
and the same ``FailureAudit`` (aggregated audit rows). Known and unknown identities cost the
same: an unknown tenant, user or API-key prefix, a disabled user or a revoked key is still
checked against a dummy argon2 hash, and a second factor is asked for only after the password
was right.
"""

import base64
import binascii
import threading
from dataclasses import dataclass

from argon2 import PasswordHasher
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from ranopt.api.errors import ProblemError
from ranopt.api.failures import FailureAudit
from ranopt.api.permissions import ROLE_PERMISSIONS, Permission, Role
from ranopt.api.ratelimit import CredentialGuard
from ranopt.api.security import (
    AuthError,
    OidcVerifier,
    TokenService,
    VerifiedCache,
    split_api_key,
    unverified_issuer,
    verify_password,
)
from ranopt.store import accounts
from ranopt.store.engine import Store
from ranopt.store.repository import NotFoundError

WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="ranopt"'}
PRINCIPAL_STATE = "ranopt_principal"  # where RequestGuard leaves the caller in the scope state


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

    @property
    def user_id(self) -> int | None:
        """The local user behind this caller (None for an API key or an OIDC subject)."""
        kind, _, ident = self.subject.partition(":")
        return int(ident) if kind == "user" and ident.isdigit() else None


def unauthorized(detail: str) -> ProblemError:
    """Return a 401 with ``WWW-Authenticate``."""
    return ProblemError(401, detail, headers=dict(WWW_AUTHENTICATE))


@dataclass(frozen=True)
class Credentials:
    """What a request presents, parsed from its headers (nothing verified yet)."""

    scheme: str  # "bearer", "basic", "api_key"
    value: str

    @property
    def account(self) -> str | None:
        """The account the credential claims (API-key prefix, basic login), if it names one."""
        if self.scheme == "basic":
            login, password = _decode_basic(self.value)
            key = split_api_key(password)
            if key is not None:
                return f"apikey:{key[0]}"
            return f"user:{login}" if login else None
        key = split_api_key(self.value)
        return None if key is None else f"apikey:{key[0]}"


def _decode_basic(encoded: str) -> tuple[str, str]:
    """``(login, password)`` of HTTP basic credentials; ``("", "")`` if malformed."""
    try:
        user_pass = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    login, _, password = user_pass.partition(":")
    return login, password


def credentials_of(headers: Headers) -> Credentials | None:
    """Parse ``X-API-Key`` or ``Authorization`` (bearer, basic); None if there are none."""
    api_key = (headers.get("x-api-key") or "").strip()
    if api_key:
        return Credentials("api_key", api_key)
    scheme, _, value = headers.get("authorization", "").partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme in ("bearer", "basic") and value:
        return Credentials(scheme, value)
    return None


class Authenticator:
    """Turns credentials into a ``Principal``, at the same cost whether or not they exist."""

    def __init__(
        self,
        *,
        store: Store,
        tokens: TokenService,
        oidc: OidcVerifier | None,
        hasher: PasswordHasher,
        dummy_hash: str,
        guard: CredentialGuard,
        failures: FailureAudit,
        verified: VerifiedCache | None = None,
        max_concurrent_hashes: int = 4,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.oidc = oidc
        self.hasher = hasher
        self.dummy_hash = dummy_hash
        self.guard = guard
        self.failures = failures
        self.verified = verified or VerifiedCache()
        # argon2 takes its memory cost (64 MiB by default) per verification: at most this
        # many at once, whatever arrives
        self._hashing = threading.BoundedSemaphore(max_concurrent_hashes)

    # --- secrets, at constant cost -----------------------------------------------------------

    def check_secret(self, cache_key: str | None, secret: str, stored_hash: str | None) -> bool:
        """Verify ``secret`` against ``stored_hash``, or against the dummy hash when None.

        One argon2 verification either way (unless this exact secret was verified recently),
        so an unknown identity answers as slowly as a known one.
        """
        if stored_hash is None:
            with self._hashing:
                verify_password(self.hasher, self.dummy_hash, secret)
            return False
        if cache_key is not None and self.verified.hit(cache_key, secret, stored_hash):
            return True
        with self._hashing:
            ok = verify_password(self.hasher, stored_hash, secret)
        if ok and cache_key is not None:
            self.verified.remember(cache_key, secret, stored_hash)
        return ok

    # --- the credential kinds ----------------------------------------------------------------

    def _api_key(self, token: str) -> Principal:
        parts = split_api_key(token)
        if parts is None:
            msg = "malformed API key"
            raise AuthError(msg)
        prefix, secret = parts
        with self.store.transaction() as session:  # closed before the hash: no idle connection
            creds = accounts.api_key_credentials(session, prefix=prefix)
        usable = creds is not None and not creds.revoked
        stored = creds.secret_hash if usable and creds is not None else None
        if not self.check_secret(prefix, secret, stored) or creds is None:
            msg = "unknown, revoked or wrong API key"
            raise AuthError(msg)
        return Principal(f"apikey:{prefix}", creds.tenant_id, creds.role, "api_key")

    def _basic(self, encoded: str) -> Principal:
        """HTTP basic as VES collectors send it: ``tenant/username:password`` or an API key."""
        login, password = _decode_basic(encoded)
        if not login and not password:
            msg = "malformed basic credentials"
            raise AuthError(msg)
        if split_api_key(password) is not None:
            return self._api_key(password)
        tenant_name, sep, username = login.partition("/")
        tenant, creds = self._user(tenant_name, username) if sep else (None, None)
        usable = creds is not None and not creds.disabled
        stored = creds.password_hash if usable and creds is not None else None
        cache_key = None if creds is None else f"user:{creds.id}"
        if not self.check_secret(cache_key, password, stored) or creds is None or tenant is None:
            msg = "wrong credentials" if sep else "basic user must read TENANT/USERNAME"
            raise AuthError(msg)
        # the password was right: only now may the answer say a second factor is needed
        if tenant.mfa_required or creds.totp_secret_enc is not None:
            msg = "this account needs a second factor: use an API key for the VES listener"
            raise AuthError(msg)
        return Principal(f"user:{creds.id}", tenant.id, creds.role, "basic")

    def _user(
        self, tenant_name: str, username: str
    ) -> tuple[accounts.TenantOut | None, accounts.UserCredentials | None]:
        """Return the tenant and the user's credentials (None where there is none)."""
        with self.store.transaction() as session:
            try:
                tenant = accounts.get_tenant(session, name=tenant_name)
            except NotFoundError:
                return None, None
            return tenant, accounts.user_credentials(
                session, tenant_id=tenant.id, username=username
            )

    def _oidc(self, token: str) -> Principal:
        assert self.oidc is not None  # noqa: S101 - the caller checked
        claims = self.oidc.verify(token)  # the issuer's keys: before any database session
        tenant_name, role = self.oidc.tenant_and_role(claims)
        try:
            with self.store.transaction() as session:
                tenant = accounts.get_tenant(session, name=tenant_name)
        except NotFoundError as exc:
            msg = "OIDC token names an unknown tenant"
            raise AuthError(msg) from exc
        if role not in {r.value for r in Role}:
            msg = f"OIDC token names an unknown role {role!r}"
            raise AuthError(msg)
        return Principal(f"oidc:{claims['sub']}", tenant.id, role, "oidc")

    def _is_own_jwt(self, creds: Credentials) -> bool:
        return (
            creds.scheme == "bearer"
            and split_api_key(creds.value) is None
            and (self.oidc is None or unverified_issuer(creds.value) != self.oidc.issuer)
        )

    def _identify(self, creds: Credentials) -> Principal:
        """Resolve credentials that need the database or the network (API keys, basic, OIDC)."""
        if creds.scheme == "api_key" or split_api_key(creds.value) is not None:
            return self._api_key(creds.value)
        if creds.scheme == "basic":
            return self._basic(creds.value)
        if not self._is_own_jwt(creds):
            return self._oidc(creds.value)
        claims = self.tokens.verify(creds.value)
        return Principal(claims.subject, claims.tenant_id, claims.role, "jwt")

    async def authenticate(self, headers: Headers, address: str, path: str) -> Principal:
        """Identify the caller from its headers; 401 when that fails, 429 in back-off.

        ranopt's own JWTs signed by a key already loaded are checked on the event loop (pure
        CPU, microseconds); everything that reads the database, hashes a secret or asks an
        issuer runs in a worker thread, after the guard let it through.
        """
        creds = credentials_of(headers)
        if creds is None:
            msg = "authentication required (Bearer token, API key or basic credentials)"
            raise unauthorized(msg)
        account = creds.account
        try:
            self.guard.check(address, account)
        except ProblemError:
            await run_in_threadpool(
                self.failures.record, tenant_id=None, address=address, action="auth.rejected",
                account=account or "-", target=path, reason="throttled (back-off)",
            )  # fmt: skip
            raise
        try:
            if self._is_own_jwt(creds) and self.tokens.knows_key_of(creds.value):
                claims = self.tokens.verify(creds.value)
                return Principal(claims.subject, claims.tenant_id, claims.role, "jwt")
            principal = await run_in_threadpool(self._identify, creds)
        except AuthError as exc:
            await run_in_threadpool(
                self.rejected, address=address, account=account or "-", tenant_id=None,
                action="auth.rejected", target=path, reason=str(exc),
            )  # fmt: skip
            raise unauthorized(str(exc)) from exc
        self.guard.succeeded(address, account)
        return principal

    def rejected(
        self,
        *,
        address: str,
        account: str,
        tenant_id: int | None,
        action: str,
        target: str,
        reason: str,
    ) -> None:
        """Count a rejected credential against the guard and in the aggregated audit log."""
        self.guard.failed(address, None if account == "-" else account)
        self.failures.record(
            tenant_id=tenant_id, address=address, action=action, account=account,
            target=target, reason=reason,
        )  # fmt: skip
