"""Stored secrets of the tenant (actuator credentials, webhook tokens): write-only values."""

from typing import Annotated

from fastapi import APIRouter, Path

from ranopt.api.deps import Reader, ServicesDep, SessionDep, Writer, now_s, record
from ranopt.api.schemas import SecretPut
from ranopt.store import secrets
from ranopt.store.secrets import SecretOut

router = APIRouter(prefix="/api/v2/secrets", tags=["secrets"])
SecretName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]


@router.get("")
def list_secrets(principal: Reader, session: SessionDep) -> list[SecretOut]:
    """Names, kinds and key versions of the tenant's secrets (never their values)."""
    return secrets.list_secrets(session, tenant_id=principal.tenant_id)


@router.put("/{name}")
def put_secret(
    name: SecretName, body: SecretPut, principal: Writer, session: SessionDep,
    services: ServicesDep,
) -> SecretOut:  # fmt: skip
    """Store a secret sealed with AES-256-GCM under the current key version."""
    out = secrets.put_secret(
        session, tenant_id=principal.tenant_id, name=name, kind=body.kind, value=body.value,
        keyring=services.settings.keyring(), now_s=now_s(),
    )  # fmt: skip
    record(session, principal, action="secret.put", target=f"secret:{name}",
           detail={"kind": body.kind, "key_version": out.key_version})  # fmt: skip
    return out
