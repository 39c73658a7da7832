"""The durable anchoring pipeline: intake (service), batcher/submitter/confirmer (pipeline).

``component.build(core)`` returns the :class:`AnchoringService`, the pipeline worker and the
``/v1/anchors`` routes (see ``node/assembly.py``).
"""

from __future__ import annotations

from credledger.node.anchoring.service import AnchoringService, AnchorRecord

__all__ = ["AnchorRecord", "AnchoringService"]
