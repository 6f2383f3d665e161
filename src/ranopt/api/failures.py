"""Rejected credentials in the audit log, aggregated: a bounded number of rows per window.

Writing one audit row per failed attempt lets anyone grow the database at will. Instead,
failures are grouped by (tenant, client address, action) over ``window_s``: the first one of
a window is written at once (so an attack shows up immediately), the rest are counted in
memory and written as one row with their count, reasons and accounts when the window closes
(``flush_due``, which the server calls every few seconds, and ``flush_all`` at shutdown).
At most two rows per group and window, and at most ``max_groups`` groups are counted at once
(further ones fold into one overflow group per window).
"""

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ranopt.store import audit
from ranopt.store.engine import Store

MAX_ACCOUNTS_LISTED = 10
OVERFLOW_ADDRESS = "*"

GroupKey = tuple[int | None, str, str]  # tenant, client address, action


@dataclass
class _Window:
    """The failures of one group since its window opened, beyond the first (already written)."""

    opened_s: float
    target: str
    count: int = 0
    last_s: float = 0.0
    reasons: Counter[str] = field(default_factory=Counter)
    accounts: list[str] = field(default_factory=list)

    def add(self, now_s: float, account: str, reason: str) -> None:
        self.count += 1
        self.last_s = now_s
        self.reasons[reason] += 1
        if account not in self.accounts and len(self.accounts) < MAX_ACCOUNTS_LISTED:
            self.accounts.append(account)


class FailureAudit:
    """Aggregates rejected credentials into at most two audit rows per group and window."""

    def __init__(self, store: Store, *, window_s: float = 60.0, max_groups: int = 10_000) -> None:
        self._store = store
        self.window_s = window_s
        self._max_groups = max_groups
        self._open: dict[GroupKey, _Window] = {}
        self._lock = threading.Lock()

    def record(
        self,
        *,
        tenant_id: int | None,
        address: str,
        action: str,
        account: str,
        target: str,
        reason: str,
        now_s: float | None = None,
    ) -> None:
        """Count one rejected credential; write a row for the first of its window."""
        now = time.time() if now_s is None else now_s
        due: list[tuple[GroupKey, _Window]] = []
        with self._lock:
            key: GroupKey = (tenant_id, address, action)
            if key not in self._open and len(self._open) >= self._max_groups:
                key = (None, OVERFLOW_ADDRESS, action)
            window = self._open.get(key)
            if window is not None and now - window.opened_s >= self.window_s:
                due.append((key, self._open.pop(key)))
                window = None
            first = window is None
            if window is None:
                self._open[key] = _Window(opened_s=now, target=target)
            else:
                window.add(now, account, reason)
        for closed_key, closed in due:
            self._write_summary(closed_key, closed)
        if first:
            self._write(
                key, now,
                {"count": 1, "reason": reason, "account": account, "window_s": self.window_s},
                target,
            )  # fmt: skip

    def flush_due(self, now_s: float | None = None) -> int:
        """Write the summaries of windows that have closed; return how many rows."""
        now = time.time() if now_s is None else now_s
        with self._lock:
            due = [(k, w) for k, w in self._open.items() if now - w.opened_s >= self.window_s]
            for key, _ in due:
                del self._open[key]
        for key, window in due:
            self._write_summary(key, window)
        return sum(1 for _, w in due if w.count)

    def flush_all(self) -> int:
        """Write every open window's summary now (at shutdown)."""
        return self.flush_due(now_s=float("inf"))

    def _write_summary(self, key: GroupKey, window: _Window) -> None:
        if window.count == 0:
            return
        detail = {
            "count": window.count,
            "aggregated": True,
            "window_start_s": int(window.opened_s),
            "last_s": int(window.last_s),
            "window_s": self.window_s,
            "reasons": dict(window.reasons),
            "accounts": window.accounts,
        }
        self._write(key, window.last_s, detail, window.target)

    def _write(self, key: GroupKey, at_s: float, detail: dict[str, Any], target: str) -> None:
        tenant_id, address, action = key
        with self._store.transaction() as session:
            audit.append(
                session, ts_s=int(at_s), tenant_id=tenant_id, actor=f"ip:{address}",
                action=action, target=target, outcome="failure", detail=detail,
            )  # fmt: skip
