"""Login, MFA, token expiry and signing-key rotation, API keys, OIDC, rate limits."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import jwt
import pyotp
import pytest
from api_world import PASSWORD, World
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import update

from ranopt.api.security import verify_totp
from ranopt.store import audit
from ranopt.store.tables import SigningKey


def _login(world: World, tenant: str, username: str, password: str = PASSWORD, **extra: str) -> Any:
    return world.client.post(
        "/api/v2/auth/token",
        data={"username": username, "password": password, "tenant": tenant, **extra},
    )


def test_login_gives_a_token_that_works_and_is_audited(world: World) -> None:
    response = _login(world, "acme", "viewer-user")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"  # noqa: S105
    assert body["expires_in"] == world.services.settings.access_token_ttl_s
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert world.client.get("/api/v2/networks", headers=headers).status_code == 200
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "EdDSA"
    kids = {k["kid"] for k in world.client.get("/.well-known/jwks.json").json()["keys"]}
    assert header["kid"] in kids
    with world.store.transaction() as session:
        entries = audit.list_entries(
            session, tenant_id=world.tenant_ids["acme"], action="auth.login"
        )
    assert entries[0].outcome == "success"


@pytest.mark.parametrize(
    ("tenant", "username", "password"),
    [
        ("acme", "viewer-user", "wrong password!"),
        ("acme", "nobody", PASSWORD),
        ("no-such-tenant", "viewer-user", PASSWORD),
        ("globex", "viewer-user", "wrong password!"),
    ],
)
def test_wrong_credentials_get_the_same_401(
    world: World, tenant: str, username: str, password: str
) -> None:
    response = _login(world, tenant, username, password)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "invalid credentials"
    with world.store.transaction() as session:
        failures = [
            e
            for tid in world.tenant_ids.values()
            for e in audit.list_entries(session, tenant_id=tid, action="auth.login")
        ]
    if tenant != "no-such-tenant":
        assert any(e.outcome == "failure" for e in failures)


def test_login_form_errors_name_the_field(world: World) -> None:
    response = world.client.post("/api/v2/auth/token", data={"username": "x", "password": "y"})
    assert response.status_code == 422
    assert response.json()["field"] == "body.tenant"


def test_totp_second_factor(world: World) -> None:
    admin = world.headers("acme", "network_admin")
    user_id = world.user_ids["acme", "viewer"]
    enrolled = world.client.post(f"/api/v2/users/{user_id}/totp", headers=admin)
    assert enrolled.status_code == 201
    secret = enrolled.json()["secret"]
    assert _login(world, "acme", "viewer-user").status_code == 401  # code missing
    assert _login(world, "acme", "viewer-user", totp="000000").status_code in (401,)
    code = pyotp.TOTP(secret).now()
    ok = _login(world, "acme", "viewer-user", totp=code)
    assert ok.status_code == 200
    # a code works once: a replay within its 30 s window is refused
    assert _login(world, "acme", "viewer-user", totp=code).status_code == 401
    claims = jwt.decode(ok.json()["access_token"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd", "otp"]
    # the secret is stored sealed, never in clear
    users = world.client.get("/api/v2/users", headers=admin).text
    assert secret not in users


def test_tenant_can_make_mfa_mandatory(world: World) -> None:
    admin = world.headers("acme", "network_admin")
    assert _login(world, "acme", "viewer-user").status_code == 200
    response = world.client.put("/api/v2/tenant/mfa", headers=admin, json={"mfa_required": True})
    assert response.status_code == 200
    assert response.json()["mfa_required"] is True
    assert _login(world, "acme", "viewer-user").status_code == 401  # not enrolled: refused
    assert _login(world, "globex", "viewer-user").status_code == 200  # other tenant unaffected


def test_expired_and_forged_tokens_are_refused(world: World) -> None:
    services = world.services
    old, _ = services.tokens.issue(
        subject=f"user:{world.user_ids['acme', 'viewer']}",
        tenant_id=world.tenant_ids["acme"],
        role="viewer",
        amr=("pwd",),
        now_s=int(time.time()) - 10 * services.settings.access_token_ttl_s,
    )
    response = world.client.get("/api/v2/networks", headers={"Authorization": f"Bearer {old}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "token expired"
    good = world.tokens["acme", "viewer"]
    header, _payload, signature = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    claims["role"] = "network_admin"
    forged_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    forged = f"{header}.{forged_payload}.{signature}"
    response = world.client.get("/api/v2/networks", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    none_alg = jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]
    response = world.client.get("/api/v2/users", headers={"Authorization": f"Bearer {none_alg}"})
    assert response.status_code == 401


def test_signing_key_rotation_keeps_old_tokens_until_their_key_ages_out(world: World) -> None:
    services = world.services
    before = world.tokens["acme", "viewer"]
    old_kid = jwt.get_unverified_header(before)["kid"]
    new_kid = services.tokens.rotate(int(time.time()))
    assert new_kid != old_kid
    kids = {k["kid"] for k in world.client.get("/.well-known/jwks.json").json()["keys"]}
    assert kids == {old_kid, new_kid}
    assert world.client.get("/api/v2/networks", headers=world.headers("acme", "viewer")).is_success
    fresh = _login(world, "acme", "viewer-user").json()["access_token"]
    assert jwt.get_unverified_header(fresh)["kid"] == new_kid
    # one token lifetime after retirement the old key stops verifying and leaves the JWKS
    ttl = services.settings.access_token_ttl_s
    with world.store.transaction() as session:
        session.execute(
            update(SigningKey)
            .where(SigningKey.kid == old_kid)
            .values(retired_s=int(time.time()) - ttl - 1)
        )
    services.tokens.rotate(int(time.time()))  # reloads the key cache
    response = world.client.get("/api/v2/networks", headers={"Authorization": f"Bearer {before}"})
    assert response.status_code == 401
    kids = {k["kid"] for k in world.client.get("/.well-known/jwks.json").json()["keys"]}
    assert old_kid not in kids
    assert world.client.get(
        "/api/v2/networks", headers={"Authorization": f"Bearer {fresh}"}
    ).is_success


def test_api_keys_prefix_hash_role_and_revocation(world: World) -> None:
    admin = world.headers("acme", "network_admin")
    made = world.client.post(
        "/api/v2/api-keys", headers=admin, json={"name": "ci", "role": "viewer"}
    )
    assert made.status_code == 201
    key = made.json()["key"]
    prefix = made.json()["prefix"]
    assert key.startswith(prefix + ".")
    listed = world.client.get("/api/v2/api-keys", headers=admin)
    assert prefix in listed.text
    assert key.split(".")[1] not in listed.text  # the secret is never shown again
    assert world.client.get("/api/v2/networks", headers={"X-API-Key": key}).status_code == 200
    bearer = {"Authorization": f"Bearer {key}"}
    assert world.client.get("/api/v2/networks", headers=bearer).status_code == 200
    # bound to its role: a viewer key cannot write
    response = world.client.post(
        "/api/v2/api-keys", headers=bearer, json={"name": "x", "role": "viewer"}
    )
    assert response.status_code == 403
    wrong = {"X-API-Key": prefix + ".not-the-secret"}
    assert world.client.get("/api/v2/networks", headers=wrong).status_code == 401
    key_id = made.json()["id"]
    assert world.client.delete(f"/api/v2/api-keys/{key_id}", headers=admin).status_code == 200
    assert world.client.get("/api/v2/networks", headers={"X-API-Key": key}).status_code == 401


class _JwksHandler(BaseHTTPRequestHandler):
    jwks: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        body = json.dumps(self.jwks).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def oidc_issuer() -> Iterator[tuple[str, Callable[..., str]]]:
    """A local OIDC issuer: serves a JWKS, returns a function that signs tokens."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "idp-1", "use": "sig", "alg": "RS256"})
    handler = type("Handler", (_JwksHandler,), {"jwks": {"keys": [jwk]}})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def sign(signing_key: Any = key, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": "https://idp.test", "aud": "ranopt", "sub": "carol", "iat": now,
            "exp": now + 300, "ranopt_tenant": "acme", "ranopt_role": "security_analyst",
            **claims,
        }  # fmt: skip
        return jwt.encode(payload, signing_key, algorithm="RS256", headers={"kid": "idp-1"})

    yield f"http://127.0.0.1:{server.server_address[1]}/jwks", sign
    server.shutdown()
    server.server_close()


def test_oidc_tokens_are_verified_through_the_issuer_jwks(
    world_factory: Callable[..., World], oidc_issuer: tuple[str, Callable[..., str]]
) -> None:
    url, sign = oidc_issuer
    world = world_factory(oidc_issuer="https://idp.test", oidc_jwks_url=url, oidc_audience="ranopt")

    def get(path: str, token: str) -> int:
        return world.client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code

    assert get("/api/v2/audit", sign()) == 200  # security_analyst may investigate
    assert get("/api/v2/networks", sign(ranopt_role="viewer")) == 200
    assert get("/api/v2/audit", sign(ranopt_role="viewer")) == 403
    assert get("/api/v2/networks", sign(exp=int(time.time()) - 10)) == 401
    assert get("/api/v2/networks", sign(aud="someone-else")) == 401
    assert get("/api/v2/networks", sign(ranopt_tenant="initech")) == 401
    assert get("/api/v2/networks", sign(ranopt_role="root")) == 401
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert get("/api/v2/networks", sign(signing_key=other_key)) == 401
    # ranopt's own tokens still work beside the external issuer
    assert world.client.get("/api/v2/networks", headers=world.headers("acme", "viewer")).is_success


def test_rate_limit_answers_429_with_retry_after(world_factory: Callable[..., World]) -> None:
    # hour windows: a minute boundary inside the test would let the sliding counter decay
    world = world_factory(rate_limit="3/hour")
    headers = world.headers("acme", "viewer")
    codes = [world.client.get("/api/v2/networks", headers=headers).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = world.client.get("/api/v2/networks", headers=headers)
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["retry-after"]) <= 3600
    # limits are per identity: another user is unaffected
    other = world.headers("acme", "network_admin")
    assert world.client.get("/api/v2/networks", headers=other).status_code == 200


def test_totp_steps_accept_one_step_of_drift_only() -> None:
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    at_s = 1_767_225_615.0  # 15 s into a step
    step = int(at_s) // 30
    assert verify_totp(secret, totp.at(at_s), at_s=at_s) == step
    assert verify_totp(secret, totp.at(at_s - 30), at_s=at_s) == step - 1
    assert verify_totp(secret, totp.at(at_s + 30), at_s=at_s) == step + 1
    assert verify_totp(secret, totp.at(at_s - 60), at_s=at_s) is None
    assert verify_totp(secret, "12a456", at_s=at_s) is None
