"""FastAPI dependencies: the runtime and its services, as Annotated types."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from credledger.node.runtime import NodeRuntime


def get_runtime(request: Request) -> NodeRuntime:
    runtime: NodeRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[NodeRuntime, Depends(get_runtime)]
