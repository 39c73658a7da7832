"""Wires the licence service into a NodeRuntime as ``services["licences"]``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from credledger.node.departments import SenderPool, build_departments
from credledger.node.licences.catalogue import load_catalogue
from credledger.node.licences.demo import demo_settings
from credledger.node.licences.service import LicenceService
from credledger.node.licences.store import LicenceStore

if TYPE_CHECKING:
    from credledger.node.runtime import NodeRuntime

log = logging.getLogger("credledger.node.licences")


def component(runtime: NodeRuntime) -> None:
    """Add ``services["licences"]`` when the manifest has a LicenceRegistry."""
    settings = runtime.settings
    if settings.licences.demo:
        settings = demo_settings(settings)
    address = runtime.contracts.get("LicenceRegistry")
    if address is None:
        log.warning("the manifest has no LicenceRegistry; the licence API is off")
        return
    pool = SenderPool(runtime.chain, runtime.sender)
    departments = build_departments(
        settings.departments, settings.clerks, settings.licences.admin_token_sha256, pool
    )
    store = LicenceStore(settings.data_dir / "licences.sqlite3")
    runtime.services["licences"] = LicenceService(
        runtime.chain,
        address,
        load_catalogue(),
        departments,
        store,
        settings.subject_secret.get_secret_value().encode("utf-8"),
        runtime.sender,
        runtime.services,
        public_url=settings.licences.public_url,
    )
