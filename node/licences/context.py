"""What every part of the licence service shares: the chain and the registry binding, the event
indexer, the node's licence database, the departments — and the one write path and idempotency.

The parts (``admin``, ``issuance``, ``lifecycle``, ``queries``, ``verification``) each receive one
:class:`LicenceContext` and the other parts they need, through their constructors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from web3.types import TxReceipt

from credledger.node.auth import Principal, require
from credledger.node.core.chain import Chain
from credledger.node.core.contracts import licence_events as ev
from credledger.node.core.contracts.licence_registry import LicenceRegistry
from credledger.node.core.errors import InputError
from credledger.node.core.receipts import record_hash
from credledger.node.core.tx import TxSender
from credledger.node.departments import Department, Departments
from credledger.node.licences.catalogue import Catalogue
from credledger.node.licences.seals import Seals
from credledger.node.licences.store import LicenceStore
from credledger.node.readmodel import ReadModel

M = TypeVar("M", bound=BaseModel)


def hash_json(obj: Any) -> bytes:
    """sha256 of the canonical JSON (sorted keys, no spaces, UTF-8): the records' one hash."""
    return record_hash(obj)


class LicenceContext:
    def __init__(
        self,
        chain: Chain,
        registry_address: str,
        catalogue: Catalogue,
        departments: Departments,
        store: LicenceStore,
        indexer: ev.EventSource,
        *,
        max_writers: int = 4,
        readmodel: ReadModel | None = None,
    ) -> None:
        self.chain = chain
        self.registry = LicenceRegistry(chain, registry_address)
        self.registry_address = registry_address
        self.catalogue = catalogue
        self.departments = departments
        self.store = store
        self.indexer = indexer
        # the registries' state in memory, consistent to one indexed block (node/readmodel.py),
        # fed by the indexer: verdicts and reads come from here, not from contract views
        self.model = readmodel if readmodel is not None else ReadModel.following(indexer)
        # Few writers at a time: more threads only fight for the GIL while one holds the nonce
        # lock (measured: 16 free-running writers issue about half as fast as 4).
        self._writers = threading.BoundedSemaphore(max_writers)
        self._lock = threading.Lock()
        self._last_write_block = 0
        self._bound: dict[str, LicenceRegistry] = {}
        # the departments' e-seal keys and this node's seal store (node/licences/seals.py); None
        # when no department of this node seals (set by the component builder)
        self.seals: Seals | None = None

    # --- writing ------------------------------------------------------------------------------

    def registry_for(self, sender: TxSender) -> LicenceRegistry:
        """The registry binding with writes signed by ``sender`` (a department's or the admin)."""
        with self._lock:
            bound = self._bound.get(sender.address)
            if bound is None:
                bound = self.registry.with_sender(sender)
                self._bound[sender.address] = bound
            return bound

    def write(self, send: Callable[[], TxReceipt]) -> TxReceipt:
        """Run one write (a binding call) among at most ``max_writers``; a revert raises its
        error class (message and HTTP status from ``node.contracts``)."""
        with self._writers:
            receipt = send()
        with self._lock:
            self._last_write_block = max(self._last_write_block, int(receipt["blockNumber"]))
        return receipt

    def department(self, principal: Principal | None, action: str) -> Department:
        p = require(principal, "department", action=action)
        return self.departments.of(p)

    def idempotent(
        self,
        principal: Principal,
        key: str | None,
        fingerprint: Any,
        work: Callable[[], M],
        model: type[M],
        recover: Callable[[], M | None] | None = None,
    ) -> M:
        """Run ``work`` once per (caller, Idempotency-Key); a retry gets the first answer.

        A key left pending by an earlier run of the node (it crashed mid-request) is settled from
        the chain at once: ``recover`` finds what the first attempt did (the answer, replayed), or
        the request runs again.
        """
        if not key:
            return work()
        if len(key) > 200:
            raise InputError("Idempotency-Key is longer than 200 characters")
        fp = hash_json(fingerprint).hex()
        claim = self.store.claim(principal.label, key, fp)
        if claim.answer is not None:
            stored = {**claim.answer, "replayed": True}
            try:
                return model.model_validate(stored)
            except ValidationError:  # an answer stored by an older version: replay it as it is
                return model.model_construct(**stored)
        try:
            answer = (recover() if claim.orphaned and recover else None) or work()
        except BaseException:
            self.store.release(principal.label, key)
            raise
        self.store.complete(principal.label, key, answer.model_dump(mode="json"))
        return answer

    # --- reading ------------------------------------------------------------------------------

    def events(self, event: str | None = None, where: dict[str, str] | None = None) -> list[Any]:
        return self.indexer.events(ev.CONTRACT, event, where)

    def catch_up(self, timeout: float = 10.0) -> bool:
        """Wait until the indexer has the current head; False if it already had it (or timed out).

        Used when a read finds nothing or something older than the contract's state.
        """
        head = self.chain.block_number()
        if self.indexer.indexed_height >= head:
            return False
        return self.indexer.wait_until(head, timeout)

    @property
    def last_write_block(self) -> int:
        """The block of this node's latest write (0 before any)."""
        return self._last_write_block

    def own_writes_indexed(self, timeout: float = 10.0) -> None:
        """Read-your-writes: wait until the indexer has the last block this node wrote to."""
        with self._lock:
            block = self._last_write_block
        if block and self.indexer.indexed_height < block:
            self.indexer.wait_until(block, timeout)
        if block and self.model.height < block:
            self.model.wait_for(block, timeout)  # fed under the indexer's lock: already there

    def now(self) -> int:
        """Chain time: the later of the wall clock and the latest block (devnets can be ahead).

        The latest block is the read model's: the block every answer is judged at (no RPC)."""
        return self.model.now()
