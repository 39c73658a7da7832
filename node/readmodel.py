"""The read model: the registries' state in memory, consistent to one indexed block.

Verdicts and licence reads are answered from here instead of contract views over JSON-RPC.
The indexer feeds it (:meth:`credledger.node.indexer.Indexer.follow`): every stored event at
start-up, then each chunk right after the chunk's commit (under the indexer's lock), and
everything again after a reorg rollback. So the view is always exactly "the chain as of block
``height``", the same block the indexer reports, and a change mined in block N is in every
answer judged at N or later.

What it holds (all keyed by raw bytes / lower-case addresses):

- licences: each :class:`~credledger.node.core.contracts.licence_events.LicenceRecord` rebuilt from
  ``LicenceIssued`` and the lifecycle events (status, version, document, validity, holder
  address, history); indexes by document hash (current and earlier documents) and by holder;
- licence types (``LicenceTypeRegistered``) and department authorisations (``AuthorisationSet``);
- supervision facts per subject (``SupervisionRecorded``);
- e-seals per licence (``LicenceSealed``) and the department keys (``DepartmentKeyRegistered``,
  ``DepartmentKeyRetired``), so a verdict checks a seal without a contract call;
- anchors (``AnchorRegistry.Anchored``: root -> anchorer, leaf count, anchoredAt, block).

Extension point: other contracts' state (e.g. ConsentRegistry grants) plugs in as a
:class:`Projection` registered with :meth:`ReadModel.add_projection` — its ``apply`` gets every
event in chain order and ``clear`` is called before a rebuild; it reads under the same lock, so
it is consistent to the same block.

Readers take :meth:`ReadModel.snapshot` (a context manager holding the lock, yielding the
height) around everything one answer reads, so one answer never mixes two blocks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from credledger.node.core.contracts import licence_events as ev

LICENCE_REGISTRY = "LicenceRegistry"
ANCHOR_REGISTRY = "AnchorRegistry"

# the contract's Status enum as the views return it
NOT_FOUND, ACTIVE, SUSPENDED, REVOKED, EXPIRED = range(5)
_STORED = {"ACTIVE": ACTIVE, "SUSPENDED": SUSPENDED, "REVOKED": REVOKED}


class Projection(Protocol):
    """State of some contract kept next to the licences (e.g. ConsentRegistry grants)."""

    def clear(self) -> None: ...

    def apply(self, event: Any) -> None: ...


@dataclass(frozen=True)
class TypeEntry:
    type_id: bytes
    index: int
    schema_hash: bytes
    name: str


@dataclass(frozen=True)
class SealEntry:
    """One ``LicenceSealed``: the e-seal (r, s) of key ``key_id`` over a licence version."""

    licence_id: bytes
    key_id: int
    version: int
    r: bytes
    s: bytes
    block_number: int
    block_time: int
    tx_hash: str
    log_index: int = 0


@dataclass
class KeyEntry:
    """A department key (``DepartmentKeyRegistered``; ``retired_at`` 0 while in use)."""

    key_id: int
    department: str
    kind: int
    public_key: bytes
    registered_at: int
    registered_block: int
    retired_at: int = 0
    # where the chain retired it, (block, log index): a seal after that in chain order is refused
    retired_pos: tuple[int, int] | None = None


@dataclass(frozen=True)
class AnchorEntry:
    root: bytes
    anchorer: str
    leaf_count: int
    anchored_at: int
    block_number: int
    tx_hash: str


class IndexedState:
    """State the indexer feeds (its listener): ``reset`` at start and after a reorg, ``extend``
    as blocks come, both under one lock whose condition wakes the readers waiting for a height.
    A subclass defines ``_clear`` and ``_apply_all`` (the read model, the status lists)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._advanced = threading.Condition(self._lock)
        self.height = -1
        self.block_time = 0

    def _clear(self) -> None:
        raise NotImplementedError

    def _apply_all(self, events: Iterable[Any]) -> None:
        raise NotImplementedError

    def reset(self, events: list[Any], height: int, block_time: int) -> None:
        with self._lock:
            self._clear()
            self._apply_all(events)
            self.height, self.block_time = height, block_time
            self._advanced.notify_all()

    def extend(self, events: list[Any], height: int, block_time: int) -> None:
        with self._lock:
            self._apply_all(events)
            self.height, self.block_time = height, max(block_time, self.block_time)
            self._advanced.notify_all()


class ReadModel(IndexedState):
    """See the module docstring. Fed through ``reset``/``extend`` (the indexer's listener)."""

    def __init__(self) -> None:
        super().__init__()
        self._projections: list[Projection] = []
        self._clear()

    def _clear(self) -> None:
        self.licences: dict[bytes, ev.LicenceRecord] = {}
        self.by_document: dict[bytes, list[bytes]] = {}
        self.by_holder: dict[bytes, list[bytes]] = {}
        self.supervision: dict[bytes, list[Any]] = {}
        self.types: dict[bytes, TypeEntry] = {}
        self.type_events: list[Any] = []
        self.authorisations: dict[tuple[bytes, str], int] = {}
        self.anchors: dict[bytes, AnchorEntry] = {}
        self.seals: dict[bytes, list[SealEntry]] = {}
        self.department_keys: dict[int, KeyEntry] = {}
        for p in self._projections:
            p.clear()

    @classmethod
    def following(cls, indexer: Any) -> ReadModel:
        """A model fed by ``indexer`` (an :class:`~credledger.node.indexer.Indexer`)."""
        model = cls()
        indexer.follow(model)
        return model

    # --- fed by the indexer (reset / extend: IndexedState) -----------------------------------

    def add_projection(self, projection: Projection) -> None:
        """Add another contract's state; call before the indexer is followed."""
        with self._lock:
            self._projections.append(projection)

    def _apply_all(self, events: Iterable[Any]) -> None:
        for e in events:
            if e.contract == LICENCE_REGISTRY:
                self._apply_licence_event(e)
            elif e.contract == ANCHOR_REGISTRY and e.event == "Anchored":
                a = e.args
                root = ev.unhex(a["root"])
                self.anchors[root] = AnchorEntry(
                    root,
                    a["anchorer"],
                    int(a["leafCount"]),
                    int(a["anchoredAt"]),
                    e.block_number,
                    e.tx_hash,
                )
            for p in self._projections:
                p.apply(e)

    def _apply_licence_event(self, e: Any) -> None:
        name = e.event
        a = e.args
        if name == "LicenceIssued":
            rec = ev.from_issued(e)
            self.licences[rec.licence_id] = rec
            self.by_document.setdefault(rec.doc_hash, []).append(rec.licence_id)
            self.by_holder.setdefault(rec.holder, []).append(rec.licence_id)
        elif name in ev.LIFECYCLE:
            known = self.licences.get(ev.unhex(a["licenceId"]))
            if known is None:
                return
            ev.apply(known, e)
            if name == "LicenceAmended":
                ids = self.by_document.setdefault(known.doc_hash, [])
                if known.licence_id not in ids:
                    ids.append(known.licence_id)
        elif name == "SupervisionRecorded":
            self.supervision.setdefault(ev.unhex(a["subject"]), []).append(e)
        elif name == "LicenceTypeRegistered":
            tid = ev.unhex(a["typeId"])
            self.types[tid] = TypeEntry(
                tid, int(a["index"]), ev.unhex(a["schemaHash"]), str(a["name"])
            )
            self.type_events.append(e)
        elif name == "AuthorisationSet":
            key = (ev.unhex(a["typeId"]), str(a["department"]).lower())
            self.authorisations[key] = int(a["roles"])
        elif name == "LicenceSealed":
            lid = ev.unhex(a["licenceId"])
            self.seals.setdefault(lid, []).append(
                SealEntry(
                    lid,
                    int(a["keyId"]),
                    int(a["version"]),
                    ev.unhex(a["r"]),
                    ev.unhex(a["s"]),
                    e.block_number,
                    e.block_time,
                    e.tx_hash,
                    e.log_index,
                )
            )
        elif name == "DepartmentKeyRegistered":
            kid = int(a["keyId"])
            self.department_keys[kid] = KeyEntry(
                kid,
                str(a["department"]),
                int(a["kind"]),
                ev.unhex(a["publicKey"]),
                e.block_time,
                e.block_number,
            )
        elif name == "DepartmentKeyRetired":
            known_key = self.department_keys.get(int(a["keyId"]))
            if known_key is not None:
                known_key.retired_at = int(a["retiredAt"])
                known_key.retired_pos = (e.block_number, e.log_index)

    # --- reading ------------------------------------------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[int]:
        """Hold the view still for one answer; yields the block it is judged at."""
        with self._lock:
            yield self.height

    def wait_for(self, height: int, timeout: float) -> bool:
        """Block until the view is at ``height`` or later; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._advanced:
            while self.height < height:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._advanced.wait(left)
        return True

    def now(self) -> int:
        """Time for expiry: the later of the wall clock and the view's block time."""
        return max(int(time.time()), self.block_time)

    def licence(self, licence_id: bytes) -> ev.LicenceRecord | None:
        """The live record (do not change it), or None if not issued as of ``height``."""
        return self.licences.get(licence_id)

    def with_document(self, doc_hash: bytes) -> list[bytes]:
        """Licences whose current or an earlier document has this hash, first issued first."""
        return list(self.by_document.get(doc_hash, ()))

    def of_holder(self, subject: bytes) -> list[ev.LicenceRecord]:
        return [self.licences[i] for i in self.by_holder.get(subject, ())]

    def supervision_of(self, subject: bytes) -> list[Any]:
        return list(self.supervision.get(subject, ()))

    def licence_type(self, type_id: bytes) -> TypeEntry | None:
        return self.types.get(type_id)

    def authorisation(self, type_id: bytes, department: str) -> int:
        return self.authorisations.get((type_id, department.lower()), 0)

    def anchor(self, root: bytes) -> AnchorEntry | None:
        return self.anchors.get(root)

    def seal(self, licence_id: bytes, version: int) -> SealEntry | None:
        """The latest ``LicenceSealed`` of this licence version, if any."""
        found = [x for x in self.seals.get(licence_id, ()) if x.version == version]
        return found[-1] if found else None

    def department_key(self, key_id: int) -> KeyEntry | None:
        return self.department_keys.get(key_id)

    def keys_of(self, department: str) -> list[KeyEntry]:
        """Every key registered for ``department`` (any kind), oldest first."""
        d = department.lower()
        return [k for k in self.department_keys.values() if k.department.lower() == d]

    # --- what the contract views would answer (the equivalence tests compare these) -----------

    def status_code(self, licence_id: bytes, block_time: int | None = None) -> int:
        """``LicenceRegistry.statusOf`` as of ``height`` (expiry against ``block_time``)."""
        rec = self.licences.get(licence_id)
        if rec is None:
            return NOT_FOUND
        stored = _STORED[rec.status]
        if stored == REVOKED:
            return REVOKED
        at = self.block_time if block_time is None else block_time
        if rec.valid_until and at >= rec.valid_until:
            return EXPIRED
        return stored

    def contract_view(self, licence_id: bytes, block_time: int | None = None) -> tuple[Any, ...]:
        """``LicenceRegistry.getLicence`` as a tuple (issuer, typeId, status, version,
        validUntil, docHash), zeros for an unknown id."""
        rec = self.licences.get(licence_id)
        if rec is None:
            return ("0x" + "00" * 20, b"\0" * 32, NOT_FOUND, 0, 0, b"\0" * 32)
        return (
            rec.issuer,
            rec.type_id,
            self.status_code(licence_id, block_time),
            rec.version,
            rec.valid_until,
            rec.doc_hash,
        )
