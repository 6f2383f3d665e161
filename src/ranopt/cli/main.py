"""The ``ranopt`` console script: each command's module is imported only when it runs.

``ranopt --help`` lists the commands from ``COMMANDS`` alone (no numpy, SQLAlchemy, solver or
web framework is imported for it); ``ranopt twin ...`` imports ``ranopt.cli.twin`` and only
what that needs.
"""

import importlib
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

# name: (module, attribute: a Typer app or a command function, the line ``--help`` shows)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "twin": ("ranopt.cli.twin", "app", "Run the network digital twin."),
    "optimize": (
        "ranopt.cli.optimize", "optimize",
        "Plan day D from the days before it, measure confidence, score it on the realised day.",
    ),
    "db": ("ranopt.cli.db", "app", "Database: migrations, retention, backups, restore, drills."),
    "network": ("ranopt.cli.network", "app", "Register, list and calibrate networks."),
    "emulate": (
        "ranopt.cli.emulate", "app",
        "Emulate a RAN (the twin behind O1 NETCONF, A1-P v2, PM XML and VES).",
    ),
    "ingest": (
        "ranopt.cli.ingest", "ingest",
        "Ingest a PM file (TS 28.532 XML, VES JSON, CSV, Parquet) into a network.",
    ),
    "admin": ("ranopt.cli.admin", "admin_app", "Create tenants and users (platform operator)."),
    "audit": (
        "ranopt.cli.admin", "audit_app", "Check the hash-chained audit log; sign checkpoints of it."
    ),
    "ops": ("ranopt.cli.ops", "app", "Operations: database failover, rejoin, cluster status."),
    "deploy": ("ranopt.cli.deploy", "app", "Releases: verify a deployment before traffic moves."),
    "keys": ("ranopt.cli.admin", "keys_app", "Rotate encryption and token-signing keys."),
    "serve": (
        "ranopt.cli.serve", "serve",
        "Run the HTTP API with uvicorn (settings from RANOPT_* variables).",
    ),
    "demo": (
        "ranopt.cli.demo", "demo",
        "Run ranopt against an emulated RAN over O1 and VES, with API and dashboard.",
    ),
}  # fmt: skip


COMPLETION_OPTIONS = ("install_completion", "show_completion")


def load_command(name: str) -> Any:
    """Import command ``name``'s module and return its click command."""
    module, attribute, _ = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_command(target)
    else:
        single = typer.Typer()
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    # shell completion is installed from the root command, not from each one
    command.params = [p for p in command.params if p.name not in COMPLETION_OPTIONS]
    return command


class LazyCommand(TyperCommand):
    """A command known by name and help line; its module is imported when it is invoked."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        """Load the real command and let it parse its arguments."""
        real = load_command(self.name or "")
        return real.make_context(info_name, args, parent=parent, **extra)


class LazyGroup(TyperGroup):
    """The root group: lists ``COMMANDS`` without importing them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, (_, _, help_line) in COMMANDS.items():
            self.commands[name] = LazyCommand(name=name, help=help_line)


app = typer.Typer(
    cls=LazyGroup, help="ranopt: energy and QoS optimizer for 5G Open RAN.", no_args_is_help=True
)


@app.callback()
def main() -> None:
    """List the commands; each one's module loads when it runs."""


if __name__ == "__main__":
    app()
