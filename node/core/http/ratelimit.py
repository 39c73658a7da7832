"""Token-bucket rate limits and quotas, keyed by principal or client address (node and wallet).

A :class:`RateLimiter` holds one bucket per key (``"department:market"``, ``"ip:203.0.113.7"``):
``capacity`` tokens, refilled continuously at ``rate`` tokens per second. :meth:`RateLimiter.take`
spends ``cost`` tokens or raises :class:`RateLimitedError` (HTTP 429) whose ``retry_after`` says
in whole seconds when the same request would pass; the app's error handler
(``node.api.errors``) sends it as the ``Retry-After`` header. The same class is a request rate
(cost 1 per request) or a quota (cost = number of hashes anchored).

Usage::

    from credledger.node.core.http.ratelimit import RateLimiter, client_key

    logins = RateLimiter.per_minute(10, burst=5)
    logins.take(client_key(request))           # 429 + Retry-After when over
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from starlette.requests import HTTPConnection

from credledger.node.core.errors import CredledgerError


class RateLimitedError(CredledgerError):
    """Too many requests (or hashes) from one principal or address; retry after a while."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retryAfter=retry_after)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RateLimiter:
    """Thread-safe token buckets; idle full buckets are forgotten past ``max_keys`` keys."""

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        what: str = "requests",
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self.what = what
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    @classmethod
    def per_minute(cls, count: float, burst: float, **kw: object) -> RateLimiter:
        return cls(count / 60.0, burst, **kw)  # type: ignore[arg-type]

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - at) * self.rate)

    def wait_time(self, key: str, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are there (0: now); spends nothing."""
        with self._lock:
            level = self._level(key, self._clock())
        return max(0.0, (min(cost, self.capacity) - level) / self.rate)

    def take(self, key: str, cost: float = 1.0) -> None:
        """Spend ``cost`` tokens of ``key``'s bucket or raise :class:`RateLimitedError`."""
        with self._lock:
            now = self._clock()
            level = self._level(key, now)
            if cost > level:
                # a cost above the capacity can never pass: say when a full bucket would be there
                wait = (min(cost, self.capacity) - level) / self.rate
                retry = max(1, math.ceil(wait))
                self._buckets[key] = (level, now)
                if cost > self.capacity:
                    raise RateLimitedError(
                        f"{cost:g} {self.what} at once is over the limit of {self.capacity:g}; "
                        "split the request",
                        retry_after=retry,
                    )
                raise RateLimitedError(
                    f"too many {self.what} from {key.split(':', 1)[0]} {key.split(':', 1)[-1]}; "
                    f"retry in {retry} s",
                    retry_after=retry,
                )
            self._buckets[key] = (level - cost, now)
            if len(self._buckets) > self.max_keys:
                self._forget_full(now)

    def _forget_full(self, now: float) -> None:
        full = [k for k in self._buckets if self._level(k, now) >= self.capacity]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) > self.max_keys:  # still too many: drop the oldest
            for k, _ in sorted(self._buckets.items(), key=lambda kv: kv[1][1])[
                : len(self._buckets) - self.max_keys
            ]:
                del self._buckets[k]

    def __len__(self) -> int:
        return len(self._buckets)


def client_key(conn: HTTPConnection) -> str:
    """The rate-limit key of an unauthenticated caller: its client address.

    Behind a reverse proxy run uvicorn with ``--forwarded-allow-ips`` so this is the real client.
    """
    host = conn.client.host if conn.client else "unknown"
    return f"ip:{host}"
