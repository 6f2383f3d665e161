"""Per-identity rate limits (``limits``: in memory, or Redis for several replicas).

The sliding-window counter costs O(1) per hit (the moving window keeps one timestamp per
request, which is ruinous at high limits) and approximates the moving window from the
current and previous fixed windows.
"""

import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from ranopt.api.errors import ProblemError


class RateLimiter:
    """One limit for API calls per identity, one for login attempts per (tenant, user)."""

    def __init__(self, storage_uri: str, api_rate: str, login_rate: str) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(storage_from_string(storage_uri))
        self._api = parse(api_rate)
        self._login = parse(login_rate)

    def _hit(self, limit: object, *keys: str) -> None:
        if self._limiter.hit(limit, *keys):  # type: ignore[arg-type]
            return
        stats = self._limiter.get_window_stats(limit, *keys)  # type: ignore[arg-type]
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise ProblemError(
            429,
            f"rate limit {limit} exceeded; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )

    def hit_api(self, identity: str) -> None:
        """Count one API call of ``identity``; raise 429 past the limit."""
        self._hit(self._api, "api", identity)

    def hit_login(self, tenant: str, username: str) -> None:
        """Count one login attempt for the account; raise 429 past the limit."""
        self._hit(self._login, "login", tenant, username)
