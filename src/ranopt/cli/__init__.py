"""Command-line shell: Typer commands over the core and the services."""
