"""Group commit: one writer thread commits every waiting item in one transaction.

Each caller hands its item to :meth:`GroupCommitter.submit` and waits for *its* commit
(``submit(...).result()``, or ``await committer.write_async(item)`` from the event loop), so an
answer is only given once its record is durable. While the writer commits one group the next
callers queue up; the writer then takes all of them at once. Concurrent requests therefore
share one fsync instead of waiting for each other's, and none of them holds a lock while
another's transaction runs.

``commit(items) -> results`` is called on the writer thread only (so it may keep its own SQLite
connection without locking). If it raises, every item of the group is retried alone, so one
bad item fails only its own caller.

:class:`VerificationLog` is the committer for clerk verification records: it writes them to the
licence database (``verifications`` / ``verification_licences``, whose schema is the licence
store's migrations in ``node/licences/store.py``) through a writer connection of the store's
:class:`~credledger.node.core.db.Database` with ``synchronous=FULL``, and hands the group's
record hashes to the anchoring service in one call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from credledger.node.core.db import Database

log = logging.getLogger("credledger.node.groupcommit")

T = TypeVar("T")
R = TypeVar("R")


class GroupCommitter(Generic[T, R]):
    def __init__(
        self,
        commit: Callable[[list[T]], Sequence[R]],
        name: str = "group-commit",
        max_group: int = 1024,
    ) -> None:
        self._commit = commit
        self._queue: queue.SimpleQueue[tuple[T, Future[R]] | None] = queue.SimpleQueue()
        self._max = max_group
        self._closed = False
        self.groups = 0
        self.items = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> Future[R]:
        if self._closed:
            raise RuntimeError("the writer is closed")
        fut: Future[R] = Future()
        self._queue.put((item, fut))
        return fut

    def submit_call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the writer thread, between groups (e.g. a start-up step)."""
        self._queue.put((fn, None))  # type: ignore[arg-type]

    def write(self, item: T, timeout: float = 30.0) -> R:
        """Submit and wait for the commit; the commit's result (or its exception)."""
        return self.submit(item).result(timeout)

    async def write_async(self, item: T) -> R:
        return await asyncio.wrap_future(self.submit(item))

    def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            if first[1] is None:  # a call (submit_call), not an item
                self._run_call(first[0])
                continue
            group = [first]
            call = None
            while len(group) < self._max:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                if nxt[1] is None:
                    call = nxt[0]
                    break
                group.append(nxt)
            self._commit_group(group)
            if call is not None:
                self._run_call(call)

    @staticmethod
    def _run_call(fn: Any) -> None:
        try:
            fn()
        except Exception:
            log.exception("writer call failed")

    def _commit_group(self, group: list[tuple[T, Future[R]]]) -> None:
        items = [g[0] for g in group]
        try:
            results = list(self._commit(items))
            if len(results) != len(items):
                raise RuntimeError(f"commit returned {len(results)} results for {len(items)}")
        except Exception as exc:
            if len(group) == 1:
                group[0][1].set_exception(exc)
                return
            log.warning("group of %d failed (%s); committing one by one", len(group), exc)
            for g in group:
                self._commit_group([g])
            return
        self.groups += 1
        self.items += len(items)
        for (_, fut), result in zip(group, results, strict=True):
            fut.set_result(result)


@dataclass(frozen=True)
class Verification:
    """One clerk verification record to store (and anchor)."""

    id: str
    record_hash: bytes
    record: dict[str, Any]
    licence_ids: tuple[bytes, ...]


class VerificationLog:
    """Durable verification records, group-committed; ``write(v)`` returns the anchor status.

    Two stages, so that anchoring never holds up an answer: the writer commits a group of
    records (``synchronous=FULL``: on disk at COMMIT) and answers its callers ``"queued"``; a
    second thread hands each group's record hashes to ``anchor(hashes) -> statuses`` (e.g.
    ``lambda hs: [r.status for r in anchoring.submit(hs)]``, which stores them durably and
    never makes a known hash a second leaf). A record committed just before a crash is not lost
    to anchoring: at start the newest ``RECONCILE`` records are handed to ``anchor`` again.
    Without ``anchor`` the status is ``"not-anchored"``.
    """

    RECONCILE = 10_000

    def __init__(
        self,
        db: Database,
        anchor: Callable[[list[bytes]], list[str]] | None = None,
        max_anchor_group: int = 1000,
    ) -> None:
        """``db`` is the licence store's database (``LicenceStore.db``): its migrations made
        the tables; this log only writes rows, on a writer connection of its own."""
        self.database = db
        self.path = db.path
        self._anchor = anchor
        self._db: sqlite3.Connection | None = None
        self.anchored = 0
        self._anchoring: GroupCommitter[bytes, str] | None = None
        if anchor is not None:
            self._anchoring = GroupCommitter(
                self._anchor_group, name="verification-anchoring", max_group=max_anchor_group
            )
        self._writer: GroupCommitter[Verification, str] = GroupCommitter(
            self._commit, name="verification-writer"
        )
        if self._anchoring is not None:
            self._writer.submit_call(self._reconcile)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:  # opened on the writer thread, used only there
            # durable at COMMIT (FULL): the answer follows it; the store's own writes are NORMAL
            self._db = self.database.writer(synchronous="FULL")
        return self._db

    def _commit(self, group: list[Verification]) -> list[str]:
        db = self._conn()
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO verifications VALUES (?, ?, ?, ?)",
                [(v.id, v.record_hash, json.dumps(v.record, sort_keys=True), now) for v in group],
            )
            db.executemany(
                "INSERT OR IGNORE INTO verification_licences VALUES (?, ?)",
                [(v.id, lid) for v in group for lid in v.licence_ids],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if self._anchoring is None:
            return ["not-anchored"] * len(group)
        for v in group:
            self._anchoring.submit(v.record_hash)  # not awaited: the record is already durable
        return ["queued"] * len(group)

    def _reconcile(self) -> None:
        """Hand the newest records to anchoring again (known hashes are not anchored twice)."""
        assert self._anchoring is not None
        rows = (
            self._conn()
            .execute(
                "SELECT record_hash FROM verifications ORDER BY created_at DESC LIMIT ?",
                (self.RECONCILE,),
            )
            .fetchall()
        )
        for (h,) in reversed(rows):
            self._anchoring.submit(bytes(h))

    def _anchor_group(self, hashes: list[bytes]) -> list[str]:
        assert self._anchor is not None
        try:
            statuses = self._anchor(list(dict.fromkeys(hashes)))
        except Exception:  # stored with the record: the next start hands it over again
            log.exception("anchoring %d verification records failed", len(hashes))
            return ["not-anchored"] * len(hashes)
        self.anchored += len(hashes)
        by_hash = dict(zip(dict.fromkeys(hashes), statuses, strict=False))
        return [by_hash.get(h, "not-anchored") for h in hashes]

    def write(self, v: Verification, timeout: float = 30.0) -> str:
        return self._writer.write(v, timeout)

    async def write_async(self, v: Verification) -> str:
        return await self._writer.write_async(v)

    @property
    def groups(self) -> int:
        return self._writer.groups

    def close(self) -> None:
        """Commit what is queued, hand it to anchoring, then stop both threads."""
        self._writer.close()
        if self._anchoring is not None:
            self._anchoring.close()
        if self._db is not None:
            self._db.close()
            self._db = None
