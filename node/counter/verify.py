"""Verification of a presentation token at a counter (``POST /v1/verify/presentation``).

The work is split by concern, each part in its own module:

================  ==================================================================
``tokens``         format, signature, validity window and audience of the token
``authority``      the presenter's authority: the holder, or an active on-chain grant
``assets``         one asset: a licence (its one view, at the read model's block) or a
                   material (against its document)
``records``        the verification record (durable, anchored) of every check
``store``          single-use statements and the clerk's list of checks
``models``         the typed answer on the wire: verdict, asset checks, reasons
================  ==================================================================

:class:`PresentationVerifier` runs them in order: token checks first; then, for a sound token,
every asset judged at one block of the read model (``node/readmodel.py``); the statement taken
(single use) and the check listed in one durable commit; the record written. Verdicts:
``VALID`` (every asset valid), ``INVALID`` (the token is sound but an asset is not),
``REFUSED`` (the token itself is refused). Reason codes: ``models.REASONS``, ``docs/counter.md``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from credledger.node.auth import Principal, require
from credledger.node.licences.context import LicenceContext
from credledger.node.licences.inputs import iso
from credledger.node.licences.models import DocumentVerdict

from .assets import AssetChecks
from .models import (
    AssetCheck,
    CheckSummary,
    PresentationVerdict,
    Reason,
    Verdict,
    not_checked,
    reason,
)
from .records import PresentationRecords, new_id, summary
from .store import CounterStore
from .tokens import TokenCheck, check_token

log = logging.getLogger("credledger.node.counter")


@dataclass
class _Decision:
    """The verdict, settled on the store's writer thread once single use is known."""

    token: TokenCheck
    checks: list[AssetCheck]
    verdict: Verdict = "REFUSED"
    reasons: list[Reason] = field(default_factory=list)
    assets: list[AssetCheck] = field(default_factory=list)

    def __call__(self, first: tuple[str, float] | None) -> tuple[str, dict[str, Any]]:
        reasons = list(self.token.reasons)
        if first is not None:
            reasons.append(
                reason(
                    "REPLAYED",
                    f"this token was already presented at {iso(int(first[1]))} "
                    f"(verification {first[0]}); ask the holder to show a fresh code",
                    firstVerification=first[0],
                    firstAt=int(first[1]),
                )
            )
        if reasons:
            self.verdict = "REFUSED"
            self.assets = [not_checked(a) for a in self.token.asset_ids]
        else:
            self.verdict = "VALID" if all(c.verdict == "VALID" for c in self.checks) else "INVALID"
            self.assets = self.checks
        self.reasons = reasons
        return self.verdict, summary(reasons, self.assets)


class PresentationVerifier:
    """``ctx``: the licence service's context (its read model and indexer: required);
    ``assets``: the per-asset checks; ``records``: the verification records; ``store``: the
    counter's own database."""

    def __init__(
        self,
        ctx: LicenceContext,
        assets: AssetChecks,
        records: PresentationRecords,
        store: CounterStore,
    ) -> None:
        self.ctx = ctx
        self.chain_id = ctx.chain.chain_id
        self.assets = assets
        self.records = records
        self.store = store

    def verify(
        self,
        principal: Principal | None,
        token: str,
        doc_hash: bytes | None = None,
        doc_asset: bytes | None = None,
    ) -> PresentationVerdict:
        """Check ``token``; ``doc_hash``: a document uploaded for ``doc_asset`` (or for the
        token's only asset)."""
        who = require(principal, "clerk", "department", action="verify presentations")
        now = int(time.time())  # token validity is wall-clock time; licence status chain time
        model = self.ctx.model
        self.ctx.own_writes_indexed()  # this node's own writes are in every later answer
        chain_head = model.height
        vid = new_id()
        tok = check_token(token, self.chain_id, who, now)
        checks: list[AssetCheck] = []
        if tok.sound:
            assert tok.presenter is not None
            ids = tok.asset_ids
            if any(model.licence(a) is None for a in ids):
                self.ctx.catch_up()  # a licence in a block not indexed yet, or a material
            # every asset judged at one block: the licences read under one snapshot, the rest
            # of the checks after it (they may read the indexer, whose lock is taken before the
            # model's when it feeds it: never the other way round)
            with model.snapshot() as chain_head:
                facts = [self.assets.licence_facts(a) for a in ids]
            checks = [
                self.assets.check(a, tok.presenter, _document_for(a, ids, doc_hash, doc_asset), f)
                for a, f in zip(ids, facts, strict=True)
            ]
        decision = _Decision(tok, checks)
        self.store.settle(
            tok.statement if tok.takes_statement else None, tok.expires_at, vid, who.label, decision
        )
        record = self.records.record(
            vid, who, tok, decision.verdict, decision.reasons, decision.assets, doc_hash, chain_head
        )
        receipt = self.records.write(vid, record, decision.assets)
        log.info(
            "presentation verified",
            extra={"event": "presentation_verified", "verdict": decision.verdict, "by": who.label},
        )
        return PresentationVerdict(
            verdict=decision.verdict,
            reasons=decision.reasons,
            presentation=tok.shown(),
            assets=decision.assets,
            documentHash="0x" + doc_hash.hex() if doc_hash else None,
            checkedAt=now,
            verification=receipt,
        )

    def note_document_check(self, principal: Principal, answer: DocumentVerdict) -> None:
        """List a document check made from the clerk page (``verify_document``, recorded by the
        licence service) among the clerk's checks of today."""
        body = answer.body()
        vid = (body.get("verification") or {}).get("id")
        if not vid:
            return
        verdict = answer.verdict
        assets = [{"assetId": lid, "verdict": verdict, "type": None} for lid in answer.licenceIds]
        listed = {"reasons": [], "assets": assets, "kind": "document"}
        self.store.settle(None, 0, vid, principal.label, lambda _first: (verdict, listed))

    def today(self, principal: Principal | None) -> list[CheckSummary]:
        """This clerk's checks since local midnight (the clerk page's list)."""
        who = require(principal, "clerk", "department", action="list verifications")
        t = time.localtime()
        midnight = time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))
        return [CheckSummary.model_validate(c) for c in self.store.checks_by(who.label, midnight)]

    def of_statement(self, statement: bytes) -> list[CheckSummary]:
        """The checks of one presentation: the holder's side of the receipt."""
        return [CheckSummary.model_validate(c) for c in self.store.checks_of(statement)]


def _document_for(
    asset: bytes, ids: tuple[bytes, ...], doc_hash: bytes | None, doc_asset: bytes | None
) -> bytes | None:
    """The document applies to the asset it names, or to the only asset of the token."""
    if doc_asset == asset or (doc_asset is None and len(ids) == 1):
        return doc_hash
    return None
