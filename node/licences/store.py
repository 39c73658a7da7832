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
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from credledger.node.core.db import Database, Migration
from credledger.node.core.errors import ConflictError

# Version 1 is the schema from before versions existed (IF NOT EXISTS adopts such a database).
SCHEMA_V1 = """
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
# Version 2: which run of the node holds a pending claim. A claim held by an earlier run (the node
# crashed or was killed mid-request) is settled from the chain at once instead of after a timeout.
SCHEMA_V2 = """
ALTER TABLE idempotency ADD COLUMN run_id TEXT;
"""
MIGRATIONS: list[Migration] = [SCHEMA_V1, SCHEMA_V2]


@dataclass(frozen=True)
class Claim:
    """The outcome of :meth:`LicenceStore.claim`.

    ``answer`` is the stored response of a finished request; ``orphaned`` says the key was claimed
    by an earlier run of the node that died before finishing (the caller must find out from the
    chain whether the first attempt took effect); neither: a fresh claim, run the request.
    """

    answer: dict[str, Any] | None = None
    orphaned: bool = False


class LicenceStore:
    """Thread-safe access to the node's licence database."""

    # a pending claim of this very run older than this is taken over (its request thread hung)
    stale_after = 300.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = Database(path, MIGRATIONS, synchronous="NORMAL")
        self._lock = self.db.lock
        self._db = self.db.conn
        # this run of the node; a pending claim with another run id was left by a crash
        self.run_id = uuid.uuid4().hex

    @property
    def lock(self) -> threading.RLock:
        """The database's one lock (readers on the event loop only try it: a writer may be
        waiting for its fsync)."""
        return self._lock

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self.db.tx() as c:
            yield c

    # --- idempotency ----------------------------------------------------------------------

    def claim(self, principal: str, key: str, fingerprint: str) -> Claim:
        """Claim ``key`` for a new request (see :class:`Claim` for what comes back).

        Raises :class:`ConflictError` when the key was used with a different request, or while
        the first request with this key is still running in this run of the node.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT fingerprint, state, response, run_id, created_at FROM idempotency "
                "WHERE principal=? AND key=?",
                (principal, key),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO idempotency (principal, key, fingerprint, state, response, "
                    "created_at, run_id) VALUES (?, ?, ?, 'pending', NULL, ?, ?)",
                    (principal, key, fingerprint, time.time(), self.run_id),
                )
                return Claim()
            stored_fp, state, response, run_id, created_at = row
            if stored_fp != fingerprint:
                raise ConflictError(
                    "this Idempotency-Key was already used for a different request; "
                    "use a new key for a new request",
                    idempotency_key=key,
                )
            if state == "done":
                answer: dict[str, Any] = json.loads(response)
                return Claim(answer=answer)
            orphaned = run_id != self.run_id or created_at < time.time() - self.stale_after
            if not orphaned:
                raise ConflictError(
                    "a request with this Idempotency-Key is still being processed; retry shortly",
                    idempotency_key=key,
                )
            # the run that claimed it died (or hung): this request takes the claim over
            db.execute(
                "UPDATE idempotency SET run_id=?, created_at=? WHERE principal=? AND key=?",
                (self.run_id, time.time(), principal, key),
            )
            return Claim(orphaned=True)

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
