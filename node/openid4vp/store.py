"""The presentation requests, in ``data_dir/openid4vp.sqlite3``. A response takes its request
(``pending`` → ``taken``) in a committed, fsynced transaction before it is verified, so a nonce
and state answer once — also after a crash or a restart; the verdict is stored with it
(``answered``). A request taken whose judging then failed is ``failed`` (reason ``verifier_error``),
and so is every request still taken when the node starts again (its judge died with the
process): a taken request always ends."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from credledger.node.core.db import Database, Migration

SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS requests (
    id          TEXT PRIMARY KEY,
    nonce       TEXT NOT NULL,
    state       TEXT NOT NULL UNIQUE,
    query       TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    department  TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    status      TEXT NOT NULL,
    taken_at    INTEGER,
    result      TEXT,
    mode        TEXT NOT NULL DEFAULT 'direct_post',
    enc_key     TEXT
);
"""
# the same-device flow: the flow asked, and the SHA-256 of the response code the wallet's browser
# is sent back with (never the code itself)
SCHEMA_V2 = """
ALTER TABLE requests ADD COLUMN flow TEXT NOT NULL DEFAULT 'cross-device';
ALTER TABLE requests ADD COLUMN response_code_sha256 TEXT;
"""
MIGRATIONS: list[Migration] = [SCHEMA_V1, SCHEMA_V2]
FINAL = ("answered", "failed", "expired")


@dataclass
class PresentationRequest:
    id: str
    nonce: str
    state: str
    query: dict[str, Any]
    created_by: str
    department: str | None
    created_at: int
    expires_at: int
    status: str  # pending | taken | answered | failed
    result: dict[str, Any] | None
    mode: str = "direct_post"  # or direct_post.jwt
    enc_key: dict[str, Any] | None = None  # the private JWK the response is encrypted to
    flow: str = "cross-device"  # or same-device
    response_code_sha256: str | None = None

    def state_now(self, now: int | None = None) -> str:
        t = int(time.time()) if now is None else now
        if self.status == "pending":
            return "expired" if t >= self.expires_at else "pending"
        if self.status in ("answered", "failed"):
            return self.status
        return "answering"


_COLS = (
    "id, nonce, state, query, created_by, department, created_at, expires_at, status, result, "
    "mode, enc_key, flow, response_code_sha256"
)


def _row(r: tuple[Any, ...]) -> PresentationRequest:
    return PresentationRequest(
        r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7], r[8],
        json.loads(r[9]) if r[9] else None, r[10], json.loads(r[11]) if r[11] else None,
        r[12], r[13],
    )  # fmt: skip


class RequestStore:
    def __init__(self, path: Path) -> None:
        self.db = Database(path, MIGRATIONS)

    def close(self) -> None:
        self.db.close()

    def add(self, req: PresentationRequest) -> None:
        with self.db.tx() as conn:
            conn.execute(
                f"INSERT INTO requests ({_COLS}) VALUES (?,?,?,?,?,?,?,?,?,NULL,?,?,?,NULL)",
                (req.id, req.nonce, req.state, json.dumps(req.query), req.created_by,
                 req.department, req.created_at, req.expires_at, "pending", req.mode,
                 json.dumps(req.enc_key) if req.enc_key else None, req.flow),
            )  # fmt: skip

    def get(self, rid: str) -> PresentationRequest | None:
        row = self.db.query_one(f"SELECT {_COLS} FROM requests WHERE id=?", (rid,))
        return _row(row) if row is not None else None

    def take(self, rid: str, now: int) -> bool:
        """Mark the request answered-to (durable before the caller goes on); False when it was
        taken before or has expired."""
        with self.db.tx() as conn:
            cur = conn.execute(
                "UPDATE requests SET status='taken', taken_at=? "
                "WHERE id=? AND status='pending' AND expires_at>?",
                (now, rid, now),
            )
            return cur.rowcount == 1

    def answer(
        self, rid: str, result: dict[str, Any], response_code_sha256: str | None = None
    ) -> None:
        with self.db.tx() as conn:
            conn.execute(
                "UPDATE requests SET status='answered', result=?, enc_key=NULL, "
                "response_code_sha256=? WHERE id=?",
                (json.dumps(result), response_code_sha256, rid),
            )

    def fail(self, rid: str, result: dict[str, Any]) -> bool:
        """A taken request whose judging failed: ``failed`` with ``result`` (its reason)."""
        with self.db.tx() as conn:
            cur = conn.execute(
                "UPDATE requests SET status='failed', result=?, enc_key=NULL "
                "WHERE id=? AND status='taken'",
                (json.dumps(result), rid),
            )
            return cur.rowcount == 1

    def fail_unfinished(self, result: dict[str, Any]) -> int:
        """At start: every request still taken was being judged when the node stopped; it
        ends ``failed`` (never retried: the clerk starts a new request). How many."""
        with self.db.tx() as conn:
            cur = conn.execute(
                "UPDATE requests SET status='failed', result=?, enc_key=NULL WHERE status='taken'",
                (json.dumps(result),),
            )
            return int(cur.rowcount)
