"""The counter's database on node/core/db.py: schema versions, adoption of a file from before
schema versions, the single-use take surviving a reopen, and pending records committed with the
take."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from credledger.node.core.db import user_version
from credledger.node.counter.store import MIGRATIONS, CounterStore, Pending

# the schema the counter shipped before node/core/db.py (frozen copy: never edit)
PRE_VERSION_SCHEMA = """
CREATE TABLE IF NOT EXISTS used (statement BLOB PRIMARY KEY, verification_id TEXT NOT NULL,
    used_at REAL NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS checks (verification_id TEXT PRIMARY KEY, statement BLOB,
    checked_by TEXT NOT NULL, checked_at REAL NOT NULL, verdict TEXT NOT NULL,
    summary TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS checks_by ON checks (checked_by, checked_at);
CREATE INDEX IF NOT EXISTS checks_statement ON checks (statement);
"""


def _verdict(first: tuple[str, float] | None) -> tuple[str, dict[str, object], None]:
    return ("REFUSED" if first else "VALID"), {"reasons": ["REPLAYED"] if first else []}, None


def test_a_new_database_is_at_the_latest_version(tmp_path: Path) -> None:
    store = CounterStore(tmp_path / "counter.sqlite3")
    try:
        assert store.db.version == len(MIGRATIONS) == 2
        assert user_version(store.db.conn) == 2
    finally:
        store.close()


def test_a_statement_is_taken_once_also_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "counter.sqlite3"
    store = CounterStore(path)
    assert store.settle(b"s" * 32, 2**31, "vr_1", "clerk:a", _verdict) is None
    store.close()
    store = CounterStore(path)
    try:
        first = store.settle(b"s" * 32, 2**31, "vr_2", "clerk:a", _verdict)
        assert first is not None and first[0] == "vr_1"
        assert [c["verdict"] for c in store.checks_of(b"s" * 32)] == ["VALID", "REFUSED"]
        assert [c["id"] for c in store.checks_by("clerk:a", 0)] == ["vr_2", "vr_1"]
    finally:
        store.close()


def test_a_database_from_before_schema_versions_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "counter.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(PRE_VERSION_SCHEMA)
    old.execute("INSERT INTO used VALUES (?, 'vr_old', 1.0, ?)", (b"o" * 32, 2**31))
    old.commit()
    old.close()
    store = CounterStore(path)
    try:
        assert store.db.version == 2
        first = store.settle(b"o" * 32, 2**31, "vr_new", "clerk:a", _verdict)
        assert first == ("vr_old", 1.0)
    finally:
        store.close()


def test_the_take_and_its_pending_record_are_one_write(tmp_path: Path) -> None:
    path = tmp_path / "counter.sqlite3"
    store = CounterStore(path)
    record = {"id": "vr_p", "verdict": "VALID", "assets": []}

    def pending(first: tuple[str, float] | None) -> tuple[str, dict[str, object], Pending]:
        return (
            "PENDING",
            {"reasons": [], "assets": []},
            Pending("vr_p", b"p" * 32, True, record, (b"L" * 32,)),
        )

    assert store.settle(b"p" * 32, 2**31, "vr_p", "clerk:a", pending) is None
    store.close()  # as a crash would leave it: taken, the record pending, the check PENDING
    store = CounterStore(path)
    try:
        assert store.pending() == [Pending("vr_p", b"p" * 32, True, record, (b"L" * 32,))]
        assert [c["verdict"] for c in store.checks_of(b"p" * 32)] == ["PENDING"]
        # a second check of it while it waits for the chain: nothing written, WAITING
        assert store.settle(b"p" * 32, 2**31, "vr_q", "clerk:a", _verdict) == ("", -1.0)
        store.resolve_now("vr_p", "REFUSED", {"reasons": ["NOT_ACCEPTED"], "assets": []}, True)
        assert store.pending() == []
        assert [c["verdict"] for c in store.checks_of(b"p" * 32)] == ["REFUSED"]
        # released: the statement can be taken again
        assert store.settle(b"p" * 32, 2**31, "vr_r", "clerk:a", _verdict) is None
    finally:
        store.close()
