"""The requests the wallet has read and checked, kept until they expire (at most 10 minutes): a
verifier may serve its request object only once (the EU reference verifier does), so ``respond``
and ``decline`` answer the request ``resolve`` read instead of fetching it again."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from credledger.wallet.openid4vp.request import SKEW, AuthorizationRequest, Link, RequestExpired

TTL = 600.0
MAX_ENTRIES = 512

Key = tuple[int, str, str]


class RequestCache:
    def __init__(self, ttl: float = TTL, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._items: OrderedDict[Key, tuple[float, AuthorizationRequest]] = OrderedDict()

    def get_or_load(
        self, owner: int, link: Link, load: Callable[[], AuthorizationRequest]
    ) -> AuthorizationRequest:
        """The checked request of ``link`` for ``owner`` (an enterprise), read once."""
        key = (owner, link.client_id, link.request_uri)
        now = time.time()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] <= now:
                del self._items[key]
                hit = None
        if hit is not None:
            req = hit[1]
            if req.expires_at is not None and req.expires_at + SKEW < now:
                raise RequestExpired("the request has expired: ask the verifier for a new one")
            return req
        req = load()
        until = now + self.ttl
        if req.expires_at is not None:
            until = min(until, req.expires_at + SKEW)
        with self._lock:
            self._items[key] = (until, req)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return req
