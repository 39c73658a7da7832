"""The OpenID4VP component (issue 22): the counter's verifier for any conformant wallet, over
the credential verifier and the counter's verification records."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from credledger.node.api.routes import openid4vp as routes
from credledger.node.components.credentials import base_url
from credledger.node.counter.records import PresentationRecords
from credledger.node.counter.verify import PresentationVerifier
from credledger.node.credentials.service import CredentialService
from credledger.node.licences.service import LicenceService
from credledger.node.openid4vp.identity import VerifierIdentity
from credledger.node.openid4vp.service import PresentationVerifierOID4VP
from credledger.node.openid4vp.store import RequestStore
from credledger.node.runtime import Contribution, Core

ROUTERS = (routes.router,)


@dataclass(frozen=True, kw_only=True)
class OpenID4VPContribution(Contribution):
    service: PresentationVerifierOID4VP | None  # None: the routes answer 503


def build(
    core: Core,
    *,
    licences: LicenceService | None,
    credentials: CredentialService | None,
    counter: PresentationVerifier | None = None,
) -> OpenID4VPContribution:
    """The verifier's key and certificate (the settings' ``openid4vp`` chain and key, else
    generated on first start in ``data_dir/openid4vp/``), its requests in
    ``data_dir/openid4vp.sqlite3``, its records in the licence log."""
    if licences is None or credentials is None:
        return OpenID4VPContribution(service=None, routers=ROUTERS)
    url = base_url(core)
    conf = core.settings.openid4vp
    if conf.certificate_chain is not None and conf.key is not None:
        identity = VerifierIdentity.configured(conf.certificate_chain, conf.key)
    else:
        identity = VerifierIdentity.load_or_create(
            core.settings.data_dir / "openid4vp", urlsplit(url).hostname or "localhost"
        )
    records = PresentationRecords(
        licences.verifier.records, core.chain.chain_id, licences.registry_address
    )
    service = PresentationVerifierOID4VP(
        credentials,
        identity,
        RequestStore(core.settings.data_dir / "openid4vp.sqlite3"),
        records,
        base_url=url,
        listed=counter.note_check if counter is not None else None,
    )
    return OpenID4VPContribution(service=service, routers=ROUTERS)
