"""The indexer's database: every stored event, the kept block hashes and the indexed height.

One SQLite file (``indexer.sqlite3``, :mod:`node.core.db`, ``synchronous=FULL``). Rows of a chunk
are only ever stored together with the height that covers them, in one transaction, so a crash
leaves either the whole chunk or none of it. :class:`node.indexer.Indexer` follows the chain and
writes here; the services read through the indexer's query interface.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from credledger.node.core.db import Database, Migration

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


class ChunkListener(Protocol):
    """A materialised view fed by the indexer (see :meth:`node.indexer.Indexer.follow`)."""

    def reset(self, events: list[IndexedEvent], height: int, block_time: int) -> None: ...

    def extend(self, events: list[IndexedEvent], height: int, block_time: int) -> None: ...


class EventStore:
    """The events, kept block hashes and height; callers hold :attr:`lock` around a chunk."""

    def __init__(self, path: Path) -> None:
        self.db = Database(path, MIGRATIONS, synchronous="FULL")
        self.conn = self.db.conn
        self.lock = self.db.lock

    def stored_height(self) -> int | None:
        row = self.conn.execute("SELECT height FROM progress WHERE id = 0").fetchone()
        return int(row[0]) if row else None

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
        with self.lock:
            rows = self.conn.execute(sql, params).fetchall()
        return [
            IndexedEvent(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7], r[8])
            for r in rows
        ]

    def kept_blocks(self, limit: int) -> list[tuple[int, str]]:
        """The newest ``limit`` kept (number, hash), newest first."""
        with self.lock:
            rows = self.conn.execute(
                "SELECT number, hash FROM blocks ORDER BY number DESC LIMIT ?", (limit,)
            ).fetchall()
        return [(int(n), str(h)) for n, h in rows]

    def rollback(self, height: int) -> int:
        """Delete everything above ``height``; the number of events removed."""
        with self.lock, self.db.tx() as c:
            n = int(c.execute("DELETE FROM events WHERE block_number > ?", (height,)).rowcount)
            c.execute("DELETE FROM blocks WHERE number > ?", (height,))
            self._set_height(height)
        return n

    def commit_chunk(
        self,
        events: list[IndexedEvent],
        blocks: dict[int, str],
        height: int,
        forget_below: int,
    ) -> None:
        """Store a chunk's events and block hashes with the height that covers them."""
        with self.lock, self.db.tx():
            # (old height, height] is above the stored height, so none of these rows exist yet
            self.conn.executemany(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
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
                    )
                    for e in events
                ],
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO blocks VALUES (?, ?)", sorted(blocks.items())
            )
            self.conn.execute("DELETE FROM blocks WHERE number < ?", (forget_below,))
            self._set_height(height)

    def _set_height(self, height: int) -> None:
        self.conn.execute(
            "INSERT INTO progress (id, height) VALUES (0, ?) "
            "ON CONFLICT(id) DO UPDATE SET height = excluded.height",
            (height,),
        )

    def close(self) -> None:
        self.db.close()
