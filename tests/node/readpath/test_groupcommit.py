"""Group commit: concurrent callers share transactions, each waits for its own commit, a bad item
fails alone, and verification records are on disk (a fresh connection reads them) before the
caller gets its answer."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from credledger.node.groupcommit import GroupCommitter, Verification, VerificationLog


def test_concurrent_items_share_groups_and_each_waits_for_its_commit() -> None:
    committed: set[int] = set()

    def commit(items: list[int]) -> list[int]:
        time.sleep(0.02)  # an fsync: while it runs, the next callers queue up
        committed.update(items)
        return [i * 2 for i in items]

    gc: GroupCommitter[int, int] = GroupCommitter(commit)
    results: dict[int, int] = {}
    seen_before_answer: list[bool] = []

    def caller(i: int) -> None:
        results[i] = gc.write(i)
        seen_before_answer.append(i in committed)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gc.close()
    assert results == {i: i * 2 for i in range(64)}
    assert all(seen_before_answer) and len(seen_before_answer) == 64
    assert gc.items == 64 and gc.groups < 16  # far fewer transactions than callers


def test_a_failing_item_fails_only_its_caller() -> None:
    def commit(items: list[int]) -> list[int]:
        if 13 in items:
            raise ValueError("bad item 13")
        return items

    gc: GroupCommitter[int, int] = GroupCommitter(commit)
    futures = {i: gc.submit(i) for i in range(30)}
    assert all(futures[i].result(5) == i for i in range(30) if i != 13)
    with pytest.raises(ValueError, match="bad item 13"):
        futures[13].result(5)
    gc.close()


def test_verification_records_are_durable_before_the_answer(tmp_path: Path) -> None:
    db = tmp_path / "licences.sqlite3"
    anchored: list[list[bytes]] = []

    def anchor(hashes: list[bytes]) -> list[str]:
        anchored.append(hashes)
        time.sleep(0.01)  # a network round trip: the next records queue up meanwhile
        return ["pending"] * len(hashes)

    vlog = VerificationLog(db, anchor)
    answers: list[str] = []

    def clerk(i: int) -> None:
        v = Verification(f"vr_{i}", bytes([i]) * 32, {"verdict": "VALID", "n": i}, (b"L" * 32,))
        status = vlog.write(v)
        # the answer comes after the commit: another connection already sees the row
        with sqlite3.connect(db) as other:
            row = other.execute("SELECT record FROM verifications WHERE id=?", (v.id,)).fetchone()
        answers.append(status if row else "missing")

    threads = [threading.Thread(target=clerk, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # durable and answered; anchoring follows on its own thread, never holding up an answer
    assert answers == ["queued"] * 40
    assert vlog.groups < 40

    async def from_the_loop() -> str:
        return await vlog.write_async(Verification("vr_async", b"\xaa" * 32, {}, ()))

    assert asyncio.run(from_the_loop()) == "queued"
    vlog.close()  # hands what is queued to anchoring before it returns
    handed = [h for g in anchored for h in g]
    assert sorted(handed) == sorted([bytes([i]) * 32 for i in range(40)] + [b"\xaa" * 32])
    assert len(anchored) < 41  # in groups
    with sqlite3.connect(db) as other:
        n = other.execute("SELECT count(*) FROM verification_licences").fetchone()[0]
    assert n == 40

    # a restart hands the newest records to anchoring again (a crash between the two stages
    # loses nothing; anchoring never makes a known hash a second leaf)
    anchored.clear()
    again = VerificationLog(db, anchor)
    again.close()
    assert sorted(h for g in anchored for h in g) == sorted(handed)
