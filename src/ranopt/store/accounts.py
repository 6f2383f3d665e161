"""Tenants, users, API keys and JWT signing keys (keyword-only, tenant-scoped where owned).

Hashes and sealed secrets stay in this module's credential records, which only the
authentication code reads; the ``*Out`` models handed to the API carry none of them.
"""

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ranopt.errors import ConflictError
from ranopt.store.repository import NotFoundError, ensure_tenant
from ranopt.store.tables import ApiKey, SigningKey, Tenant, User


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class TenantOut(_Out):
    """A tenant and its policy."""

    id: int
    name: str
    mfa_required: bool


class UserOut(_Out):
    """A user as the API shows it (no hash, no TOTP secret)."""

    id: int
    tenant_id: int
    username: str
    role: str
    mfa_enabled: bool
    disabled: bool
    created_s: int


class ApiKeyOut(_Out):
    """An API key as the API shows it: its visible prefix, never its secret."""

    id: int
    tenant_id: int
    name: str
    prefix: str
    role: str
    created_s: int
    revoked_s: int | None


@dataclass(frozen=True)
class UserCredentials:
    """What login checks: the argon2id hash and the sealed TOTP secret (never serialised)."""

    id: int
    tenant_id: int
    username: str
    role: str
    password_hash: str
    totp_secret_enc: str | None
    totp_last_step: int | None
    disabled: bool


@dataclass(frozen=True)
class ApiKeyCredentials:
    """What API-key authentication checks."""

    id: int
    tenant_id: int
    prefix: str
    role: str
    secret_hash: str
    revoked: bool


@dataclass(frozen=True)
class SigningKeyRecord:
    """A signing key: sealed private key, public JWK, lifetime."""

    kid: str
    private_key_enc: str
    public_jwk: dict[str, Any]
    created_s: int
    retired_s: int | None


# --- tenants --------------------------------------------------------------------------------


def create_tenant(session: Session, *, name: str, now_s: int) -> TenantOut:
    """Create tenant ``name``; refuse an existing name."""
    if session.scalar(select(Tenant.id).where(Tenant.name == name)) is not None:
        msg = f"name: tenant {name!r} already exists"
        raise ConflictError(msg)
    ensure_tenant(session, name=name, now_s=now_s)
    return get_tenant(session, name=name)


def get_tenant(session: Session, *, name: str) -> TenantOut:
    """Return tenant ``name`` or raise ``NotFoundError``."""
    row = session.scalar(select(Tenant).where(Tenant.name == name))
    if row is None:
        msg = f"no tenant {name!r}"
        raise NotFoundError(msg)
    return TenantOut(id=row.id, name=row.name, mfa_required=row.mfa_required)


def get_tenant_by_id(session: Session, *, tenant_id: int) -> TenantOut:
    """Return the tenant with id ``tenant_id``."""
    row = session.get(Tenant, tenant_id)
    if row is None:
        msg = f"no tenant {tenant_id}"
        raise NotFoundError(msg)
    return TenantOut(id=row.id, name=row.name, mfa_required=row.mfa_required)


def set_mfa_required(session: Session, *, tenant_id: int, required: bool) -> TenantOut:
    """Make a second factor mandatory (or optional) for the tenant's users."""
    session.execute(update(Tenant).where(Tenant.id == tenant_id).values(mfa_required=required))
    return get_tenant_by_id(session, tenant_id=tenant_id)


# --- users ----------------------------------------------------------------------------------


def _user_out(row: User) -> UserOut:
    return UserOut(
        id=row.id,
        tenant_id=row.tenant_id,
        username=row.username,
        role=row.role,
        mfa_enabled=row.totp_secret_enc is not None,
        disabled=row.disabled,
        created_s=row.created_s,
    )


def create_user(
    session: Session, *, tenant_id: int, username: str, password_hash: str, role: str, now_s: int
) -> UserOut:
    """Create a user of the tenant; refuse a name the tenant already has."""
    exists = session.scalar(
        select(User.id).where(User.tenant_id == tenant_id, User.username == username)
    )
    if exists is not None:
        msg = f"username: {username!r} already exists in this tenant"
        raise ConflictError(msg)
    row = User(
        tenant_id=tenant_id,
        username=username,
        password_hash=password_hash,
        role=role,
        disabled=False,
        created_s=now_s,
    )
    session.add(row)
    session.flush()
    return _user_out(row)


def list_users(session: Session, *, tenant_id: int) -> list[UserOut]:
    """Return the tenant's users by name."""
    rows = session.scalars(select(User).where(User.tenant_id == tenant_id).order_by(User.username))
    return [_user_out(r) for r in rows]


def get_user(session: Session, *, tenant_id: int, user_id: int) -> UserOut:
    """Return one of the tenant's users or raise ``NotFoundError``."""
    row = session.scalar(select(User).where(User.tenant_id == tenant_id, User.id == user_id))
    if row is None:
        msg = f"no user {user_id} in this tenant"
        raise NotFoundError(msg)
    return _user_out(row)


def user_credentials(session: Session, *, tenant_id: int, username: str) -> UserCredentials | None:
    """Return what login checks for ``username`` of the tenant (None if there is no such user)."""
    row = session.scalar(select(User).where(User.tenant_id == tenant_id, User.username == username))
    if row is None:
        return None
    return UserCredentials(
        id=row.id,
        tenant_id=row.tenant_id,
        username=row.username,
        role=row.role,
        password_hash=row.password_hash,
        totp_secret_enc=row.totp_secret_enc,
        totp_last_step=row.totp_last_step,
        disabled=row.disabled,
    )


def claim_totp_step(session: Session, *, tenant_id: int, user_id: int, step: int) -> bool:
    """Record a TOTP step as used; False when it (or a later one) was used already (replay).

    One conditional UPDATE, so two logins racing with the same code cannot both win.
    """
    result = session.execute(
        update(User)
        .where(
            User.tenant_id == tenant_id,
            User.id == user_id,
            (User.totp_last_step.is_(None)) | (User.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def set_password_hash(
    session: Session, *, tenant_id: int, user_id: int, password_hash: str
) -> None:
    """Replace a user's password hash (new password, or a rehash with newer parameters)."""
    session.execute(
        update(User)
        .where(User.tenant_id == tenant_id, User.id == user_id)
        .values(password_hash=password_hash)
    )


def set_totp_secret(
    session: Session, *, tenant_id: int, user_id: int, totp_secret_enc: str | None
) -> None:
    """Store a user's sealed TOTP secret (None turns the second factor off)."""
    result = session.execute(
        update(User)
        .where(User.tenant_id == tenant_id, User.id == user_id)
        .values(totp_secret_enc=totp_secret_enc, totp_last_step=None)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        msg = f"no user {user_id} in this tenant"
        raise NotFoundError(msg)


# --- API keys -------------------------------------------------------------------------------


def _key_out(row: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        prefix=row.prefix,
        role=row.role,
        created_s=row.created_s,
        revoked_s=row.revoked_s,
    )


def create_api_key(
    session: Session,
    *,
    tenant_id: int,
    name: str,
    prefix: str,
    secret_hash: str,
    role: str,
    now_s: int,
) -> ApiKeyOut:
    """Record an API key (its secret only as a hash)."""
    row = ApiKey(
        tenant_id=tenant_id,
        name=name,
        prefix=prefix,
        secret_hash=secret_hash,
        role=role,
        created_s=now_s,
    )
    session.add(row)
    session.flush()
    return _key_out(row)


def list_api_keys(session: Session, *, tenant_id: int) -> list[ApiKeyOut]:
    """Return the tenant's API keys, newest first."""
    rows = session.scalars(
        select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id.desc())
    )
    return [_key_out(r) for r in rows]


def revoke_api_key(session: Session, *, tenant_id: int, key_id: int, now_s: int) -> ApiKeyOut:
    """Revoke one of the tenant's API keys."""
    row = session.scalar(select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.id == key_id))
    if row is None:
        msg = f"no API key {key_id} in this tenant"
        raise NotFoundError(msg)
    if row.revoked_s is None:
        row.revoked_s = now_s
    session.flush()
    return _key_out(row)


def api_key_credentials(session: Session, *, prefix: str) -> ApiKeyCredentials | None:
    """Return the key with this visible prefix (the prefix names its tenant), or None."""
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None:
        return None
    return ApiKeyCredentials(
        id=row.id,
        tenant_id=row.tenant_id,
        prefix=row.prefix,
        role=row.role,
        secret_hash=row.secret_hash,
        revoked=row.revoked_s is not None,
    )


# --- signing keys (platform-wide, not tenant-owned) -----------------------------------------


def _signing_record(row: SigningKey) -> SigningKeyRecord:
    return SigningKeyRecord(
        kid=row.kid,
        private_key_enc=row.private_key_enc,
        public_jwk=dict(row.public_jwk),
        created_s=row.created_s,
        retired_s=row.retired_s,
    )


def add_signing_key(
    session: Session, *, kid: str, private_key_enc: str, public_jwk: dict[str, Any], now_s: int
) -> None:
    """Add a signing key and retire the ones before it (they still verify until dropped)."""
    session.execute(
        update(SigningKey).where(SigningKey.retired_s.is_(None)).values(retired_s=now_s)
    )
    session.add(
        SigningKey(kid=kid, private_key_enc=private_key_enc, public_jwk=public_jwk, created_s=now_s)
    )
    session.flush()


def signing_keys(session: Session, *, retired_after_s: int) -> list[SigningKeyRecord]:
    """Return the active key and those retired after ``retired_after_s``, newest first."""
    rows = session.scalars(
        select(SigningKey)
        .where(SigningKey.retired_s.is_(None) | (SigningKey.retired_s > retired_after_s))
        .order_by(SigningKey.created_s.desc(), SigningKey.kid)
    )
    return [_signing_record(r) for r in rows]
