"""The status-list component (issue 21): every issuer's status lists, fed by the indexer, and
their routes. The lists are signed with the departments' credential keys, which the credentials
component loads; the assembly hands them over (``documents.keys``) once they are built, since
that component needs the lists (``entry_for``) first."""

from __future__ import annotations

from dataclasses import dataclass

from credledger.node.api.routes import status as status_routes
from credledger.node.runtime import Contribution, Core
from credledger.node.status import StatusLists
from credledger.node.status.documents import KeyLookup, StatusDocuments


@dataclass(frozen=True, kw_only=True)
class StatusContribution(Contribution):
    service: StatusLists
    documents: StatusDocuments


def build(core: Core, *, keys: KeyLookup | None = None) -> StatusContribution:
    """Lists following ``core.indexer`` (like the read model: consistent to the indexed block);
    list URLs start with ``licences.public_url`` when set."""
    lists = StatusLists.following(core.indexer)
    documents = StatusDocuments(lists, keys, int(core.chain.chain_id))
    router = status_routes.router_for(documents, core.settings.licences.public_url)
    return StatusContribution(service=lists, documents=documents, routers=(router,))
