"""The ``ranopt`` console script."""

import typer

from ranopt.cli import admin, db, emulate, ingest, loop, network, optimize, serve, twin

app = typer.Typer(help="ranopt: energy and QoS optimizer for 5G Open RAN.", no_args_is_help=True)
app.add_typer(twin.app, name="twin")
app.command("optimize")(optimize.optimize)
app.add_typer(db.app, name="db")
app.add_typer(network.app, name="network")
app.add_typer(emulate.app, name="emulate")
app.command("ingest")(ingest.ingest)
app.add_typer(admin.admin_app, name="admin")
app.add_typer(admin.audit_app, name="audit")
app.add_typer(admin.keys_app, name="keys")
app.command("serve")(serve.serve)
app.command("demo")(loop.demo)
twin.app.command("fault")(loop.fault)


if __name__ == "__main__":
    app()
