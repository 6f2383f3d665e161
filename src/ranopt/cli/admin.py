"""``ranopt admin``, ``ranopt audit``, ``ranopt keys``, ``ranopt serve``: the platform operator."""

import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from ranopt.api.permissions import Role
from ranopt.api.security import create_signing_key, generate_password, password_hasher
from ranopt.api.settings import Settings
from ranopt.cli.common import now_s
from ranopt.errors import ValidationError, did_you_mean
from ranopt.store import accounts, audit, checkpoints
from ranopt.store.engine import open_store
from ranopt.store.repository import NotFoundError
from ranopt.store.secrets import reseal_all

admin_app = typer.Typer(help="Create tenants and users (platform operator).", no_args_is_help=True)
audit_app = typer.Typer(
    help="Check the hash-chained audit log; sign checkpoints of it.", no_args_is_help=True
)
keys_app = typer.Typer(help="Rotate encryption and token-signing keys.", no_args_is_help=True)
MIN_PASSWORD_CHARS = 12


def new_password(*, from_stdin: bool) -> str:
    """Return a password read from stdin (checked for length) or a generated one."""
    if not from_stdin:
        return generate_password()
    password = sys.stdin.readline().rstrip("\n")
    if len(password) < MIN_PASSWORD_CHARS:
        typer.echo(f"password: at least {MIN_PASSWORD_CHARS} characters", err=True)
        raise typer.Exit(2)
    return password


def load_settings() -> Settings:
    """Return the settings from ``RANOPT_*``; a bad configuration exits 2 with its message."""
    try:
        return Settings()
    except ValueError as exc:
        typer.echo(f"configuration: {exc}", err=True)
        raise typer.Exit(2) from exc


@admin_app.command("create-tenant")
def create_tenant(name: Annotated[str, typer.Argument(help="Tenant name.")]) -> None:
    """Create a tenant."""
    settings = load_settings()
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
    settings = load_settings()
    password = new_password(from_stdin=password_stdin)
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


def _tenant_user(
    session: Session, tenant: str, username: str
) -> tuple[accounts.TenantOut, accounts.UserCredentials]:
    """Return the tenant and the user's credentials; NotFoundError naming the nearest users."""
    tenant_row = accounts.get_tenant(session, name=tenant)
    creds = accounts.user_credentials(session, tenant_id=tenant_row.id, username=username)
    if creds is None:
        known = (u.username for u in accounts.list_users(session, tenant_id=tenant_row.id))
        msg = f"no user {username!r} in tenant {tenant!r}{did_you_mean(username, known)}"
        raise NotFoundError(msg)
    return tenant_row, creds


@admin_app.command("reset-password")
def reset_password(
    tenant: Annotated[str, typer.Argument(help="Tenant name.")],
    username: Annotated[str, typer.Argument(help="User name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from stdin.")
    ] = False,
) -> None:
    """Set a new password for a user who forgot theirs (audited); prints a generated one once."""
    settings = load_settings()
    password = new_password(from_stdin=password_stdin)
    store = open_store(settings.database_url)
    try:
        with store.transaction() as session:
            tenant_row, creds = _tenant_user(session, tenant, username)
            accounts.set_password_hash(
                session, tenant_id=tenant_row.id, user_id=creds.id,
                password_hash=password_hasher(settings).hash(password),
            )  # fmt: skip
            audit.append(
                session, ts_s=now_s(), tenant_id=tenant_row.id, actor="cli:admin",
                action="user.password.reset", target=f"user:{creds.id}",
                detail={"username": username, "role": creds.role},
            )  # fmt: skip
    except NotFoundError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    finally:
        store.dispose()
    typer.echo(f"password of {username} ({tenant}) reset")
    if not password_stdin:
        typer.echo(f"password (shown once): {password}")


@admin_app.command("reset-totp")
def reset_totp(
    tenant: Annotated[str, typer.Argument(help="Tenant name.")],
    username: Annotated[str, typer.Argument(help="User name.")],
) -> None:
    """Remove a user's second factor (audited); the user then enrols a new one."""
    settings = load_settings()
    store = open_store(settings.database_url)
    try:
        with store.transaction() as session:
            tenant_row, creds = _tenant_user(session, tenant, username)
            accounts.set_totp_secret(
                session, tenant_id=tenant_row.id, user_id=creds.id, totp_secret_enc=None
            )
            audit.append(
                session, ts_s=now_s(), tenant_id=tenant_row.id, actor="cli:admin",
                action="user.totp.reset", target=f"user:{creds.id}",
                detail={"username": username, "role": creds.role},
            )  # fmt: skip
    except NotFoundError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    finally:
        store.dispose()
    typer.echo(f"second factor of {username} ({tenant}) removed")


KeyFileOpt = Annotated[
    Path | None,
    typer.Option("--key-file", help="Audit signing key (default RANOPT_AUDIT_KEY_FILE)."),
]
CheckpointDirOpt = Annotated[
    Path | None,
    typer.Option("--dir", help="Checkpoint directory (default RANOPT_AUDIT_CHECKPOINT_DIR)."),
]


@audit_app.command("keygen")
def keygen(key_file: KeyFileOpt = None) -> None:
    """Make the Ed25519 key that signs audit checkpoints (keep it outside the database)."""
    settings = load_settings()
    path = key_file or settings.audit_key_file
    try:
        public = checkpoints.generate_key(path)
    except checkpoints.CheckpointError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    key = checkpoints.load_public_key(public)
    typer.echo(f"audit signing key {path} (mode 0600), public key {public}")
    typer.echo(f"key id {checkpoints.key_id(key)}: give the public key to whoever verifies")


@audit_app.command("checkpoint")
def checkpoint(key_file: KeyFileOpt = None, directory: CheckpointDirOpt = None) -> None:
    """Sign every chain's head now and write the checkpoint file."""
    settings = load_settings()
    store = open_store(settings.database_url)
    try:
        with store.transaction() as session:
            made = checkpoints.write_checkpoint(
                session, key_file=key_file or settings.audit_key_file,
                directory=directory or settings.audit_checkpoint_dir,
            )  # fmt: skip
    except checkpoints.CheckpointError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    finally:
        store.dispose()
    entries = sum(seq for seq, _ in made.heads.values())
    typer.echo(f"checkpoint {made.path}: {len(made.heads)} chains, {entries} entries signed")


@audit_app.command("verify")
def verify(
    directory: CheckpointDirOpt = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="Verifying key (default: RANOPT_AUDIT_KEY_FILE's .pub, else the key itself).",
        ),
    ] = None,
) -> None:
    """Walk every chain and check it against the signed checkpoints; exit 1 on any fault."""
    settings = load_settings()
    folder = directory or settings.audit_checkpoint_dir
    found: list[checkpoints.Checkpoint] = []
    try:
        if folder.is_dir() and any(folder.glob("checkpoint-*.json")):
            key_path = public_key or checkpoints.public_key_path(settings.audit_key_file)
            if public_key is None and not key_path.is_file():
                key_path = settings.audit_key_file
            found = checkpoints.read_checkpoints(folder, checkpoints.load_public_key(key_path))
    except checkpoints.CheckpointError as exc:
        typer.echo(f"audit checkpoints BROKEN: {exc}", err=True)
        raise typer.Exit(1) from exc
    store = open_store(settings.database_url)
    try:
        with store.transaction() as session:
            report = audit.verify_chain(session, anchors=checkpoints.anchors(found))
    finally:
        store.dispose()
    if report.ok:
        typer.echo(
            f"audit log intact: {report.num_entries} entries in {report.num_chains} chains, "
            f"{len(found)} signed checkpoints agree"
        )
        if not found:
            typer.echo(
                "no signed checkpoints: deleting the newest entries would not be noticed "
                "(ranopt audit keygen; the server then signs one every "
                f"{settings.audit_checkpoint_interval_s:g} s)",
                err=True,
            )
        return
    chain = "platform" if report.bad_chain == audit.PLATFORM_CHAIN else f"tenant {report.bad_chain}"
    typer.echo(
        f"audit log BROKEN at entry {report.bad_seq} of the {chain} chain: {report.problem} "
        f"({report.num_entries} entries read)",
        err=True,
    )
    raise typer.Exit(1)


@keys_app.command("rotate")
def rotate() -> None:
    """Re-seal every stored secret under the newest key of RANOPT_SECRET_KEYS."""
    settings = load_settings()
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
    settings = load_settings()
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
