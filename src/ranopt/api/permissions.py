"""Roles and permissions: the one table that says who may do what.

``network_admin`` reads, writes and executes (applies plans); ``security_analyst`` reads and
investigates (audit log, alerts); ``viewer`` reads. Every route declares the one permission it
needs through ``ranopt.api.deps.require``; the permission-matrix test checks every route
against this table.
"""

from enum import StrEnum


class Permission(StrEnum):
    """What a route needs."""

    READ = "read"
    WRITE = "write"
    EXECUTE = "execute"
    INVESTIGATE = "investigate"


class Role(StrEnum):
    """The roles a user or API key has (the operator's vocabulary)."""

    NETWORK_ADMIN = "network_admin"
    SECURITY_ANALYST = "security_analyst"
    VIEWER = "viewer"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.NETWORK_ADMIN: frozenset({Permission.READ, Permission.WRITE, Permission.EXECUTE}),
    Role.SECURITY_ANALYST: frozenset({Permission.READ, Permission.INVESTIGATE}),
    Role.VIEWER: frozenset({Permission.READ}),
}

# Routes anyone may call (liveness, readiness, metrics, docs, public keys, and the
# dashboard's static files: ``/`` redirects to the ``/ui`` mount, which holds no data).
PUBLIC_PATHS = frozenset(
    {
        "/",
        "/ui",
        "/health",
        "/ready",
        "/metrics",
        "/docs",
        "/docs/oauth2-redirect",
        "/openapi.json",
        "/.well-known/jwks.json",
        "/api/v2/auth/token",
    }
)


def permissions_of(role: str) -> frozenset[Permission]:
    """Return what ``role`` grants (an unknown role grants nothing)."""
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()


def allows(role: str, permission: Permission) -> bool:
    """Whether ``role`` grants ``permission``."""
    return permission in permissions_of(role)


def role_within(role: str, holder: str) -> bool:
    """Whether every permission of ``role`` is one ``holder`` has (no one grants beyond it)."""
    return role in {r.value for r in Role} and permissions_of(role) <= permissions_of(holder)
