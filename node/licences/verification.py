"""Checking a document against the chain, and the clerk's verification records (anchored through
the anchoring service). The verdict rules are pure functions in ``verdicts.py``; a presentation
verifier (a later issue) extends :class:`DocumentVerifier` with the facts it gathers here."""

from __future__ import annotations

import time
import uuid
from typing import Any

from credledger.node.anchoring.service import AnchoringService
from credledger.node.auth import Principal
from credledger.node.chain import Chain
from credledger.node.contracts.licence_registry import LicenceStatus
from credledger.node.errors import ForbiddenError, NotFoundError
from credledger.node.licences import events as ev
from credledger.node.licences.context import LicenceContext, hash_json
from credledger.node.licences.inputs import reason_text
from credledger.node.licences.models import DocumentVerdict, VerificationRecord
from credledger.node.licences.queries import LicenceQueries
from credledger.node.licences.verdicts import (
    LicenceFacts,
    Outcome,
    effective_status,
    judge_claimed,
    judge_unclaimed,
)

RECORD_FORMAT = "credledger-verification-1"


class DocumentVerifier:
    def __init__(
        self,
        ctx: LicenceContext,
        queries: LicenceQueries,
        anchoring: AnchoringService | None,
    ) -> None:
        self.ctx = ctx
        self.queries = queries
        self.anchoring = anchoring

    @property
    def chain(self) -> Chain:
        return self.ctx.chain

    # --- facts --------------------------------------------------------------------------------

    def facts(self, licence_id: bytes) -> LicenceFacts | None:
        """What the verdict rules need to know about one licence, now."""
        self.ctx.own_writes_indexed()
        on_chain = self.queries.on_chain(licence_id)
        if on_chain is None:
            return None
        rec = self.queries.record(licence_id, on_chain)
        valid_from = rec.valid_from if rec else 0
        # the contract reports EXPIRED over SUSPENDED; the events keep the stored status
        stored = (
            on_chain.status.name
            if on_chain.status is not LicenceStatus.EXPIRED
            else (rec.status if rec else "ACTIVE")
        )
        status = effective_status(stored, valid_from, on_chain.valid_until, self.ctx.now())
        return LicenceFacts(
            licence_id=licence_id,
            status=status,
            doc_hash=on_chain.doc_hash,
            previous_doc_hashes=tuple(rec.previous_doc_hashes) if rec else (),
            status_reason=reason_text(rec.status_reason) if rec and rec.status_reason else None,
            status_since=rec.status_since if rec else None,
            valid_until=on_chain.valid_until,
        )

    def licences_with_document(self, doc_hash: bytes) -> list[bytes]:
        h = ev.hexb(doc_hash)
        found = [
            ev.unhex(e.args["licenceId"])
            for name in ("LicenceIssued", "LicenceAmended")
            for e in self.ctx.events(name, {"docHash": h})
        ]
        return list(dict.fromkeys(found))

    def anchored_at(self, doc_hash: bytes) -> tuple[int | None, dict[str, Any] | None]:
        """When the document itself was anchored (and its receipt), if it was."""
        if self.anchoring is None:
            return None, None
        try:
            record = self.anchoring.get(doc_hash)
        except NotFoundError:
            return None, None
        if record.status != "confirmed" or record.receipt is None:
            return None, None
        receipt: dict[str, Any] = record.receipt
        return int(receipt.get("blockTime") or receipt.get("anchoredAt") or 1), receipt

    # --- verdicts -----------------------------------------------------------------------------

    def verify_document(
        self,
        principal: Principal | None,
        doc_hash: bytes,
        licence_id: bytes | None = None,
    ) -> DocumentVerdict:
        if principal is not None and principal.kind == "admin":
            raise ForbiddenError("verify as a clerk or a department, not as the admin")
        material: dict[str, Any] | None = None
        # the chain head before any read: the verdict reflects this block or a later one
        chain_head = int(self.chain.w3.eth.block_number)
        if licence_id is not None:
            outcome: Outcome = judge_claimed(doc_hash, self.facts(licence_id))
        else:
            found = self.licences_with_document(doc_hash)
            if not found and self.ctx.catch_up():
                # nothing indexed yet: the licence may be in a block the indexer has not read
                found = self.licences_with_document(doc_hash)
            facts = [f for f in map(self.facts, found) if f]
            anchored_at, receipt = (None, None) if facts else self.anchored_at(doc_hash)
            outcome = judge_unclaimed(doc_hash, facts, anchored_at)
            if receipt is not None:
                material = {"documentHash": ev.hexb(doc_hash), "receipt": receipt}
        body: dict[str, Any] = {
            **outcome.to_json(),
            "documentHash": ev.hexb(doc_hash),
            "claimedLicenceId": ev.hexb(licence_id) if licence_id else None,
            "licences": [self.queries.summary(lid) for lid in outcome.licence_ids],
            "material": material,
            "checkedAt": int(time.time()),
        }
        if principal is not None:
            body["verification"] = self._record(
                principal, doc_hash, licence_id, outcome, chain_head
            )
        return DocumentVerdict.model_validate(body)

    def _record(
        self,
        principal: Principal,
        doc_hash: bytes,
        licence_id: bytes | None,
        outcome: Outcome,
        chain_head: int,
    ) -> dict[str, Any]:
        vid = "vr_" + uuid.uuid4().hex
        record = {
            "format": RECORD_FORMAT,
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
            "registry": self.ctx.registry_address,
        }
        record_hash = hash_json(record)
        self.ctx.store.add_verification(vid, record_hash, record, list(outcome.licence_ids))
        status = "not-anchored"
        if self.anchoring is not None:
            status = self.anchoring.submit([record_hash])[0].status
        return {"id": vid, "recordHash": ev.hexb(record_hash), "anchorStatus": status}

    def verification(self, vid: str) -> VerificationRecord:
        found = self.ctx.store.verification(vid)
        if found is None:
            raise NotFoundError(f"no verification record {vid!r} on this node")
        record_hash, record = found
        anchor: dict[str, Any] | None = None
        if self.anchoring is not None:
            try:
                anchor = self.anchoring.get(record_hash).to_json()
            except NotFoundError:
                anchor = None
        return VerificationRecord(
            id=vid,
            record=record,
            recordHash=ev.hexb(record_hash),
            recordHashAlgorithm="sha256 of the canonical JSON record (sorted keys, no spaces)",
            anchor=anchor,
            receipt=anchor.get("receipt") if anchor else None,
        )
