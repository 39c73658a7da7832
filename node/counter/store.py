"""The counter's own SQLite database: statements already presented, and the checks made.

``used`` is the single-use store: a presentation's statement hash is inserted, in a committed
transaction with ``synchronous=FULL``, before the node answers, so a token verifies once — also
after a crash or a restart. Concurrent checks are group-committed (``node/groupcommit.py``): one
writer thread takes every waiting check into one transaction, so they share one fsync instead of
queueing for one each; each caller still waits for its own commit. Rows whose token expired more
than an hour ago are purged (such a token is refused as expired anyway).

``pending`` makes the take and the verification record one atomic write: the record a check will
write (``records.py``, to the licence database) is committed here, in the same transaction as the
take, before anything else happens; once the record is in the licence database the row is
resolved (deleted, without waiting for that commit). A row with ``spend`` set also waits for the
network-wide spend (``spend.py``): its check row says ``PENDING`` until the chain has answered.
After a crash the reconciler (``spend.py``) finishes every row left, so no statement is taken —
here or on chain — without its record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
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
SCHEMA_V2 = """
CREATE TABLE pending (
    verification_id TEXT PRIMARY KEY,
    statement       BLOB,
    spend           INTEGER NOT NULL,
    record          TEXT NOT NULL,
    licence_ids     TEXT NOT NULL,
    created_at      REAL NOT NULL
);
"""
MIGRATIONS: list[Migration] = [SCHEMA_V1, SCHEMA_V2]

PURGE_AFTER = 3600


@dataclass(frozen=True)
class Pending:
    """A verification record not yet in the licence database: the record itself, the licences
    it names, and whether it waits for the on-chain spend of its statement."""

    verification_id: str
    statement: bytes | None
    spend: bool
    record: dict[str, Any]
    licence_ids: tuple[bytes, ...]


#: decide(first_use) -> verdict, summary for the list of checks, the record to write (if any)
Decide = Callable[[tuple[str, float] | None], tuple[str, dict[str, Any], Pending | None]]
#: statement, expires_at, verification id, checked_by, decide
_Settle = tuple[bytes | None, int, str, str, Decide]
#: resolve: verification id, verdict, summary, release the statement's take
_Resolve = tuple[str, str | None, dict[str, Any], bool]
#: the first use of a statement whose check still waits for the chain
WAITING = ("", -1.0)


class CounterStore:
    """``data_dir/counter.sqlite3`` through :class:`~credledger.node.core.db.Database`
    (WAL, ``synchronous=FULL``: the single-use take is fsynced before the node answers)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = Database(path, MIGRATIONS)
        self._last_purge = 0.0
        self._writer: GroupCommitter[_Settle | _Resolve, tuple[str, float] | None] = GroupCommitter(
            self._commit, name="counter-settle"
        )

    def close(self) -> None:
        self._writer.close()
        self.db.close()

    def resolve(
        self,
        verification_id: str,
        verdict: str | None,
        summary: dict[str, Any],
        release: bool = False,
    ) -> None:
        """The record of ``verification_id`` is in the licence database: drop its pending row and
        set its check's final verdict (``release``: also free the statement's take, its spend
        never happened). Queued on the writer, not awaited: a crash before it only makes the
        reconciler find the record already written."""
        self._writer.submit((verification_id, verdict, summary, release))

    def resolve_now(
        self,
        verification_id: str,
        verdict: str | None,
        summary: dict[str, Any],
        release: bool = False,
    ) -> None:
        """:meth:`resolve`, waiting for its commit."""
        self._writer.write((verification_id, verdict, summary, release))

    def pending(self) -> list[Pending]:
        """Every record not resolved yet, oldest first."""
        rows = self.db.query(
            "SELECT verification_id, statement, spend, record, licence_ids FROM pending "
            "ORDER BY created_at"
        )
        return [
            Pending(
                str(r[0]),
                bytes(r[1]) if r[1] is not None else None,
                bool(r[2]),
                json.loads(r[3]),
                tuple(bytes.fromhex(x) for x in json.loads(r[4])),
            )
            for r in rows
        ]

    def settle(
        self,
        statement: bytes | None,
        expires_at: int,
        verification_id: str,
        checked_by: str,
        decide: Decide,
    ) -> tuple[str, float] | None:
        """Durably (committed, fsynced) take ``statement`` (when given) and write the check row,
        in a transaction shared with the checks waiting at the same moment. ``decide(first_use)``
        gives the verdict and summary, knowing whether the statement was already used
        (``first_use`` = its first verification id and time)."""
        return self._writer.write((statement, expires_at, verification_id, checked_by, decide))

    def _commit(self, items: list[_Settle | _Resolve]) -> list[tuple[str, float] | None]:
        """The writer thread: every waiting check in one transaction, in arrival order (so the
        second of two checks of one statement in the same group sees the first's row)."""
        now = time.time()
        out: list[tuple[str, float] | None] = []
        with self.db.tx() as conn:
            for item in items:
                if len(item) == 4:
                    _resolve(conn, *item)
                    out.append(None)
                    continue
                statement, expires_at, verification_id, checked_by, decide = item
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
                        if conn.execute(
                            "SELECT 1 FROM pending WHERE verification_id=? AND spend=1", (row[0],)
                        ).fetchone():
                            out.append(WAITING)
                            continue
                verdict, summary, pending = decide(first)
                if pending is not None:
                    conn.execute(
                        "INSERT INTO pending VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            verification_id,
                            pending.statement,
                            int(pending.spend),
                            json.dumps(pending.record, sort_keys=True, ensure_ascii=False),
                            json.dumps([x.hex() for x in pending.licence_ids]),
                            now,
                        ),
                    )
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


def _resolve(
    conn: Any, verification_id: str, verdict: str | None, summary: dict[str, Any], release: bool
) -> None:
    if release:
        conn.execute("DELETE FROM used WHERE verification_id=?", (verification_id,))
    conn.execute("DELETE FROM pending WHERE verification_id=?", (verification_id,))
    if verdict is not None:
        conn.execute(
            "UPDATE checks SET verdict=?, summary=? WHERE verification_id=?",
            (verdict, json.dumps(summary, sort_keys=True, ensure_ascii=False), verification_id),
        )
