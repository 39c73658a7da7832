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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from credledger.node.auth import Principal, require
from credledger.node.core import presentation as pr
from credledger.node.core.contracts.presentation_ledger import Spend
from credledger.node.core.errors import RpcUnavailableError
from credledger.node.licences.context import LicenceContext
from credledger.node.licences.inputs import iso
from credledger.node.licences.models import DocumentVerdict

from .assets import AssetChecks
from .models import (
    AssetCheck,
    CheckSummary,
    PresentationVerdict,
    Reason,
    RecordReceipt,
    Verdict,
    not_checked,
    reason,
)
from .records import PresentationRecords, licence_ids, new_id, refused, summary, summary_of
from .spend import NetworkSpends, Reconciler, SpendResult
from .store import WAITING, CounterStore, Pending
from .tokens import TokenCheck, check_token

log = logging.getLogger("credledger.node.counter")


@dataclass
class _Decision:
    """The verdict, settled on the store's writer thread once single use is known, and the
    record it writes (``make_record(verdict, reasons, assets)``), committed as pending with the
    take. ``network``: a VALID verdict waits for the network-wide spend (``spend.py``)."""

    token: TokenCheck
    checks: list[AssetCheck]
    vid: str
    make_record: Callable[[str, list[Reason], list[AssetCheck]], dict[str, Any]]
    network: bool
    verdict: Verdict = "REFUSED"
    reasons: list[Reason] = field(default_factory=list)
    assets: list[AssetCheck] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)
    spend: bool = False

    def __call__(self, first: tuple[str, float] | None) -> tuple[str, dict[str, Any], Pending]:
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
        self._settle(reasons, self.checks)
        self.spend = self.network and self.verdict == "VALID" and self.token.statement is not None
        listed = "PENDING" if self.spend else self.verdict
        pending = Pending(
            self.vid, self.token.statement, self.spend, self.record, licence_ids(self.assets)
        )
        return listed, summary(self.reasons, self.assets), pending

    def _settle(self, reasons: list[Reason], checks: list[AssetCheck]) -> None:
        if reasons:
            self.verdict = "REFUSED"
            self.assets = [not_checked(a) for a in self.token.asset_ids]
        else:
            self.verdict = "VALID" if all(c.verdict == "VALID" for c in checks) else "INVALID"
            self.assets = checks
        self.reasons = reasons
        self.record = self.make_record(self.verdict, reasons, self.assets)

    def spent_elsewhere(self, by: Spend | None) -> None:
        """The network-wide spend was not this node's: REFUSED, ``REPLAYED``."""
        self._settle([replayed_elsewhere(by)], [])


def replayed_elsewhere(by: Spend | None) -> Reason:
    where = f"by {by.verifier} at {iso(by.at)}" if by is not None else "first"
    return reason(
        "REPLAYED",
        f"this token was already presented at another verifier (spent on chain {where}); "
        "ask the holder to show a fresh code",
        firstVerifier=by.verifier if by is not None else None,
        firstAt=by.at if by is not None else None,
    )


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
        spends: NetworkSpends | None = None,
        verifier: str | None = None,
    ) -> None:
        """``verifier``: this node's chain account — a token whose audience is
        ``verifier:<it>`` is accepted here only, so it is spent in this node's store alone
        (no chain round trip) even when ``spends`` spends the others on the network."""
        self.ctx = ctx
        self.verifier = verifier
        self.chain_id = ctx.chain.chain_id
        self.assets = assets
        self.records = records
        self.store = store
        self.spends = spends
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self.reconciler = Reconciler(store, spends, self.finish_pending, self.running)

    def audience(self) -> dict[str, str | None]:
        """The audience a holder gives a token meant for this node alone (its single use is
        then this node's store: the fast path, see docs/counter.md)."""
        return {
            "audience": pr.verifier_audience(self.verifier) if self.verifier else None,
            "verifier": self.verifier,
            "singleUse": "network" if self.spends is not None else "node",
        }

    def running(self) -> set[str]:
        """The checks of this process between their take and their record (the reconciler
        leaves them alone)."""
        with self._lock:
            return set(self._running)

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
        tok = check_token(token, self.chain_id, who, now, self.verifier)
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
        decision = _Decision(
            tok,
            checks,
            vid,
            lambda v, rs, assets: self.records.record(
                vid, who, tok, v, rs, assets, doc_hash, chain_head
            ),
            self.spends is not None and not tok.verifier_bound,
        )
        with self._lock:
            self._running.add(vid)
        try:
            receipt = self._settle(tok, vid, who.label, decision)
        finally:
            with self._lock:
                self._running.discard(vid)
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

    def _settle(self, tok: TokenCheck, vid: str, by: str, decision: _Decision) -> RecordReceipt:
        """Take the statement with the record pending (one commit); spend it on the network
        when the verdict is VALID; write the record; resolve the pending row."""
        statement = tok.statement if tok.takes_statement else None
        first = self.store.settle(statement, tok.expires_at, vid, by, decision)
        if first == WAITING:
            raise RpcUnavailableError(
                "this token's first check at this node is still waiting for the chain; "
                "try again in a few seconds"
            )
        if decision.spend:
            assert self.spends is not None and tok.statement is not None
            result = self.spends.spend(tok.statement)
            if result is None:  # the record stays pending: the reconciler finishes it
                raise RpcUnavailableError(
                    "the chain did not answer, so the token could not be spent on the network "
                    "and is not accepted; try again when the chain is reachable"
                )
            if not result.mine:
                decision.spent_elsewhere(result.by)
        receipt = self.records.write(vid, decision.record, licence_ids(decision.assets))
        self.store.resolve(
            vid,
            decision.verdict if decision.spend else None,
            summary(decision.reasons, decision.assets),
        )
        return receipt

    def finish_pending(self, p: Pending, result: SpendResult | None) -> bool:
        """The reconciler's step for a record left pending by a crash or a chain outage:
        spent by this node → its VALID record; by another → REPLAYED; by nobody → REFUSED
        ``NOT_ACCEPTED`` and the take given back (the token was never accepted)."""
        written = self.records.stored(p.verification_id)
        if written is not None:  # its check wrote it; only the resolve was lost
            verdict = written["verdict"] if p.spend else None
            self.store.resolve_now(p.verification_id, verdict, summary_of(written))
            return True
        record, listed, release = p.record, None, False
        if p.spend:
            if result is None:
                return False
            if not result.mine:
                code = "REPLAYED" if result.by is not None else "NOT_ACCEPTED"
                record, listed = refused(p.record, code)
                release = result.by is None
        self.records.write(p.verification_id, record, p.licence_ids, once=True)
        verdict = record["verdict"] if p.spend else None
        if listed is None:
            listed = summary_of(record)
        self.store.resolve_now(p.verification_id, verdict, listed, release)
        log.info(
            "pending verification finished",
            extra={"event": "presentation_reconciled", "verdict": record["verdict"]},
        )
        return True

    def note_document_check(self, principal: Principal, answer: DocumentVerdict) -> None:
        """List a document check made from the clerk page (``verify_document``, recorded by the
        licence service) among the clerk's checks of today."""
        body = answer.body()
        vid = (body.get("verification") or {}).get("id")
        if not vid:
            return
        verdict = answer.verdict
        assets = [{"assetId": lid, "verdict": verdict, "type": None} for lid in answer.licenceIds]
        self.note_check(principal.label, vid, verdict, [], assets, "document")

    def note_check(
        self,
        checked_by: str,
        vid: str,
        verdict: str,
        reasons: list[str],
        assets: list[dict[str, Any]],
        kind: str,
    ) -> None:
        """List a check another service recorded (a document check, an OpenID4VP response)
        among ``checked_by``'s checks of today; the record itself is in the licence log."""
        listed = {"reasons": reasons, "assets": assets, "kind": kind}
        self.store.settle(None, 0, vid, checked_by, lambda _first: (verdict, listed, None))

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
