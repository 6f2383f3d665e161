"""The API request log: who called which route template, for which tenant, from where, how it went.

Requests are buffered in memory and written in batches (``RequestLogWriter.flush``, every
``flush_s`` or ``flush_rows`` requests, and at shutdown), so logging costs no transaction per
request; a crash loses at most the last batch. The log is bounded: rows older than
``retention_days`` and beyond ``max_rows`` are deleted (checked at most hourly), and a full
buffer drops requests and counts them (``dropped``) rather than grow. No body, query string,
header or credential is kept.
"""

import threading
import time
from collections.abc import Sequence
from dataclasses import astuple, dataclass

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session

from ranopt.detect.security import RequestEvent
from ranopt.store.engine import Store
from ranopt.store.tables import RequestLogEntry

SECONDS_PER_DAY = 86_400
PRUNE_EVERY_S = 3_600
COLUMNS = ("ts_s", "tenant_id", "principal", "via", "method", "route", "network_id", "status",
           "client")  # fmt: skip


@dataclass(frozen=True)
class RequestRecord:
    """One request as the middleware saw it."""

    ts_s: int
    tenant_id: int | None
    principal: str  # "user:7", "apikey:rk_...", "-" (not authenticated)
    via: str  # jwt, api_key, basic, oidc, none
    method: str
    route: str  # the route template, or "unmatched"
    network_id: int | None
    status: int
    client: str


class RequestOut(BaseModel):
    """A request-log row as the API shows it."""

    model_config = ConfigDict(frozen=True)

    id: int
    ts_s: int
    principal: str
    via: str
    method: str
    route: str
    network_id: int | None
    status: int
    client: str


class RequestLogWriter:
    """Buffers request records and writes them in batches (thread-safe)."""

    def __init__(
        self,
        store: Store,
        *,
        retention_days: int = 30,
        max_rows: int = 1_000_000,
        flush_s: float = 2.0,
        flush_rows: int = 200,
        max_buffer: int = 50_000,
    ) -> None:
        self._store = store
        self.retention_days = retention_days
        self.max_rows = max_rows
        self.flush_s = flush_s
        self.flush_rows = flush_rows
        self.max_buffer = max_buffer
        self._buffer: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._last_flush = time.monotonic()
        self._last_prune = 0.0
        self.dropped = 0

    def add(self, record: RequestRecord) -> bool:
        """Buffer one record; return whether a flush is due."""
        with self._lock:
            if len(self._buffer) >= self.max_buffer:
                self.dropped += 1
            else:
                self._buffer.append(record)
            return (
                len(self._buffer) >= self.flush_rows
                or time.monotonic() - self._last_flush >= self.flush_s
            )

    def flush(self) -> int:
        """Write the buffered records in one transaction; return how many (0 if busy)."""
        if not self._flushing.acquire(blocking=False):
            return 0
        try:
            with self._lock:
                rows, self._buffer = self._buffer, []
                self._last_flush = time.monotonic()
            if rows:
                try:
                    with self._store.transaction() as session:
                        session.execute(
                            insert(RequestLogEntry),
                            [dict(zip(COLUMNS, astuple(r), strict=True)) for r in rows],
                        )
                except Exception:
                    with self._lock:  # keep them for the next flush, within the bound
                        self._buffer[:0] = rows[: max(0, self.max_buffer - len(self._buffer))]
                    raise
            if time.time() - self._last_prune >= PRUNE_EVERY_S:
                self._last_prune = time.time()
                with self._store.transaction() as session:
                    prune(session, now_s=int(self._last_prune), retention_days=self.retention_days,
                          max_rows=self.max_rows)  # fmt: skip
            return len(rows)
        finally:
            self._flushing.release()


def prune(session: Session, *, now_s: int, retention_days: int, max_rows: int) -> int:
    """Delete rows older than the retention and beyond the row cap; return how many."""
    cutoff = now_s - retention_days * SECONDS_PER_DAY
    old = session.execute(delete(RequestLogEntry).where(RequestLogEntry.ts_s < cutoff))
    deleted = int(getattr(old, "rowcount", 0))
    newest = session.scalar(select(func.max(RequestLogEntry.id)))
    if newest is not None and newest > max_rows:
        extra = session.execute(
            delete(RequestLogEntry).where(RequestLogEntry.id <= newest - max_rows)
        )
        deleted += int(getattr(extra, "rowcount", 0))
    return deleted


def list_requests(
    session: Session, *, tenant_id: int, limit: int = 100, before_id: int | None = None
) -> list[RequestOut]:
    """Return the tenant's requests, newest first (``before_id`` pages back)."""
    query = select(RequestLogEntry).where(RequestLogEntry.tenant_id == tenant_id)
    if before_id is not None:
        query = query.where(RequestLogEntry.id < before_id)
    rows = session.scalars(query.order_by(RequestLogEntry.id.desc()).limit(limit))
    return [RequestOut.model_validate(r, from_attributes=True) for r in rows]


def requests_by_id(session: Session, *, ids: list[int]) -> list[RequestOut]:
    """Return the rows with these ids (evidence of a finding), oldest first."""
    if not ids:
        return []
    rows = session.scalars(
        select(RequestLogEntry).where(RequestLogEntry.id.in_(ids)).order_by(RequestLogEntry.id)
    )
    return [RequestOut.model_validate(r, from_attributes=True) for r in rows]


def events_after(
    session: Session, *, after_id: int, limit: int, also: Sequence[int] = ()
) -> list[RequestEvent]:
    """Return every tenant's rows after ``after_id`` (and the ids ``also``), in id order."""
    t = RequestLogEntry.__table__.c
    where = t.id > after_id if not also else or_(t.id > after_id, t.id.in_(list(also)))
    rows = session.execute(
        select(t.id, t.ts_s, t.tenant_id, t.principal, t.via, t.method, t.route, t.network_id,
               t.status, t.client)
        .where(where).order_by(t.id).limit(limit)
    ).all()  # fmt: skip
    return [RequestEvent(*row) for row in rows]
