"""Users, API keys and the MFA policy of the caller's tenant."""

import pyotp
from fastapi import APIRouter, status

from ranopt.api.deps import Reader, ServicesDep, SessionDep, Writer, now_s, record
from ranopt.api.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    IdPath,
    MfaPolicy,
    TotpEnrolled,
    UserCreate,
)
from ranopt.api.security import new_api_key, new_totp_secret
from ranopt.store import accounts
from ranopt.store.accounts import ApiKeyOut, TenantOut, UserOut
from ranopt.store.secrets import totp_aad

router = APIRouter(prefix="/api/v2", tags=["identity"])


@router.get("/users")
def list_users(principal: Reader, session: SessionDep) -> list[UserOut]:
    """List the tenant's users (no hashes, no secrets)."""
    return accounts.list_users(session, tenant_id=principal.tenant_id)


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(
    body: UserCreate, principal: Writer, session: SessionDep, services: ServicesDep
) -> UserOut:
    """Create a user of the caller's tenant."""
    user = accounts.create_user(
        session, tenant_id=principal.tenant_id, username=body.username,
        password_hash=services.hasher.hash(body.password), role=body.role.value, now_s=now_s(),
    )  # fmt: skip
    record(session, principal, action="user.create", target=f"user:{user.id}",
           detail={"username": user.username, "role": user.role})  # fmt: skip
    return user


@router.post("/users/{user_id}/totp", status_code=status.HTTP_201_CREATED)
def enroll_totp(
    user_id: IdPath, principal: Writer, session: SessionDep, services: ServicesDep
) -> TotpEnrolled:
    """Give a user a new TOTP secret (shown once); from then on login needs its codes."""
    user = accounts.get_user(session, tenant_id=principal.tenant_id, user_id=user_id)
    secret = new_totp_secret()
    sealed = services.settings.keyring().seal(secret.encode(), aad=totp_aad(user.id))
    accounts.set_totp_secret(
        session, tenant_id=principal.tenant_id, user_id=user.id, totp_secret_enc=sealed
    )
    record(session, principal, action="user.totp.enroll", target=f"user:{user.id}")
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="ranopt")
    return TotpEnrolled(user_id=user.id, secret=secret, provisioning_uri=uri)


@router.put("/tenant/mfa")
def set_mfa_policy(body: MfaPolicy, principal: Writer, session: SessionDep) -> TenantOut:
    """Make TOTP mandatory (or optional) for every user of the tenant."""
    tenant = accounts.set_mfa_required(
        session, tenant_id=principal.tenant_id, required=body.mfa_required
    )
    record(session, principal, action="tenant.mfa", target=f"tenant:{tenant.id}",
           detail={"mfa_required": body.mfa_required})  # fmt: skip
    return tenant


@router.get("/api-keys")
def list_api_keys(principal: Reader, session: SessionDep) -> list[ApiKeyOut]:
    """List the tenant's API keys (prefixes only)."""
    return accounts.list_api_keys(session, tenant_id=principal.tenant_id)


@router.post("/api-keys", status_code=status.HTTP_201_CREATED)
def create_api_key(
    body: ApiKeyCreate, principal: Writer, session: SessionDep, services: ServicesDep
) -> ApiKeyCreated:
    """Make an API key bound to a role; the key is in this answer only."""
    made = new_api_key(services.hasher)
    key = accounts.create_api_key(
        session, tenant_id=principal.tenant_id, name=body.name, prefix=made.prefix,
        secret_hash=made.secret_hash, role=body.role.value, now_s=now_s(),
    )  # fmt: skip
    record(session, principal, action="api_key.create", target=f"api_key:{key.prefix}",
           detail={"role": key.role, "name": key.name})  # fmt: skip
    return ApiKeyCreated(id=key.id, name=key.name, prefix=key.prefix, role=key.role, key=made.token)


@router.delete("/api-keys/{key_id}")
def revoke_api_key(key_id: IdPath, principal: Writer, session: SessionDep) -> ApiKeyOut:
    """Revoke an API key of the tenant."""
    key = accounts.revoke_api_key(
        session, tenant_id=principal.tenant_id, key_id=key_id, now_s=now_s()
    )
    record(session, principal, action="api_key.revoke", target=f"api_key:{key.prefix}")
    return key
