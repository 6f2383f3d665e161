"""Rate limits (``limits``: in memory, or Redis for several replicas).

``RateLimiter`` counts authenticated API calls per identity. ``CredentialGuard`` is the one
limiter of failed credentials on every path (login form, bearer token, API key, HTTP basic):
failures are counted per client address and per (account, address); past a free allowance
each further failure doubles a back-off during which that address (or that account from that
address) is refused with 429 before any password hash is computed. Nothing is ever locked for
everyone: the account's owner at another address is not affected by someone guessing here.

The sliding-window counter costs O(1) per hit (the moving window keeps one timestamp per
request, which is ruinous at high limits) and approximates the moving window from the
current and previous fixed windows.
"""

import math
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from ranopt.api.errors import ProblemError


def too_many(retry_after_s: float, detail: str) -> ProblemError:
    """Return a 429 with ``Retry-After`` (whole seconds, at least 1)."""
    retry = max(1, math.ceil(retry_after_s))
    return ProblemError(429, f"{detail}; retry in {retry} s", headers={"Retry-After": str(retry)})


class LocalWindowCounter:
    """The sliding-window counter of ``limits``, kept in this process without timer threads.

    ``limits``' memory storage starts a thread to expire its counters whenever the previous
    one has finished, which at hundreds of requests a second costs more than the request; this
    keeps per identity the counts of the current and the previous fixed window and weighs the
    previous one by how much of it the sliding window still covers.
    """

    MAX_KEYS = 100_000

    def __init__(self, limit: RateLimitItem) -> None:
        self.amount = limit.amount
        self.period_s = float(limit.get_expiry())
        self._counts: dict[str, tuple[int, int, int]] = {}  # key -> (window, current, previous)
        self._lock = threading.Lock()

    def hit(self, key: str, now_s: float) -> float | None:
        """Count one hit; return None when allowed, else the seconds until one would be."""
        window = int(now_s // self.period_s)
        elapsed = now_s - window * self.period_s
        with self._lock:
            seen, current, previous = self._counts.get(key, (window, 0, 0))
            if seen != window:
                previous = current if seen == window - 1 else 0
                current = 0
            weighted = previous * (self.period_s - elapsed) / self.period_s + current
            if weighted + 1 > self.amount:
                self._counts[key] = (window, current, previous)
                return self.period_s - elapsed
            if len(self._counts) >= self.MAX_KEYS and key not in self._counts:
                self._counts = {k: v for k, v in self._counts.items() if v[0] >= window - 1}
            self._counts[key] = (window, current + 1, previous)
            return None


class RateLimiter:
    """One limit for API calls per identity (in this process, or shared through Redis)."""

    def __init__(self, storage: Storage, api_rate: str) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._api = parse(api_rate)
        self._local = LocalWindowCounter(self._api) if isinstance(storage, MemoryStorage) else None

    def hit_api(self, identity: str) -> None:
        """Count one API call of ``identity``; raise 429 past the limit."""
        detail = f"rate limit {self._api} exceeded"
        if self._local is not None:
            wait_s = self._local.hit(identity, time.time())
            if wait_s is not None:
                raise too_many(wait_s, detail)
            return
        if self._limiter.hit(self._api, "api", identity):
            return
        stats = self._limiter.get_window_stats(self._api, "api", identity)
        raise too_many(stats.reset_time - time.time(), detail)


def open_storage(uri: str) -> Storage:
    """Open the limits storage (``memory://`` or ``redis://...``; synchronous ones only)."""
    storage = storage_from_string(uri)
    if not isinstance(storage, Storage):
        msg = f"RANOPT_RATE_LIMIT_STORAGE_URI: {uri!r} is an asyncio storage"
        raise ValueError(msg)
    return storage


@dataclass(frozen=True)
class BackoffPolicy:
    """How many failures are free, over which window, and how back-off grows."""

    free_per_account: int
    free_per_address: int
    window_s: int
    base_s: float
    max_s: float

    def delay_s(self, failures: int, free: int) -> float:
        """Back-off after the ``failures``-th failure: 0 while free, then base * 2^k, capped."""
        excess = failures - free
        if excess <= 0:
            return 0.0
        return min(self.max_s, self.base_s * 2.0 ** min(excess - 1, 60))


class CredentialGuard:
    """Counts failed credentials per address and per (account, address); refuses in back-off.

    Call ``check`` before verifying a credential (raises 429, costs a few dictionary or Redis
    lookups), ``failed`` after a wrong one, ``succeeded`` after a right one.
    """

    def __init__(self, storage: Storage, policy: BackoffPolicy) -> None:
        self._storage = storage
        self.policy = policy

    @staticmethod
    def _keys(address: str, account: str | None) -> list[tuple[str, str]]:
        keys = [("address", f"ranopt/auth/addr/{address}")]
        if account is not None:
            keys.append(("account", f"ranopt/auth/acct/{account}|{address}"))
        return keys

    def check(self, address: str, account: str | None) -> None:
        """Raise 429 while the address, or the account from this address, is backing off."""
        now = time.time()
        for kind, key in self._keys(address, account):
            if self._storage.get(f"{key}/block") > 0:
                retry = self._storage.get_expiry(f"{key}/block") - now
                what = "this address" if kind == "address" else "this account from this address"
                raise too_many(retry, f"too many failed credentials from {what}")

    def failed(self, address: str, account: str | None) -> None:
        """Count one failure; start or lengthen the back-off once past the free allowance."""
        policy = self.policy
        for kind, key in self._keys(address, account):
            failures = self._storage.incr(f"{key}/n", policy.window_s)
            free = policy.free_per_address if kind == "address" else policy.free_per_account
            delay = policy.delay_s(failures, free)
            if delay > 0:
                self._storage.clear(f"{key}/block")
                self._storage.incr(f"{key}/block", max(1, math.ceil(delay)))

    def succeeded(self, address: str, account: str | None) -> None:
        """Forget the account's failures from this address (the address count stays)."""
        if account is not None:
            _, key = self._keys(address, account)[1]
            self._storage.clear(f"{key}/n")
            self._storage.clear(f"{key}/block")
