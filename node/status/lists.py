"""The status of every licence, per issuer and list, as of one indexed block.

:class:`StatusLists` is a materialised view fed by the event indexer, exactly like the read model
(:meth:`credledger.node.indexer.Indexer.follow`): every stored event at start-up and after a reorg
rollback (``reset``), then each new chunk right after its commit, under the indexer's lock
(``extend``). So whoever sees ``indexed_height`` N sees block N here too: a suspension mined in
block N is in every list built at N or later.

Allocation (``LicenceIssued``): the k-th licence an issuer ever issued (chain order) gets list
``k // capacity``, index ``k % capacity``. Status: ``LicenceSuspended`` sets the suspension bit,
``LicenceReinstated`` clears it, ``LicenceRevoked`` sets the revocation bit (final) and clears the
suspension bit (the chain's status is then REVOKED, not SUSPENDED). Expiry and amendments touch no
bit (docs/credentials.md "Status lists" gives the mapping of verdicts to purposes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from credledger.node.core.errors import InputError, NotFoundError
from credledger.node.readmodel import IndexedState
from credledger.node.status.entries import DEFAULT_CAPACITY, MIN_CAPACITY, StatusEntry

LICENCE_REGISTRY = "LicenceRegistry"


def _unhex(s: str) -> bytes:
    return bytes.fromhex(s.removeprefix("0x"))


@dataclass
class _List:
    revoked: set[int] = field(default_factory=set)
    suspended: set[int] = field(default_factory=set)
    changed_block: int = -1  # the last block that changed a bit (or allocated an index) here
    version: int = 0  # a new number at each change: what a cache of the encoded list is keyed by


@dataclass
class _Issuer:
    address: str
    number: int  # the order in which the view met the issuer
    count: int = 0
    lists: dict[int, _List] = field(default_factory=dict)


@dataclass(frozen=True)
class ListState:
    """One list, copied out of the view at one block (what a builder encodes)."""

    issuer: str
    list_id: int
    capacity: int
    size: int  # indexes allocated so far in this list
    revoked: frozenset[int]
    suspended: frozenset[int]
    version: int
    changed_block: int
    height: int  # the indexed block the state is as of
    block_time: int  # that block's time (unix seconds)


class StatusLists(IndexedState):
    """Every issuer's status lists from the chain (see the module docstring)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < MIN_CAPACITY or capacity % 8:
            raise InputError(
                f"a status list holds at least {MIN_CAPACITY} entries, a multiple of 8"
            )
        super().__init__()
        self.capacity = capacity
        # every change of any list takes the next number, never reused (not even after a reorg
        # rebuild), so a cache keyed by a list's version is never fooled by a rebuilt list
        self._changes = 0
        self._clear()

    def _clear(self) -> None:
        self._issuers: dict[str, _Issuer] = {}
        self._by_number: list[_Issuer] = []
        # licence id -> issuer number << 48 | the licence's ordinal among the issuer's licences
        # (an int, not a StatusEntry: a million licences cost ~140 MB instead of ~200 MB)
        self._entries: dict[bytes, int] = {}

    @classmethod
    def following(cls, indexer: Any, capacity: int = DEFAULT_CAPACITY) -> StatusLists:
        """Lists fed by ``indexer`` (an :class:`~credledger.node.indexer.Indexer`)."""
        lists = cls(capacity)
        indexer.follow(lists)
        return lists

    # --- fed by the indexer (reset / extend: IndexedState) -----------------------------------

    def _apply_all(self, events: Iterable[Any]) -> None:
        for e in events:
            if e.contract != LICENCE_REGISTRY:
                continue
            name = e.event
            if name == "LicenceIssued":
                self._allocate(_unhex(e.args["licenceId"]), str(e.args["issuer"]), e.block_number)
            elif name in ("LicenceSuspended", "LicenceReinstated", "LicenceRevoked"):
                entry = self._entry(_unhex(e.args["licenceId"]))
                if entry is None:
                    continue
                lst = self._issuers[entry.issuer.lower()].lists[entry.list_id]
                if name == "LicenceSuspended":
                    lst.suspended.add(entry.index)
                elif name == "LicenceReinstated":
                    lst.suspended.discard(entry.index)
                else:
                    lst.revoked.add(entry.index)
                    lst.suspended.discard(entry.index)
                self._changes += 1
                lst.changed_block, lst.version = e.block_number, self._changes

    def _allocate(self, licence_id: bytes, issuer: str, block: int) -> None:
        if licence_id in self._entries:  # the contract never issues an id twice
            return
        who = self._issuers.get(issuer.lower())
        if who is None:
            who = self._issuers[issuer.lower()] = _Issuer(issuer, len(self._by_number))
            self._by_number.append(who)
        list_id = who.count // self.capacity
        self._entries[licence_id] = who.number << 48 | who.count
        who.count += 1
        lst = who.lists.setdefault(list_id, _List())
        self._changes += 1
        lst.changed_block, lst.version = block, self._changes

    def _entry(self, licence_id: bytes) -> StatusEntry | None:
        packed = self._entries.get(licence_id)
        if packed is None:
            return None
        list_id, index = divmod(packed & (1 << 48) - 1, self.capacity)
        return StatusEntry(self._by_number[packed >> 48].address, list_id, index)

    # --- reading ------------------------------------------------------------------------------

    def entry_for(self, licence_id: bytes) -> StatusEntry:
        """Where ``licence_id``'s bits live; stable for the licence's life. NotFoundError if
        the licence is not issued as of the indexed block."""
        with self._lock:
            entry = self._entry(bytes(licence_id))
        if entry is None:
            raise NotFoundError(
                "no such licence in the indexed chain state", licenceId="0x" + licence_id.hex()
            )
        return entry

    def find(self, licence_id: bytes) -> StatusEntry | None:
        with self._lock:
            return self._entry(bytes(licence_id))

    def issuers(self) -> dict[str, int]:
        """Each issuer's address -> how many lists it has."""
        with self._lock:
            return {i.address: len(i.lists) for i in self._issuers.values()}

    def wait_for(self, height: int, timeout: float) -> bool:
        """Block until the view is at ``height`` or later; False on timeout."""
        with self._advanced:
            return self._advanced.wait_for(lambda: self.height >= height, timeout)

    def version(self, issuer: str, list_id: int) -> tuple[int, int] | None:
        """(indexed height, list version) without copying the list; None for an unknown list."""
        with self._lock:
            who = self._issuers.get(issuer.lower())
            lst = who.lists.get(list_id) if who is not None else None
            return None if lst is None else (self.height, lst.version)

    def state(self, issuer: str, list_id: int) -> ListState:
        """A copy of one list as of the indexed block; NotFoundError for an unknown one."""
        with self._lock:
            who = self._issuers.get(issuer.lower())
            lst = who.lists.get(list_id) if who is not None else None
            if who is None or lst is None:
                raise NotFoundError(
                    "no such status list: the issuer has issued no licence in it",
                    issuer=issuer,
                    list=list_id,
                )
            size = min(self.capacity, who.count - list_id * self.capacity)
            return ListState(
                who.address,
                list_id,
                self.capacity,
                size,
                frozenset(lst.revoked),
                frozenset(lst.suspended),
                lst.version,
                lst.changed_block,
                self.height,
                self.block_time,
            )
