"""The one SQLite module: connections, durable transactions and schema versions.

Every database the node (or the wallet) keeps goes through :class:`Database`:

- ``connect(path, synchronous=...)`` opens a connection in WAL mode, autocommit off (we issue
  ``BEGIN IMMEDIATE`` ourselves), a 30 s busy timeout, and ``synchronous=FULL`` (every commit is
  fsynced) unless the caller asks for ``NORMAL``.
- A schema is a list of **migrations**; migration *i* (0-based) takes the database from
  ``PRAGMA user_version`` *i* to *i + 1*. A migration is an SQL script or a function of the
  connection. Each runs in its own ``BEGIN IMMEDIATE`` transaction together with the new
  ``user_version``, so a crash leaves the database at the old version or the new one, never between.
  Migrations are append-only: never edit one that has shipped, add the next.
- ``Database.tx()`` is one durable write transaction; ``Database.query()`` / ``query_one()`` read.
  One lock per :class:`Database` serialises its users (a connection is shared by threads).
- ``Database.writer(synchronous=...)`` opens a further connection to the same, already migrated
  file for one thread that writes on its own (a group-commit writer): it never waits for the
  lock of the shared connection and may choose its own fsync policy. The schema stays the
  ``Database``'s: nothing else creates tables.

A database created before schema versions existed has ``user_version = 0`` and the tables of the
first migration already; first migrations therefore use ``CREATE … IF NOT EXISTS`` so that they
adopt such a database as it is.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

Migration = str | Callable[[sqlite3.Connection], None]
Synchronous = Literal["FULL", "NORMAL"]


def connect(
    path: Path, *, synchronous: Synchronous = "FULL", readonly: bool = False
) -> sqlite3.Connection:
    """A connection in WAL mode with ``synchronous`` fsync policy, autocommit (we BEGIN)."""
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
        conn.execute("PRAGMA busy_timeout=30000")
        return conn
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> int:
    """Apply the migrations the database has not seen yet; return the resulting version.

    Raises :class:`RuntimeError` if the database is newer than this code (a downgrade).
    """
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = user_version(conn)  # read inside the lock: another process may migrate
            if current > len(migrations):
                raise RuntimeError(
                    f"database schema version {current} is newer than this program knows "
                    f"({len(migrations)}); upgrade credledger"
                )
            if current == len(migrations):
                conn.execute("COMMIT")
                return current
            step = migrations[current]
            if isinstance(step, str):
                for statement in _statements(step):
                    conn.execute(statement)
            else:
                step(conn)
            conn.execute(f"PRAGMA user_version = {current + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (``executescript`` would COMMIT)."""
    out: list[str] = []
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n\t;"):
                out.append(buf.strip())
            buf = ""
    if buf.strip(" \n\t;"):
        raise ValueError(f"incomplete SQL statement in migration: {buf.strip()[:80]}")
    return out


class Database:
    """One SQLite database file with its schema migrations applied, shared by threads."""

    def __init__(
        self,
        path: Path,
        migrations: Sequence[Migration],
        *,
        synchronous: Synchronous = "FULL",
    ) -> None:
        self.path = path
        self.conn = connect(path, synchronous=synchronous)
        self.lock = threading.RLock()
        with self.lock:
            self.version = migrate(self.conn, migrations)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def writer(self, *, synchronous: Synchronous = "FULL") -> sqlite3.Connection:
        """A further connection to this database for one writer thread (the caller closes it).

        The file is already at the current schema version (this object migrated it), so the
        connection writes no schema; SQLite's own locking orders its transactions with ours.
        """
        return connect(self.path, synchronous=synchronous)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One durable write transaction: BEGIN IMMEDIATE … COMMIT (fsynced when FULL)."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return list(self.conn.execute(sql, args).fetchall())

    def query_one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with self.lock:
            row: tuple[Any, ...] | None = self.conn.execute(sql, args).fetchone()
            return row
