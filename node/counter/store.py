"""The counter's own SQLite database: statements already presented, and the checks made.

``used`` is the single-use store: a presentation's statement hash is inserted, in a committed
transaction with ``synchronous=FULL``, before the node answers, so a token verifies once — also
after a crash or a restart. Rows whose token expired more than an hour ago are purged (such a
token is refused as expired anyway).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS used (
    statement       BLOB PRIMARY KEY,
    verification_id TEXT NOT NULL,
    used_at         REAL NOT NULL,
    expires_at      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS checks (
    verification_id TEXT PRIMARY KEY,
    statement       BLOB,
    checked_by      TEXT NOT NULL,
    checked_at      REAL NOT NULL,
    verdict         TEXT NOT NULL,
    summary         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS checks_by ON checks (checked_by, checked_at);
CREATE INDEX IF NOT EXISTS checks_statement ON checks (statement);
"""

PURGE_AFTER = 3600


class CounterStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._last_purge = 0.0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def use(
        self, statement: bytes, expires_at: int, verification_id: str
    ) -> tuple[str, float] | None:
        """Mark ``statement`` used; None the first time, else (first verification id, time)."""
        now = time.time()
        with self._lock:
            if now - self._last_purge > 60:
                self._db.execute("DELETE FROM used WHERE expires_at < ?", (now - PURGE_AFTER,))
                self._last_purge = now
            cur = self._db.execute(
                "INSERT OR IGNORE INTO used VALUES (?, ?, ?, ?)",
                (statement, verification_id, now, expires_at),
            )
            if cur.rowcount == 1:
                return None
            row = self._db.execute(
                "SELECT verification_id, used_at FROM used WHERE statement=?", (statement,)
            ).fetchone()
        return (str(row[0]), float(row[1])) if row else ("?", now)

    def add_check(
        self,
        verification_id: str,
        statement: bytes | None,
        checked_by: str,
        verdict: str,
        summary: dict[str, Any],
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO checks VALUES (?, ?, ?, ?, ?, ?)",
                (
                    verification_id,
                    statement,
                    checked_by,
                    time.time(),
                    verdict,
                    json.dumps(summary, sort_keys=True, ensure_ascii=False),
                ),
            )

    def checks_by(self, checked_by: str, since: float, limit: int = 200) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT verification_id, checked_at, verdict, summary FROM checks "
                "WHERE checked_by=? AND checked_at>=? ORDER BY checked_at DESC LIMIT ?",
                (checked_by, since, limit),
            ).fetchall()
        return [{"id": r[0], "checkedAt": r[1], "verdict": r[2], **json.loads(r[3])} for r in rows]

    def checks_of(self, statement: bytes) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT verification_id, checked_at, verdict, summary FROM checks "
                "WHERE statement=? ORDER BY checked_at",
                (statement,),
            ).fetchall()
        return [{"id": r[0], "checkedAt": r[1], "verdict": r[2], **json.loads(r[3])} for r in rows]
