"""The licence service's own SQLite database (one per node, in ``data_dir``).

It holds only what the chain cannot: idempotency keys with the answer they produced, the display
form of holders this node has seen (a USCC, or a *masked* citizen ID — never the clear number),
and the clerk verification records with the hash that was anchored. Everything about licences
themselves is read from the chain.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from credledger.node.errors import ConflictError

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    principal   TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    response    TEXT,
    created_at  REAL NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE TABLE IF NOT EXISTS holders (
    subject  BLOB PRIMARY KEY,
    kind     TEXT NOT NULL,
    display  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notes (
    licence_id BLOB NOT NULL,
    tx_hash    TEXT NOT NULL,
    action     TEXT NOT NULL,
    note       TEXT NOT NULL,
    PRIMARY KEY (tx_hash, licence_id)
);
CREATE TABLE IF NOT EXISTS serials (
    licence_id BLOB PRIMARY KEY,
    serial     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS metadata (
    licence_id BLOB PRIMARY KEY,
    metadata   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS verifications (
    id          TEXT PRIMARY KEY,
    record_hash BLOB NOT NULL UNIQUE,
    record      TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS verification_licences (
    verification_id TEXT NOT NULL REFERENCES verifications (id),
    licence_id      BLOB NOT NULL,
    PRIMARY KEY (licence_id, verification_id)
);
"""


class LicenceStore:
    """Thread-safe access to the node's licence database."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- idempotency ----------------------------------------------------------------------

    def claim(self, principal: str, key: str, fingerprint: str) -> dict[str, Any] | None:
        """Claim ``key`` for a new request; return the stored answer if it was already done.

        Raises :class:`ConflictError` when the key was used with a different request, or while
        the first request with this key is still running.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT fingerprint, state, response FROM idempotency WHERE principal=? AND key=?",
                (principal, key),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO idempotency VALUES (?, ?, ?, 'pending', NULL, ?)",
                    (principal, key, fingerprint, time.time()),
                )
                return None
        stored_fp, state, response = row
        if state == "pending" and stored_fp == fingerprint and self._stale(principal, key):
            return None  # the process that claimed it died; this request takes over
        if stored_fp != fingerprint:
            raise ConflictError(
                "this Idempotency-Key was already used for a different request; "
                "use a new key for a new request",
                idempotency_key=key,
            )
        if state == "pending":
            raise ConflictError(
                "a request with this Idempotency-Key is still being processed; retry shortly",
                idempotency_key=key,
            )
        answer: dict[str, Any] = json.loads(response)
        return answer

    def _stale(self, principal: str, key: str, after: float = 300.0) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE idempotency SET created_at=? WHERE principal=? AND key=? "
                "AND state='pending' AND created_at < ?",
                (time.time(), principal, key, time.time() - after),
            )
            return cur.rowcount == 1

    def complete(self, principal: str, key: str, response: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE idempotency SET state='done', response=? WHERE principal=? AND key=?",
                (json.dumps(response), principal, key),
            )

    def release(self, principal: str, key: str) -> None:
        """Forget a claim whose request failed before anything was written."""
        with self._tx() as db:
            db.execute(
                "DELETE FROM idempotency WHERE principal=? AND key=? AND state='pending'",
                (principal, key),
            )

    # --- holders --------------------------------------------------------------------------

    def remember_holder(self, subject: bytes, kind: str, display: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO holders VALUES (?, ?, ?)", (subject, kind, display))

    def holder_display(self, subject: bytes) -> tuple[str, str] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT kind, display FROM holders WHERE subject=?", (subject,)
            ).fetchone()
        return (row[0], row[1]) if row else None

    # --- notes and metadata (this node's own, off chain) ----------------------------------

    def add_note(self, licence_id: bytes, tx_hash: str, action: str, note: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO notes VALUES (?, ?, ?, ?)",
                (licence_id, tx_hash.lower(), action, note),
            )

    def notes_of(self, licence_id: bytes) -> dict[str, str]:
        """tx hash -> note for one licence."""
        with self._lock:
            rows = self._db.execute(
                "SELECT tx_hash, note FROM notes WHERE licence_id=?", (licence_id,)
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def set_serial(self, licence_id: bytes, serial: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO serials VALUES (?, ?)", (licence_id, serial))

    def serial_of(self, licence_id: bytes) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT serial FROM serials WHERE licence_id=?", (licence_id,)
            ).fetchone()
        return str(row[0]) if row else None

    def set_metadata(self, licence_id: bytes, metadata: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO metadata VALUES (?, ?)",
                (licence_id, json.dumps(metadata, ensure_ascii=False, sort_keys=True)),
            )

    def metadata_of(self, licence_id: bytes) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT metadata FROM metadata WHERE licence_id=?", (licence_id,)
            ).fetchone()
        return json.loads(row[0]) if row else None

    # --- verification records -------------------------------------------------------------

    def add_verification(
        self, vid: str, record_hash: bytes, record: dict[str, Any], licence_ids: list[bytes]
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO verifications VALUES (?, ?, ?, ?)",
                (vid, record_hash, json.dumps(record, sort_keys=True), time.time()),
            )
            db.executemany(
                "INSERT OR IGNORE INTO verification_licences VALUES (?, ?)",
                [(vid, lid) for lid in licence_ids],
            )

    def verification(self, vid: str) -> tuple[bytes, dict[str, Any]] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT record_hash, record FROM verifications WHERE id=?", (vid,)
            ).fetchone()
        if row is None:
            return None
        return bytes(row[0]), json.loads(row[1])

    def verifications_of(self, licence_id: bytes) -> list[tuple[str, bytes, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT v.id, v.record_hash, v.record FROM verifications v "
                "JOIN verification_licences l ON l.verification_id = v.id "
                "WHERE l.licence_id=? ORDER BY v.created_at",
                (licence_id,),
            ).fetchall()
        return [(r[0], bytes(r[1]), json.loads(r[2])) for r in rows]
