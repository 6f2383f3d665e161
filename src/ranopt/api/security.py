"""Passwords (argon2id), API keys, TOTP, and JWT access tokens signed with rotating keys.

Access tokens are EdDSA (Ed25519) JWTs with a ``kid`` naming the signing key; public keys
are served at ``/.well-known/jwks.json``. A new key is made when the active one is older than
``signing_key_max_age_s`` (or on ``ranopt keys rotate-signing``); retired keys keep verifying
for one token lifetime so that no token dies before its ``exp``.
"""

import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm
from sqlalchemy.orm import Session

from ranopt.api.settings import Settings
from ranopt.store import accounts
from ranopt.store.engine import Store
from ranopt.store.secrets import Keyring, signing_key_aad

API_KEY_PREFIX = "rk_"
JWT_ALGORITHM = "EdDSA"
GENERATED_PASSWORD_BYTES = 18


class AuthError(Exception):
    """Credentials were missing, wrong, expired or not acceptable (answers 401)."""


def password_hasher(settings: Settings) -> PasswordHasher:
    """argon2id with the configured cost (RFC 9106 parameters)."""
    return PasswordHasher(
        time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
    )


def verify_password(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    """Check a password against its argon2id hash (False on mismatch or a malformed hash)."""
    try:
        return hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """Return a random password for a new user (shown once)."""
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


# --- API keys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewApiKey:
    """A freshly made key: the full token (shown once), its prefix and its hash."""

    token: str
    prefix: str
    secret_hash: str


def new_api_key(hasher: PasswordHasher) -> NewApiKey:
    """Make an API key ``rk_<prefix>.<secret>``; only the prefix is stored in clear."""
    prefix = API_KEY_PREFIX + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(token=f"{prefix}.{secret}", prefix=prefix, secret_hash=hasher.hash(secret))


def split_api_key(token: str) -> tuple[str, str] | None:
    """Return (prefix, secret) of a well-formed API key, else None."""
    prefix, sep, secret = token.partition(".")
    if not sep or not prefix.startswith(API_KEY_PREFIX) or not secret:
        return None
    return prefix, secret


class VerifiedCache:
    """Remembers recently verified (credential, secret digest) pairs for ``ttl_s``.

    argon2 costs tens of milliseconds by design; an API key used for every request would pay
    it each time. Only a digest of the secret is kept, in memory, and the key's revocation is
    still read from the database on every request.
    """

    def __init__(self, ttl_s: float = 60.0, max_entries: int = 10_000) -> None:
        self._ttl_s = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(credential: str, secret: str, stored_hash: str) -> tuple[str, str]:
        digest = hashlib.sha256(f"{stored_hash}\0{secret}".encode()).hexdigest()
        return credential, digest

    def hit(self, credential: str, secret: str, stored_hash: str) -> bool:
        """Whether this exact secret was verified against this hash within the TTL."""
        key = self._key(credential, secret, stored_hash)
        with self._lock:
            seen = self._entries.get(key)
            if seen is None or time.monotonic() - seen > self._ttl_s:
                self._entries.pop(key, None)
                return False
            return True

    def remember(self, credential: str, secret: str, stored_hash: str) -> None:
        """Record a successful verification."""
        key = self._key(credential, secret, stored_hash)
        with self._lock:
            self._entries[key] = time.monotonic()
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


# --- TOTP -----------------------------------------------------------------------------------


def new_totp_secret() -> str:
    """Return a new base32 TOTP secret (RFC 6238, 160 bit)."""
    return pyotp.random_base32(32)


def verify_totp(secret: str, code: str, *, at_s: float | None = None) -> int | None:
    """Return the 30 s time step a 6-digit code belongs to (one step of drift either way).

    None when the code is wrong; the caller refuses a step already used (replay).
    """
    if not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_s = time.time() if at_s is None else at_s
    step_now = int(now_s) // totp.interval
    for step in (step_now, step_now - 1, step_now + 1):
        if constant_time_equal(totp.at(step * totp.interval), code):
            return step
    return None


# --- JWT signing keys -----------------------------------------------------------------------


def _public_jwk(kid: str, public_key: Ed25519PublicKey) -> dict[str, Any]:
    jwk: dict[str, Any] = OKPAlgorithm.to_jwk(public_key, as_dict=True)
    jwk.update({"kid": kid, "use": "sig", "alg": JWT_ALGORITHM})
    return jwk


def create_signing_key(session: Session, *, keyring: Keyring, now_s: int) -> str:
    """Make a new Ed25519 signing key, seal its private half, retire the previous one."""
    kid = uuid.uuid4().hex
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    accounts.add_signing_key(
        session,
        kid=kid,
        private_key_enc=keyring.seal(pem, aad=signing_key_aad(kid)),
        public_jwk=_public_jwk(kid, private_key.public_key()),
        now_s=now_s,
    )
    return kid


@dataclass(frozen=True)
class TokenClaims:
    """What a verified access token says."""

    subject: str
    tenant_id: int
    role: str
    amr: tuple[str, ...]
    expires_s: int


MAX_VERIFIED_TOKENS = 10_000


class TokenService:
    """Issues and verifies access tokens; caches keys and reloads them on an unknown ``kid``."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._keyring = settings.keyring()
        self._lock = threading.Lock()
        self._private: tuple[str, Ed25519PrivateKey, int] | None = None
        self._public: dict[str, Any] = {}
        self._jwks: list[dict[str, Any]] = []
        self._loaded_s = 0.0
        # tokens whose signature and claims were checked, with their key id: each use checks
        # only the expiry and that the key is still one that verifies
        self._verified: OrderedDict[str, tuple[TokenClaims, str]] = OrderedDict()

    def _load(self, now_s: int) -> None:
        ttl = self._settings.access_token_ttl_s
        with self._store.transaction() as session:
            keys = accounts.signing_keys(session, retired_after_s=now_s - ttl)
            active = next((k for k in keys if k.retired_s is None), None)
            if active is None or now_s - active.created_s > self._settings.signing_key_max_age_s:
                create_signing_key(session, keyring=self._keyring, now_s=now_s)
                keys = accounts.signing_keys(session, retired_after_s=now_s - ttl)
                active = next(k for k in keys if k.retired_s is None)
        pem = self._keyring.open(active.private_key_enc, aad=signing_key_aad(active.kid))
        private_key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private_key, Ed25519PrivateKey):  # pragma: no cover - we made it
            msg = f"signing key {active.kid} is not Ed25519"
            raise AuthError(msg)
        self._private = (active.kid, private_key, active.created_s)
        self._public = {k.kid: OKPAlgorithm.from_jwk(k.public_jwk) for k in keys}
        self._jwks = [k.public_jwk for k in keys]
        self._loaded_s = time.monotonic()

    def _current(self, now_s: int) -> tuple[str, Ed25519PrivateKey]:
        with self._lock:
            stale = self._private is None or time.monotonic() - self._loaded_s > 60
            if not stale and self._private is not None:
                _, _, created_s = self._private
                stale = now_s - created_s > self._settings.signing_key_max_age_s
            if stale:
                self._load(now_s)
            assert self._private is not None  # noqa: S101 - _load sets it or raises
            return self._private[0], self._private[1]

    def jwks(self) -> dict[str, Any]:
        """Return the public keys that verify tokens now (JWK Set, RFC 7517)."""
        self._current(int(time.time()))
        return {"keys": list(self._jwks)}

    def issue(
        self, *, subject: str, tenant_id: int, role: str, amr: tuple[str, ...], now_s: int
    ) -> tuple[str, int]:
        """Sign an access token; return it and its lifetime in seconds."""
        kid, key = self._current(now_s)
        ttl = self._settings.access_token_ttl_s
        claims = {
            "iss": self._settings.jwt_issuer, "aud": self._settings.jwt_audience,
            "sub": subject, "tid": tenant_id, "role": role, "amr": list(amr),
            "iat": now_s, "nbf": now_s, "exp": now_s + ttl, "jti": uuid.uuid4().hex,
        }  # fmt: skip
        return jwt.encode(claims, key, algorithm=JWT_ALGORITHM, headers={"kid": kid}), ttl

    def rotate(self, now_s: int) -> str:
        """Make a new signing key now (``ranopt keys rotate-signing`` does the same)."""
        with self._store.transaction() as session:
            kid = create_signing_key(session, keyring=self._keyring, now_s=now_s)
        with self._lock:
            self._load(now_s)
        return kid

    def _public_key(self, kid: str) -> Any:
        with self._lock:
            key = self._public.get(kid)
            if key is None:
                self._load(int(time.time()))  # a key made by another replica or the CLI
                key = self._public.get(kid)
        return key

    def knows_key_of(self, token: str) -> bool:
        """Whether the token's ``kid`` is a key already loaded (verifying needs no database)."""
        with self._lock:
            known = self._verified.get(token)
            if known is not None and known[1] in self._public:
                return True
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return True  # malformed: verify() refuses it without any lookup
        with self._lock:
            return isinstance(kid, str) and kid in self._public

    def verify(self, token: str) -> TokenClaims:
        """Verify signature, issuer, audience and expiry; raise ``AuthError`` otherwise.

        A token verified before is found in a bounded cache of verified tokens and only its
        expiry is checked again (a signature check costs more than the rest of a cached read).
        """
        with self._lock:
            known = self._verified.get(token)
            if known is not None:
                claims, kid = known
                if claims.expires_s > time.time() and kid in self._public:
                    return claims
                self._verified.pop(token, None)
        claims, kid = self._verify(token)
        with self._lock:
            self._verified[token] = (claims, kid)
            if len(self._verified) > MAX_VERIFIED_TOKENS:
                self._verified.popitem(last=False)
        return claims

    def _verify(self, token: str) -> tuple[TokenClaims, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            msg = "malformed token"
            raise AuthError(msg) from exc
        kid = header.get("kid")
        key = self._public_key(kid) if isinstance(kid, str) else None
        if key is None:
            msg = "token signed by an unknown or expired key"
            raise AuthError(msg)
        try:
            claims = jwt.decode(
                token, key, algorithms=[JWT_ALGORITHM], audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )  # fmt: skip
        except jwt.ExpiredSignatureError as exc:
            msg = "token expired"
            raise AuthError(msg) from exc
        except jwt.PyJWTError as exc:
            msg = "invalid token"
            raise AuthError(msg) from exc
        try:
            return TokenClaims(
                subject=str(claims["sub"]), tenant_id=int(claims["tid"]),
                role=str(claims["role"]), amr=tuple(claims.get("amr", ())),
                expires_s=int(claims["exp"]),
            ), str(kid)  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            msg = "token lacks ranopt claims"
            raise AuthError(msg) from exc


class OidcVerifier:
    """Accepts access tokens of an external OpenID Connect issuer through its JWKS."""

    ALGORITHMS = ("RS256", "ES256", "EdDSA")

    def __init__(self, settings: Settings) -> None:
        if not settings.oidc_issuer or not settings.oidc_jwks_url:
            msg = "OIDC needs RANOPT_OIDC_ISSUER and RANOPT_OIDC_JWKS_URL"
            raise AuthError(msg)
        self.issuer = settings.oidc_issuer
        self._audience = settings.oidc_audience
        self._tenant_claim = settings.oidc_tenant_claim
        self._role_claim = settings.oidc_role_claim
        self._client = jwt.PyJWKClient(settings.oidc_jwks_url, cache_keys=True, lifespan=300)

    def verify(self, token: str) -> dict[str, Any]:
        """Return the verified claims (``sub``, tenant and role claims required)."""
        try:
            key = self._client.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=list(self.ALGORITHMS), issuer=self.issuer,
                audience=self._audience,
                options={"require": ["exp", "sub", "iss"], "verify_aud": bool(self._audience)},
            )  # fmt: skip
        except jwt.ExpiredSignatureError as exc:
            msg = "token expired"
            raise AuthError(msg) from exc
        except jwt.PyJWTError as exc:
            msg = "invalid OIDC token"
            raise AuthError(msg) from exc
        if not isinstance(claims.get(self._tenant_claim), str):
            msg = f"OIDC token lacks the {self._tenant_claim!r} claim"
            raise AuthError(msg)
        if not isinstance(claims.get(self._role_claim), str):
            msg = f"OIDC token lacks the {self._role_claim!r} claim"
            raise AuthError(msg)
        return claims

    def tenant_and_role(self, claims: dict[str, Any]) -> tuple[str, str]:
        """Return the tenant name and role the issuer asserts."""
        return str(claims[self._tenant_claim]), str(claims[self._role_claim])


def unverified_issuer(token: str) -> str | None:
    """Return the ``iss`` of a JWT before verification (only to pick the verifier)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None


def constant_time_equal(a: str, b: str) -> bool:
    """Compare two strings without leaking where they differ."""
    return hmac.compare_digest(a.encode(), b.encode())
