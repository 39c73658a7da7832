"""GET /metrics: the node's Prometheus metrics in text format."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from credledger.node.api.deps import Runtime

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(runtime: Runtime) -> PlainTextResponse:
    text = runtime.metrics.render()
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
