"""Wires the anchoring service, its pipeline and the indexer into a :class:`NodeRuntime`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from credledger.node.anchoring.pipeline import Pipeline
from credledger.node.anchoring.service import AnchoringService
from credledger.node.anchoring.store import AnchorStore
from credledger.node.errors import DeploymentError
from credledger.node.indexer import Indexer
from credledger.node.metrics import Metrics, configure_json_logs

if TYPE_CHECKING:
    from credledger.node.runtime import NodeRuntime


def component(runtime: NodeRuntime) -> None:
    """Add services["anchoring"], services["indexer"], services["metrics"] and their workers."""
    settings = runtime.settings
    configure_json_logs(settings.log_level)
    metrics = runtime.services.get("metrics")
    if not isinstance(metrics, Metrics):
        metrics = Metrics()
        runtime.services["metrics"] = metrics
    contracts = runtime.contracts
    if "AnchorRegistry" not in contracts:
        raise DeploymentError("the manifest has no AnchorRegistry; deploy the contracts again")
    address = contracts["AnchorRegistry"]
    store = AnchorStore(settings.data_dir / "anchoring.sqlite3")
    service = AnchoringService(
        store,
        settings.anchoring,
        chain_id=runtime.chain.chain_id,
        contract=address,
        metrics=metrics,
    )
    pipeline = Pipeline(
        service,
        runtime.chain,
        runtime.sender.account,
        runtime.sender.nonces,
        settings.anchoring,
        contract=address,
        confirmations=settings.chain.effective_confirmations,
        metrics=metrics,
    )
    start_block = int(runtime.manifest.get("startBlock", 0))
    indexer = Indexer(
        runtime.chain,
        contracts,
        start_block,
        settings.data_dir / "indexer.sqlite3",
        settings.indexer,
        metrics,
    )
    # a rollback seen by the indexer makes the pipeline re-check its recent anchors at once
    indexer.on_reorg(lambda _block: pipeline.request_reorg_check())
    runtime.services["anchoring"] = service
    runtime.services["indexer"] = indexer
    runtime.workers.append(pipeline)
    runtime.workers.append(indexer)
