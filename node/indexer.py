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

Each :class:`IndexedEvent` has ``contract``, ``address``, ``event``, ``args`` (JSON-ready: bytes as
``0x`` hex, integers as ints, addresses checksummed), ``block_number``, ``block_hash``,
``tx_hash``, ``log_index``, ``block_time``.

How it follows the chain: from the manifest's ``startBlock``, ``eth_getLogs`` over all contract
addresses in chunks of at most ``chunk_blocks``; a chunk the provider refuses (range too large,
too many results) is split in halves until it passes. The hash of every block with events and of
each chunk's last block is kept; before each round the newest kept hash is compared with the
chain. On a mismatch the indexer walks back to the newest block whose hash still matches, deletes
everything above it, and indexes again from there. Progress survives restarts (it is in the
database).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3
from web3.contract.contract import ContractEvent

from credledger.node.artifacts import abi as artifact_abi
from credledger.node.chain import Chain
from credledger.node.db import Database, Migration
from credledger.node.errors import RpcUnavailableError
from credledger.node.metrics import Metrics
from credledger.node.retry import Backoff
from credledger.node.settings import IndexerSettings

log = logging.getLogger("credledger.node.indexer")

# Version 1 is the schema from before versions existed (IF NOT EXISTS adopts such a database).
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS events (
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    contract TEXT NOT NULL,
    address TEXT NOT NULL,
    event TEXT NOT NULL,
    args TEXT NOT NULL,
    block_hash TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    block_time INTEGER NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX IF NOT EXISTS events_by_name ON events(contract, event);
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS progress (id INTEGER PRIMARY KEY CHECK (id = 0), height INTEGER);
"""
MIGRATIONS: list[Migration] = [SCHEMA_V1]


@dataclass(frozen=True)
class IndexedEvent:
    contract: str
    address: str
    event: str
    args: dict[str, Any]
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    block_time: int

    def to_json(self) -> dict[str, Any]:
        return {
            "contract": self.contract,
            "address": self.address,
            "event": self.event,
            "args": self.args,
            "blockNumber": self.block_number,
            "blockHash": self.block_hash,
            "transactionHash": self.tx_hash,
            "logIndex": self.log_index,
            "blockTime": self.block_time,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


class RangeRefused(Exception):
    """The provider refused an eth_getLogs range (too large / too many results)."""


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
        self.db = Database(db_path, MIGRATIONS, synchronous="FULL")
        self._conn = self.db.conn
        self._lock = self.db.lock
        self._names: dict[str, str] = {}
        self._topics: dict[tuple[str, bytes], ContractEvent] = {}
        for name, address in contracts.items():
            addr = Web3.to_checksum_address(address)
            self._names[addr.lower()] = name
            contract = chain.contract(name, addr)
            for entry in artifact_abi(name):
                if entry.get("type") == "event" and not entry.get("anonymous"):
                    topic = bytes(event_abi_to_log_topic(entry))  # type: ignore[arg-type]
                    self._topics[(addr.lower(), topic)] = contract.events[entry["name"]]()
        self.addresses = [Web3.to_checksum_address(a) for a in contracts.values()]
        self._callbacks: list[Callable[[IndexedEvent], None]] = []
        self._reorg_callbacks: list[Callable[[int], None]] = []
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
        with self._lock:
            row = self._conn.execute("SELECT height FROM progress WHERE id = 0").fetchone()
        return int(row[0]) if row else self.start_block - 1

    def events(
        self,
        contract: str | None = None,
        event: str | None = None,
        where: dict[str, str] | None = None,
    ) -> list[IndexedEvent]:
        sql = (
            "SELECT contract, address, event, args, block_number, block_hash, tx_hash, "
            "log_index, block_time FROM events WHERE 1=1"
        )
        params: list[Any] = []
        if contract is not None:
            sql += " AND contract = ?"
            params.append(contract)
        if event is not None:
            sql += " AND event = ?"
            params.append(event)
        for key, value in (where or {}).items():
            sql += " AND lower(CAST(json_extract(args, ?) AS TEXT)) = ?"
            params.extend([f'$."{key}"', str(value).lower()])
        sql += " ORDER BY block_number, log_index"
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [
            IndexedEvent(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7], r[8])
            for r in rows
        ]

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
        head = int(self.chain.w3.eth.block_number)
        self.chain_head = head
        self._check_reorg(head)
        height = self.indexed_height
        if height >= head:
            return True
        end = min(head, height + self.settings.chunk_blocks)
        self._index_range(height + 1, end)
        return end >= head

    def _check_reorg(self, head: int) -> None:
        with self._lock:
            kept = self._conn.execute(
                "SELECT number, hash FROM blocks ORDER BY number DESC LIMIT ?",
                (self.settings.reorg_window,),
            ).fetchall()
        if not kept:
            return
        common: int | None = None
        for number, stored in kept:
            if number > head:
                continue
            block = self.chain.w3.eth.get_block(number)
            if _hex(block["hash"]) == stored:
                common = number
                break
        newest = kept[0][0]
        if common == newest:
            return
        rollback_to = common if common is not None else kept[-1][0] - 1
        rollback_to = max(rollback_to, self.start_block - 1)
        with self.db.tx() as c:
            n = c.execute("DELETE FROM events WHERE block_number > ?", (rollback_to,)).rowcount
            c.execute("DELETE FROM blocks WHERE number > ?", (rollback_to,))
            self._set_height(rollback_to)
        self._block_times.clear()
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

    def _set_height(self, height: int) -> None:
        self._conn.execute(
            "INSERT INTO progress (id, height) VALUES (0, ?) "
            "ON CONFLICT(id) DO UPDATE SET height = excluded.height",
            (height,),
        )

    def _get_logs(self, start: int, end: int) -> list[Any]:
        try:
            return list(
                self.chain.w3.eth.get_logs(
                    {"address": self.addresses, "fromBlock": start, "toBlock": end}
                )
            )
        except RpcUnavailableError:
            raise
        except Exception as exc:  # the provider answered with an error: treat as refusal
            raise RangeRefused(str(exc)) from exc

    def fetch_logs(self, start: int, end: int) -> list[Any]:
        """Logs of [start, end], splitting the range in halves while the provider refuses it."""
        try:
            return self._get_logs(start, end)
        except RangeRefused as exc:
            if start >= end:
                raise RuntimeError(
                    f"provider refuses eth_getLogs for block {start}: {exc}"
                ) from exc
            self.m_refused.inc()
            mid = (start + end) // 2
            log.info("getLogs %d-%d refused (%s); splitting", start, end, exc)
            return self.fetch_logs(start, mid) + self.fetch_logs(mid + 1, end)

    def _block_time(self, number: int) -> int:
        t = self._block_times.get(number)
        if t is None:
            t = int(self.chain.w3.eth.get_block(number)["timestamp"])
            if len(self._block_times) > 4096:
                self._block_times.clear()
            self._block_times[number] = t
        return t

    def _decode(self, raw: Any) -> IndexedEvent | None:
        address = str(raw["address"])
        if not raw["topics"]:
            return None
        event = self._topics.get((address.lower(), bytes(raw["topics"][0])))
        if event is None:
            return None
        data = event.process_log(raw)
        return IndexedEvent(
            contract=self._names[address.lower()],
            address=Web3.to_checksum_address(address),
            event=str(data["event"]),
            args=_jsonable(dict(data["args"])),
            block_number=int(raw["blockNumber"]),
            block_hash=_hex(raw["blockHash"]),
            tx_hash=_hex(raw["transactionHash"]),
            log_index=int(raw["logIndex"]),
            block_time=self._block_time(int(raw["blockNumber"])),
        )

    def _index_range(self, start: int, end: int) -> None:
        logs = self.fetch_logs(start, end)
        decoded = [e for e in (self._decode(r) for r in logs) if e is not None]
        end_block = self.chain.w3.eth.get_block(end)
        new: list[IndexedEvent] = []
        with self.db.tx():
            for e in decoded:
                cur = self._conn.execute(
                    "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        e.block_number,
                        e.log_index,
                        e.contract,
                        e.address,
                        e.event,
                        json.dumps(e.args),
                        e.block_hash,
                        e.tx_hash,
                        e.block_time,
                    ),
                )
                if cur.rowcount:
                    new.append(e)
                self._conn.execute(
                    "INSERT OR REPLACE INTO blocks VALUES (?, ?)",
                    (e.block_number, e.block_hash),
                )
            self._conn.execute(
                "INSERT OR REPLACE INTO blocks VALUES (?, ?)",
                (end, _hex(end_block["hash"])),
            )
            self._conn.execute(
                "DELETE FROM blocks WHERE number < ?",
                (end - 10 * self.settings.reorg_window - self.settings.chunk_blocks,),
            )
            self._set_height(end)
        with self._height_cond:
            self._height_cond.notify_all()
        for e in new:
            for cb in self._callbacks:
                try:
                    cb(e)
                except Exception:
                    log.exception("event callback failed")

    def close(self) -> None:
        self.db.close()
