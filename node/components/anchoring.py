"""The anchoring component: its service, its pipeline worker and its routes."""

from __future__ import annotations

from dataclasses import dataclass

from credledger.node.anchoring.pipeline import Pipeline
from credledger.node.anchoring.service import AnchoringService
from credledger.node.anchoring.store import AnchorStore
from credledger.node.api.routes import anchors as anchor_routes
from credledger.node.core.errors import DeploymentError
from credledger.node.runtime import Contribution, Core


@dataclass(frozen=True, kw_only=True)
class AnchoringContribution(Contribution):
    service: AnchoringService
    pipeline: Pipeline


def build(core: Core) -> AnchoringContribution:
    """The anchoring service over ``data_dir/anchoring.sqlite3`` and the pipeline anchoring it."""
    settings = core.settings
    address = core.contracts.get("AnchorRegistry")
    if address is None:
        raise DeploymentError("the manifest has no AnchorRegistry; deploy the contracts again")
    store = AnchorStore(settings.data_dir / "anchoring.sqlite3")
    service = AnchoringService(
        store,
        settings.anchoring,
        chain_id=core.chain.chain_id,
        contract=address,
        metrics=core.metrics,
    )
    pipeline = Pipeline(
        service,
        core.sender,
        settings.anchoring,
        contract=address,
        confirmations=settings.chain.effective_confirmations,
        metrics=core.metrics,
    )
    # a rollback seen by the indexer makes the pipeline re-check its recent anchors at once
    core.indexer.on_reorg(lambda _block: pipeline.request_reorg_check())
    return AnchoringContribution(
        service=service, pipeline=pipeline, workers=(pipeline,), routers=(anchor_routes.router,)
    )
