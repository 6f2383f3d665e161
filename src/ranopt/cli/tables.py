"""Printing result tables whole: never cut at the terminal's (or a pipe's 80) columns."""

from rich.console import Console
from rich.table import Table


def add_number_column(table: Table, header: str) -> None:
    """Add a right-aligned column whose header wraps between words, never inside one."""
    min_width = max(len(word) for word in header.split())
    table.add_column(header, justify="right", min_width=min_width, overflow="fold")


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` at its natural width when piped; in a terminal, headers wrap instead.

    Rich lays out to 80 columns when the output is not a terminal and squeezes wider tables
    with ellipses; a table people read or keep in a log must keep every header and digit.
    """
    natural = console.measure(table).maximum
    width = max(console.width, console.measure(table).minimum)
    console.print(table, width=width if console.is_terminal else max(width, natural), crop=False)
