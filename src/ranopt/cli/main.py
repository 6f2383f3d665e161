"""The ``ranopt`` console script."""

import typer

from ranopt.cli import optimize, twin

app = typer.Typer(help="ranopt: energy and QoS optimizer for 5G Open RAN.", no_args_is_help=True)
app.add_typer(twin.app, name="twin")
app.command("optimize")(optimize.optimize)


if __name__ == "__main__":
    app()
