"""Leases: one holder at a time for a named duty (a network's loop, the backup schedule).

A lease row carries its holder, an expiry on the database's clock and a fencing token. A
replica takes a lease that is free or expired (the token then grows by one) and renews it
while it works; ``fence`` checks, first thing in each of the holder's transactions, that the
token is still its own and locks the row ``FOR SHARE`` until the transaction ends. A takeover
(an ``UPDATE`` of the row) therefore waits for the holder's open transaction, and every later
transaction of a deposed holder fails: a write lands either before the successor began or
not at all. SQLite serialises writers itself (``FOR SHARE`` is ignored there).
"""

from dataclasses import dataclass

from sqlalchemy import func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ranopt.errors import RanoptError
from ranopt.store.tables import Lease as LeaseRow

UNIX_EPOCH_JULIAN_DAY = 2440587.5  # julianday('1970-01-01')
SECONDS_PER_DAY = 86_400.0


class LeaseLost(RanoptError):  # noqa: N818 - a state, not a failure of the caller
    """The lease passed to another holder: the work it guarded must stop."""


@dataclass(frozen=True)
class Lease:
    """A lease as its holder knows it: name, holder, fencing token and expiry (DB clock)."""

    name: str
    holder: str
    token: int
    expires_s: float
    due_s: float | None  # when the holder's next run is due (DB clock), as last recorded


def db_now_s(session: Session) -> float:
    """Return the database's clock in epoch seconds (one clock for every replica)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        now = session.scalar(select(func.extract("epoch", func.clock_timestamp())))
    else:
        now = session.scalar(
            select((func.julianday("now") - literal(UNIX_EPOCH_JULIAN_DAY)) * SECONDS_PER_DAY)
        )
    if now is None:  # pragma: no cover - both expressions always yield a value
        msg = "the database returned no time"
        raise RanoptError(msg)
    return float(now)


def _insert_free(session: Session, name: str) -> None:
    """Create the lease's row, expired and held by nobody, unless it exists."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(LeaseRow)
        .values(name=name, holder="", token=0, expires_s=0.0, acquired_s=0.0, due_s=None)
        .on_conflict_do_nothing(index_elements=["name"])
    )


def _out(row: LeaseRow) -> Lease:
    return Lease(row.name, row.holder, row.token, row.expires_s, row.due_s)


def acquire(
    session: Session, *, name: str, holder: str, ttl_s: float, renew: bool = True
) -> Lease | None:
    """Take or renew the lease ``name`` for ``ttl_s`` seconds; None while another holds it.

    A holder renewing its unexpired lease keeps its token (``renew=False``: None then, for a
    duty done once per lease, such as a scheduled backup); a lease taken (free, expired, or
    the holder's own after it expired) gets the next token.
    """
    _insert_free(session, name)
    row = session.scalars(select(LeaseRow).where(LeaseRow.name == name).with_for_update()).one()
    now = db_now_s(session)
    if row.holder == holder and row.expires_s > now:
        if not renew:
            return None
        row.expires_s = now + ttl_s
    elif row.expires_s <= now:
        row.holder, row.token = holder, row.token + 1
        row.acquired_s, row.expires_s = now, now + ttl_s
    else:
        return None
    session.flush()
    return _out(row)


def renew(session: Session, *, lease: Lease, ttl_s: float) -> Lease | None:
    """Extend a held lease by ``ttl_s`` from now; None if it passed to another holder."""
    now = db_now_s(session)
    done = session.execute(
        update(LeaseRow)
        .where(
            LeaseRow.name == lease.name,
            LeaseRow.holder == lease.holder,
            LeaseRow.token == lease.token,
        )
        .values(expires_s=now + ttl_s)
        .returning(LeaseRow.due_s)
    ).one_or_none()
    if done is None:
        return None
    return Lease(lease.name, lease.holder, lease.token, now + ttl_s, done[0])


def fence(session: Session, lease: Lease) -> None:
    """Raise ``LeaseLost`` unless ``lease`` is still held with its token; lock it till commit.

    Called first in each of the holder's transactions: a takeover waits for the transaction,
    and a transaction after a takeover fails here, before it wrote anything.
    """
    held = session.scalar(
        select(LeaseRow.token)
        .where(
            LeaseRow.name == lease.name,
            LeaseRow.holder == lease.holder,
            LeaseRow.token == lease.token,
        )
        .with_for_update(read=True)
    )
    if held is None:
        msg = f"lease {lease.name!r} (token {lease.token}) passed to another holder"
        raise LeaseLost(msg)


def set_due(session: Session, *, lease: Lease, in_s: float) -> float:
    """Record that the holder's next run is due ``in_s`` seconds from now; return when."""
    fence(session, lease)
    due = db_now_s(session) + in_s
    session.execute(update(LeaseRow).where(LeaseRow.name == lease.name).values(due_s=due))
    return due


def release(session: Session, *, lease: Lease) -> bool:
    """Give a held lease up at once (a clean shutdown): another holder may take it now."""
    done = session.execute(
        update(LeaseRow)
        .where(
            LeaseRow.name == lease.name,
            LeaseRow.holder == lease.holder,
            LeaseRow.token == lease.token,
        )
        .values(expires_s=0.0)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def leases(session: Session, *, prefix: str = "") -> list[Lease]:
    """Return the leases whose name starts with ``prefix`` (operators' view)."""
    rows = session.scalars(
        select(LeaseRow).where(LeaseRow.name.startswith(prefix)).order_by(LeaseRow.name)
    )
    return [_out(r) for r in rows]
