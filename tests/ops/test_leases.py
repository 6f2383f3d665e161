"""Leases on a real database: one holder, takeover after expiry, and the fencing token."""

import threading
import time

import pytest
from sqlalchemy import delete, func, select

from ranopt.store import leases
from ranopt.store import repository as repo
from ranopt.store.engine import Store, open_store
from ranopt.store.leases import LeaseLost
from ranopt.store.tables import Lease as LeaseRow
from ranopt.store.tables import Tenant


def _acquire(store: Store, holder: str, ttl_s: float) -> leases.Lease | None:
    with store.transaction() as session:
        return leases.acquire(session, name="loop:1", holder=holder, ttl_s=ttl_s)


def test_one_holder_until_expiry_then_a_new_token(store: Store) -> None:
    a = _acquire(store, "a", 0.5)
    assert a is not None
    assert a.token == 1
    assert _acquire(store, "b", 0.5) is None  # held
    again = _acquire(store, "a", 0.5)  # renewing keeps the token
    assert again is not None
    assert again.token == 1
    time.sleep(0.6)
    b = _acquire(store, "b", 10.0)
    assert b is not None
    assert b.token == 2
    with store.transaction() as session:
        assert leases.renew(session, lease=a, ttl_s=10.0) is None  # a learns it lost it


def test_a_deposed_holder_writes_nothing(store: Store) -> None:
    a = _acquire(store, "a", 0.3)
    assert a is not None
    fenced = store.fenced(lambda session: leases.fence(session, a))
    with fenced.transaction() as session:  # still the holder: writes
        repo.ensure_tenant(session, name="before", now_s=0)
    time.sleep(0.4)
    assert _acquire(store, "b", 10.0) is not None
    with pytest.raises(LeaseLost), fenced.transaction() as session:
        repo.ensure_tenant(session, name="after", now_s=0)
    with store.transaction() as session:
        names = set(session.scalars(select(Tenant.name)))
        assert session.scalar(select(func.count()).select_from(Tenant)) == len(names)
    assert "before" in names
    assert "after" not in names


def test_a_takeover_waits_for_the_holders_open_transaction(pg_url: str) -> None:
    """PostgreSQL only: SQLite serialises writers itself (FOR SHARE is PostgreSQL's)."""
    store = open_store(pg_url)
    with store.transaction() as session:
        session.execute(delete(LeaseRow))
    a = _acquire(store, "a", 0.2)
    assert a is not None
    fenced = store.fenced(lambda session: leases.fence(session, a))
    taken: list[float] = []

    def take_over() -> None:
        while (lease := _acquire(store, "b", 10.0)) is None:
            time.sleep(0.05)
        taken.append(time.monotonic())
        assert lease.token == 2

    with fenced.transaction() as session:
        time.sleep(0.3)  # the lease expires while the holder's transaction is open
        thief = threading.Thread(target=take_over)
        thief.start()
        time.sleep(0.5)
        assert not taken, "the takeover did not wait for the holder's transaction"
        repo.ensure_tenant(session, name="last-write", now_s=0)
        committed = time.monotonic()
    thief.join(10)
    store.dispose()
    assert taken
    assert taken[0] >= committed
