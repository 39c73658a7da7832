"""Who waits for a presentation request to end: the clerk page's long poll. A waiter is an
``asyncio.Event`` in its own event loop; the verifier (in a worker thread) sets it with
``call_soon_threadsafe`` when the request is answered or fails. Nothing polls: an idle waiter
costs one event until it is set or its time is up.

A server that is asked to stop (Ctrl-C, SIGTERM) waits for the requests under way to end before
it stops; so that a clerk page's long poll does not hold it for up to its 25 s, the first wait
wraps the server's SIGINT and SIGTERM handlers (when the event loop runs in the main thread, as
under ``uvicorn.run``): a stop wakes every waiter, then goes on to the server's own handler."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")
MAX_WAITERS = 1000  # at once, over all requests (a page that waits more is answered at once)


class Waiters:
    def __init__(self) -> None:
        self._by_id: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(
            list
        )
        self._lock = threading.Lock()
        self._count = 0
        self.closing = False  # the server is stopping: waits answer at once
        self._hooked = False

    def _hook_stop_signals(self) -> None:
        """Wake every waiter when the server is told to stop (see the module's doc)."""
        if self._hooked or threading.current_thread() is not threading.main_thread():
            return
        self._hooked = True
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)
            if not callable(previous):  # the default or ignored: no server handles it
                continue

            def on_stop(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
                self.closing = True
                self.notify_all()
                previous(signum, frame)

            signal.signal(sig, on_stop)

    def notify_all(self) -> None:
        with self._lock:
            rids = list(self._by_id)
        for rid in rids:
            self.notify(rid)

    def notify(self, rid: str) -> None:
        """The request ended: wake whoever waits for it (from any thread)."""
        with self._lock:
            waiting = self._by_id.pop(rid, [])
            self._count -= len(waiting)
        for loop, event in waiting:
            with contextlib.suppress(RuntimeError):  # a loop closed meanwhile
                loop.call_soon_threadsafe(event.set)

    async def wait(
        self, rid: str, timeout: float, check: Callable[[], Awaitable[T]], done: Callable[[T], bool]
    ) -> T:
        """``check()`` until ``done`` of its answer or ``timeout`` seconds: once before waiting
        (the waiter registered first, so an end between the two is not missed), once after."""
        self._hook_stop_signals()
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            full = self._count >= MAX_WAITERS
            if not full:
                self._by_id[rid].append(entry)
                self._count += 1
        try:
            answer = await check()
            if full or self.closing or done(answer) or timeout <= 0:
                return answer
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
            return await check()
        finally:
            with self._lock:
                entries = self._by_id.get(rid)
                if entries and entry in entries:
                    entries.remove(entry)
                    self._count -= 1
                    if not entries:
                        del self._by_id[rid]
