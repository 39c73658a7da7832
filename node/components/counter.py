"""The counter component: the presentation verifier (when the licence service runs), its API
route and the web pages (the clerk's counter and the enterprise-code page)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from credledger.node.anchoring.service import AnchoringService
from credledger.node.api.routes import presentations
from credledger.node.core.contracts.consent_registry import ConsentRegistry
from credledger.node.core.contracts.presentation_ledger import PresentationLedger
from credledger.node.counter.assets import AssetChecks
from credledger.node.counter.authority import PresenterAuthority
from credledger.node.counter.records import PresentationRecords
from credledger.node.counter.spend import NetworkSpends
from credledger.node.counter.store import CounterStore
from credledger.node.counter.verify import PresentationVerifier
from credledger.node.licences.service import LicenceService
from credledger.node.runtime import Contribution, Core
from credledger.node.web import router as web_router

log = logging.getLogger("credledger.node.counter")

ROUTERS = (presentations.router, web_router)


@dataclass(frozen=True, kw_only=True)
class CounterContribution(Contribution):
    service: PresentationVerifier | None  # None: the routes answer 503, the pages 404


def build(
    core: Core, *, licences: LicenceService | None, anchoring: AnchoringService | None
) -> CounterContribution:
    """The verifier over ``data_dir/counter.sqlite3`` (single-use statements, the clerks'
    checks); it reads licences through ``licences``, anchors its records through
    ``anchoring`` and spends accepted tokens on the manifest's PresentationLedger (its
    reconciler is a worker: it finishes the records a crash left pending)."""
    if licences is None:
        log.warning("no licence service; presentation verification is off")
        return CounterContribution(service=None, routers=ROUTERS)
    consent_address = core.contracts.get("ConsentRegistry")
    consent = ConsentRegistry(core.chain, consent_address) if consent_address else None
    documents = licences.verifier
    checks = AssetChecks(
        licences.ctx.model,
        licences.queries,
        documents,
        PresenterAuthority(consent, core.indexer),
        anchoring,
    )
    ledger_address = core.contracts.get("PresentationLedger")
    if core.settings.counter.single_use == "node":
        log.info("counter.single_use = node: single-use tokens are spent in this node only")
        ledger_address = None
    elif ledger_address is None:
        log.warning(
            "no PresentationLedger in the manifest; single use is per node only (deploy again)"
        )
    spends = (
        NetworkSpends(PresentationLedger(core.chain, ledger_address, core.sender))
        if ledger_address
        else None
    )
    service = PresentationVerifier(
        licences.ctx,
        checks,
        PresentationRecords(documents.records, core.chain.chain_id, licences.registry_address),
        CounterStore(core.settings.data_dir / "counter.sqlite3"),
        spends,
        verifier=core.sender.address,
    )
    return CounterContribution(service=service, routers=ROUTERS, workers=(service.reconciler,))
