"""The licence service: what the API, the CLI and the tests call.

Departments issue and change licences with their own keys through ``LicenceRegistry``; reads
come from the contract (current record) and the event indexer (history, enterprise view,
document lookups); clerk verifications become records anchored through the anchoring pipeline.

Privacy: a citizen ID number is turned into its keyed subject as soon as it is validated; the
clear number is not stored, logged, returned or sent to the chain. Idempotency fingerprints are
computed over the subject, not the number.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from credledger.node.auth import Principal, require
from credledger.node.chain import Chain
from credledger.node.departments import Department, Departments
from credledger.node.errors import (
    ConflictError,
    ContractRevert,
    CredledgerError,
    ForbiddenError,
    InputError,
    NotFoundError,
    PayloadTooLargeError,
)
from credledger.node.identifiers import (
    Holder,
    enterprise_subject,
    holder_from,
    is_citizen_id,
    normalise_uscc,
)
from credledger.node.licences import events as ev
from credledger.node.licences.catalogue import Catalogue, LicenceType, type_id
from credledger.node.licences.coalesce import IssueCoalescer
from credledger.node.licences.inputs import (
    clean_note,
    decode_serial,
    encode_serial,
    iso,
    parse_address,
    parse_reason,
    parse_time,
    reason_text,
)
from credledger.node.licences.store import LicenceStore
from credledger.node.licences.verdicts import (
    LicenceFacts,
    Outcome,
    Status,
    effective_status,
    judge_claimed,
    judge_unclaimed,
)
from credledger.node.tx import TxSender, revert_from

log = logging.getLogger("credledger.node.licences")

CHAIN_STATUS = {0: "NOT_FOUND", 1: "ACTIVE", 2: "SUSPENDED", 3: "REVOKED", 4: "EXPIRED"}
ROLE_ISSUER = 1
ROLE_SUPERVISOR = 2
MAX_BATCH = 100
_ARTICLE = {"enterprise": "an enterprise", "person": "a person"}
SUPERVISION_KIND_CODES = {k: i for i, k in enumerate(ev.SUPERVISION_KINDS)}

# contract custom error -> (our error class, message template)
_REVERTS: dict[str, tuple[type[CredledgerError], str]] = {
    "NotIssuer": (ForbiddenError, "this department is not authorised on chain to issue {type}"),
    "NotAuthorised": (
        ForbiddenError,
        "this department is not authorised on chain to change licence {licence}",
    ),
    "LicenceNotFound": (NotFoundError, "no licence {licence} on chain"),
    "UnknownLicenceType": (NotFoundError, "licence type {type} is not registered on chain"),
    "LicenceExists": (ConflictError, "licence {licence} (same type and serial) already exists"),
    "LicenceTypeExists": (ConflictError, "licence type {type} is already registered"),
    "LicenceNotActive": (ConflictError, "licence {licence} is not active (it is {status})"),
    "LicenceNotSuspended": (ConflictError, "licence {licence} is not suspended (it is {status})"),
    "LicenceIsRevoked": (ConflictError, "licence {licence} is revoked; revocation is final"),
    "InvalidValidity": (InputError, "validity window of {licence} is empty or already over"),
    "InvalidDocHash": (InputError, "the document hash must not be zero"),
    "InvalidHolder": (InputError, "the holder subject must not be zero"),
    "InvalidHolderAddress": (InputError, "the holder address must not be the zero address"),
    "InvalidLicenceType": (InputError, "a licence type needs an id, a schema hash and a name"),
    "InvalidAuthorisation": (InputError, "invalid authorisation roles or department"),
    "AccessControlUnauthorizedAccount": (
        ForbiddenError,
        "the signing key lacks the on-chain role for this",
    ),
}


def translate(exc: ContractRevert, type_code: str | None = None) -> CredledgerError:
    """A contract revert as the error the API should answer with (403/404/409/422)."""
    entry = _REVERTS.get(exc.error_name)
    if entry is None:
        return exc
    cls, template = entry
    args = exc.error_args
    licence = ev.hexb(args[0]) if args and isinstance(args[0], bytes) else "?"
    status = (
        CHAIN_STATUS.get(int(args[1]), "?") if len(args) > 1 and isinstance(args[1], int) else "?"
    )
    message = template.format(licence=licence, status=status.lower(), type=type_code or licence)
    return cls(message, contract_error=exc.error_name)


def _hash_json(obj: Any) -> bytes:
    return hashlib.sha256(
        json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).digest()


def _refuse_personal_ids(value: Any, where: str) -> None:
    """Metadata goes into the node database: it must not carry a clear citizen ID number."""
    if isinstance(value, str):
        import re
        import unicodedata

        folded = unicodedata.normalize("NFKC", value).upper()
        for m in re.finditer(r"\d{17}[\dX]", folded):
            if is_citizen_id(m.group(0)):
                raise InputError(f"{where} contains a citizen ID number; leave it out", field=where)
    elif isinstance(value, dict):
        for k, v in value.items():
            _refuse_personal_ids(k, where)
            _refuse_personal_ids(v, where)
    elif isinstance(value, list):
        for v in value:
            _refuse_personal_ids(v, where)


@dataclass
class IssueInput:
    """One licence to issue, as the caller gave it (validated by :meth:`LicenceService.prepare`)."""

    type: str
    serial_number: str
    doc_hash: bytes
    valid_from: Any
    valid_until: Any = None
    holder_uscc: str | None = None
    holder_citizen_id: str | None = field(default=None, repr=False)
    holder_address: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class Prepared:
    licence_type: LicenceType
    serial_number: str
    serial: bytes
    holder: Holder
    holder_address: str | None
    doc_hash: bytes
    valid_from: int
    valid_until: int
    metadata: dict[str, Any] | None

    @property
    def licence_id(self) -> bytes:
        return keccak(abi_encode(["bytes32", "bytes32"], [self.licence_type.type_id, self.serial]))

    def fingerprint(self) -> dict[str, Any]:
        """The request as idempotency compares it: the subject, never the clear ID."""
        return {
            "type": self.licence_type.code,
            "serial": ev.hexb(self.serial),
            "holder": ev.hexb(self.holder.subject),
            "holderAddress": self.holder_address,
            "docHash": ev.hexb(self.doc_hash),
            "validFrom": self.valid_from,
            "validUntil": self.valid_until,
            "metadata": self.metadata,
        }

    def as_request(self) -> tuple[Any, ...]:
        return (
            self.licence_type.type_id,
            self.serial,
            self.holder.subject,
            self.holder_address or "0x0000000000000000000000000000000000000000",
            self.doc_hash,
            self.valid_from,
            self.valid_until,
        )


class LicenceService:
    def __init__(
        self,
        chain: Chain,
        registry_address: str,
        catalogue: Catalogue,
        departments: Departments,
        store: LicenceStore,
        subject_secret: bytes,
        admin: TxSender,
        services: dict[str, Any],
        public_url: str | None = None,
        max_writers: int = 4,
        coalesce_max: int = 50,
    ) -> None:
        self.chain = chain
        self.registry: Contract = chain.contract("LicenceRegistry", registry_address)
        self.registry_address = registry_address
        self.catalogue = catalogue
        self.departments = departments
        self.store = store
        self._secret = subject_secret
        self.admin = admin
        self._services = services  # the runtime's: the indexer and anchoring are looked up lazily
        self.public_url = public_url
        self._chain_types: dict[bytes, LicenceType] = {}
        self._types_lock = threading.Lock()
        # Few writers at a time: more threads only fight for the GIL while one holds the nonce
        # lock (measured: 16 free-running writers issue about half as fast as 4).
        self._writers = threading.BoundedSemaphore(max_writers)
        self._last_write_block = 0
        self._coalescers: dict[str, IssueCoalescer] = {}
        self._coalesce_max = coalesce_max

    def health(self) -> dict[str, Any]:
        """Shown under ``licences`` in ``GET /health``."""
        return {
            "registry": self.registry_address,
            "departments": [
                {
                    "name": d.name,
                    "address": d.address,
                    "issues": len(d.issues),
                    "supervises": len(d.supervises),
                }
                for d in self.departments
            ],
            "issuance": {
                name: {"transactions": c.transactions, "licences": c.licences}
                for name, c in self._coalescers.items()
            },
        }

    # --- collaborators ------------------------------------------------------------------------

    @property
    def indexer(self) -> ev.EventSource:
        idx = self._services.get("indexer")
        if idx is None:
            raise CredledgerError("the event indexer is not running on this node")
        return idx  # type: ignore[no-any-return]

    @property
    def anchoring(self) -> Any | None:
        return self._services.get("anchoring")

    def _events(
        self, event: str | None = None, where: dict[str, str] | None = None
    ) -> list[ev.Event]:
        return self.indexer.events(ev.CONTRACT, event, where)

    def _catch_up(self, timeout: float = 10.0) -> bool:
        """Wait until the indexer has the current head; False if it already had it (or timed out).

        Used when a read finds nothing or something older than the contract's state.
        """
        head = int(self.chain.w3.eth.block_number)
        if self.indexer.indexed_height >= head:
            return False
        return self.indexer.wait_until(head, timeout)

    def now(self) -> int:
        """Chain time: the later of the wall clock and the latest block (devnets can be ahead)."""
        latest = int(self.chain.w3.eth.get_block("latest")["timestamp"])
        return max(int(time.time()), latest)

    # --- licence types ------------------------------------------------------------------------

    def licence_type(self, code: str) -> LicenceType:
        try:
            return self.catalogue.get(code)
        except NotFoundError:
            pass
        found = self.type_by_id(type_id(code))
        if found is None and self._catch_up():
            found = self.type_by_id(type_id(code))
        if found is None:
            raise NotFoundError(f"unknown licence type {code!r}; GET /v1/licence-types lists them")
        return found

    def type_by_id(self, tid: bytes) -> LicenceType | None:
        t = self.catalogue.by_id(tid)
        if t is not None:
            return t
        with self._types_lock:
            if tid in self._chain_types:
                return self._chain_types[tid]
        for e in self._events("LicenceTypeRegistered", {"typeId": ev.hexb(tid)}):
            parsed = _type_from_chain_name(e.args["name"])
            if parsed is not None and parsed.type_id == tid:
                with self._types_lock:
                    self._chain_types[tid] = parsed
                return parsed
        return None

    def types(self) -> list[LicenceType]:
        """The catalogue plus types registered on chain later (by the admin API)."""
        extra = []
        for e in self._events("LicenceTypeRegistered"):
            t = _type_from_chain_name(e.args["name"])
            if t is not None and self.catalogue.by_id(t.type_id) is None:
                extra.append(t)
        return list(self.catalogue.types) + extra

    def register_type(self, principal: Principal | None, t: LicenceType) -> dict[str, Any]:
        """Register a new type on chain (admin only)."""
        require(principal, "admin", action="register licence types")
        if self.catalogue.category(t.category) is None:
            raise InputError(f"unknown category {t.category!r}", field="category")
        receipt = self._send(self.admin, _register_call(self.registry, t), t.code)
        with self._types_lock:
            self._chain_types[t.type_id] = t
        return {**t.to_json(), "transactionHash": ev.hexb(receipt["transactionHash"])}

    def authorise(
        self, principal: Principal | None, type_code: str, department: str, roles: Sequence[str]
    ) -> dict[str, Any]:
        """Set a department address's roles for a type (admin only)."""
        require(principal, "admin", action="authorise departments")
        t = self.licence_type(type_code)
        address = parse_address(department, "department")
        bits = 0
        for r in roles:
            if r not in ("issuer", "supervisor"):
                raise InputError("roles are 'issuer' and/or 'supervisor'", field="roles")
            bits |= ROLE_ISSUER if r == "issuer" else ROLE_SUPERVISOR
        receipt = self._send(
            self.admin, self.registry.functions.setAuthorisation(t.type_id, address, bits), t.code
        )
        return {
            "type": t.code,
            "department": address,
            "roles": sorted(set(roles)),
            "transactionHash": ev.hexb(receipt["transactionHash"]),
        }

    def retire_key(self, principal: Principal | None, key: str) -> dict[str, Any]:
        """Retire a department key for good (admin only): it loses every role, can never act or
        be authorised again; its licences stay valid under the type's current issuers."""
        require(principal, "admin", action="retire department keys")
        address = parse_address(key, "key")
        receipt = self._send(self.admin, self.registry.functions.retireKey(address))
        retired_at = int(self.registry.functions.retiredAt(address).call())
        return {
            "key": address,
            "retiredAt": retired_at,
            "transactionHash": ev.hexb(receipt["transactionHash"]),
        }

    # --- writes -------------------------------------------------------------------------------

    def _send(self, sender: TxSender, call: Any, type_code: str | None = None) -> TxReceipt:
        """Estimate gas *before* taking the account's nonce lock (so concurrent requests overlap
        their estimates), then send; a revert comes back as a 403/404/409/422 error."""
        with self._writers:
            return self._send_now(sender, call, type_code)

    def _send_now(self, sender: TxSender, call: Any, type_code: str | None) -> TxReceipt:
        try:
            try:
                estimate = int(call.estimate_gas({"from": sender.address}))
            except (ContractCustomError, ContractLogicError) as exc:
                raise revert_from(exc) or ContractRevert(str(exc)) from None
            receipt = sender.send(call, gas=estimate + estimate // 5 + 10_000)
        except ContractRevert as exc:
            raise translate(exc, type_code) from None
        with self._types_lock:
            self._last_write_block = max(self._last_write_block, int(receipt["blockNumber"]))
        return receipt

    def _own_writes_indexed(self, timeout: float = 10.0) -> None:
        """Read-your-writes: wait until the indexer has the last block this node wrote to."""
        with self._types_lock:
            block = self._last_write_block
        if block and self.indexer.indexed_height < block:
            self.indexer.wait_until(block, timeout)

    def _department(self, principal: Principal | None, action: str) -> Department:
        p = require(principal, "department", action=action)
        return self.departments.of(p)

    def prepare(self, dept: Department, item: IssueInput) -> Prepared:
        t = self.licence_type(item.type)
        if not dept.may_issue(t.code):
            raise ForbiddenError(
                f"department {dept.name} is not configured to issue {t.code} ({t.en})",
                type=t.code,
            )
        holder = holder_from(
            uscc=item.holder_uscc, citizen_id=item.holder_citizen_id, secret=self._secret
        )
        if t.holder != "any" and holder.kind != t.holder:
            raise InputError(
                f"{t.code} ({t.en}) is held by {_ARTICLE[t.holder]}, "
                f"not by {_ARTICLE[holder.kind]}",
                field="holder",
            )
        valid_from = parse_time(item.valid_from, "validFrom")
        valid_until = (
            0
            if item.valid_until in (None, "", 0, "0")
            else parse_time(item.valid_until, "validUntil", end_of_day=True)
        )
        if valid_until and valid_until <= valid_from:
            raise InputError("validUntil must be after validFrom", field="validUntil")
        # wall clock here (no RPC on the issuing path); the contract checks against block time
        if valid_until and valid_until <= int(time.time()):
            raise InputError("validUntil is already in the past", field="validUntil")
        if len(item.doc_hash) != 32 or not any(item.doc_hash):
            raise InputError("the document hash must be 32 non-zero bytes", field="documentHash")
        if item.metadata is not None:
            if not isinstance(item.metadata, dict) or len(json.dumps(item.metadata)) > 4096:
                raise InputError("metadata must be a JSON object under 4 KiB", field="metadata")
            _refuse_personal_ids(item.metadata, "metadata")
        return Prepared(
            licence_type=t,
            serial_number=item.serial_number.strip(),
            serial=encode_serial(item.serial_number),
            holder=holder,
            holder_address=(
                parse_address(item.holder_address, "holderAddress") if item.holder_address else None
            ),
            doc_hash=item.doc_hash,
            valid_from=valid_from,
            valid_until=valid_until,
            metadata=item.metadata,
        )

    def _idempotent(
        self,
        principal: Principal,
        key: str | None,
        fingerprint: Any,
        work: Callable[[], dict[str, Any]],
    ) -> dict[str, Any]:
        if not key:
            return work()
        if len(key) > 200:
            raise InputError("Idempotency-Key is longer than 200 characters")
        fp = _hash_json(fingerprint).hex()
        stored = self.store.claim(principal.label, key, fp)
        if stored is not None:
            return {**stored, "replayed": True}
        try:
            answer = work()
        except BaseException:
            self.store.release(principal.label, key)
            raise
        self.store.complete(principal.label, key, answer)
        return answer

    def _issued_json(self, p: Prepared, tx_hash: str, block: int) -> dict[str, Any]:
        return {
            "licenceId": ev.hexb(p.licence_id),
            "type": p.licence_type.code,
            "serialNumber": p.serial_number,
            "holder": {"kind": p.holder.kind, "display": p.holder.display},
            "documentHash": ev.hexb(p.doc_hash),
            "validFrom": p.valid_from,
            "validUntil": p.valid_until or None,
            "status": "ACTIVE",
            "version": 1,
            "transactionHash": tx_hash,
            "blockNumber": block,
        }

    def _after_issue(self, p: Prepared) -> None:
        self.store.remember_holder(p.holder.subject, p.holder.kind, p.holder.display)
        self.store.set_serial(p.licence_id, p.serial_number)
        if p.metadata:
            self.store.set_metadata(p.licence_id, p.metadata)

    def issue(
        self, principal: Principal | None, item: IssueInput, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        dept = self._department(principal, "issue licences")
        assert principal is not None
        p = self.prepare(dept, item)

        def work() -> dict[str, Any]:
            try:
                receipt = self._issuer(dept).submit(p.as_request())
            except ConflictError as exc:
                # A keyed retry after a crash or a timeout: the first attempt may have been
                # mined. If the licence on chain is exactly this one, answer as the first would.
                recovered = self._recover_issue(p, dept) if idempotency_key else None
                if recovered is None:
                    raise exc from None
                return recovered
            self._after_issue(p)
            log.info(
                "issued licence",
                extra={
                    "event": "licence_issued",
                    "licence": ev.hexb(p.licence_id),
                    "by": dept.name,
                },
            )
            return self._issued_json(
                p, ev.hexb(receipt["transactionHash"]), int(receipt["blockNumber"])
            )

        return self._idempotent(principal, idempotency_key, p.fingerprint(), work)

    def _issuer(self, dept: Department) -> IssueCoalescer:
        with self._types_lock:
            c = self._coalescers.get(dept.name)
            if c is None:

                def send(requests: Sequence[Any]) -> TxReceipt:
                    if len(requests) == 1:
                        call = self.registry.functions.issue(*requests[0])
                    else:
                        call = self.registry.functions.issueBatch(list(requests))
                    return self._send(dept.sender, call, _type_code(self, requests))

                c = IssueCoalescer(dept.name, send, self._coalesce_max)
                self._coalescers[dept.name] = c
            return c

    def _recover_issue(self, p: Prepared, dept: Department) -> dict[str, Any] | None:
        view = self._chain_licence(p.licence_id)
        if view is None or view[0] != dept.address or view[5] != p.doc_hash:
            return None
        self._catch_up()
        issued = self._events("LicenceIssued", {"licenceId": ev.hexb(p.licence_id)})
        if len(issued) != 1 or issued[0].args["holder"] != ev.hexb(p.holder.subject):
            return None
        self._after_issue(p)
        e = issued[0]
        return {
            **self._issued_json(p, e.tx_hash, e.block_number),
            "recovered": True,
        }

    def issue_batch(
        self,
        principal: Principal | None,
        items: Sequence[IssueInput],
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        dept = self._department(principal, "issue licences")
        assert principal is not None
        if not items:
            raise InputError("the batch is empty")
        if len(items) > MAX_BATCH:
            raise PayloadTooLargeError(f"{len(items)} licences in one batch; at most {MAX_BATCH}")
        prepared: list[Prepared] = []
        problems = []
        for i, item in enumerate(items):
            try:
                prepared.append(self.prepare(dept, item))
            except InputError as exc:
                problems.append({"index": i, "problem": exc.message})
        if problems:
            raise InputError(
                f"{len(problems)} of {len(items)} licences are invalid; nothing was issued",
                items=problems,
            )
        ids = [p.licence_id for p in prepared]
        if len(set(ids)) != len(ids):
            raise InputError("the batch names the same type and serial number twice")

        def work() -> dict[str, Any]:
            call = self.registry.functions.issueBatch([p.as_request() for p in prepared])
            receipt = self._send(dept.sender, call)
            for p in prepared:
                self._after_issue(p)
            return {
                "licences": [
                    self._issued_json(
                        p, ev.hexb(receipt["transactionHash"]), int(receipt["blockNumber"])
                    )
                    for p in prepared
                ],
                "transactionHash": ev.hexb(receipt["transactionHash"]),
                "gasUsed": int(receipt["gasUsed"]),
            }

        return self._idempotent(
            principal, idempotency_key, [p.fingerprint() for p in prepared], work
        )

    def _change(
        self,
        principal: Principal | None,
        licence_id: bytes,
        action: str,
        call: Any,
        note: str | None,
        idempotency_key: str | None,
        fingerprint: dict[str, Any],
    ) -> dict[str, Any]:
        dept = self._department(principal, f"{action} licences")
        assert principal is not None

        def work() -> dict[str, Any]:
            receipt = self._send(dept.sender, call)
            tx = ev.hexb(receipt["transactionHash"])
            if note:
                self.store.add_note(licence_id, tx, action, note)
            status = CHAIN_STATUS[int(self.registry.functions.statusOf(licence_id).call())]
            return {
                "licenceId": ev.hexb(licence_id),
                "action": action,
                "status": status,
                "department": dept.name,
                "transactionHash": tx,
                "blockNumber": int(receipt["blockNumber"]),
            }

        fp = {"action": action, "licence": ev.hexb(licence_id), **fingerprint}
        return self._idempotent(principal, idempotency_key, fp, work)

    def _change_with_reason(
        self,
        principal: Principal | None,
        licence_id: bytes,
        action: str,
        reason_code: Any,
        note: Any,
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        """suspend and revoke: a reason code on chain, the free-text note off chain."""
        reason = parse_reason(reason_code)
        text = clean_note(note)
        call = self.registry.functions[action](licence_id, reason.code)
        fp = {"reason": reason.code, "note": text}
        return self._change(principal, licence_id, action, call, text, idempotency_key, fp)

    def suspend(
        self,
        principal: Principal | None,
        licence_id: bytes,
        reason_code: Any,
        note: Any = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        return self._change_with_reason(
            principal, licence_id, "suspend", reason_code, note, idempotency_key
        )

    def reinstate(
        self,
        principal: Principal | None,
        licence_id: bytes,
        note: Any = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        text = clean_note(note)
        call = self.registry.functions.reinstate(licence_id)
        return self._change(
            principal, licence_id, "reinstate", call, text, idempotency_key, {"note": text}
        )

    def revoke(
        self,
        principal: Principal | None,
        licence_id: bytes,
        reason_code: Any,
        note: Any = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        return self._change_with_reason(
            principal, licence_id, "revoke", reason_code, note, idempotency_key
        )

    def amend(
        self,
        principal: Principal | None,
        licence_id: bytes,
        doc_hash: bytes,
        valid_until: Any = None,
        note: Any = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        text = clean_note(note)
        until = (
            0
            if valid_until in (None, "", 0, "0")
            else parse_time(valid_until, "validUntil", end_of_day=True)
        )
        if len(doc_hash) != 32 or not any(doc_hash):
            raise InputError("the document hash must be 32 non-zero bytes", field="documentHash")
        call = self.registry.functions.amend(licence_id, doc_hash, until)
        fp = {"doc": ev.hexb(doc_hash), "until": until, "note": text}
        return self._change(principal, licence_id, "amend", call, text, idempotency_key, fp)

    def bind_holder(
        self,
        principal: Principal | None,
        licence_id: bytes,
        holder_address: Any,
        note: Any = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        text = clean_note(note)
        address = parse_address(holder_address, "holderAddress")
        call = self.registry.functions.bindHolder(licence_id, address)
        return self._change(
            principal, licence_id, "bind-holder", call, text, idempotency_key, {"address": address}
        )

    def record_supervision(
        self,
        principal: Principal | None,
        uscc: str,
        kind: str,
        ref_hash: bytes,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        dept = self._department(principal, "record supervision facts")
        assert principal is not None
        code = normalise_uscc(uscc)
        if kind not in SUPERVISION_KIND_CODES:
            raise InputError(
                f"kind must be one of {', '.join(SUPERVISION_KIND_CODES)}", field="kind"
            )
        if not dept.supervises:
            raise ForbiddenError(f"department {dept.name} is not a supervising department")
        if len(ref_hash) != 32 or not any(ref_hash):
            raise InputError("refHash must be 32 non-zero bytes", field="refHash")
        subject = enterprise_subject(code)
        call = self.registry.functions.recordSupervision(
            subject, SUPERVISION_KIND_CODES[kind], ref_hash
        )

        def work() -> dict[str, Any]:
            receipt = self._send(dept.sender, call)
            self.store.remember_holder(subject, "enterprise", code)
            return {
                "uscc": code,
                "kind": kind,
                "refHash": ev.hexb(ref_hash),
                "department": dept.name,
                "transactionHash": ev.hexb(receipt["transactionHash"]),
                "blockNumber": int(receipt["blockNumber"]),
            }

        fp = {"supervision": code, "kind": kind, "ref": ev.hexb(ref_hash)}
        return self._idempotent(principal, idempotency_key, fp, work)

    # --- reads --------------------------------------------------------------------------------

    def _chain_licence(self, licence_id: bytes) -> tuple[str, bytes, str, int, int, bytes] | None:
        issuer, tid, status, version, valid_until, doc = self.registry.functions.getLicence(
            licence_id
        ).call()
        if int(status) == 0:
            return None
        return (
            str(issuer),
            bytes(tid),
            CHAIN_STATUS[int(status)],
            int(version),
            int(valid_until),
            bytes(doc),
        )

    def _holder_of(self, licence_id: bytes) -> str | None:
        """The bound holder address as the contract stores it (`holderOf`; what grants check)."""
        raw = str(self.registry.functions.holderOf(licence_id).call())
        return None if int(raw, 16) == 0 else to_checksum_address(raw)

    def _record(
        self, licence_id: bytes, chain_view: tuple[Any, ...] | None
    ) -> ev.LicenceRecord | None:
        """The licence rebuilt from indexed events, waiting for the indexer if it is behind."""
        for attempt in range(2):
            lid = ev.hexb(licence_id)
            evs = self._events(None, {"licenceId": lid})
            issued = [e for e in evs if e.event == "LicenceIssued"]
            rest = [e for e in evs if e.event in ev.LIFECYCLE]
            rec = ev.build_records(issued, rest).get(licence_id)
            if chain_view is None:
                return rec
            _, _, status, version, _, doc = chain_view
            fresh = (
                rec is not None
                and rec.version == version
                and rec.doc_hash == doc
                and (status == "EXPIRED" or rec.status == status)
            )
            if fresh or attempt == 1:
                return rec
            self._catch_up()
        return None  # pragma: no cover

    def _holder_json(self, subject: bytes, t: LicenceType | None) -> dict[str, Any]:
        known = self.store.holder_display(subject)
        kind = known[0] if known else (t.holder if t and t.holder != "any" else None)
        return {"kind": kind, "display": known[1] if known else None, "subject": ev.hexb(subject)}

    def _department_json(self, address: str | None) -> dict[str, Any] | None:
        if address is None:
            return None
        d = self.departments.by_address(address)
        return {"address": address, "name": d.name if d else None}

    def _type_json(self, tid: bytes) -> dict[str, Any]:
        t = self.type_by_id(tid)
        if t is None:
            return {"typeId": ev.hexb(tid), "code": None}
        return t.to_json()

    def _licence_json(self, rec: ev.LicenceRecord, stored: str, now: int) -> dict[str, Any]:
        t = self.type_by_id(rec.type_id)
        status = effective_status(stored, rec.valid_from, rec.valid_until, now)
        body: dict[str, Any] = {
            "licenceId": ev.hexb(rec.licence_id),
            "type": self._type_json(rec.type_id),
            "serialNumber": (
                decode_serial(rec.serial) if rec.serial else self.store.serial_of(rec.licence_id)
            ),
            "issuer": self._department_json(rec.issuer),
            "holder": self._holder_json(rec.holder, t),
            "holderAddress": rec.holder_address,
            "documentHash": ev.hexb(rec.doc_hash),
            "validFrom": rec.valid_from,
            "validUntil": rec.valid_until or None,
            "validFromIso": iso(rec.valid_from),
            "validUntilIso": iso(rec.valid_until),
            "version": rec.version,
            "status": status.value,
            "issuedAt": rec.issued_at,
            "issuedTransaction": rec.issued_tx,
        }
        if status in (Status.SUSPENDED, Status.REVOKED) and rec.status_reason is not None:
            body["statusReason"] = {
                "code": rec.status_reason,
                "text": reason_text(rec.status_reason),
                "since": rec.status_since,
                "by": self._department_json(rec.status_by),
            }
        return body

    def get(self, licence_id: bytes) -> dict[str, Any]:
        self._own_writes_indexed()
        chain_view = self._chain_licence(licence_id)
        if chain_view is None:
            raise NotFoundError(f"no licence {ev.hexb(licence_id)} on chain")
        rec = self._record(licence_id, chain_view)
        if rec is None:
            raise NotFoundError(
                f"licence {ev.hexb(licence_id)} exists on chain but is not indexed yet; retry"
            )
        _, _, stored, version, valid_until, doc = chain_view
        # the contract is authoritative for the current state, the bound holder included
        rec.status = stored if stored != "EXPIRED" else rec.status
        rec.version, rec.valid_until, rec.doc_hash = version, valid_until, doc
        rec.holder_address = self._holder_of(licence_id)
        body = self._licence_json(rec, rec.status, self.now())
        notes = self.store.notes_of(licence_id)
        history = []
        for h in rec.history:
            entry = dict(h)
            entry["by"] = self._department_json(h.get("by"))
            if "reasonCode" in h:
                entry["reason"] = reason_text(h["reasonCode"])
            if h["transactionHash"].lower() in notes:
                entry["note"] = notes[h["transactionHash"].lower()]
            history.append(entry)
        for vid, rhash, record in self.store.verifications_of(licence_id):
            history.append(
                {
                    "action": "VERIFIED",
                    "verificationId": vid,
                    "verdict": record["verdict"],
                    "by": record["checkedBy"],
                    "time": record["checkedAt"],
                    "chainHead": record["chainHead"],
                    "recordHash": ev.hexb(rhash),
                }
            )
        # chain events and this node's verifications in chain order: a verification comes after
        # every event of the head block it was judged at (wall-clock and block times may differ)
        history.sort(
            key=lambda e: (
                (e["blockNumber"], e["logIndex"])
                if "blockNumber" in e
                else (e["chainHead"], 1 << 30)
            )
        )
        body["history"] = history
        body["metadata"] = self.store.metadata_of(licence_id)
        return body

    def enterprise(self, uscc: str) -> dict[str, Any]:
        code = normalise_uscc(uscc)
        subject = enterprise_subject(code)
        self._own_writes_indexed()
        issued = self._events("LicenceIssued", {"holder": ev.hexb(subject)})
        ids = {e.args["licenceId"].lower() for e in issued}
        lifecycle = [
            e
            for name in ev.LIFECYCLE
            for e in self._events(name)
            if e.args["licenceId"].lower() in ids
        ]
        records = ev.build_records(issued, lifecycle)
        now = self.now()
        licences = [self._licence_json(r, r.status, now) for r in records.values()]
        supervision = [
            {**ev.supervision_entry(e), "supervisor": self._department_json(e.args["supervisor"])}
            for e in self._events("SupervisionRecorded", {"subject": ev.hexb(subject)})
        ]
        return {
            "uscc": code,
            "subject": ev.hexb(subject),
            "licences": licences,
            "supervision": supervision,
            "indexedHeight": self.indexer.indexed_height,
            "asOf": now,
        }

    # --- document verification ----------------------------------------------------------------

    def _facts(self, licence_id: bytes) -> LicenceFacts | None:
        self._own_writes_indexed()
        chain_view = self._chain_licence(licence_id)
        if chain_view is None:
            return None
        _, _, stored, _, valid_until, doc = chain_view
        rec = self._record(licence_id, chain_view)
        valid_from = rec.valid_from if rec else 0
        # the contract reports EXPIRED over SUSPENDED; the events keep the stored status
        stored_status = stored if stored != "EXPIRED" else (rec.status if rec else "ACTIVE")
        status = effective_status(stored_status, valid_from, valid_until, self.now())
        return LicenceFacts(
            licence_id=licence_id,
            status=status,
            doc_hash=doc,
            previous_doc_hashes=tuple(rec.previous_doc_hashes) if rec else (),
            status_reason=reason_text(rec.status_reason) if rec and rec.status_reason else None,
            status_since=rec.status_since if rec else None,
            valid_until=valid_until,
        )

    def _licences_with_document(self, doc_hash: bytes) -> list[bytes]:
        h = ev.hexb(doc_hash)
        found = [
            ev.unhex(e.args["licenceId"])
            for name in ("LicenceIssued", "LicenceAmended")
            for e in self._events(name, {"docHash": h})
        ]
        return list(dict.fromkeys(found))

    def _anchored_at(self, doc_hash: bytes) -> tuple[int | None, dict[str, Any] | None]:
        service = self.anchoring
        if service is None:
            return None, None
        try:
            record = service.get(doc_hash)
        except NotFoundError:
            return None, None
        if record.status != "confirmed" or record.receipt is None:
            return None, None
        receipt: dict[str, Any] = record.receipt
        return int(receipt.get("blockTime") or receipt.get("anchoredAt") or 1), receipt

    def verify_document(
        self,
        principal: Principal | None,
        doc_hash: bytes,
        licence_id: bytes | None = None,
    ) -> dict[str, Any]:
        if principal is not None and principal.kind == "admin":
            raise ForbiddenError("verify as a clerk or a department, not as the admin")
        material: dict[str, Any] | None = None
        # the chain head before any read: the verdict reflects this block or a later one
        chain_head = int(self.chain.w3.eth.block_number)
        if licence_id is not None:
            outcome: Outcome = judge_claimed(doc_hash, self._facts(licence_id))
        else:
            found = self._licences_with_document(doc_hash)
            if not found and self._catch_up():
                # nothing indexed yet: the licence may be in a block the indexer has not read
                found = self._licences_with_document(doc_hash)
            facts = [f for f in map(self._facts, found) if f]
            anchored_at, receipt = (None, None) if facts else self._anchored_at(doc_hash)
            outcome = judge_unclaimed(doc_hash, facts, anchored_at)
            if receipt is not None:
                material = {"documentHash": ev.hexb(doc_hash), "receipt": receipt}
        body: dict[str, Any] = {
            **outcome.to_json(),
            "documentHash": ev.hexb(doc_hash),
            "claimedLicenceId": ev.hexb(licence_id) if licence_id else None,
            "licences": [self._safe_get(lid) for lid in outcome.licence_ids],
            "material": material,
            "checkedAt": int(time.time()),
        }
        if principal is not None:
            body["verification"] = self._record_verification(
                principal, doc_hash, licence_id, outcome, chain_head
            )
        return body

    def _safe_get(self, licence_id: bytes) -> dict[str, Any]:
        body = self.get(licence_id)
        body.pop("history", None)
        body.pop("metadata", None)
        return body

    def _record_verification(
        self,
        principal: Principal,
        doc_hash: bytes,
        licence_id: bytes | None,
        outcome: Outcome,
        chain_head: int,
    ) -> dict[str, Any]:
        vid = "vr_" + uuid.uuid4().hex
        record = {
            "format": "credledger-verification-1",
            "id": vid,
            "checked": {
                "documentHash": ev.hexb(doc_hash),
                "claimedLicenceId": ev.hexb(licence_id) if licence_id else None,
            },
            "verdict": outcome.verdict.value,
            "reasons": outcome.reasons,
            "licenceIds": [ev.hexb(x) for x in outcome.licence_ids],
            "checkedBy": principal.label,
            "department": principal.department,
            "checkedAt": int(time.time()),
            "chainId": self.chain.chain_id,
            "chainHead": chain_head,
            "registry": self.registry_address,
        }
        record_hash = _hash_json(record)
        self.store.add_verification(vid, record_hash, record, list(outcome.licence_ids))
        status = "not-anchored"
        if self.anchoring is not None:
            status = self.anchoring.submit([record_hash])[0].status
        return {"id": vid, "recordHash": ev.hexb(record_hash), "anchorStatus": status}

    def verification(self, vid: str) -> dict[str, Any]:
        found = self.store.verification(vid)
        if found is None:
            raise NotFoundError(f"no verification record {vid!r} on this node")
        record_hash, record = found
        anchor: dict[str, Any] | None = None
        if self.anchoring is not None:
            try:
                anchor = self.anchoring.get(record_hash).to_json()
            except NotFoundError:
                anchor = None
        return {
            "id": vid,
            "record": record,
            "recordHash": ev.hexb(record_hash),
            "recordHashAlgorithm": "sha256 of the canonical JSON record (sorted keys, no spaces)",
            "anchor": anchor,
            "receipt": anchor.get("receipt") if anchor else None,
        }


def _type_code(service: LicenceService, requests: Sequence[Any]) -> str | None:
    """The type code to name in a NotIssuer error (the first request's)."""
    t = service.type_by_id(requests[0][0]) if requests else None
    return t.code if t else None


# --- chain encoding of licence types ----------------------------------------------------------


def chain_name(t: LicenceType) -> str:
    """The name stored on chain: the type as compact JSON, so other nodes can read it back."""
    return json.dumps(
        {"code": t.code, "category": t.category, "zh": t.zh, "en": t.en, "holder": t.holder},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )


def schema_hash(t: LicenceType) -> bytes:
    return keccak(chain_name(t).encode("utf-8"))


def _type_from_chain_name(name: str) -> LicenceType | None:
    try:
        d = json.loads(name)
        return LicenceType(
            d["code"], d["category"], d["zh"], d["en"], d.get("holder", "enterprise")
        )
    except (ValueError, KeyError, TypeError):
        return None


def _register_call(registry: Contract, t: LicenceType) -> Any:
    return registry.functions.registerType(t.type_id, chain_name(t), schema_hash(t))


def register_catalogue(
    chain: Chain,
    registry_address: str,
    admin: TxSender,
    catalogue: Catalogue,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Register every catalogue type not yet on chain; return how many were registered."""
    registry = chain.contract("LicenceRegistry", registry_address)
    done = 0
    for t in catalogue.types:
        if int(registry.functions.getType(t.type_id).call()[0]) != 0:
            continue
        admin.send(_register_call(registry, t))
        done += 1
        if progress:
            progress(f"registered licence type {t.code} ({t.zh})")
    return done


def authorise_departments(
    chain: Chain,
    registry_address: str,
    admin: TxSender,
    departments: Departments,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Give each configured department its on-chain roles (issuer/supervisor per type, and the
    global supervisor role to supervising departments). Needs the admin key; returns tx count."""
    registry = chain.contract("LicenceRegistry", registry_address)
    sent = 0
    for d in departments:
        for code in sorted(d.issues | d.supervises):
            bits = (ROLE_ISSUER if code in d.issues else 0) | (
                ROLE_SUPERVISOR if code in d.supervises else 0
            )
            tid = type_id(code)
            if int(registry.functions.authorisationOf(tid, d.address).call()) == bits:
                continue
            admin.send(registry.functions.setAuthorisation(tid, d.address, bits))
            sent += 1
        if d.supervises:
            role = registry.functions.SUPERVISOR_ROLE().call()
            if not registry.functions.hasRole(role, d.address).call():
                admin.send(registry.functions.grantRole(role, d.address))
                sent += 1
        if progress:
            progress(f"department {d.name} ({d.address}) authorised on chain")
    return sent
