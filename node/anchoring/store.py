"""The anchoring queue on disk: SQLite (``node/core/db.py``) in WAL mode with ``synchronous=FULL``.

Every state change the pipeline makes is one SQLite transaction, committed (fsynced) before the
effect it records is acknowledged or sent: a hash is in ``docs`` before ``POST /v1/anchors``
answers, a signed transaction is in ``txs`` before it is broadcast. After a crash the pipeline
resumes from these tables alone.

Tables
    docs     doc_hash (unique: the value anchored, the leaf's input), seq (FIFO order), batch_id
             (NULL until batched), submitted_at, fingerprint (sha256|sm3) and, for SM3, digest
             (the document's SM3 digest; doc_hash is then its tagged value, core/fingerprints.py)
    batches  root, leaf_count, status pending|submitted|confirmed, inclusion block and time
    txs      every signed attempt for a batch: nonce, raw bytes, hash, fees, state
             live (may still be mined) | dead (can never be mined: its nonce went to another tx)
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from credledger.node.core.db import Database, Migration
from credledger.node.core.fingerprints import Fingerprint, anchored_value

# Schema version 1 is the schema from before versions existed (hence IF NOT EXISTS: it adopts
# such a database as it is). Append new migrations; never edit a shipped one.
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_hash BLOB NOT NULL UNIQUE,
    batch_id INTEGER,
    submitted_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_unbatched ON docs(batch_id, seq);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    root BLOB NOT NULL,
    leaf_count INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    tx_hash BLOB,
    block_number INTEGER,
    block_hash BLOB,
    block_time INTEGER,
    confirmed_at REAL,
    anchor_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS batches_status ON batches(status, id);
CREATE TABLE IF NOT EXISTS txs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id INTEGER NOT NULL,
    nonce INTEGER NOT NULL,
    tx_hash BLOB NOT NULL UNIQUE,
    raw BLOB NOT NULL,
    fee_cap INTEGER NOT NULL,
    tip INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS txs_batch ON txs(batch_id, state);
"""
# Version 2 (issue 20): which fingerprint each hash is. Rows from before are SHA-256 (or a value
# the caller chose), anchored as they are; an SM3 row keeps the digest beside its tagged value.
SCHEMA_V2 = """
ALTER TABLE docs ADD COLUMN fingerprint TEXT NOT NULL DEFAULT 'sha256';
ALTER TABLE docs ADD COLUMN digest BLOB;
"""
MIGRATIONS: list[Migration] = [SCHEMA_V1, SCHEMA_V2]


@dataclass(frozen=True)
class DocRow:
    seq: int
    doc_hash: bytes  # the value anchored (the leaf's input)
    batch_id: int | None
    submitted_at: float
    fingerprint: Fingerprint = "sha256"
    digest: bytes | None = None  # set for SM3 rows: the document's digest

    @property
    def document_hash(self) -> bytes:
        """The document's fingerprint under :attr:`fingerprint` (what the caller submitted)."""
        return self.digest if self.digest is not None else self.doc_hash


@dataclass(frozen=True)
class BatchRow:
    id: int
    root: bytes
    leaf_count: int
    status: str
    created_at: float
    tx_hash: bytes | None
    block_number: int | None
    block_hash: bytes | None
    block_time: int | None
    confirmed_at: float | None
    anchor_count: int


@dataclass(frozen=True)
class TxRow:
    id: int
    batch_id: int
    nonce: int
    tx_hash: bytes
    raw: bytes
    fee_cap: int
    tip: int
    state: str
    created_at: float
    sent_at: float | None


class AnchorStore:
    """All reads and writes of the anchoring tables; one lock serialises writers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = Database(path, MIGRATIONS, synchronous="FULL")
        # set when new hashes are stored: the pipeline sleeps on it while there is nothing to do
        self.arrived = threading.Event()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One durable transaction (BEGIN IMMEDIATE … COMMIT with fsync)."""
        with self.db.tx() as c:
            yield c

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.query(sql, args)

    # --- docs ---------------------------------------------------------------------------------

    def add_docs(
        self, hashes: Sequence[bytes], fingerprint: Fingerprint = "sha256"
    ) -> tuple[list[DocRow], int]:
        """Insert the new hashes (durably) and return every row in input order, and #new.

        ``hashes`` are fingerprints under ``fingerprint``; each is stored under the value it is
        anchored as (``core.fingerprints.anchored_value``), which is what the rows hold."""
        now = time.time()
        params: list[tuple[bytes, float, str, bytes | None]]
        if fingerprint == "sha256":
            params = [(h, now, fingerprint, None) for h in hashes]
        else:
            params = [(anchored_value(h, fingerprint), now, fingerprint, h) for h in hashes]
        hashes = [p[0] for p in params]
        with self.tx() as c:
            before = c.total_changes
            c.executemany(
                "INSERT OR IGNORE INTO docs (doc_hash, submitted_at, fingerprint, digest) "
                "VALUES (?, ?, ?, ?)",
                params,
            )
            new = c.total_changes - before
            rows = self._docs_by_hash(c, hashes)
        if new:
            self.arrived.set()
        return [rows[h] for h in hashes], new

    @staticmethod
    def _docs_by_hash(c: sqlite3.Connection, hashes: Sequence[bytes]) -> dict[bytes, DocRow]:
        found: dict[bytes, DocRow] = {}
        unique = list(dict.fromkeys(hashes))
        for i in range(0, len(unique), 900):
            part = unique[i : i + 900]
            marks = ",".join("?" * len(part))
            for r in c.execute(
                "SELECT seq, doc_hash, batch_id, submitted_at, fingerprint, digest FROM docs "
                f"WHERE doc_hash IN ({marks})",
                part,
            ):
                digest = bytes(r[5]) if r[5] is not None else None
                found[bytes(r[1])] = DocRow(r[0], bytes(r[1]), r[2], r[3], r[4], digest)
        return found

    def docs(self, hashes: Sequence[bytes]) -> dict[bytes, DocRow]:
        with self.db.lock:
            return self._docs_by_hash(self.db.conn, hashes)

    def doc(self, doc_hash: bytes) -> DocRow | None:
        return self.docs([doc_hash]).get(doc_hash)

    def unbatched(self) -> tuple[int, float | None]:
        """(number of hashes waiting for a batch, submit time of the oldest)."""
        r = self.query("SELECT count(*), min(submitted_at) FROM docs WHERE batch_id IS NULL")[0]
        return int(r[0]), r[1]

    def take_unbatched(self, c: sqlite3.Connection, limit: int) -> list[tuple[int, bytes]]:
        return [
            (int(r[0]), bytes(r[1]))
            for r in c.execute(
                "SELECT seq, doc_hash FROM docs WHERE batch_id IS NULL ORDER BY seq LIMIT ?",
                (limit,),
            )
        ]

    def batch_docs(self, batch_id: int) -> list[bytes]:
        """The batch's document hashes in leaf-input order (by seq)."""
        return [
            bytes(r[0])
            for r in self.query(
                "SELECT doc_hash FROM docs WHERE batch_id = ? ORDER BY seq", (batch_id,)
            )
        ]

    # --- batches ------------------------------------------------------------------------------

    _BATCH_COLS = (
        "id, root, leaf_count, status, created_at, tx_hash, block_number, block_hash, "
        "block_time, confirmed_at, anchor_count"
    )

    @staticmethod
    def _batch(r: tuple[Any, ...]) -> BatchRow:
        return BatchRow(
            r[0],
            bytes(r[1]),
            r[2],
            r[3],
            r[4],
            bytes(r[5]) if r[5] is not None else None,
            r[6],
            bytes(r[7]) if r[7] is not None else None,
            r[8],
            r[9],
            r[10],
        )

    def batch(self, batch_id: int) -> BatchRow:
        rows = self.query(f"SELECT {self._BATCH_COLS} FROM batches WHERE id = ?", (batch_id,))
        return self._batch(rows[0])

    def batches(self, status: str) -> list[BatchRow]:
        return [
            self._batch(r)
            for r in self.query(
                f"SELECT {self._BATCH_COLS} FROM batches WHERE status = ? ORDER BY id", (status,)
            )
        ]

    def recent_confirmed(self, min_block: int) -> list[BatchRow]:
        return [
            self._batch(r)
            for r in self.query(
                f"SELECT {self._BATCH_COLS} FROM batches WHERE status = 'confirmed' "
                "AND block_number >= ? ORDER BY id",
                (min_block,),
            )
        ]

    def status_counts(self) -> dict[str, int]:
        """Hashes per status, from the batch table (cheap: one row per batch)."""
        counts = {"pending": 0, "submitted": 0, "confirmed": 0}
        for status, n in self.query(
            "SELECT status, coalesce(sum(leaf_count), 0) FROM batches GROUP BY status"
        ):
            counts[status] = int(n)
        counts["pending"] += self.unbatched()[0]
        return counts

    # --- txs ----------------------------------------------------------------------------------

    _TX_COLS = "id, batch_id, nonce, tx_hash, raw, fee_cap, tip, state, created_at, sent_at"

    @staticmethod
    def _tx(r: tuple[Any, ...]) -> TxRow:
        return TxRow(r[0], r[1], r[2], bytes(r[3]), bytes(r[4]), r[5], r[6], r[7], r[8], r[9])

    def live_txs(self, batch_id: int) -> list[TxRow]:
        return [
            self._tx(r)
            for r in self.query(
                f"SELECT {self._TX_COLS} FROM txs WHERE batch_id = ? AND state = 'live' "
                "ORDER BY id",
                (batch_id,),
            )
        ]

    def all_txs(self) -> list[TxRow]:
        return [self._tx(r) for r in self.query(f"SELECT {self._TX_COLS} FROM txs ORDER BY id")]

    def mark_sent(self, tx_id: int) -> None:
        with self.tx() as c:
            c.execute("UPDATE txs SET sent_at = ? WHERE id = ?", (time.time(), tx_id))
