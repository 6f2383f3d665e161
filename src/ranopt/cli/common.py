"""What the data commands share: the tenant option, opening the store, the clock."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from ranopt.store import repository as repo
from ranopt.store.engine import Store, open_store

TenantOpt = Annotated[
    str, typer.Option("--tenant", help="Tenant whose data this is (embedded default: default).")
]


def now_s() -> int:
    """Return the wall clock in epoch seconds (the shell reads the clock, not the core)."""
    return int(time.time())


@contextmanager
def cli_store() -> Iterator[Store]:
    """Open the store named by the environment (``RANOPT_DATABASE_URL``), migrating if empty.

    Its connections are closed when the command ends.
    """
    store = open_store()
    try:
        yield store
    finally:
        store.dispose()


def tenant_id(store: Store, name: str) -> int:
    """Return the tenant's id, creating the tenant on first use."""
    with store.transaction() as session:
        return repo.ensure_tenant(session, name=name, now_s=now_s())
