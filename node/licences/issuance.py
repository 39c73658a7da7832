"""Issuing licences: validation, idempotency (also across a crash of the node) and group commit
(concurrent single issuances of one department go out together, see ``coalesce.py``).

Privacy: a citizen ID number is turned into its keyed subject as soon as it is validated; the
clear number is not stored, logged, returned or sent to the chain. Idempotency fingerprints are
computed over the subject, not the number.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from web3.types import TxReceipt

from credledger.node.auth import Principal
from credledger.node.core.contracts import licence_events as ev
from credledger.node.core.contracts.licence_registry import (
    IssueRequest,
    LicenceExists,
    LicenceId,
    LicenceRegistry,
    NotIssuer,
    Seal,
)
from credledger.node.core.errors import ForbiddenError, InputError, PayloadTooLargeError
from credledger.node.core.identifiers import (
    Holder,
    holder_from,
    is_citizen_id,
    normalise_citizen_id,
)
from credledger.node.departments import Department
from credledger.node.licences.admin import LicenceAdmin
from credledger.node.licences.catalogue import LicenceType
from credledger.node.licences.coalesce import IssueCoalescer
from credledger.node.licences.context import LicenceContext
from credledger.node.licences.inputs import encode_serial, parse_address, parse_time
from credledger.node.licences.models import HolderShown, IssuedBatch, IssuedLicence, last_valid_day
from credledger.node.licences.seal_store import StoredSeal
from credledger.node.licences.seals import build_metadata

log = logging.getLogger("credledger.node.licences")

MAX_BATCH = 100
_ARTICLE = {"enterprise": "an enterprise", "person": "a person"}


def refuse_personal_ids(value: Any, where: str) -> None:
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
            refuse_personal_ids(k, where)
            refuse_personal_ids(v, where)
    elif isinstance(value, list):
        for v in value:
            refuse_personal_ids(v, where)


@dataclass
class IssueInput:
    """One licence to issue, as the caller gave it (validated by :meth:`Issuance.prepare`)."""

    type: str
    serial_number: str
    doc_hash: bytes
    valid_from: Any
    valid_until: Any = None
    holder_uscc: str | None = None
    holder_citizen_id: str | None = field(default=None, repr=False)
    holder_address: str | None = None
    metadata: dict[str, Any] | None = None
    holder_name: str | None = None  # GB/T 36903 持证主体 (H1: kept in metadata for enterprises)


@dataclass(frozen=True)
class Prepared:
    licence_type: LicenceType
    serial_number: str
    holder: Holder
    request: IssueRequest
    metadata: dict[str, Any] | None
    # the department's e-seal over the licence's GB/T 36903 metadata (None: it has no seal key)
    seal: Seal | None = None
    sealed: StoredSeal | None = field(default=None, repr=False)

    @property
    def licence_id(self) -> LicenceId:
        return self.request.licence_id

    def fingerprint(self) -> dict[str, Any]:
        """The request as idempotency compares it: the subject, never the clear ID."""
        r = self.request
        return {
            "type": self.licence_type.code,
            "serial": ev.hexb(r.serial),
            "holder": ev.hexb(r.holder),
            "holderAddress": r.holder_address,
            "docHash": ev.hexb(r.doc_hash),
            "validFrom": r.valid_from,
            "validUntil": r.valid_until,
            "metadata": self.metadata,
        }

    def issued(self, tx_hash: str, block: int, **extra: Any) -> IssuedLicence:
        r = self.request
        return IssuedLicence(
            licenceId=ev.hexb(self.licence_id),
            type=self.licence_type.code,
            serialNumber=self.serial_number,
            holder=HolderShown(kind=self.holder.kind, display=self.holder.display),
            documentHash=ev.hexb(r.doc_hash),
            validFrom=r.valid_from,
            validUntil=last_valid_day(r.valid_until),
            validUntilExclusive=r.valid_until or None,
            status="ACTIVE",
            version=1,
            transactionHash=tx_hash,
            blockNumber=block,
            **({"seal": {"keyId": self.seal.key_id}} if self.seal else {}),
            **extra,
        )


class Issuance:
    def __init__(
        self,
        ctx: LicenceContext,
        admin: LicenceAdmin,
        subject_secret: bytes,
        *,
        coalesce_max: int = 50,
    ) -> None:
        self.ctx = ctx
        self.admin = admin
        self._secret = subject_secret
        self._coalesce_max = coalesce_max
        self._coalescers: dict[str, IssueCoalescer] = {}
        self._lock = threading.Lock()

    def health(self) -> dict[str, Any]:
        return {
            name: {
                "transactions": c.transactions,
                "licences": c.licences,
                "queued": c.queued,
                "inFlight": c.in_flight,
            }
            for name, c in self._coalescers.items()
        }

    def prepare(self, dept: Department, item: IssueInput) -> Prepared:
        t = self.admin.licence_type(item.type)
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
            refuse_personal_ids(item.metadata, "metadata")
        prepared = Prepared(
            licence_type=t,
            serial_number=item.serial_number.strip(),
            holder=holder,
            request=IssueRequest(
                type_id=t.type_id,
                serial=encode_serial(item.serial_number),
                holder=holder.subject,
                doc_hash=item.doc_hash,
                valid_from=valid_from,
                valid_until=valid_until,
                holder_address=(
                    parse_address(item.holder_address, "holderAddress")
                    if item.holder_address
                    else None
                ),
            ),
            metadata=item.metadata,
        )
        return self._sealed(dept, prepared, item)

    def _sealed(self, dept: Department, p: Prepared, item: IssueInput) -> Prepared:
        """``p`` with its department's e-seal, when the department has a seal key."""
        seals = self.ctx.seals
        key = seals.key_of(dept.name) if seals else None
        if key is None:
            return p
        if not key.key_id and seals is not None:  # devnet: registered at its first use
            with self._lock:
                seals.register_pending(self.ctx.departments, self.ctx.registry, only=dept.name)
            key = seals.keys[dept.name]
        r = p.request
        md = build_metadata(
            p.licence_type,
            dept,
            p.serial_number,
            version=1,
            holder_kind=p.holder.kind,
            holder_code=normalise_citizen_id(item.holder_citizen_id or "")
            if p.holder.kind == "person"
            else p.holder.display,
            holder_name=_holder_name(item),
            valid_from=r.valid_from,
            valid_until=r.valid_until,
        )
        seal, stored = key.seal(p.licence_id, 1, md)
        return replace(p, seal=seal, sealed=stored)

    def _after_issue(self, p: Prepared, *, recovered: bool = False) -> None:
        store = self.ctx.store
        store.remember_holder(p.holder.subject, p.holder.kind, p.holder.display)
        store.set_serial(p.licence_id, p.serial_number)
        if p.metadata:
            store.set_metadata(p.licence_id, p.metadata)
        if p.sealed is not None and self.ctx.seals is not None:
            # a recovered issuance was sealed by its first attempt: keep that attempt's row
            self.ctx.seals.store.put(p.sealed, replace=not recovered)

    def issue(
        self, principal: Principal | None, item: IssueInput, idempotency_key: str | None = None
    ) -> IssuedLicence:
        dept = self.ctx.department(principal, "issue licences")
        assert principal is not None
        p = self.prepare(dept, item)

        def work() -> IssuedLicence:
            try:
                receipt = self._coalescer(dept).submit((p.request, p.seal))
            except LicenceExists:
                # A keyed retry after a crash or a timeout: the first attempt may have been
                # mined. If the licence on chain is exactly this one, answer as the first would.
                recovered = self.recover(p, dept) if idempotency_key else None
                if recovered is None:
                    raise
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
            return p.issued(ev.hexb(receipt["transactionHash"]), int(receipt["blockNumber"]))

        return self.ctx.idempotent(
            principal,
            idempotency_key,
            p.fingerprint(),
            work,
            IssuedLicence,
            recover=lambda: self.recover(p, dept),
        )

    def _coalescer(self, dept: Department) -> IssueCoalescer:
        with self._lock:
            c = self._coalescers.get(dept.name)
            if c is None:
                registry = self.ctx.registry_for(dept.sender)

                def send(items: Sequence[tuple[IssueRequest, Seal | None]]) -> TxReceipt:
                    try:
                        return self.ctx.write(lambda: _send(registry, items))
                    except NotIssuer as exc:
                        raise self.admin.refine(exc) from None

                c = IssueCoalescer(dept.name, send, self._coalesce_max)
                self._coalescers[dept.name] = c
            return c

    def recover(self, p: Prepared, dept: Department) -> IssuedLicence | None:
        """The answer of an earlier attempt of this very issuance, read from the chain; None if
        the licence is not on chain (or is another one with the same id)."""
        on_chain = self.ctx.registry.get_licence(p.licence_id)
        if on_chain is None or on_chain.issuer != dept.address:
            return None
        if on_chain.doc_hash != p.request.doc_hash:
            return None
        self.ctx.catch_up()
        issued = self.ctx.events("LicenceIssued", {"licenceId": ev.hexb(p.licence_id)})
        if len(issued) != 1 or issued[0].args["holder"] != ev.hexb(p.holder.subject):
            return None
        self._after_issue(p, recovered=True)
        e = issued[0]
        return p.issued(e.tx_hash, e.block_number, recovered=True)

    def issue_batch(
        self,
        principal: Principal | None,
        items: Sequence[IssueInput],
        idempotency_key: str | None = None,
    ) -> IssuedBatch:
        dept = self.ctx.department(principal, "issue licences")
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
        registry = self.ctx.registry_for(dept.sender)

        def work() -> IssuedBatch:
            try:
                receipt = self.ctx.write(
                    lambda: _send(registry, [(p.request, p.seal) for p in prepared])
                )
            except NotIssuer as exc:
                raise self.admin.refine(exc) from None
            except LicenceExists:
                recovered = self.recover_batch(prepared, dept) if idempotency_key else None
                if recovered is None:
                    raise
                return recovered
            for p in prepared:
                self._after_issue(p)
            tx = ev.hexb(receipt["transactionHash"])
            return IssuedBatch(
                licences=[p.issued(tx, int(receipt["blockNumber"])) for p in prepared],
                transactionHash=tx,
                gasUsed=int(receipt["gasUsed"]),
            )

        return self.ctx.idempotent(
            principal,
            idempotency_key,
            [p.fingerprint() for p in prepared],
            work,
            IssuedBatch,
            recover=lambda: self.recover_batch(prepared, dept),
        )

    def recover_batch(self, prepared: Sequence[Prepared], dept: Department) -> IssuedBatch | None:
        """The answer of an earlier attempt of this very batch: every licence on chain, issued
        by one transaction of this department; None otherwise."""
        answers = []
        for p in prepared:
            a = self.recover(p, dept)
            if a is None:
                return None
            answers.append(a)
        txs = {a.transactionHash for a in answers}
        if len(txs) != 1:
            return None
        tx = txs.pop()
        receipt = self.ctx.chain.receipt(tx)
        if receipt is None:
            return None
        return IssuedBatch(
            licences=answers, transactionHash=tx, gasUsed=int(receipt["gasUsed"]), recovered=True
        )


def _send(
    registry: LicenceRegistry, items: Sequence[tuple[IssueRequest, Seal | None]]
) -> TxReceipt:
    """One issuance transaction: sealed (``issueSealed`` / ``issueBatchSealed``) when every
    licence carries its seal, else unsealed (a department seals all or none of its licences)."""
    requests = [r for r, _ in items]
    seals = [s for _, s in items if s is not None]
    if len(seals) == len(items):
        if len(items) == 1:
            return registry.issue_sealed(requests[0], seals[0])[1]
        return registry.issue_batch_sealed(requests, seals)[1]
    if len(items) == 1:
        return registry.issue(requests[0])[1]
    return registry.issue_batch(requests)[1]


def _holder_name(item: IssueInput) -> str:
    """The holder's name for the metadata: the request's ``holderName`` (or the metadata's)."""
    name = item.holder_name
    if not name and isinstance(item.metadata, dict):
        name = item.metadata.get("holderName")
    return str(name or "").strip()
