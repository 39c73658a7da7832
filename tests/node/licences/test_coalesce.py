"""Unit tests of the group commit (node/licences/coalesce.py) with a controllable sender: what
goes out in which transaction, and how a failing batch is split."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from credledger.node.core.errors import ConflictError, CredledgerError
from credledger.node.licences.coalesce import IssueCoalescer


class Chain:
    """Records each transaction (the requests it carried); holds every send until released."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.sent: list[list[str]] = []
        self.gate = threading.Event()
        self.refuse = refuse or set()
        self.entered = threading.Semaphore(0)

    def send(self, requests: Sequence[Any]) -> Any:
        self.entered.release()
        assert self.gate.wait(10)
        bad = self.refuse & set(requests)
        if bad:
            raise ConflictError(f"{sorted(bad)} already exist")
        self.sent.append(list(requests))
        return {"transactionHash": f"tx{len(self.sent)}", "carried": list(requests)}


def wait_for(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def submit_all(c: IssueCoalescer, names: list[str]) -> tuple[ThreadPoolExecutor, list[Future[Any]]]:
    pool = ThreadPoolExecutor(len(names))
    return pool, [pool.submit(c.submit, n, 10) for n in names]


def test_a_lone_request_goes_out_at_once_as_a_single_issue() -> None:
    chain = Chain()
    chain.gate.set()
    c = IssueCoalescer("dept", chain.send)
    assert c.submit("a")["carried"] == ["a"]
    assert chain.sent == [["a"]] and (c.transactions, c.licences) == (1, 1)


def test_requests_arriving_while_one_is_in_flight_share_the_next_transaction() -> None:
    chain = Chain()
    c = IssueCoalescer("dept", chain.send)
    pool, first = submit_all(c, ["a"])
    assert chain.entered.acquire(timeout=5)  # "a" is being sent, alone
    pool2, rest = submit_all(c, [f"r{i}" for i in range(9)])
    wait_for(lambda: c.queued == 9)
    assert c.in_flight == 1
    chain.gate.set()
    receipts = [f.result() for f in first + rest]
    assert chain.sent[0] == ["a"]
    assert sorted(chain.sent[1]) == [f"r{i}" for i in range(9)] and len(chain.sent) == 2
    assert {r["transactionHash"] for r in receipts[1:]} == {"tx2"}
    assert (c.transactions, c.licences, c.queued) == (2, 10, 0)
    pool.shutdown()
    pool2.shutdown()


def test_a_group_is_capped_at_max_batch() -> None:
    chain = Chain()
    c = IssueCoalescer("dept", chain.send, max_batch=4)
    pool, first = submit_all(c, ["a"])
    assert chain.entered.acquire(timeout=5)
    pool2, rest = submit_all(c, [f"r{i}" for i in range(10)])
    wait_for(lambda: c.queued == 10)
    chain.gate.set()
    for f in first + rest:
        f.result()
    assert [len(t) for t in chain.sent] == [1, 4, 4, 2]
    pool.shutdown()
    pool2.shutdown()


def test_a_refused_batch_is_split_and_only_the_bad_request_fails() -> None:
    chain = Chain(refuse={"bad"})
    c = IssueCoalescer("dept", chain.send)
    pool, first = submit_all(c, ["a"])
    assert chain.entered.acquire(timeout=5)
    pool2, rest = submit_all(c, ["x", "bad", "y"])
    wait_for(lambda: c.queued == 3)
    chain.gate.set()
    first[0].result()
    results: dict[str, Any] = {}
    for name, f in zip(["x", "bad", "y"], rest, strict=True):
        try:
            results[name] = f.result()["carried"]
        except CredledgerError as exc:
            results[name] = exc
    assert results["x"] == ["x"] and results["y"] == ["y"]
    assert isinstance(results["bad"], ConflictError)
    # the batch went nowhere; each good request went on its own
    assert sorted(map(tuple, chain.sent)) == [("a",), ("x",), ("y",)]
    assert (c.transactions, c.licences) == (3, 3)
    pool.shutdown()
    pool2.shutdown()


def test_an_unexpected_failure_reaches_every_caller_and_the_worker_goes_on() -> None:
    calls = {"n": 0}

    def send(requests: Sequence[Any]) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("rpc down")
        return {"carried": list(requests)}

    c = IssueCoalescer("dept", send)
    with pytest.raises(RuntimeError, match="rpc down"):
        c.submit("a")
    assert c.submit("b")["carried"] == ["b"]  # the worker survived
