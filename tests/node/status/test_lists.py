"""StatusLists as the indexer feeds it: allocation by issue order per issuer, roll-over, and the
bits each lifecycle event sets or clears (no chain: events are built as the indexer stores them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from credledger.node.core.errors import InputError, NotFoundError
from credledger.node.status import MIN_CAPACITY, StatusEntry, StatusLists

A = "0x00000000000000000000000000000000000000Aa"
B = "0x00000000000000000000000000000000000000bB"


@dataclass
class Ev:
    event: str
    args: dict[str, Any]
    block_number: int = 1
    contract: str = "LicenceRegistry"
    log_index: int = 0
    block_time: int = 1_700_000_000
    tx_hash: str = "0x" + "00" * 32
    extra: dict[str, Any] = field(default_factory=dict)


def lid(n: int) -> bytes:
    return n.to_bytes(32, "big")


def issued(n: int, issuer: str, block: int = 1) -> Ev:
    return Ev("LicenceIssued", {"licenceId": "0x" + lid(n).hex(), "issuer": issuer}, block)


def change(name: str, n: int, block: int) -> Ev:
    return Ev(name, {"licenceId": "0x" + lid(n).hex()}, block)


def test_indexes_follow_each_issuers_issue_order_and_roll_over() -> None:
    lists = StatusLists(MIN_CAPACITY)
    events = [issued(i, A if i % 2 else B) for i in range(10)]
    lists.reset(events, 5, 1_700_000_000)
    assert lists.entry_for(lid(0)) == StatusEntry(B, 0, 0)
    assert lists.entry_for(lid(1)) == StatusEntry(A, 0, 0)
    assert lists.entry_for(lid(9)) == StatusEntry(A, 0, 4)
    # a second build from the same chain gives the same entries (any node computes them)
    again = StatusLists(MIN_CAPACITY)
    again.reset(events, 5, 1_700_000_000)
    assert all(again.entry_for(lid(i)) == lists.entry_for(lid(i)) for i in range(10))
    # the list is full after capacity licences: the next one opens list 1 at index 0
    many = [issued(100 + i, A) for i in range(MIN_CAPACITY)]
    lists.extend(many, 6, 1_700_000_002)
    assert lists.entry_for(lid(100 + MIN_CAPACITY - 6)) == StatusEntry(A, 0, MIN_CAPACITY - 1)
    assert lists.entry_for(lid(100 + MIN_CAPACITY - 5)) == StatusEntry(A, 1, 0)
    assert lists.issuers() == {A: 2, B: 1}
    assert lists.state(A.lower(), 1).size == MIN_CAPACITY + 5 - MIN_CAPACITY


def test_lifecycle_events_set_and_clear_bits() -> None:
    lists = StatusLists(MIN_CAPACITY)
    lists.reset([issued(i, A) for i in range(4)], 1, 1_700_000_000)
    lists.extend([change("LicenceSuspended", 1, 2), change("LicenceSuspended", 2, 2)], 2, 0)
    s = lists.state(A, 0)
    assert s.suspended == {1, 2} and s.revoked == set() and s.changed_block == 2
    lists.extend([change("LicenceReinstated", 1, 3), change("LicenceRevoked", 2, 3)], 3, 0)
    s = lists.state(A, 0)
    assert s.suspended == set() and s.revoked == {2} and s.height == 3
    with pytest.raises(NotFoundError):
        lists.entry_for(lid(99))
    with pytest.raises(NotFoundError):
        lists.state(B, 0)
    with pytest.raises(InputError):
        StatusLists(1024)


def test_entry_urls_name_the_issuer_and_list_never_the_licence() -> None:
    e = StatusEntry(A, 3, 77)
    assert (
        e.bitstring_url("http://n/", "suspension") == f"http://n/v1/status-lists/{A}/3/suspension"
    )
    assert e.token_list_url("http://n") == f"http://n/v1/status-lists/{A}/3/token"
    with pytest.raises(ValueError):
        e.bitstring_url("http://n", "message")
