"""Group commit: concurrent callers share transactions, each waits for its own commit, a bad item
fails alone, and verification records are on disk (a fresh connection reads them) before the
caller gets its answer.

The group sizes are made certain, not left to thread scheduling: the first commit (or the
anchoring call) is held at a gate until every other caller has queued its item, so the writer
then takes all of them at once and the number of groups is known exactly."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

from credledger.node.groupcommit import GroupCommitter, Verification, VerificationLog
from credledger.node.licences.store import LicenceStore

WAIT = 30.0  # a bound on every wait below; none is reached unless the code is broken


class CountingCommitter(GroupCommitter[int, int]):
    """A committer that tells the test each time an item is queued."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.queued = threading.Semaphore(0)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def submit(self, item: int) -> Future[int]:
        fut = super().submit(item)
        self.queued.release()
        return fut


def test_concurrent_items_share_groups_and_each_waits_for_its_commit() -> None:
    committed: set[int] = set()
    in_first_commit = threading.Event()
    gate = threading.Event()

    def commit(items: list[int]) -> list[int]:
        if not in_first_commit.is_set():  # an fsync that lasts until every caller has queued
            in_first_commit.set()
            assert gate.wait(WAIT)
        committed.update(items)
        return [i * 2 for i in items]

    gc = CountingCommitter(commit, max_group=16)
    results: dict[int, int] = {}
    seen_before_answer: list[bool] = []

    def caller(i: int) -> None:
        results[i] = gc.write(i)
        seen_before_answer.append(i in committed)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(64)]
    threads[0].start()
    assert in_first_commit.wait(WAIT)  # the writer took caller 0 alone and is committing it
    for t in threads[1:]:
        t.start()
    for _ in range(64):
        assert gc.queued.acquire(timeout=WAIT)  # every caller has queued its item
    assert results == {}  # nobody has an answer while the first commit runs
    gate.set()
    for t in threads:
        t.join(WAIT)
    gc.close()
    assert results == {i: i * 2 for i in range(64)}
    assert all(seen_before_answer) and len(seen_before_answer) == 64
    # caller 0 alone, then the 63 that queued meanwhile in groups of at most 16: 16+16+16+15
    assert gc.items == 64 and gc.groups == 1 + 4


def test_a_failing_item_fails_only_its_caller() -> None:
    in_first_commit = threading.Event()
    gate = threading.Event()
    seen: list[list[int]] = []

    def commit(items: list[int]) -> list[int]:
        if not in_first_commit.is_set():
            in_first_commit.set()
            assert gate.wait(WAIT)
        seen.append(items)
        if 13 in items:
            raise ValueError("bad item 13")
        return items

    gc: GroupCommitter[int, int] = GroupCommitter(commit)
    futures = {0: gc.submit(0)}
    assert in_first_commit.wait(WAIT)
    futures |= {i: gc.submit(i) for i in range(1, 30)}  # queued while item 0 commits
    gate.set()
    assert all(futures[i].result(WAIT) == i for i in range(30) if i != 13)
    with pytest.raises(ValueError, match="bad item 13"):
        futures[13].result(WAIT)
    gc.close()
    # the group holding 13 failed as a whole and was retried one by one
    assert seen == [[0], list(range(1, 30)), *([i] for i in range(1, 30))]
    assert gc.groups == 1 + 28 and gc.items == 29


def test_verification_records_are_durable_before_the_answer(tmp_path: Path) -> None:
    db = tmp_path / "licences.sqlite3"
    anchored: list[list[bytes]] = []
    anchoring_gate = threading.Event()

    def anchor(hashes: list[bytes]) -> list[str]:
        # a slow network round trip: held until every answer is given, which shows that
        # anchoring never holds up an answer, and lets the next hashes queue up meanwhile
        assert anchoring_gate.wait(WAIT)
        anchored.append(hashes)
        return ["pending"] * len(hashes)

    store = LicenceStore(db)  # its migrations make the tables; the log only writes rows
    vlog = VerificationLog(store.db, anchor)

    async def clerk(i: int) -> str:
        v = Verification(f"vr_{i}", bytes([i]) * 32, {"verdict": "VALID", "n": i}, (b"L" * 32,))
        status = await vlog.write_async(v)
        # the answer comes after the commit: another connection already sees the row
        with sqlite3.connect(db) as other:
            row = other.execute("SELECT record FROM verifications WHERE id=?", (v.id,)).fetchone()
        return status if row else "missing"

    async def forty_clerks() -> list[str]:
        # the store's write lock is held while the 40 requests queue (each task runs up to its
        # first await, i.e. has submitted its record, before the loop comes back here), so the
        # writer commits them in at most two groups: what it took first, then all the rest
        with store.db.tx():
            tasks = [asyncio.create_task(clerk(i)) for i in range(40)]
            await asyncio.sleep(0)
        return await asyncio.wait_for(asyncio.gather(*tasks), WAIT)

    answers = asyncio.run(forty_clerks())
    # durable and answered while anchoring is still held up
    assert answers == ["queued"] * 40
    assert 1 <= vlog.groups <= 2
    assert anchored == []

    async def from_the_loop() -> str:
        return await vlog.write_async(Verification("vr_async", b"\xaa" * 32, {}, ()))

    assert asyncio.run(from_the_loop()) == "queued"
    anchoring_gate.set()
    vlog.close()  # hands what is queued to anchoring before it returns
    handed = [h for g in anchored for h in g]
    assert sorted(handed) == sorted([bytes([i]) * 32 for i in range(40)] + [b"\xaa" * 32])
    # the one hash anchoring took first, then everything that queued while it was held
    assert 1 <= len(anchored) <= 2
    with sqlite3.connect(db) as other:
        n = other.execute("SELECT count(*) FROM verification_licences").fetchone()[0]
    assert n == 40

    # a restart hands the newest records to anchoring again (a crash between the two stages
    # loses nothing; anchoring never makes a known hash a second leaf)
    anchored.clear()
    again = VerificationLog(store.db, anchor)
    again.close()
    assert sorted(h for g in anchored for h in g) == sorted(handed)
    store.close()
