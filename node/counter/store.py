"""The counter's own SQLite database: statements already presented, and the checks made.

``used`` is the single-use store: a presentation's statement hash is inserted, in a committed
transaction with ``synchronous=FULL``, before the node answers, so a token verifies once — also
after a crash or a restart. Concurrent checks are group-committed (``node/groupcommit.py``): one
writer thread takes every waiting check into one transaction, so they share one fsync instead of
queueing for one each; each caller still waits for its own commit. Rows whose token expired more
than an hour ago are purged (such a token is refused as expired anyway).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from credledger.node.core.db import Database, Migration
from credledger.node.groupcommit import GroupCommitter

# Version 1 is the schema from before versions existed (IF NOT EXISTS adopts such a file).
# Append new migrations; never edit a shipped one.
SCHEMA_V1 = """
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
MIGRATIONS: list[Migration] = [SCHEMA_V1]

PURGE_AFTER = 3600

Decide = Callable[[tuple[str, float] | None], tuple[str, dict[str, Any]]]
#: statement, expires_at, verification id, checked_by, decide
_Settle = tuple[bytes | None, int, str, str, Decide]


class CounterStore:
    """``data_dir/counter.sqlite3`` through :class:`~credledger.node.core.db.Database`
    (WAL, ``synchronous=FULL``: the single-use take is fsynced before the node answers)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = Database(path, MIGRATIONS)
        self._last_purge = 0.0
        self._writer: GroupCommitter[_Settle, tuple[str, float] | None] = GroupCommitter(
            self._commit, name="counter-settle"
        )

    def close(self) -> None:
        self._writer.close()
        self.db.close()

    def settle(
        self,
        statement: bytes | None,
        expires_at: int,
        verification_id: str,
        checked_by: str,
        decide: Callable[[tuple[str, float] | None], tuple[str, dict[str, Any]]],
    ) -> tuple[str, float] | None:
        """Durably (committed, fsynced) take ``statement`` (when given) and write the check row,
        in a transaction shared with the checks waiting at the same moment. ``decide(first_use)``
        gives the verdict and summary, knowing whether the statement was already used
        (``first_use`` = its first verification id and time)."""
        return self._writer.write((statement, expires_at, verification_id, checked_by, decide))

    def _commit(self, items: list[_Settle]) -> list[tuple[str, float] | None]:
        """The writer thread: every waiting check in one transaction, in arrival order (so the
        second of two checks of one statement in the same group sees the first's row)."""
        now = time.time()
        out: list[tuple[str, float] | None] = []
        with self.db.tx() as conn:
            for statement, expires_at, verification_id, checked_by, decide in items:
                first: tuple[str, float] | None = None
                if statement is not None:
                    cur = conn.execute(
                        "INSERT OR IGNORE INTO used VALUES (?, ?, ?, ?)",
                        (statement, verification_id, now, expires_at),
                    )
                    if cur.rowcount != 1:
                        row = conn.execute(
                            "SELECT verification_id, used_at FROM used WHERE statement=?",
                            (statement,),
                        ).fetchone()
                        first = (str(row[0]), float(row[1]))
                verdict, summary = decide(first)
                conn.execute(
                    "INSERT INTO checks VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        verification_id,
                        statement,
                        checked_by,
                        now,
                        verdict,
                        json.dumps(summary, sort_keys=True, ensure_ascii=False),
                    ),
                )
                out.append(first)
            if now - self._last_purge > 60:
                self._last_purge = now
                conn.execute("DELETE FROM used WHERE expires_at < ?", (now - PURGE_AFTER,))
        return out

    def checks_by(self, checked_by: str, since: float, limit: int = 200) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT verification_id, checked_at, verdict, summary FROM checks "
            "WHERE checked_by=? AND checked_at>=? ORDER BY checked_at DESC LIMIT ?",
            (checked_by, since, limit),
        )
        return [{"id": r[0], "checkedAt": r[1], "verdict": r[2], **json.loads(r[3])} for r in rows]

    def checks_of(self, statement: bytes) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT verification_id, checked_at, verdict, summary FROM checks "
            "WHERE statement=? ORDER BY checked_at",
            (statement,),
        )
        return [{"id": r[0], "checkedAt": r[1], "verdict": r[2], **json.loads(r[3])} for r in rows]
