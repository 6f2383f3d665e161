"""``ranopt demo``'s users: an admin who runs the network and an analyst who reads the audit log."""

from pathlib import Path

from fastapi.testclient import TestClient

from ranopt.api.app import create_app
from ranopt.api.permissions import Role
from ranopt.api.security import password_hasher
from ranopt.api.settings import Settings
from ranopt.cli.loop import DEMO_ADMIN, DEMO_ANALYST, DEMO_TENANT, ensure_demo_users
from ranopt.store import accounts
from ranopt.store.engine import open_store


def _login(client: TestClient, username: str, password: str) -> dict[str, str]:
    answer = client.post(
        "/api/v2/auth/token",
        data={"tenant": DEMO_TENANT, "username": username, "password": password},
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_the_demo_makes_an_analyst_who_can_open_the_audit_log(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'demo.db'}", argon2_time_cost=1,
        argon2_memory_kib=1024,
    )  # fmt: skip
    store = open_store(settings.database_url)
    try:
        # a demo database from before the analyst existed: only its admin
        with store.transaction() as session:
            tenant = accounts.create_tenant(session, name=DEMO_TENANT, now_s=0)
            accounts.create_user(
                session, tenant_id=tenant.id, username=DEMO_ADMIN,
                password_hash=password_hasher(settings).hash("old-admin-password"),
                role=Role.NETWORK_ADMIN.value, now_s=0,
            )  # fmt: skip
        _, made = ensure_demo_users(store, settings)
        assert set(made) == {DEMO_ANALYST}  # the admin keeps the password it had
        assert ensure_demo_users(store, settings) == (tenant.id, {})  # shown once
        with TestClient(create_app(settings, store=store)) as client:
            analyst = _login(client, DEMO_ANALYST, made[DEMO_ANALYST])
            audit = client.get("/api/v2/audit", headers=analyst)
            assert audit.status_code == 200
            assert any(
                e["action"] == "user.create" and e["detail"]["username"] == DEMO_ANALYST
                for e in audit.json()
            )
            admin = _login(client, DEMO_ADMIN, "old-admin-password")
            assert client.get("/api/v2/audit", headers=admin).status_code == 403
    finally:
        store.dispose()
