"""Checking a document against the chain, and the clerk's verification records (anchored through
the anchoring service). The verdict rules are pure functions in ``verdicts.py``; a presentation
verifier (a later issue) extends :class:`DocumentVerifier` with the facts it gathers here."""

from __future__ import annotations

import time
import uuid
from typing import Any

from credledger.node.anchoring.service import AnchoringService
from credledger.node.auth import Principal
from credledger.node.core.chain import Chain
from credledger.node.core.contracts import licence_events as ev
from credledger.node.core.errors import ForbiddenError, NotFoundError
from credledger.node.core.fingerprints import FileDigest
from credledger.node.core.receipts import RECORD_HASH_ALGORITHM, record_hash
from credledger.node.groupcommit import Verification, VerificationLog
from credledger.node.licences.context import LicenceContext
from credledger.node.licences.inputs import reason_text
from credledger.node.licences.models import DocumentVerdict, VerificationRecord
from credledger.node.licences.queries import LicenceQueries
from credledger.node.licences.sealcheck import SealChecker
from credledger.node.licences.verdicts import (
    LicenceFacts,
    Outcome,
    effective_status,
    judge_claimed,
    judge_unclaimed,
    with_seal,
)

RECORD_FORMAT = "credledger-verification-1"


class DocumentVerifier:
    def __init__(
        self,
        ctx: LicenceContext,
        queries: LicenceQueries,
        anchoring: AnchoringService | None,
        records: VerificationLog | None = None,
    ) -> None:
        self.ctx = ctx
        self.queries = queries
        self.anchoring = anchoring
        # clerk verification records: group-committed to the licence database (durable before
        # the answer), their hashes handed to the anchoring service once per group
        self.records = records or VerificationLog(ctx.store.db, self._anchor)
        # e-seal checks and the seal route's answer (sealcheck.py)
        self.seals = SealChecker(ctx)

    def _anchor(self, hashes: list[bytes]) -> list[str]:
        if self.anchoring is None:
            return ["not-anchored"] * len(hashes)
        return [r.status for r in self.anchoring.submit(hashes)]

    def close(self) -> None:
        self.records.close()

    @property
    def chain(self) -> Chain:
        return self.ctx.chain

    # --- facts --------------------------------------------------------------------------------

    def facts(self, licence_id: bytes) -> LicenceFacts | None:
        """What the verdict rules need to know about one licence, as of the read model's block
        (call inside ``ctx.model.snapshot()``)."""
        model = self.ctx.model
        rec = model.licence(licence_id)
        if rec is None:
            return None
        # stored status from the events; EXPIRED / NOT_YET_VALID from the block time and the
        # wall clock, as the contract's views derive EXPIRED from the block time
        status = effective_status(rec.status, rec.valid_from, rec.valid_until, model.now())
        return LicenceFacts(
            licence_id=licence_id,
            status=status,
            doc_hash=rec.doc_hash,
            previous_doc_hashes=tuple(rec.previous_doc_hashes),
            status_reason=reason_text(rec.status_reason) if rec.status_reason else None,
            status_since=rec.status_since,
            valid_until=rec.valid_until,
        )

    def fingerprint_of(self, licence_id: bytes) -> str:
        """The document fingerprint of a licence's type (``sha256`` or ``sm3``; ``sha256`` for a
        licence the read model does not know yet)."""
        rec = self.ctx.model.licence(licence_id)
        t = self.queries.admin.type_by_id(rec.type_id) if rec is not None else None
        return t.fingerprint if t is not None else "sha256"

    def document_digest(self, doc: bytes, licence_id: bytes | None) -> tuple[bytes, str]:
        """The document's fingerprint for this check, and its algorithm: the claimed licence's
        type's; for a document that claims none, its SHA-256 unless only its SM3 digest is a
        licence document the read model knows. ``doc`` is an upload's
        :class:`~credledger.node.core.fingerprints.FileDigest` or a hash sent as it is."""
        if not isinstance(doc, FileDigest):
            alg = self.fingerprint_of(licence_id) if licence_id is not None else "sha256"
            return doc, alg
        if licence_id is not None:
            alg = self.fingerprint_of(licence_id)
            return doc.of(alg), alg
        sm3 = doc.sm3
        if sm3 and not self.licences_with_document(bytes(doc)) and self.licences_with_document(sm3):
            return sm3, "sm3"
        return bytes(doc), "sha256"

    def licences_with_document(self, doc_hash: bytes) -> list[bytes]:
        """Licences whose current or an earlier document is ``doc_hash`` (read model)."""
        return self.ctx.model.with_document(doc_hash)

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
        metadata: Any = None,
    ) -> DocumentVerdict:
        if principal is not None and principal.kind == "admin":
            raise ForbiddenError("verify as a clerk or a department, not as the admin")
        return DocumentVerdict.model_validate(
            self.verify_json(principal, doc_hash, licence_id, metadata)
        )

    def verify_json(
        self,
        principal: Principal | None,
        doc_hash: bytes,
        licence_id: bytes | None = None,
        metadata: Any = None,
    ) -> dict[str, Any]:
        """The verdict as JSON, judged at one block of the read model (``judgedAtBlock``).

        Nothing here asks the chain, unless the licence (or document) is unknown: then the node
        waits once for its indexer to reach the chain head, as it may be in a newer block. A
        clerk's check is recorded durably (group commit) before the answer. ``metadata`` is the
        licence's GB/T 36903 metadata as its holder presents it (JSON): the seal is checked over
        it instead of the metadata this node kept.
        """
        self._refuse_admin(principal)
        presented = self.seals.presented(metadata)
        self.ctx.own_writes_indexed()
        model = self.ctx.model
        if licence_id is not None:
            if model.licence(licence_id) is None:
                self.ctx.catch_up()
        elif not model.with_document(bytes(doc_hash)):
            digest = doc_hash.sm3 if isinstance(doc_hash, FileDigest) else None
            if digest is None or not model.with_document(digest):
                self.ctx.catch_up()
        doc_hash, alg = self.document_digest(doc_hash, licence_id)
        body, outcome = self._judge(doc_hash, licence_id, presented, alg)
        if principal is not None:
            record = self._record_of(principal, doc_hash, licence_id, outcome, body)
            status = self.records.write(record)
            body["verification"] = self._receipt(record, status)
        return body

    def judged_now(
        self,
        principal: Principal | None,
        doc_hash: bytes,
        licence_id: bytes | None,
        metadata: Any = None,
    ) -> tuple[dict[str, Any], Verification | None] | None:
        """The verdict without blocking (for the event loop), or None when answering needs a
        wait: this node's own last write not indexed yet, or a licence / document the read
        model does not know (it may be in a block not indexed yet; :meth:`verify_json` waits).
        The clerk's record, if any, is returned unwritten: await :meth:`record_async`."""
        self._refuse_admin(principal)
        presented = self.seals.presented(metadata)
        model = self.ctx.model
        if model.height < self.ctx.last_write_block:
            return None
        if licence_id is not None and model.licence(licence_id) is None:
            return None
        doc_hash, alg = self.document_digest(doc_hash, licence_id)
        if licence_id is None and not model.with_document(doc_hash):
            return None
        body, outcome = self._judge(doc_hash, licence_id, presented, alg)
        if principal is None:
            return body, None
        return body, self._record_of(principal, doc_hash, licence_id, outcome, body)

    async def record_async(self, body: dict[str, Any], record: Verification) -> dict[str, Any]:
        """Wait (without a thread) for the record's group commit; the answer with its receipt."""
        status = await self.records.write_async(record)
        body["verification"] = self._receipt(record, status)
        return body

    @staticmethod
    def _refuse_admin(principal: Principal | None) -> None:
        if principal is not None and principal.kind == "admin":
            raise ForbiddenError("verify as a clerk or a department, not as the admin")

    def _judge(
        self,
        doc_hash: bytes,
        licence_id: bytes | None,
        presented: Any = None,
        fingerprint: str = "sha256",
    ) -> tuple[dict[str, Any], Outcome]:
        """The verdict at the read model's block (one snapshot: one block for everything)."""
        model = self.ctx.model
        material: dict[str, Any] | None = None
        seal: dict[str, Any] | None = None
        with model.snapshot() as block:
            if licence_id is not None:
                outcome: Outcome = judge_claimed(doc_hash, self.facts(licence_id))
            else:
                found = self.licences_with_document(doc_hash)
                facts = [f for f in map(self.facts, found) if f]
                outcome = judge_unclaimed(doc_hash, facts, None)
            if outcome.licence_ids:
                # the e-seal of the licence's current version (the first licence judged)
                check = self.seals.check(outcome.licence_ids[0], presented)
                if check is not None:
                    outcome = with_seal(outcome, check)
                    seal = check.to_json()
            shown = [self.queries.summary_json(lid) for lid in outcome.licence_ids]
        if licence_id is None and not outcome.licence_ids:
            # no licence: perhaps an anchored material (this node's anchoring records)
            anchored_at, receipt = self.anchored_at(doc_hash)
            if receipt is not None:
                outcome = judge_unclaimed(doc_hash, [], anchored_at)
                material = {"documentHash": ev.hexb(doc_hash), "receipt": receipt}
        body: dict[str, Any] = {
            **outcome.to_json(),
            "documentHash": ev.hexb(doc_hash),
            "fingerprint": fingerprint,  # the algorithm of documentHash: sha256 or sm3
            "claimedLicenceId": ev.hexb(licence_id) if licence_id else None,
            "licences": [s for s in shown if s is not None],
            "material": material,
            "seal": seal,
            "checkedAt": int(time.time()),
            "judgedAtBlock": block,
        }
        return body, outcome

    def _record_of(
        self,
        principal: Principal,
        doc_hash: bytes,
        licence_id: bytes | None,
        outcome: Outcome,
        body: dict[str, Any],
    ) -> Verification:
        vid = "vr_" + uuid.uuid4().hex
        record = {
            "format": RECORD_FORMAT,
            "id": vid,
            "checked": {
                "documentHash": ev.hexb(doc_hash),
                "claimedLicenceId": ev.hexb(licence_id) if licence_id else None,
                # an SM3 document says so (absent: SHA-256, as in every record before SM3)
                **({"fingerprint": "sm3"} if body.get("fingerprint") == "sm3" else {}),
            },
            "verdict": outcome.verdict.value,
            "reasons": outcome.reasons,
            "licenceIds": [ev.hexb(x) for x in outcome.licence_ids],
            # their GB/T 36904 identifiers (H1), by licence id (null where this node has none)
            "licenceIdentifiers": {
                v["licenceId"]: v.get("identifier") for v in body.get("licences") or []
            },
            "checkedBy": principal.label,
            "department": principal.department,
            "checkedAt": body["checkedAt"],
            "chainId": self.chain.chain_id,
            # the block the verdict was judged at (the read model's, never older than the
            # block of this node's own last write)
            "chainHead": body["judgedAtBlock"],
            "registry": self.ctx.registry_address,
        }
        if body.get("seal") is not None:
            record["seal"] = body["seal"]
        return Verification(vid, record_hash(record), record, tuple(outcome.licence_ids))

    @staticmethod
    def _receipt(record: Verification, status: str) -> dict[str, Any]:
        return {"id": record.id, "recordHash": ev.hexb(record.record_hash), "anchorStatus": status}

    def verification(self, vid: str) -> VerificationRecord:
        found = self.ctx.store.verification(vid)
        if found is None:
            raise NotFoundError("no such verification record on this node")
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
            recordHashAlgorithm=RECORD_HASH_ALGORITHM,
            anchor=anchor,
            receipt=anchor.get("receipt") if anchor else None,
        )
