"""The credentials component (issue 21): each department's P-256 credential key, checked against
the chain at start (on the devnet demo generated and registered) with its certificate chain
(configured, else on a devnet issued by the node's devnet issuer CA), the export and verification
service and its routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from credledger.node.api.routes import credentials as routes
from credledger.node.credentials.certificates import with_certificates
from credledger.node.credentials.keys import CredentialKeys, load_credential_keys
from credledger.node.credentials.service import CredentialService
from credledger.node.demo.credentials import with_demo_credential_keys
from credledger.node.demo.licences import demo_settings
from credledger.node.licences.service import LicenceService
from credledger.node.runtime import Contribution, Core

ROUTERS = (routes.router,)


@dataclass(frozen=True, kw_only=True)
class CredentialsContribution(Contribution):
    service: CredentialService | None  # None: the routes answer 503 (no licence service)


def base_url(core: Core) -> str:
    """Where this node's status lists are fetched: ``licences.public_url``, else its API."""
    s = core.settings
    return s.licences.public_url or f"http://{s.api.host}:{s.api.port}"


def build(
    core: Core, *, licences: LicenceService | None, status: Any = None
) -> CredentialsContribution:
    """``status``: the node's status lists (``credledger.node.status.StatusLists``), whose
    entries every exported credential points into; without them credentials carry no status."""
    if licences is None:
        return CredentialsContribution(service=None, routers=ROUTERS)
    settings = core.settings
    if settings.licences.demo:
        settings = with_demo_credential_keys(demo_settings(settings))
    loaded = load_credential_keys(
        settings.departments,
        licences.departments,
        licences.ctx.registry,
        register_missing=settings.licences.demo,
    )
    # each key's certificate chain (x5c): configured, else on a devnet the devnet issuer CA's
    certified, ca = with_certificates(
        loaded,
        settings.departments,
        licences.departments,
        settings.data_dir,
        devnet=settings.chain.kind == "devnet",
    )
    service = CredentialService(
        licences, CredentialKeys(certified), status=status, base_url=base_url(core), issuer_ca=ca
    )
    return CredentialsContribution(service=service, routers=ROUTERS)
