"""The API test world: an app with two tenants and a user and token per role."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ranopt.api.app import create_app
from ranopt.api.deps import Services
from ranopt.api.permissions import Role
from ranopt.api.settings import Settings
from ranopt.store import accounts
from ranopt.store.engine import Store
from ranopt.store.schemas import TopologyIn

TENANTS = ("acme", "globex")
PASSWORD = "correct horse battery staple"  # noqa: S105 - test users only


def api_settings(db_url: str, **overrides: Any) -> Settings:
    """Settings for tests: cheap argon2, generous limits unless a test sets them."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "rate_limit": "100000/minute",
        "optimize_history_days": 2,
        "confidence_scenarios": 8,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class World:
    """An app with two tenants; per tenant and role a user id and a bearer token."""

    app: FastAPI
    client: TestClient
    store: Store
    tenant_ids: dict[str, int]
    user_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    topology: Callable[..., TopologyIn] | None = None

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def headers(self, tenant: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[tenant, role]}"}


def build_world(
    store: Store, settings: Settings, topology: Callable[..., TopologyIn] | None = None
) -> World:
    app = create_app(settings, store=store)
    services: Services = app.state.services
    world = World(app=app, client=TestClient(app), store=store, tenant_ids={}, topology=topology)
    now = int(time.time())
    with store.transaction() as session:
        for tenant in TENANTS:
            world.tenant_ids[tenant] = accounts.create_tenant(session, name=tenant, now_s=now).id
            for role in Role:
                user = accounts.create_user(
                    session, tenant_id=world.tenant_ids[tenant], username=f"{role.value}-user",
                    password_hash=services.hasher.hash(PASSWORD), role=role.value, now_s=now,
                )  # fmt: skip
                world.user_ids[tenant, role.value] = user.id
    for (tenant, role), user_id in world.user_ids.items():
        token, _ = services.tokens.issue(
            subject=f"user:{user_id}", tenant_id=world.tenant_ids[tenant], role=role,
            amr=("pwd",), now_s=now,
        )  # fmt: skip
        world.tokens[tenant, role] = token
    return world


def store_url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)
