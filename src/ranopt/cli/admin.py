"""``ranopt admin``, ``ranopt audit``, ``ranopt keys``, ``ranopt serve``: the platform operator."""

import sys
from typing import Annotated, Any

import typer

from ranopt.api.permissions import Role
from ranopt.api.security import create_signing_key, generate_password, password_hasher
from ranopt.api.settings import Settings
from ranopt.cli.common import now_s
from ranopt.errors import ValidationError
from ranopt.store import accounts, audit
from ranopt.store.engine import open_store
from ranopt.store.repository import NotFoundError
from ranopt.store.secrets import reseal_all

admin_app = typer.Typer(help="Create tenants and users (platform operator).", no_args_is_help=True)
audit_app = typer.Typer(help="Check the hash-chained audit log.", no_args_is_help=True)
keys_app = typer.Typer(help="Rotate encryption and token-signing keys.", no_args_is_help=True)
MIN_PASSWORD_CHARS = 12


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        typer.echo(f"configuration: {exc}", err=True)
        raise typer.Exit(2) from exc


@admin_app.command("create-tenant")
def create_tenant(name: Annotated[str, typer.Argument(help="Tenant name.")]) -> None:
    """Create a tenant."""
    settings = _settings()
    store = open_store(settings.database_url)
    try:
        with store.transaction() as session:
            tenant = accounts.create_tenant(session, name=name, now_s=now_s())
            audit.append(
                session, ts_s=now_s(), tenant_id=tenant.id, actor="cli:admin",
                action="tenant.create", target=f"tenant:{tenant.id}", detail={"name": name},
            )  # fmt: skip
    except ValidationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    finally:
        store.dispose()
    typer.echo(f"tenant {tenant.name} (id {tenant.id})")


@admin_app.command("create-user")
def create_user(
    tenant: Annotated[str, typer.Argument(help="Tenant name.")],
    username: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[Role, typer.Option("--role", help="network_admin, security_analyst, viewer")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create a user; prints a generated password once unless --password-stdin."""
    settings = _settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if len(password) < MIN_PASSWORD_CHARS:
            typer.echo(f"password: at least {MIN_PASSWORD_CHARS} characters", err=True)
            raise typer.Exit(2)
    else:
        password = generate_password()
    store = open_store(settings.database_url)
    try:
        with store.transaction() as session:
            tenant_row = accounts.get_tenant(session, name=tenant)
            user = accounts.create_user(
                session, tenant_id=tenant_row.id, username=username,
                password_hash=password_hasher(settings).hash(password), role=role.value,
                now_s=now_s(),
            )  # fmt: skip
            audit.append(
                session, ts_s=now_s(), tenant_id=tenant_row.id, actor="cli:admin",
                action="user.create", target=f"user:{user.id}",
                detail={"username": username, "role": role.value},
            )  # fmt: skip
    except (ValidationError, NotFoundError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    finally:
        store.dispose()
    typer.echo(f"user {username} of {tenant} (id {user.id}, role {role.value})")
    if not password_stdin:
        typer.echo(f"password (shown once): {password}")


@audit_app.command("verify")
def verify() -> None:
    """Walk the audit chain; exit 1 naming the first tampered or deleted entry."""
    settings = _settings()
    store = open_store(settings.database_url)
    try:
        with store.transaction() as session:
            report = audit.verify_chain(session)
    finally:
        store.dispose()
    if report.ok:
        typer.echo(f"audit log intact: {report.num_entries} entries")
        return
    typer.echo(
        f"audit log BROKEN at entry {report.bad_entry_id}: {report.problem} "
        f"({report.num_entries} entries verified before it)",
        err=True,
    )
    raise typer.Exit(1)


@keys_app.command("rotate")
def rotate() -> None:
    """Re-seal every stored secret under the newest key of RANOPT_SECRET_KEYS."""
    settings = _settings()
    keyring = settings.keyring()
    store = open_store(settings.database_url)
    try:
        with store.transaction() as session:
            changed = reseal_all(session, keyring=keyring)
            audit.append(
                session, ts_s=now_s(), tenant_id=None, actor="cli:admin", action="keys.rotate",
                target="secret_keys",
                detail={"key_version": keyring.current_version, "resealed": changed},
            )  # fmt: skip
    finally:
        store.dispose()
    typer.echo(f"{changed} secret(s) re-sealed under key version {keyring.current_version}")


@keys_app.command("rotate-signing")
def rotate_signing() -> None:
    """Make a new JWT signing key; the old one verifies tokens until they expire."""
    settings = _settings()
    store = open_store(settings.database_url)
    try:
        with store.transaction() as session:
            kid = create_signing_key(session, keyring=settings.keyring(), now_s=now_s())
            audit.append(
                session, ts_s=now_s(), tenant_id=None, actor="cli:admin",
                action="keys.rotate_signing", target=f"kid:{kid}",
            )  # fmt: skip
    finally:
        store.dispose()
    typer.echo(f"new signing key {kid}")


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="TCP port.")] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Worker processes (each builds the app).")
    ] = 1,
) -> None:
    """Run the HTTP API with uvicorn (settings from RANOPT_* variables)."""
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    from ranopt.api.app import create_app  # noqa: PLC0415

    settings = _settings()
    options: dict[str, Any] = {
        "host": host or settings.host,
        "port": settings.port if port is None else port,
        "log_level": "warning",
        "access_log": False,
    }
    if workers > 1 and settings.loop_enabled:
        typer.echo(
            "--workers: the closed loop runs in one process; serve the loop with one worker "
            "(RANOPT_LOOP_ENABLED) and scale the API with others",
            err=True,
        )
        raise typer.Exit(2)
    if workers > 1:  # each worker process builds its own app from the environment
        uvicorn.run("ranopt.api.app:create_app", factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)
