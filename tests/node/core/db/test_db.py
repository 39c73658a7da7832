"""node/core/db.py: pragmas, transactions, migrations, and the upgrade of each database (the node's
three and the wallet's) from the schema that shipped before schema versions
(tests/node/core/db/legacy/*.sql, frozen copies)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from credledger.node import indexer
from credledger.node.anchoring import store as anchoring_store
from credledger.node.anchoring.store import AnchorStore
from credledger.node.core.db import Database, connect, migrate, user_version
from credledger.node.core.errors import ConflictError
from credledger.node.groupcommit import Verification, VerificationLog
from credledger.node.licences import store as licences_store
from credledger.node.licences.store import LicenceStore
from credledger.wallet import store as wallet_store
from credledger.wallet.store import WalletStore

LEGACY = Path(__file__).parent / "legacy"


def legacy_db(path: Path, name: str) -> sqlite3.Connection:
    """A database exactly as the node created it before schema versions existed."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript((LEGACY / f"{name}.sql").read_text())
    assert user_version(conn) == 0
    return conn


def test_connect_sets_wal_and_fsync_policy(tmp_path: Path) -> None:
    full = connect(tmp_path / "sub" / "a.sqlite3")  # the folder is created on demand
    assert full.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert full.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    normal = connect(tmp_path / "b.sqlite3", synchronous="NORMAL")
    assert normal.execute("PRAGMA synchronous").fetchone()[0] == 1
    ro = connect(tmp_path / "sub" / "a.sqlite3", readonly=True)
    with pytest.raises(sqlite3.OperationalError):
        ro.execute("CREATE TABLE t (x)")


def test_migrations_run_once_in_order_and_record_the_version(tmp_path: Path) -> None:
    calls: list[int] = []

    def third(conn: sqlite3.Connection) -> None:
        calls.append(user_version(conn))
        conn.execute("INSERT INTO t VALUES (3)")

    steps = ["CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);", "INSERT INTO t VALUES (2)"]
    db = Database(tmp_path / "m.sqlite3", steps)
    assert db.version == 2
    db.close()
    db = Database(tmp_path / "m.sqlite3", [*steps, third])
    assert db.version == 3 and calls == [2]
    assert db.query("SELECT x FROM t ORDER BY x") == [(1,), (2,), (3,)]
    db.close()
    db = Database(tmp_path / "m.sqlite3", [*steps, third])  # nothing left to do
    assert calls == [2] and db.query("SELECT count(*) FROM t") == [(3,)]


def test_a_failing_migration_leaves_the_previous_version_intact(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite3"
    Database(path, ["CREATE TABLE t (x INTEGER)"]).close()
    broken = ["CREATE TABLE t (x INTEGER)", "CREATE TABLE u (y); INSERT INTO nowhere VALUES (1);"]
    with pytest.raises(sqlite3.OperationalError):
        Database(path, broken)
    conn = connect(path)
    assert user_version(conn) == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"t"}  # u was rolled back with the version bump


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "n.sqlite3"
    Database(path, ["CREATE TABLE t (x)", "CREATE TABLE u (x)"]).close()
    with pytest.raises(RuntimeError, match="newer"):
        migrate(connect(path), ["CREATE TABLE t (x)"])


def test_tx_rolls_back_on_error_and_serialises_threads(tmp_path: Path) -> None:
    db = Database(tmp_path / "t.sqlite3", ["CREATE TABLE c (n INTEGER)"])
    with db.tx() as c:
        c.execute("INSERT INTO c VALUES (0)")
    with pytest.raises(ZeroDivisionError), db.tx() as c:
        c.execute("UPDATE c SET n = 99")
        _ = 1 / 0
    assert db.query_one("SELECT n FROM c") == (0,)

    def bump() -> None:
        for _ in range(50):
            with db.tx() as c:
                (n,) = c.execute("SELECT n FROM c").fetchone()
                c.execute("UPDATE c SET n = ?", (n + 1,))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert db.query_one("SELECT n FROM c") == (200,)


# --- upgrades of the three node databases from their pre-version schema ----------------------


def test_anchoring_database_upgrades_from_the_legacy_schema(tmp_path: Path) -> None:
    path = tmp_path / "anchoring.sqlite3"
    old = legacy_db(path, "anchoring")
    old.execute("INSERT INTO docs (doc_hash, submitted_at) VALUES (?, 1.5)", (b"\x11" * 32,))
    old.execute(
        "INSERT INTO batches (root, leaf_count, status, created_at) VALUES (?, 1, 'pending', 2)",
        (b"\x22" * 32,),
    )
    old.close()
    store = AnchorStore(path)
    assert store.db.version == len(anchoring_store.MIGRATIONS)
    assert store.doc(b"\x11" * 32) is not None
    assert [b.root for b in store.batches("pending")] == [b"\x22" * 32]
    rows, new = store.add_docs([b"\x11" * 32, b"\x33" * 32])
    assert new == 1 and rows[0].seq == 1


def test_indexer_database_upgrades_from_the_legacy_schema(tmp_path: Path) -> None:
    path = tmp_path / "indexer.sqlite3"
    old = legacy_db(path, "indexer")
    old.execute(
        "INSERT INTO events VALUES (5, 0, 'LicenceRegistry', '0xabc', 'LicenceIssued', ?, "
        "'0xbh', '0xth', 100)",
        (json.dumps({"licenceId": "0x01"}),),
    )
    old.execute("INSERT INTO progress VALUES (0, 7)")
    old.close()
    db = Database(path, indexer.MIGRATIONS)
    assert db.version == len(indexer.MIGRATIONS)
    assert db.query("SELECT height FROM progress") == [(7,)]
    assert db.query("SELECT json_extract(args, '$.licenceId') FROM events") == [("0x01",)]


def test_licences_database_upgrades_and_settles_claims_left_by_an_old_run(tmp_path: Path) -> None:
    path = tmp_path / "licences.sqlite3"
    old = legacy_db(path, "licences")
    now = 1e10  # a claim "from the future": only the run id can tell it is orphaned
    old.execute("INSERT INTO idempotency VALUES ('dept:a', 'k1', 'fp', 'pending', NULL, ?)", (now,))
    old.execute(
        "INSERT INTO idempotency VALUES ('dept:a', 'k2', 'fp', 'done', ?, 1)",
        (json.dumps({"licenceId": "0x02"}),),
    )
    old.execute("INSERT INTO serials VALUES (?, 'SN-1')", (b"\x01" * 32,))
    old.close()
    store = LicenceStore(path)
    assert store.db.version == len(licences_store.MIGRATIONS) == 2
    assert store.serial_of(b"\x01" * 32) == "SN-1"
    assert store.claim("dept:a", "k2", "fp").answer == {"licenceId": "0x02"}
    # the pending claim of the pre-upgrade run is orphaned at once (no five-minute wait) …
    assert store.claim("dept:a", "k1", "fp").orphaned
    # … and now belongs to this run: a concurrent duplicate is refused while it runs
    with pytest.raises(ConflictError, match="still being processed"):
        store.claim("dept:a", "k1", "fp")
    with pytest.raises(ConflictError, match="different request"):
        store.claim("dept:a", "k1", "other")
    store.close()
    # a restart (a new run) sees the claim as orphaned again
    assert LicenceStore(path).claim("dept:a", "k1", "fp").orphaned


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
    return [(r[0], r[1]) for r in rows]


def test_wallet_database_adopts_the_file_an_older_wallet_made(tmp_path: Path) -> None:
    path = tmp_path / "wallet.sqlite3"
    old = legacy_db(path, "wallet")
    old.execute(
        "INSERT INTO enterprises (uscc, name, address, custody, data_key, created_at) "
        "VALUES ('91350200MA00000001', 'Xiamen Test Co.', '0xabc', 'wallet', ?, 1.0)",
        (b"wrapped",),
    )
    old.execute(
        "INSERT INTO people (enterprise_id, login, name, role, password_hash, kek_salt, "
        "created_at) VALUES (1, 'lr', 'Li', 'legal', '$argon2id$x', ?, 1.0)",
        (b"salt",),
    )
    legacy_schema = _schema(old)
    old.close()
    store = WalletStore(path)
    assert store.version == len(wallet_store.MIGRATIONS) >= 1
    assert [tuple(r) for r in store.db.query("PRAGMA user_version")] == [(store.version,)]
    row = store.one("SELECT name, custody FROM enterprises WHERE uscc=?", "91350200MA00000001")
    assert row is not None and (row["name"], row["custody"]) == ("Xiamen Test Co.", "wallet")
    assert [r["login"] for r in store.all("SELECT login FROM people")] == ["lr"]
    if len(wallet_store.MIGRATIONS) == 1:  # version 1 adopts the file exactly as it is
        assert _schema(store.db.conn) == legacy_schema
    # the store still enforces what the old one did: foreign keys, one transaction per change
    with pytest.raises(sqlite3.IntegrityError), store.tx() as c:
        c.execute("INSERT INTO sessions VALUES ('h', 99, 1, 2, NULL)")
    with store.tx() as c:
        store.event(c, 1, "lr", "filed", name="a.pdf")
    assert store.one("SELECT action FROM events")["action"] == "filed"  # type: ignore[index]
    store.close()
    # a fresh wallet file has the same tables as the adopted one, and reopening changes nothing
    fresh = WalletStore(tmp_path / "fresh.sqlite3")
    assert _schema(fresh.db.conn) == _schema(WalletStore(path).db.conn)
    assert WalletStore(tmp_path / "fresh.sqlite3").version == fresh.version


def test_the_verification_log_writes_rows_into_the_licence_stores_schema(tmp_path: Path) -> None:
    path = tmp_path / "licences.sqlite3"
    legacy_db(path, "licences").close()  # an adopted pre-version file works the same
    store = LicenceStore(path)
    before = _schema(store.db.conn)
    vlog = VerificationLog(store.db)
    assert vlog.write(Verification("vr_1", b"\x01" * 32, {"n": 1}, (b"L" * 32,))) == "not-anchored"
    vlog.close()
    assert _schema(store.db.conn) == before  # the log created nothing: one schema, one owner
    found = store.verification("vr_1")
    assert found == (b"\x01" * 32, {"n": 1})
    assert [v[0] for v in store.verifications_of(b"L" * 32)] == ["vr_1"]
