"""``ranopt demo`` (the closed loop on the embedded twin, with the dashboard) and fault drills."""

import time
from typing import Annotated

import typer
from rich.console import Console

from ranopt.api.permissions import Role
from ranopt.api.security import generate_password, password_hasher
from ranopt.api.settings import Settings
from ranopt.cli.common import now_s
from ranopt.cli.highs import silence_highs_banner
from ranopt.errors import ValidationError, did_you_mean
from ranopt.ingest.export import twin_topology
from ranopt.service.optimize import cached_twin
from ranopt.store import accounts, audit, loops, runs
from ranopt.store import repository as repo
from ranopt.store.engine import Store, make_engine, open_store, upgrade
from ranopt.store.repository import NotFoundError
from ranopt.twin import scenario_preset

DEMO_TENANT = "demo"
DEMO_ADMIN = "admin"
DEMO_ANALYST = "analyst"
DEMO_USERS = ((DEMO_ADMIN, Role.NETWORK_ADMIN), (DEMO_ANALYST, Role.SECURITY_ANALYST))
DEMO_SCENARIO = "default"
console = Console()


def settings_or_exit(**overrides: object) -> Settings:
    """Return the settings from the environment and ``overrides``; a bad one exits with 2."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        typer.echo(f"configuration: {exc}", err=True)
        raise typer.Exit(2) from exc


def ensure_demo_users(store: Store, settings: Settings) -> tuple[int, dict[str, str]]:
    """Return the demo tenant's id and the passwords of the demo users made now.

    Two users, as an operator would have them: ``admin`` (network_admin: runs the network,
    approves plans) and ``analyst`` (security_analyst: reads the audit log and alerts). No
    role holds both, and a network_admin may not make a security_analyst (no one grants
    beyond their own role), so the demo makes both itself. A user made on an earlier run
    keeps its password; only new users' passwords are returned (shown once).
    """
    made: dict[str, str] = {}
    with store.transaction() as session:
        try:
            tenant = accounts.get_tenant(session, name=DEMO_TENANT)
        except NotFoundError:
            tenant = accounts.create_tenant(session, name=DEMO_TENANT, now_s=now_s())
        for username, role in DEMO_USERS:
            if accounts.user_credentials(session, tenant_id=tenant.id, username=username):
                continue
            password = generate_password()
            user = accounts.create_user(
                session, tenant_id=tenant.id, username=username,
                password_hash=password_hasher(settings).hash(password), role=role.value,
                now_s=now_s(),
            )  # fmt: skip
            audit.append(
                session, ts_s=now_s(), tenant_id=tenant.id, actor="cli:demo",
                action="user.create", target=f"user:{user.id}",
                detail={"username": username, "role": role.value},
            )  # fmt: skip
            made[username] = password
    return tenant.id, made


def _demo_network(store: Store, tenant_id: int) -> str:
    """Return the demo network's name, creating it from the default twin with its loop."""
    with store.transaction() as session:
        existing = repo.list_networks(session, tenant_id=tenant_id)
        if existing:
            return existing[0].name
        spec = scenario_preset(DEMO_SCENARIO, seed=0)
        twin = cached_twin(DEMO_SCENARIO, 0, spec.num_sites, spec.num_ues)
        net = repo.create_network(
            session, tenant_id=tenant_id, topology=twin_topology(twin), now_s=now_s()
        )
        runs.bind_twin(
            session, tenant_id=tenant_id, network_id=net.id, scenario=DEMO_SCENARIO, seed=0,
            num_sites=spec.num_sites, num_ues=spec.num_ues,
        )  # fmt: skip
        loops.configure_loop(
            session, tenant_id=tenant_id, network_id=net.id, enabled=True, auto_apply=True,
            confidence_threshold=0.9, solver="greedy", horizon_intervals=4, now_s=now_s(),
        )  # fmt: skip
        return net.name


def print_logins(out: Console, passwords: dict[str, str], host: str, port: int) -> None:
    """Print the dashboard address and each demo user's login (a new password only once)."""
    out.print(f"  dashboard [link]http://{host}:{port}/[/link]")
    for username, role in DEMO_USERS:
        password = passwords.get(username)
        shown = (
            f"password [bold yellow]{password}[/] (shown once; keep it)"
            if password is not None
            else "password as printed on its first run (`make clean` starts afresh)"
        )
        out.print(
            f"  login     tenant [cyan]{DEMO_TENANT}[/], user [cyan]{username}[/] "
            f"({role.value}), {shown}"
        )


def demo(
    tick_s: Annotated[
        float, typer.Option("--tick-s", min=0.05, help="Wall seconds per 15-minute interval.")
    ] = 1.0,
    host: Annotated[str, typer.Option("--host", help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
) -> None:
    """Run the closed loop on the default twin at accelerated time, with API and dashboard."""
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    from ranopt.api.app import create_app  # noqa: PLC0415

    settings = settings_or_exit(loop_enabled=True, loop_tick_s=tick_s, host=host, port=port)
    engine = make_engine(settings.database_url)
    upgrade(engine)  # the demo's own database follows the code's migrations
    engine.dispose()
    store = open_store(settings.database_url)
    try:
        tenant_id, passwords = ensure_demo_users(store, settings)
        network = _demo_network(store, tenant_id)
    finally:
        store.dispose()
    console.print(f"[bold]ranopt demo[/] — network [cyan]{network}[/] (twin {DEMO_SCENARIO})")
    console.print(f"  data      {settings.database_url}")
    print_logins(console, passwords, host, port)
    console.print(
        "            admin runs the network and approves plans; analyst reads the audit log"
    )
    console.print(
        f"  time      one 15-minute interval every {tick_s:g} s at best (a step that takes longer"
        " sets the pace: the charts' Pace tile shows the pace achieved); Ctrl-C stops"
    )
    silence_highs_banner()  # the loop's solvers run in this process
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def fault(
    cell: Annotated[str, typer.Option("--cell", help="Name of the cell to fail.")],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant.")] = DEMO_TENANT,
    network: Annotated[
        str | None, typer.Option("--network", help="Network name (default: the only one).")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Repair the cell instead.")] = False,
) -> None:
    """Fail a cell in a running loop's twin (or repair it with --clear)."""
    store = open_store()
    try:
        with store.transaction() as session:
            tenant_row = accounts.get_tenant(session, name=tenant)
            nets = repo.list_networks(session, tenant_id=tenant_row.id)
            chosen = [n for n in nets if network is None or n.name == network]
            if len(chosen) != 1:
                names = ", ".join(n.name for n in nets) or "none"
                hint = did_you_mean(network or "", (n.name for n in nets))
                msg = f"--network: choose one of the tenant's networks ({names}){hint}"
                raise ValidationError(msg)
            net = chosen[0]
            binding = runs.twin_binding(session, tenant_id=tenant_row.id, network_id=net.id)
            if binding is None:
                msg = f"--network: {net.name} has no twin"
                raise ValidationError(msg)
            twin = cached_twin(binding.scenario, binding.seed, binding.num_sites, binding.num_ues)
            if cell not in twin.cell_names:
                hint = did_you_mean(cell, twin.cell_names) or f" (e.g. {twin.cell_names[0]})"
                msg = f"--cell: no cell {cell!r} in {net.name}{hint}"
                raise ValidationError(msg)
            if clear:
                cleared = [
                    loops.update_fault(
                        session,
                        tenant_id=tenant_row.id,
                        network_id=net.id,
                        fault_id=f.id,
                        status="cleared",
                        cleared_at=time.time(),
                    )
                    for f in loops.faults(
                        session, tenant_id=tenant_row.id, network_id=net.id, open_only=True
                    )
                    if f.cell_name == cell
                ]
                if not any(cleared):
                    msg = f"--cell: {cell} has no open fault to clear"
                    raise ValidationError(msg)
                typer.echo(f"{cell}: repaired; the loop returns it to service next interval")
                return
            made = loops.request_fault(
                session, tenant_id=tenant_row.id, network_id=net.id,
                cell_index=twin.cell_names.index(cell), cell_name=cell, by="cli:twin-fault",
                at=time.time(),
            )  # fmt: skip
            audit.append(
                session, ts_s=now_s(), tenant_id=tenant_row.id, actor="cli:twin-fault",
                action="fault.inject", target=f"network:{net.id}", detail={"cell": cell},
            )  # fmt: skip
    except (ValidationError, NotFoundError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    finally:
        store.dispose()
    typer.echo(f"fault {made.id}: {cell} fails at the loop's next interval")
