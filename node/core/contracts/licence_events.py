"""Licence history from chain events, read through the node's event indexer.

The indexer (``runtime.indexer``) stores every event of the manifest's contracts; this
module turns ``LicenceRegistry`` events into per-licence state and history. Status, document and
validity can be rebuilt from events alone (the contract emits every change), which is what the
enterprise view does; single-licence reads and verdicts also ask the contract for its current
record and use events for the history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from credledger.node.core.contracts.licence_registry import SupervisionKind

CONTRACT = "LicenceRegistry"
LIFECYCLE = (
    "LicenceSuspended",
    "LicenceReinstated",
    "LicenceRevoked",
    "LicenceAmended",
    "HolderBound",
)
SUPERVISION_KINDS = tuple(k.name for k in SupervisionKind)  # by their on-chain number


class Event(Protocol):
    """What we use of ``node.indexer.IndexedEvent``."""

    @property
    def event(self) -> str: ...
    @property
    def args(self) -> dict[str, Any]: ...
    @property
    def block_number(self) -> int: ...
    @property
    def tx_hash(self) -> str: ...
    @property
    def log_index(self) -> int: ...
    @property
    def block_time(self) -> int: ...


class EventSource(Protocol):
    def events(
        self,
        contract: str | None = None,
        event: str | None = None,
        where: dict[str, str] | None = None,
    ) -> list[Any]: ...

    @property
    def indexed_height(self) -> int: ...

    def wait_until(self, height: int, timeout: float = 30.0) -> bool: ...


def hexb(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def unhex(s: str) -> bytes:
    return bytes.fromhex(s.removeprefix("0x"))


@dataclass
class LicenceRecord:
    """A licence as rebuilt from its events (stored status: ACTIVE, SUSPENDED or REVOKED)."""

    licence_id: bytes
    type_id: bytes
    serial: bytes | None
    holder: bytes
    issuer: str
    holder_address: str | None
    doc_hash: bytes
    valid_from: int
    valid_until: int
    issued_at: int
    issued_block: int
    issued_tx: str
    status: str = "ACTIVE"
    version: int = 1
    previous_doc_hashes: list[bytes] = field(default_factory=list)
    status_reason: int | None = None
    status_since: int | None = None
    status_by: str | None = None
    status_tx: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def _entry(e: Event, action: str, **extra: Any) -> dict[str, Any]:
    return {
        "action": action,
        "transactionHash": e.tx_hash,
        "blockNumber": e.block_number,
        "logIndex": e.log_index,
        "time": e.block_time,
        **extra,
    }


def from_issued(e: Event) -> LicenceRecord:
    a = e.args
    holder_address = a.get("holderAddress")
    if holder_address and int(holder_address, 16) == 0:
        holder_address = None
    rec = LicenceRecord(
        licence_id=unhex(a["licenceId"]),
        type_id=unhex(a["typeId"]),
        # the event does not repeat the serial (the id commits to it); older builds did
        serial=unhex(a["serial"]) if "serial" in a else None,
        holder=unhex(a["holder"]),
        issuer=a["issuer"],
        holder_address=holder_address,
        doc_hash=unhex(a["docHash"]),
        valid_from=int(a["validFrom"]),
        valid_until=int(a["validUntil"]),
        issued_at=e.block_time,
        issued_block=e.block_number,
        issued_tx=e.tx_hash,
    )
    rec.history.append(
        _entry(
            e,
            "ISSUED",
            by=a["issuer"],
            docHash=a["docHash"],
            validFrom=int(a["validFrom"]),
            validUntil=int(a["validUntil"]),
            version=1,
        )
    )
    return rec


def apply(rec: LicenceRecord, e: Event) -> None:
    """Apply one lifecycle event (in chain order) to ``rec``."""
    a = e.args
    if e.event == "LicenceSuspended":
        rec.status = "SUSPENDED"
        rec.status_reason = int(a["reasonCode"])
        rec.status_since, rec.status_by, rec.status_tx = e.block_time, a["by"], e.tx_hash
        rec.history.append(_entry(e, "SUSPENDED", by=a["by"], reasonCode=int(a["reasonCode"])))
    elif e.event == "LicenceReinstated":
        rec.status = "ACTIVE"
        rec.status_reason = None
        rec.status_since, rec.status_by, rec.status_tx = e.block_time, a["by"], e.tx_hash
        rec.history.append(_entry(e, "REINSTATED", by=a["by"]))
    elif e.event == "LicenceRevoked":
        rec.status = "REVOKED"
        rec.status_reason = int(a["reasonCode"])
        rec.status_since, rec.status_by, rec.status_tx = e.block_time, a["by"], e.tx_hash
        rec.history.append(_entry(e, "REVOKED", by=a["by"], reasonCode=int(a["reasonCode"])))
    elif e.event == "LicenceAmended":
        rec.previous_doc_hashes.append(rec.doc_hash)
        rec.doc_hash = unhex(a["docHash"])
        rec.valid_until = int(a["validUntil"])
        rec.version = int(a["version"])
        rec.history.append(
            _entry(
                e,
                "AMENDED",
                by=a["by"],
                version=int(a["version"]),
                docHash=a["docHash"],
                validUntil=int(a["validUntil"]),
            )
        )
    elif e.event == "HolderBound":
        rec.holder_address = a["holderAddress"]
        rec.history.append(_entry(e, "HOLDER_BOUND", by=a["by"], holderAddress=a["holderAddress"]))


def build_records(
    issued: Iterable[Event], lifecycle: Iterable[Event]
) -> dict[bytes, LicenceRecord]:
    """Records for every issued event, with the lifecycle events (any order) applied in order."""
    records = {r.licence_id: r for r in (from_issued(e) for e in issued)}
    ordered = sorted(lifecycle, key=lambda e: (e.block_number, e.log_index))
    for e in ordered:
        rec = records.get(unhex(e.args["licenceId"]))
        if rec is not None:
            apply(rec, e)
    return records


def supervision_entry(e: Event) -> dict[str, Any]:
    kind = int(e.args["kind"])
    return {
        "kind": SUPERVISION_KINDS[kind] if kind < len(SUPERVISION_KINDS) else str(kind),
        "supervisor": e.args["supervisor"],
        "refHash": e.args["refHash"],
        "transactionHash": e.tx_hash,
        "blockNumber": e.block_number,
        "time": e.block_time,
    }
