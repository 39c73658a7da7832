"""The event indexer: every event of every contract in the manifest, in SQLite, reorg-safe.

Built once per node (``runtime.indexer``, an :class:`Indexer`); what the services use:

``events(contract=None, event=None, where=None) -> list[IndexedEvent]``
    Stored events ordered by (block number, log index). ``contract`` is the manifest name
    (``"LicenceRegistry"``), ``event`` the event name (``"LicenceIssued"``), ``where`` maps argument
    names to values compared as strings, case-insensitively (bytes as ``0x`` hex, addresses as
    hex, integers as decimal): ``where={"holder": "0xab…"}``.
``indexed_height``
    The highest block whose events are all stored (``-1`` before the first chunk).
``wait_until(height, timeout)``
    Block until ``indexed_height >= height`` (waking the indexer to poll at once); True on success.
``on_event(callback)``
    Register ``callback(event: IndexedEvent)``, called from the indexer thread for each new
    event after it is committed (not called again for events re-added after a reorg rollback
    unless they are re-emitted by the new chain).
``on_reorg(callback)``
    Register ``callback(first_removed_block: int)``, called after a rollback.
``follow(listener)``
    For materialised views (:mod:`credledger.node.readmodel`): ``listener.reset(events, height,
    block_time)`` is called at once with every stored event, then again after each rollback;
    ``listener.extend(events, height, block_time)`` with each new chunk. Both run under the
    indexer's lock right after the chunk's commit, so ``indexed_height`` never runs ahead of a
    listener: whoever sees height N (``wait_until``) also sees block N in the view.

Each :class:`IndexedEvent` has ``contract``, ``address``, ``event``, ``args`` (JSON-ready: bytes as
``0x`` hex, integers as ints, addresses checksummed), ``block_number``, ``block_hash``,
``tx_hash``, ``log_index``, ``block_time``.

How it follows the chain: from the manifest's ``startBlock``, ``eth_getLogs`` over all contract
addresses in chunks of at most ``chunk_blocks``; a chunk the provider refuses (range too large,
too many results) is split in halves until it passes. The hash of every block with events and of
each chunk's last block is kept; before each round the newest kept hash is compared with the
chain. On a mismatch the indexer walks back to the newest block whose hash still matches, deletes
everything above it, and indexes again from there. Progress survives restarts (it is in the
database): a restarted node continues after its stored height and never re-reads a block.

Catch-up is built for long chains: the getLogs range grows (doubling, up to ``MAX_SPAN`` blocks)
while the provider answers and shrinks when it refuses; logs are fetched raw
(:meth:`Chain.logs`) and decoded by the bindings' fast decoder
(:class:`node.core.contracts.events.EventDecoder`); block times come from the logs'
``blockTimestamp`` where the provider gives it; each chunk is one transaction of bulk inserts
(:mod:`node.indexer_store`).

Idle, it costs one ``eth_getBlockByNumber("latest")`` per ``poll_interval``: while the head's hash
is the one seen last, nothing can have changed (a hash commits to every block below it), so there
is no reorg check and no getLogs; a new head whose parent is the newest kept block needs no walk
back either.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from credledger.node.core.chain import BlockHeader, Chain, RpcRefused
from credledger.node.core.contracts.events import EventDecoder
from credledger.node.core.contracts.events import jsonable as _jsonable  # noqa: F401 - for tests
from credledger.node.core.errors import ChainError
from credledger.node.core.retry import Backoff
from credledger.node.indexer_store import (
    MIGRATIONS,
    ChunkListener,
    EventStore,
    IndexedEvent,
)
from credledger.node.metrics import Metrics
from credledger.node.settings import IndexerSettings

__all__ = ["MIGRATIONS", "ChunkListener", "IndexedEvent", "Indexer"]

log = logging.getLogger("credledger.node.indexer")

MAX_SPAN = 50_000  # the largest getLogs range tried while catching up


class Indexer:
    """Follows all manifest contracts; see the module docstring for the query interface."""

    def __init__(
        self,
        chain: Chain,
        contracts: dict[str, str],
        start_block: int,
        db_path: Path,
        settings: IndexerSettings,
        metrics: Metrics | None = None,
    ) -> None:
        self.chain = chain
        self.settings = settings
        self.start_block = start_block
        self.store = EventStore(db_path)
        self.db = self.store.db
        self._lock = self.store.lock
        self.decoder = EventDecoder(contracts)
        self.addresses = self.decoder.addresses
        self._callbacks: list[Callable[[IndexedEvent], None]] = []
        self._reorg_callbacks: list[Callable[[int], None]] = []
        self._listeners: list[ChunkListener] = []
        self._span = settings.chunk_blocks
        stored = self.store.stored_height()
        self._height = stored if stored is not None else start_block - 1
        self._seen: BlockHeader | None = None  # the head at the last round
        self._height_time = 0
        self._height_cond = threading.Condition()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.chain_head: int | None = None
        self.last_error: str | None = None
        self._block_times: dict[int, int] = {}
        m = metrics or Metrics()
        self.m_reorgs = m.counter("indexer_reorgs_total", "rollbacks of indexed events")
        self.m_errors = m.counter("indexer_rpc_errors_total", "indexer rounds that failed")
        self.m_refused = m.counter("indexer_ranges_split_total", "getLogs ranges split")
        m.gauge("indexed_height", "highest fully indexed block", lambda: float(self.indexed_height))
        m.gauge("chain_head", "latest block seen", lambda: float(self.chain_head or 0))

    # --- queries ------------------------------------------------------------------------------

    @property
    def indexed_height(self) -> int:
        with self._lock:  # set after each commit, under this lock (no query per call)
            return self._height

    def events(
        self,
        contract: str | None = None,
        event: str | None = None,
        where: dict[str, str] | None = None,
    ) -> list[IndexedEvent]:
        return self.store.events(contract, event, where)

    def wait_until(self, height: int, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        if self.indexed_height < height:
            self._wake.set()  # poll now instead of after poll_interval
        with self._height_cond:
            while self.indexed_height < height:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._height_cond.wait(min(left, 0.5))
        return True

    def on_event(self, callback: Callable[[IndexedEvent], None]) -> None:
        self._callbacks.append(callback)

    def on_reorg(self, callback: Callable[[int], None]) -> None:
        self._reorg_callbacks.append(callback)

    def follow(self, listener: ChunkListener) -> None:
        """Feed ``listener`` every stored event now, then each chunk as it is committed."""
        with self._lock:
            listener.reset(self.events(), self._height, self._time_of_height())
            self._listeners.append(listener)

    def _time_of_height(self) -> int:
        if self._height_time == 0 and self._height >= 0:
            try:
                self._height_time = self._block_time(self._height)
            except Exception:  # the chain is down at start-up: the wall clock still counts
                log.warning("cannot read the time of block %d", self._height)
        return self._height_time

    def health(self) -> dict[str, Any]:
        return {
            "chainHead": self.chain_head,
            "indexedHeight": self.indexed_height,
            "lastError": self.last_error,
        }

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="indexer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        backoff = Backoff()
        while not self._stop.is_set():
            try:
                caught_up = self.poll()
                backoff.succeeded()
                self.last_error = None
            except Exception as exc:
                self.m_errors.inc()
                self.last_error = f"{type(exc).__name__}: {exc}"
                wait = backoff.failed()
                log.warning("indexer round failed; retrying in %.1fs: %s", wait, exc)
                self._stop.wait(wait)
                continue
            if caught_up:
                self._wake.wait(self.settings.poll_interval)
                self._wake.clear()

    # --- following ----------------------------------------------------------------------------

    def poll(self) -> bool:
        """Check for a reorg, then index one chunk; True when caught up with the head."""
        head = self.chain.block("latest")
        self.chain_head = head.number
        seen, height = self._seen, self.indexed_height
        if seen is not None and seen.hash == head.hash and height >= head.number:
            return True  # the head of the last round: nothing below it can have changed
        self._check_reorg(head)
        height = self.indexed_height
        end = min(head.number, height + self._span)
        if end > height:
            self._index_range(height + 1, end, head)
        self._seen = head  # only after a round that went through
        return end >= head.number

    def _check_reorg(self, head: BlockHeader) -> None:
        kept = self.store.kept_blocks(self.settings.reorg_window)
        if not kept:
            return
        newest, newest_hash = kept[0]
        if head.number == newest + 1 and "0x" + head.parent_hash.hex() == newest_hash:
            return  # the new head builds on the newest kept block
        common: int | None = None
        for number, stored in kept:
            if number > head.number:
                continue
            found = head.hash if number == head.number else self.chain.block_hash(number)
            if found is not None and "0x" + found.hex() == stored:
                common = number
                break
        if common == newest:
            return
        rollback_to = common if common is not None else kept[-1][0] - 1
        rollback_to = max(rollback_to, self.start_block - 1)
        with self._lock:
            n = self.store.rollback(rollback_to)
            self._height, self._height_time = rollback_to, 0
            self._block_times.clear()
            self._span = self.settings.chunk_blocks
            if self._listeners:
                stored_events, at = self.events(), self._time_of_height()
                for listener in self._listeners:
                    try:
                        listener.reset(stored_events, rollback_to, at)
                    except Exception:
                        log.exception("read model reset failed")
        self.m_reorgs.inc()
        log.warning(
            "reorg: rolled back %d events above block %d",
            n,
            rollback_to,
            extra={"event": "indexer_reorg", "block": rollback_to},
        )
        for cb in self._reorg_callbacks:
            try:
                cb(rollback_to + 1)
            except Exception:
                log.exception("reorg callback failed")

    def fetch_logs(self, start: int, end: int) -> list[dict[str, Any]]:
        """Logs of [start, end], splitting the range in halves while the provider refuses it."""
        try:
            return self.chain.logs(self.addresses, start, end)
        except RpcRefused as exc:
            if start >= end:
                raise ChainError(f"provider refuses eth_getLogs for block {start}: {exc}") from exc
            self.m_refused.inc()
            # the next chunks start at the size that passed, not at the refused one
            self._span = max(1, min(self._span, (end - start + 1) // 2))
            mid = (start + end) // 2
            log.info("getLogs %d-%d refused (%s); splitting", start, end, exc)
            return self.fetch_logs(start, mid) + self.fetch_logs(mid + 1, end)

    def _block_time(self, number: int) -> int:
        t = self._block_times.get(number)
        if t is None:
            t = self.chain.block(number).timestamp
            if len(self._block_times) > 4096:
                self._block_times.clear()
            self._block_times[number] = t
        return t

    def _decode(self, raw: dict[str, Any]) -> IndexedEvent | None:
        d = self.decoder.decode(raw)
        if d is None:
            return None
        if d.block_time is not None:
            block_time = d.block_time
            self._block_times.setdefault(d.block_number, block_time)
        else:
            block_time = self._block_time(d.block_number)
        return IndexedEvent(
            d.contract, d.address, d.event, d.args, d.block_number, d.block_hash, d.tx_hash,
            d.log_index, block_time,
        )  # fmt: skip

    def _index_range(self, start: int, end: int, head: BlockHeader) -> None:
        logs = self.fetch_logs(start, end)
        decoded = [e for e in (self._decode(r) for r in logs) if e is not None]
        end_block = head if end == head.number else self.chain.block(end)
        end_hash, end_time = "0x" + end_block.hash.hex(), end_block.timestamp
        # grow the range while the provider answers quickly with few logs; shrink on many
        if len(logs) < 5_000:
            self._span = min(self._span * 2, MAX_SPAN)
        elif len(logs) > 20_000:
            self._span = max(self.settings.chunk_blocks, self._span // 2)
        blocks = {e.block_number: e.block_hash for e in decoded}
        blocks[end] = end_hash
        with self._lock:
            forget = end - 10 * self.settings.reorg_window - self._span
            self.store.commit_chunk(decoded, blocks, end, forget)
            self._height, self._height_time = end, end_time
            for listener in self._listeners:
                try:
                    listener.extend(decoded, end, end_time)
                except Exception:
                    log.exception("read model update failed")
        with self._height_cond:
            self._height_cond.notify_all()
        if self._callbacks:
            for e in decoded:
                for cb in self._callbacks:
                    try:
                        cb(e)
                    except Exception:
                        log.exception("event callback failed")

    def close(self) -> None:
        self.store.close()
