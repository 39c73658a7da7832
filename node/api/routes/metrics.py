"""GET /metrics: the node's Prometheus metrics in text format."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from credledger.node.api.deps import Runtime
from credledger.node.metrics import Metrics

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(runtime: Runtime) -> PlainTextResponse:
    registry = runtime.services.get("metrics")
    text = registry.render() if isinstance(registry, Metrics) else ""
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
