"""What the node keeps of the e-seals it made: per licence version, the GB/T 36903 metadata it
signed and the DER signature, so ``GET /v1/licences/{id}/seal`` can give the signed bytes.

Its own SQLite file (``seals.sqlite3`` beside ``licences.sqlite3``), through the one database
module. Privacy: for a licence held by a person the signed metadata holds the citizen ID, which
no database of the node may hold in clear; the row keeps the metadata with the holder code
**masked** (``holder_masked = 1``) and nothing from which the number can be rebuilt. The signed
bytes of such a licence come from its holder (docs/standards.md, "E-seals").
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from credledger.node.core.db import Database, Migration

SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS seals (
    licence_id    BLOB NOT NULL,
    version       INTEGER NOT NULL,
    key_id        INTEGER NOT NULL,
    dist_id       TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    holder_masked INTEGER NOT NULL,
    signature     BLOB NOT NULL,
    created_at    REAL NOT NULL,
    PRIMARY KEY (licence_id, version)
);
"""
MIGRATIONS: list[Migration] = [SCHEMA_V1]


@dataclass(frozen=True)
class StoredSeal:
    """One seal this node made: the metadata fields (``LicenceMetadata``'s own names; the holder
    code masked when ``holder_masked``), the user id and the DER signature."""

    licence_id: bytes
    version: int
    key_id: int
    dist_id: str
    metadata: dict[str, Any]
    holder_masked: bool
    signature: bytes


class SealStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = Database(path, MIGRATIONS, synchronous="NORMAL")

    def close(self) -> None:
        self.db.close()

    def put(self, seal: StoredSeal, *, replace: bool = True) -> None:
        """Keep ``seal`` (``replace=False``: only if this version has no row yet)."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with self.db.tx() as c:
            c.execute(
                f"{verb} INTO seals (licence_id, version, key_id, dist_id, metadata, "
                "holder_masked, signature, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seal.licence_id,
                    seal.version,
                    seal.key_id,
                    seal.dist_id,
                    json.dumps(seal.metadata, ensure_ascii=False, sort_keys=True),
                    int(seal.holder_masked),
                    seal.signature,
                    time.time(),
                ),
            )

    def get(self, licence_id: bytes, version: int) -> StoredSeal | None:
        row = self.db.query_one(
            "SELECT key_id, dist_id, metadata, holder_masked, signature FROM seals "
            "WHERE licence_id=? AND version=?",
            (licence_id, version),
        )
        if row is None:
            return None
        key_id, dist_id, metadata, masked, signature = row
        return StoredSeal(
            licence_id, version, int(key_id), dist_id, json.loads(metadata), bool(masked), signature
        )

    def latest(self, licence_id: bytes) -> StoredSeal | None:
        row = self.db.query_one(
            "SELECT version FROM seals WHERE licence_id=? ORDER BY version DESC LIMIT 1",
            (licence_id,),
        )
        return self.get(licence_id, int(row[0])) if row else None
