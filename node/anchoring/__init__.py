"""The durable anchoring pipeline: intake (service), batcher/submitter/confirmer (pipeline).

``component(runtime)`` is the builder listed in ``node.runtime.COMPONENTS``: it adds
``runtime.services["anchoring"]`` (:class:`AnchoringService`), ``runtime.services["indexer"]``
(:class:`node.indexer.Indexer`) and ``runtime.services["metrics"]`` and registers the workers.
"""

from __future__ import annotations

from credledger.node.anchoring.service import AnchoringService, AnchorRecord

__all__ = ["AnchorRecord", "AnchoringService"]
