"""Wires the presentation verifier into a NodeRuntime as ``services["counter"]``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from credledger.node.contracts.consent_registry import ConsentRegistry
from credledger.node.counter.store import CounterStore
from credledger.node.counter.verify import PresentationVerifier
from credledger.node.licences.service import LicenceService

if TYPE_CHECKING:
    from credledger.node.runtime import NodeRuntime

log = logging.getLogger("credledger.node.counter")


def component(runtime: NodeRuntime) -> None:
    """Add ``services["counter"]`` when the licence service runs (it reads licences through it)."""
    licences = runtime.services.get("licences")
    if not isinstance(licences, LicenceService):
        log.warning("no licence service; presentation verification is off")
        return
    consent_address = runtime.contracts.get("ConsentRegistry")
    consent = ConsentRegistry(runtime.chain, consent_address) if consent_address else None
    store = CounterStore(runtime.settings.data_dir / "counter.sqlite3")
    runtime.services["counter"] = PresentationVerifier(
        runtime.chain,
        licences,
        licences.store,
        licences.registry_address,
        consent,
        store,
        anchoring=runtime.services.get("anchoring"),
        indexer=runtime.services.get("indexer"),
        catalogue=licences.catalogue,
        departments=licences.departments,
    )


def counter_of(runtime: NodeRuntime) -> PresentationVerifier | None:
    """The runtime's verifier (the one place that knows where the runtime keeps it)."""
    found = runtime.services.get("counter")
    return found if isinstance(found, PresentationVerifier) else None
