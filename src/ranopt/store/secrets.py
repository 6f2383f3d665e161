"""AES-256-GCM sealing of stored secrets under versioned keys, and the tenant secret store.

A sealed value reads ``"<version>.<base64(nonce || ciphertext || tag)>"``; the version names
the key of the keyring that sealed it, so keys can be rotated: add a new version, run
``ranopt keys rotate`` (which re-seals every value under the newest key), then drop the old
version. The associated data binds a sealed value to where it is stored (table, row key), so
a ciphertext copied into another row does not open.
"""

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from ranopt.errors import RanoptError, ValidationError
from ranopt.store.tables import SigningKey, StoredSecret, User

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # NIST SP 800-38D recommended IV length


class SecretError(RanoptError):
    """A sealed value cannot be opened (unknown key version, wrong key, tampered data)."""


@dataclass(frozen=True)
class Keyring:
    """Data-encryption keys by version; the highest version seals, every version opens."""

    keys: dict[int, bytes]

    def __post_init__(self) -> None:
        """Refuse an empty keyring or a key that is not 256 bit."""
        if not self.keys:
            msg = "secret_keys: at least one key is needed"
            raise ValidationError(msg)
        for version, key in self.keys.items():
            if len(key) != KEY_BYTES:
                msg = f"secret_keys: key version {version} is {len(key)} bytes, need {KEY_BYTES}"
                raise ValidationError(msg)

    @classmethod
    def parse(cls, text: str) -> "Keyring":
        """Parse ``"2:BASE64KEY,1:BASE64KEY"`` (``RANOPT_SECRET_KEYS``)."""
        keys: dict[int, bytes] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            version, sep, encoded = part.partition(":")
            if not sep or not version.isdigit():
                msg = "secret_keys: expected VERSION:BASE64KEY[,VERSION:BASE64KEY...]"
                raise ValidationError(msg)
            try:
                keys[int(version)] = base64.b64decode(encoded, validate=True)
            except binascii.Error as exc:
                msg = f"secret_keys: key version {version} is not base64"
                raise ValidationError(msg) from exc
        return cls(keys)

    @property
    def current_version(self) -> int:
        """The version new values are sealed under."""
        return max(self.keys)

    def seal(self, plaintext: bytes, *, aad: str) -> str:
        """Encrypt ``plaintext`` under the current key, bound to ``aad``."""
        version = self.current_version
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[version]).encrypt(nonce, plaintext, aad.encode())
        return f"{version}.{base64.b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, *, aad: str) -> bytes:
        """Decrypt a value sealed by ``seal`` with the same ``aad``."""
        version_text, _, encoded = sealed.partition(".")
        if not version_text.isdigit() or int(version_text) not in self.keys:
            msg = f"sealed value under unknown key version {version_text!r}"
            raise SecretError(msg)
        raw = base64.b64decode(encoded)
        try:
            return AESGCM(self.keys[int(version_text)]).decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad.encode()
            )
        except InvalidTag as exc:
            msg = "sealed value does not open: wrong key or tampered data"
            raise SecretError(msg) from exc

    def version_of(self, sealed: str) -> int:
        """Return the key version a value is sealed under."""
        return int(sealed.partition(".")[0])


class SecretOut(BaseModel):
    """A stored secret's metadata (never its value)."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    key_version: int
    updated_s: int


def _secret_aad(tenant_id: int, name: str) -> str:
    return f"stored_secrets:{tenant_id}:{name}"


def put_secret(
    session: Session,
    *,
    tenant_id: int,
    name: str,
    kind: str,
    value: str,
    keyring: Keyring,
    now_s: int,
) -> SecretOut:
    """Store (or replace) the tenant's secret ``name``, sealed under the current key."""
    sealed = keyring.seal(value.encode(), aad=_secret_aad(tenant_id, name))
    row = session.scalar(
        select(StoredSecret).where(StoredSecret.tenant_id == tenant_id, StoredSecret.name == name)
    )
    if row is None:
        row = StoredSecret(tenant_id=tenant_id, name=name)
        session.add(row)
    row.kind = kind
    row.sealed = sealed
    row.key_version = keyring.current_version
    row.updated_s = now_s
    session.flush()
    return SecretOut(name=name, kind=kind, key_version=row.key_version, updated_s=now_s)


def list_secrets(session: Session, *, tenant_id: int) -> list[SecretOut]:
    """Return the tenant's secrets' metadata by name."""
    rows = session.scalars(
        select(StoredSecret).where(StoredSecret.tenant_id == tenant_id).order_by(StoredSecret.name)
    )
    return [
        SecretOut(name=r.name, kind=r.kind, key_version=r.key_version, updated_s=r.updated_s)
        for r in rows
    ]


def read_secret(session: Session, *, tenant_id: int, name: str, keyring: Keyring) -> str | None:
    """Return the tenant's secret in clear (for an actuator), or None when there is none."""
    row = session.scalar(
        select(StoredSecret).where(StoredSecret.tenant_id == tenant_id, StoredSecret.name == name)
    )
    if row is None:
        return None
    return keyring.open(row.sealed, aad=_secret_aad(tenant_id, name)).decode()


def totp_aad(user_id: int) -> str:
    """Associated data of a user's sealed TOTP secret."""
    return f"users.totp:{user_id}"


def signing_key_aad(kid: str) -> str:
    """Associated data of a sealed JWT signing key."""
    return f"signing_keys:{kid}"


def reseal_all(session: Session, *, keyring: Keyring) -> int:
    """Re-seal every sealed value under the current key version; return how many changed."""
    current = keyring.current_version
    changed = 0
    for secret in session.scalars(select(StoredSecret)):
        if keyring.version_of(secret.sealed) != current:
            aad = _secret_aad(secret.tenant_id, secret.name)
            secret.sealed = keyring.seal(keyring.open(secret.sealed, aad=aad), aad=aad)
            secret.key_version = current
            changed += 1
    for user in session.scalars(select(User).where(User.totp_secret_enc.is_not(None))):
        sealed = user.totp_secret_enc
        if sealed is not None and keyring.version_of(sealed) != current:
            aad = totp_aad(user.id)
            user.totp_secret_enc = keyring.seal(keyring.open(sealed, aad=aad), aad=aad)
            changed += 1
    for key in session.scalars(select(SigningKey)):
        if keyring.version_of(key.private_key_enc) != current:
            aad = signing_key_aad(key.kid)
            key.private_key_enc = keyring.seal(keyring.open(key.private_key_enc, aad=aad), aad=aad)
            changed += 1
    session.flush()
    return changed
