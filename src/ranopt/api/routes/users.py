"""Users, API keys, second factors and the MFA policy of the caller's tenant.

No principal grants more than it holds: a new user's or API key's role must be within the
caller's own permissions, and so must the role of a user whose second factor is provisioned
or reset. A user enrols its own factor (``POST /me/totp``); replacing a factor someone
already has is never silent: it is an explicit reset (``DELETE /users/{id}/totp``), audited,
after which a new one can be enrolled.
"""

import pyotp
from fastapi import APIRouter, status

from ranopt.api.deps import (
    Principal,
    Reader,
    ServicesDep,
    SessionDep,
    Writer,
    now_s,
    record,
    require_role_within,
)
from ranopt.api.errors import ProblemError, problem_responses
from ranopt.api.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    IdPath,
    MfaPolicy,
    TotpEnrolled,
    UserCreate,
)
from ranopt.api.security import new_api_key, new_totp_secret
from ranopt.api.settings import Settings
from ranopt.store import accounts
from ranopt.store.accounts import ApiKeyOut, TenantOut, UserOut
from ranopt.store.secrets import totp_aad

router = APIRouter(prefix="/api/v2", tags=["identity"])


@router.get("/users")
def list_users(principal: Reader, session: SessionDep) -> list[UserOut]:
    """List the tenant's users (no hashes, no secrets)."""
    return accounts.list_users(session, tenant_id=principal.tenant_id)


@router.post("/users", status_code=status.HTTP_201_CREATED, responses=problem_responses(409))
def create_user(
    body: UserCreate, principal: Writer, session: SessionDep, services: ServicesDep
) -> UserOut:
    """Create a user of the caller's tenant, with a role within the caller's own."""
    require_role_within(principal, body.role.value, field="body.role")
    user = accounts.create_user(
        session, tenant_id=principal.tenant_id, username=body.username,
        password_hash=services.hasher.hash(body.password), role=body.role.value, now_s=now_s(),
    )  # fmt: skip
    record(session, principal, action="user.create", target=f"user:{user.id}",
           detail={"username": user.username, "role": user.role})  # fmt: skip
    return user


def _enroll(
    session: SessionDep, settings: Settings, principal: Principal, user: UserOut
) -> TotpEnrolled:
    if user.mfa_enabled:
        raise ProblemError(
            409, f"user_id: user {user.id} already has a second factor; an administrator must "
            f"reset it first (DELETE /api/v2/users/{user.id}/totp)", field="user_id",
        )  # fmt: skip
    secret = new_totp_secret()
    sealed = settings.keyring().seal(secret.encode(), aad=totp_aad(user.id))
    accounts.set_totp_secret(
        session, tenant_id=principal.tenant_id, user_id=user.id, totp_secret_enc=sealed
    )
    record(session, principal, action="user.totp.enroll", target=f"user:{user.id}",
           detail={"username": user.username})  # fmt: skip
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="ranopt")
    return TotpEnrolled(user_id=user.id, secret=secret, provisioning_uri=uri)


@router.post("/me/totp", status_code=status.HTTP_201_CREATED, responses=problem_responses(409))
def enroll_own_totp(principal: Reader, session: SessionDep, services: ServicesDep) -> TotpEnrolled:
    """Enrol the caller's own second factor (once; the secret is shown in this answer only)."""
    if principal.user_id is None:
        raise ProblemError(
            409, "only a local user has a second factor here (API keys and OIDC users do not)"
        )
    user = accounts.get_user(session, tenant_id=principal.tenant_id, user_id=principal.user_id)
    return _enroll(session, services.settings, principal, user)


@router.post(
    "/users/{user_id}/totp", status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
)  # fmt: skip
def enroll_totp(
    user_id: IdPath, principal: Writer, session: SessionDep, services: ServicesDep
) -> TotpEnrolled:
    """Provision a second factor for a user who has none (shown once); never replaces one."""
    user = accounts.get_user(session, tenant_id=principal.tenant_id, user_id=user_id)
    require_role_within(principal, user.role, field="user_id")
    return _enroll(session, services.settings, principal, user)


@router.delete("/users/{user_id}/totp", responses=problem_responses(409))
def reset_totp(user_id: IdPath, principal: Writer, session: SessionDep) -> UserOut:
    """Reset a user's second factor (audited); the user then enrols a new one."""
    user = accounts.get_user(session, tenant_id=principal.tenant_id, user_id=user_id)
    require_role_within(principal, user.role, field="user_id")
    if not user.mfa_enabled:
        raise ProblemError(409, f"user_id: user {user.id} has no second factor", field="user_id")
    accounts.set_totp_secret(
        session, tenant_id=principal.tenant_id, user_id=user.id, totp_secret_enc=None
    )
    record(session, principal, action="user.totp.reset", target=f"user:{user.id}",
           detail={"username": user.username, "role": user.role})  # fmt: skip
    return accounts.get_user(session, tenant_id=principal.tenant_id, user_id=user.id)


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
    """Make an API key bound to a role within the caller's own; the key is in this answer only."""
    require_role_within(principal, body.role.value, field="body.role")
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
