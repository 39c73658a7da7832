"""The licence component: its service (when the manifest has a LicenceRegistry) and its routes."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from credledger.node.anchoring.service import AnchoringService
from credledger.node.api.routes import enterprises, licences, seals, verifications, verify
from credledger.node.demo.licences import demo_settings
from credledger.node.departments import SenderPool, build_departments
from credledger.node.licences.catalogue import load_catalogue
from credledger.node.licences.seal_store import SealStore
from credledger.node.licences.seals import Seals, load_seal_keys
from credledger.node.licences.service import LicenceService
from credledger.node.licences.store import LicenceStore
from credledger.node.runtime import Contribution, Core

log = logging.getLogger("credledger.node.licences")

# the read path's routes first: a request is matched against the routes in order
ROUTERS = (
    verify.router,
    licences.read_router,
    seals.router,
    enterprises.read_router,
    licences.router,
    enterprises.router,
    verifications.router,
)


@dataclass(frozen=True, kw_only=True)
class LicencesContribution(Contribution):
    service: LicenceService | None  # None: the routes answer 503 (no LicenceRegistry deployed)


def build(core: Core, *, anchoring: AnchoringService | None) -> LicencesContribution:
    """The licence service over ``data_dir/licences.sqlite3``; verification records are anchored
    through ``anchoring``."""
    settings = core.settings
    if settings.licences.demo:
        settings = demo_settings(settings)
    address = core.contracts.get("LicenceRegistry")
    if address is None:
        log.warning("the manifest has no LicenceRegistry; the licence API is off")
        return LicencesContribution(service=None, routers=ROUTERS)
    pool = SenderPool(core.chain, core.sender)
    departments = build_departments(
        settings.departments,
        settings.clerks,
        settings.licences.admin_token_sha256,
        pool,
        settings.licences.department_codes,  # other nodes' departments (GB/T 36904 identifiers)
    )
    service = LicenceService(
        core.chain,
        address,
        load_catalogue(),
        departments,
        LicenceStore(settings.data_dir / "licences.sqlite3"),
        settings.subject_secret.get_secret_value().encode("utf-8"),
        core.sender,
        indexer=core.indexer,
        anchoring=anchoring,
        public_url=settings.licences.public_url,
    )
    # e-seals: each department's SM2 seal key, checked against the chain (registered on the demo)
    service.ctx.seals = Seals(
        load_seal_keys(
            settings.departments,
            departments,
            service.ctx.registry,
            register_missing=settings.licences.demo,
            devnet=settings.chain.kind == "devnet",
        ),
        SealStore(settings.data_dir / "seals.sqlite3"),
    )
    service.lifecycle.subject_secret = settings.subject_secret.get_secret_value().encode("utf-8")
    # the service is also a worker: stopping it commits the verification records still queued
    return LicencesContribution(service=service, workers=(service,), routers=ROUTERS)
