"""The wallet's database: the one SQLite module (``credledger.node.core.db.Database``) in WAL mode
with ``synchronous=FULL`` (every commit fsynced) and versioned migrations (:data:`MIGRATIONS`).

One connection guarded by the database's lock (SQLite serialises writers anyway); every change is
one transaction committed before its effect is acknowledged. Nothing secret is stored in clear:
passwords as argon2id hashes, session tokens as SHA-256, keystore passphrases and data keys only
wrapped (AES-256-GCM), keystores scrypt-encrypted. A scan test checks this.

Tables
    enterprises  uscc, name, holder address, custody, keystore (v3 JSON), wrapped data key
    people       the legal representative, administrators and agents of an enterprise
    sessions     token hash, person, expiry, passphrase wrapped with the token-derived key
    materials    one row per (enterprise, document): asset id, state, receipt, who filed
    grants       grants the wallet relayed (live state is read from the chain)
    uses         redeemed use records (transaction hash, log index) — each redeems once
    fetch_nonces nonces of grantees' signed fetch requests
    events       the enterprise's history (filed, confirmed, granted, revoked, used …)
    presentations  statement hashes of the tokens shown at counters (the node keeps the checks)
    address_book   the enterprise's grantees by name (v2): name, address, optional note
    chain_cursors  per enterprise, the last block of ConsentRegistry events applied (v3)
    grant_requests Idempotency-Keys of grant requests: request hash, signed request, answer (v3)

Schema versions: append a migration (an SQL script or a function of the connection) to
:data:`MIGRATIONS`; never edit one that has shipped. Version 1 is the schema from before versions
existed (``CREATE … IF NOT EXISTS``), so a file made by an older wallet is adopted as it is.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from credledger.node.core.db import Database, Migration

# Version 1: the schema from before versions existed (IF NOT EXISTS adopts such a file).
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS enterprises (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uscc TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    address TEXT NOT NULL UNIQUE,
    custody TEXT NOT NULL,
    keystore TEXT,
    data_key BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS people (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises(id),
    login TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    kek_salt BLOB NOT NULL,
    wrapped_passphrase BLOB,
    agent_address TEXT,
    agent_keystore TEXT,
    assets TEXT,
    actions TEXT,
    until INTEGER,
    created_by INTEGER,
    created_at REAL NOT NULL,
    UNIQUE (enterprise_id, login)
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    wrapped_passphrase BLOB
);
CREATE INDEX IF NOT EXISTS sessions_person ON sessions(person_id);
CREATE TABLE IF NOT EXISTS materials (
    id TEXT PRIMARY KEY,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises(id),
    doc_hash BLOB NOT NULL,
    name TEXT NOT NULL,
    folder TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    state TEXT NOT NULL,
    filed_by TEXT NOT NULL,
    filed_by_kind TEXT NOT NULL,
    filed_at REAL NOT NULL,
    anchor_submitted INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    anchored_at INTEGER,
    confirmed_by TEXT,
    confirmed_at REAL,
    file_deleted_at REAL,
    UNIQUE (enterprise_id, doc_hash)
);
CREATE INDEX IF NOT EXISTS materials_state ON materials(state, anchor_submitted);
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises(id),
    asset_id TEXT NOT NULL,
    asset_kind TEXT NOT NULL,
    grantee TEXT NOT NULL,
    purpose TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    max_uses INTEGER NOT NULL,
    tx_hash TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_tx TEXT,
    revoked_at REAL,
    revoked_by TEXT
);
CREATE INDEX IF NOT EXISTS grants_enterprise ON grants(enterprise_id, created_at);
CREATE TABLE IF NOT EXISTS uses (
    tx_hash TEXT NOT NULL,
    log_index INTEGER NOT NULL,
    grant_id TEXT NOT NULL,
    enterprise_id INTEGER NOT NULL,
    grantee TEXT NOT NULL,
    asset_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    uses INTEGER NOT NULL,
    block_number INTEGER NOT NULL,
    redeemed_at REAL NOT NULL,
    PRIMARY KEY (tx_hash, log_index)
);
CREATE TABLE IF NOT EXISTS fetch_nonces (
    grantee TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (grantee, nonce)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id INTEGER NOT NULL,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_enterprise ON events(enterprise_id, id);
CREATE TABLE IF NOT EXISTS presentations (
    statement_hash TEXT PRIMARY KEY,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises(id),
    presenter TEXT NOT NULL,
    asset_ids TEXT NOT NULL,
    audience TEXT,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS presentations_enterprise ON presentations(enterprise_id, created_at);
"""
# Version 2: the enterprise's address book of grantees (credledger.wallet.address_book).
SCHEMA_V2 = """
CREATE TABLE address_book (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises(id),
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    note TEXT,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (enterprise_id, address),
    UNIQUE (enterprise_id, name)
);
"""
# Version 3: reconciliation with the chain (credledger.wallet.reconcile) and idempotent grant
# requests. ``grants.source`` is "wallet" (relayed here) or "chain" (adopted from a
# ConsentGranted event the wallet had no row for, e.g. after a crash between relay and commit);
# ``chain_cursors`` is the last block whose ConsentRegistry events were applied, per enterprise;
# ``grant_requests`` holds each Idempotency-Key with the request's hash, written before relaying,
# then the signed request (nonce, deadline, signature) and finally the answer.
SCHEMA_V3 = """
ALTER TABLE grants ADD COLUMN source TEXT NOT NULL DEFAULT 'wallet';
ALTER TABLE grants ADD COLUMN block_number INTEGER;
CREATE TABLE chain_cursors (
    enterprise_id INTEGER PRIMARY KEY REFERENCES enterprises(id),
    block INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE grant_requests (
    enterprise_id INTEGER NOT NULL REFERENCES enterprises(id),
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    grant_id TEXT,
    nonce TEXT,
    deadline INTEGER,
    signature TEXT,
    status INTEGER,
    answer TEXT,
    created_at REAL NOT NULL,
    done_at REAL,
    PRIMARY KEY (enterprise_id, idem_key)
);
"""
MIGRATIONS: list[Migration] = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3]


class WalletStore:
    """The wallet's SQLite database (one file in the data dir); rows come as ``sqlite3.Row``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = Database(path, MIGRATIONS)
        self._conn = self.db.conn
        self._lock = self.db.lock
        with self._lock:
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA foreign_keys=ON")

    @property
    def version(self) -> int:
        """The file's schema version (``len(MIGRATIONS)`` once opened)."""
        return self.db.version

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT), fsynced on commit."""
        with self.db.tx() as conn:
            yield conn

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, args).fetchone()
            return row

    def all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, args).fetchall())

    def event(
        self,
        conn: sqlite3.Connection,
        enterprise_id: int,
        actor: str,
        action: str,
        **details: Any,
    ) -> None:
        conn.execute(
            "INSERT INTO events (enterprise_id, at, actor, action, details) VALUES (?,?,?,?,?)",
            (enterprise_id, time.time(), actor, action, json.dumps(details, ensure_ascii=False)),
        )
