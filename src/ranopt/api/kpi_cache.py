"""The KPI-series cache: encoded answers keyed on the network's KPI generation.

A cached answer is valid exactly as long as its network's generation token
(``ranopt.store.tables.KpiGeneration``) is unchanged: every write to the network's samples
(telemetry batch, VES listener, ``ranopt ingest``, the loop's own counters, a prune, a
topology refresh) replaces the token in the writer's transaction, and every read looks the
token up in the database before it looks in the cache. So a write is visible to the next read
in any worker process or replica, and nothing needs deleting: entries of an old generation are
never asked for again and age out (least recently used in memory, a TTL in Redis).

The cache lives in the process (``memory``) or in Redis (``redis``, shared by every worker
and replica); a Redis that does not answer turns into a miss, never into a failed read.
"""

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from typing import Literal, Protocol

from redis import Redis
from redis.exceptions import RedisError

logger = logging.getLogger("ranopt.api.kpi_cache")

CacheKind = Literal["auto", "memory", "redis", "off"]
Outcome = Literal["hit", "miss", "error"]
REDIS_TIMEOUT_S = 0.25
REDIS_RETRY_AFTER_S = 5.0  # after an error, Redis is asked again only this much later
KEY_PREFIX = "ranopt:kpi:v1"


class SeriesCache(Protocol):
    """Where encoded KPI answers are kept."""

    kind: str

    def get(self, key: str) -> tuple[bytes | None, Outcome]:
        """Return the answer stored under ``key`` (None on a miss) and what happened."""

    def put(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` (best effort)."""


def answer_key(*, tenant_id: int, network_id: int, generation: int, query: str) -> str:
    """Return the key of one answer: tenant, network, generation, a digest of the query.

    ``query`` is the canonical text of everything else the answer depends on (range, bucket,
    cells, counters, the limits that decide between an answer and a 422).
    """
    digest = hashlib.blake2b(query.encode(), digest_size=16).hexdigest()
    return f"{KEY_PREFIX}:{tenant_id}:{network_id}:{generation}:{digest}"


class NoCache:
    """Every read goes to the database (``RANOPT_KPI_CACHE=off``)."""

    kind = "off"

    def get(self, key: str) -> tuple[bytes | None, Outcome]:
        """Return nothing: every read is a miss."""
        del key
        return None, "miss"

    def put(self, key: str, value: bytes) -> None:
        """Keep nothing."""
        del key, value


class MemoryCache:
    """Least-recently-used answers in this process, up to ``max_bytes`` of encoded JSON."""

    kind = "memory"

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bytes | None, Outcome]:
        """Return the entry and mark it recently used."""
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                return None, "miss"
            self._entries.move_to_end(key)
            return value, "hit"

    def put(self, key: str, value: bytes) -> None:
        """Store the entry, evicting the least recently used past the byte budget."""
        if len(value) > self.max_bytes // 4:  # one huge answer would flush everything else
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._entries[key] = value
            self._bytes += len(value)
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted)


class RedisCache:
    """Answers in Redis, shared by every worker and replica, each kept ``ttl_s``.

    A failed call is logged once and counted as ``error``; for ``REDIS_RETRY_AFTER_S`` after
    it every read is a miss without asking Redis, so a dead Redis costs no timeouts per read.
    """

    kind = "redis"

    def __init__(self, url: str, *, ttl_s: int, max_entry_bytes: int) -> None:
        self._client = Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
        )
        self.ttl_s = ttl_s
        self.max_entry_bytes = max_entry_bytes
        self._down_until = 0.0

    def _failed(self, exc: RedisError) -> None:
        if time.monotonic() >= self._down_until:
            logger.warning("KPI cache: Redis unreachable (%s); reading from the database", exc)
        self._down_until = time.monotonic() + REDIS_RETRY_AFTER_S

    def get(self, key: str) -> tuple[bytes | None, Outcome]:
        """Return the entry from Redis; a miss while Redis is down."""
        if time.monotonic() < self._down_until:
            return None, "error"
        try:
            value = self._client.get(key)
        except RedisError as exc:
            self._failed(exc)
            return None, "error"
        if value is None:
            return None, "miss"
        return bytes(value), "hit"  # type: ignore[arg-type]

    def put(self, key: str, value: bytes) -> None:
        """Store the entry with its TTL (skipped while Redis is down)."""
        if len(value) > self.max_entry_bytes or time.monotonic() < self._down_until:
            return
        try:
            self._client.set(key, value, ex=self.ttl_s)
        except RedisError as exc:
            self._failed(exc)


def open_cache(
    kind: CacheKind, *, redis_url: str | None, max_bytes: int, ttl_s: int
) -> SeriesCache:
    """Open the cache ``kind``; ``auto`` is Redis when a Redis URL is configured, else memory."""
    if kind == "off" or max_bytes == 0:
        return NoCache()
    if kind == "redis" or (kind == "auto" and redis_url):
        if not redis_url:
            msg = "RANOPT_KPI_CACHE=redis needs RANOPT_REDIS_URL (or a redis:// rate-limit storage)"
            raise ValueError(msg)
        return RedisCache(redis_url, ttl_s=ttl_s, max_entry_bytes=max_bytes // 4)
    return MemoryCache(max_bytes)
