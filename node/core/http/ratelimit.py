"""Rate limits and quotas for node and wallet, on the maintained ``limits`` package.

A :class:`RateLimiter` is one or more ``limits`` rate-limit items (``"5/10 seconds"``,
``"10/minute"``, or :class:`limits.RateLimitItem` objects) counted per key (``"department:market"``,
``"ip:203.0.113.7"``, ``"account:…"``) in the library's in-memory storage, whose entries expire by
themselves (idle keys cost nothing). Two of the library's strategies:

- the **sliding window counter** (the default): O(1) a hit whatever the cost (a quota of
  200,000 hashes is two counters), the previous window's count weighted by its share of the
  sliding window — approximate at a window's edge, right for request rates and quotas;
- the **moving window** (``exact=True``): a timestamp per unit, so "at most N in any W seconds"
  holds exactly — for throttles of failed sign-ins (few, cost 1), where the N+1st try must be
  refused whenever it comes.

:meth:`RateLimiter.take` spends ``cost`` units of every item
or raises :class:`RateLimitedError` (HTTP 429) whose ``retry_after`` says in whole seconds when
the same request would pass; the app's error handler (``core.http.errors``) sends it as the
``Retry-After`` header. The same class is a request rate (cost 1 per request), a quota (cost =
number of hashes anchored) or a throttle of failed sign-ins (spend on a failure only, ask
:meth:`RateLimiter.wait_time` before trying; a success spends nothing).

``RateLimiter.per_minute(count, burst)`` is the settings' form ("``count`` a minute, ``burst`` at
once"): ``burst`` per ``burst / count`` minutes, i.e. the full burst is back when a token bucket
of that rate and capacity would be full again.

No fast path is hand-written here: a ``take`` costs 5.8 µs with the library against 0.7 µs for
the hand-written token bucket it replaced (timeit, one key, this machine), about 3 % of the
0.16–0.19 ms of node CPU a read-path request costs (``bench/read_path_bench.py``, README table).

Usage::

    from credledger.node.core.http.ratelimit import RateLimiter, client_key

    logins = RateLimiter("5/10 seconds", "10/minute", what="failed sign-ins")
    logins.take(client_key(request))           # 429 + Retry-After when over
"""

from __future__ import annotations

import math
import threading
import time

from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
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
    """Thread-safe sliding-window limits per key (every item must admit a hit)."""

    def __init__(
        self, *items: RateLimitItem | str, what: str = "requests", exact: bool = False
    ) -> None:
        if not items:
            raise ValueError("a rate limiter needs at least one limit")
        self.items = [parse(i) if isinstance(i, str) else i for i in items]
        if any(i.amount <= 0 for i in self.items):
            raise ValueError("limits must be positive")
        self.what = what
        self._storage = MemoryStorage()
        self.exact = exact
        self._limiter = (
            MovingWindowRateLimiter(self._storage)
            if exact
            else SlidingWindowCounterRateLimiter(self._storage)
        )
        self._single = self.items[0] if len(self.items) == 1 else None
        self._lock = threading.Lock()  # test-then-hit of several items is one step

    @classmethod
    def per_second(cls, rate: float, burst: int, *, what: str = "requests") -> RateLimiter:
        """``burst`` at once, ``rate`` a second on average (a window of ``burst / rate`` s)."""
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        window = max(1, math.ceil(burst / rate))
        return cls(RateLimitItemPerSecond(int(burst), window), what=what)

    @classmethod
    def per_minute(cls, count: float, burst: int, *, what: str = "requests") -> RateLimiter:
        return cls.per_second(count / 60.0, burst, what=what)

    @property
    def capacity(self) -> int:
        """The largest cost one request may have."""
        return min(i.amount for i in self.items)

    def _wait(self, item: RateLimitItem, key: str, cost: int) -> float:
        """Seconds until ``item`` admits ``cost`` for ``key`` (0: now), by the library's rule.

        Moving window: when the oldest entry inside the window leaves it (exact for cost 1, the
        cost it is used with). Sliding window counter: when ``floor(weighted count) + cost <=
        amount``, the previous window's count weighted by its share still inside the window."""
        window = item.get_expiry()
        if self.exact:
            reset, remaining = self._limiter.get_window_stats(item, key)
            return 0.0 if remaining >= cost else max(0.0, reset - time.time())
        prev, prev_left, cur, cur_left = self._storage.get_sliding_window(item.key_for(key), window)
        target = item.amount - min(cost, item.amount) + 1  # admitted while weighted < target
        if prev * prev_left / window + cur < target:
            return 0.0
        to_roll = cur_left - window  # until the current window becomes the previous one
        if cur < target:  # the previous window's share decays enough before the roll
            return max(0.0, to_roll - (target - cur) * window / prev)
        return max(0.0, to_roll + window - target * window / cur)

    def wait_time(self, key: str, cost: int = 1) -> float:
        """Seconds after which ``cost`` passes for ``key`` (any moment later; 0: now); spends
        nothing. ``Retry-After`` is this rounded up to whole seconds."""
        with self._lock:
            return max(self._wait(i, key, cost) for i in self.items)

    def take(self, key: str, cost: int = 1) -> None:
        """Spend ``cost`` of ``key``'s every limit or raise :class:`RateLimitedError`."""
        with self._lock:
            if self._single is not None:  # one item: the hit itself says whether it passed
                if self._limiter.hit(self._single, key, cost=cost):
                    return
            elif all(self._limiter.test(i, key, cost=cost) for i in self.items):
                for i in self.items:
                    self._limiter.hit(i, key, cost=cost)
                return
            retry = max(1, math.ceil(max(self._wait(i, key, cost) for i in self.items)))
        if cost > self.capacity:
            raise RateLimitedError(
                f"{cost:g} {self.what} at once is over the limit of {self.capacity:g}; "
                "split the request",
                retry_after=retry,
            )
        who, _, name = key.partition(":")
        raise RateLimitedError(
            f"too many {self.what} from {who} {name or who}; retry in {retry} s",
            retry_after=retry,
        )

    def clear(self, key: str) -> None:
        """Forget what ``key`` spent (e.g. an account's failed sign-ins after a success)."""
        with self._lock:
            for i in self.items:
                self._limiter.clear(i, key)

    def __len__(self) -> int:
        """Live counters (expired ones are dropped as they are counted)."""
        return sum(1 for k in list(self._storage.storage) if self._storage.get(k))


def client_key(conn: HTTPConnection) -> str:
    """The rate-limit key of an unauthenticated caller: its client address.

    That is the connection's peer unless the peer is one of ``api.trusted_proxies``, whose
    ``X-Forwarded-For`` then names the client (:func:`credledger.node.core.http.server.serve`
    sets uvicorn up so; an ``X-Forwarded-For`` from anyone else changes nothing).
    """
    host = conn.client.host if conn.client else "unknown"
    return f"ip:{host}"
