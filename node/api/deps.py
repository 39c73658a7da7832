"""What the routers share: the runtime, its services and the caller, as FastAPI dependencies.

They are ``async`` (they never block): FastAPI runs a sync dependency in its thread pool, one
thread hop per dependency per request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from credledger.node.anchoring.service import AnchoringService
from credledger.node.auth import Principal
from credledger.node.counter.verify import PresentationVerifier
from credledger.node.errors import CredledgerError
from credledger.node.licences.service import LicenceService
from credledger.node.runtime import NodeRuntime


class ServiceUnavailable(CredledgerError):
    code = "service_unavailable"
    http_status = 503


async def get_runtime(request: Request) -> NodeRuntime:
    runtime: NodeRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[NodeRuntime, Depends(get_runtime)]


async def get_anchoring(runtime: Runtime) -> AnchoringService:
    return runtime.anchoring


Anchoring = Annotated[AnchoringService, Depends(get_anchoring)]


async def get_licences(runtime: Runtime) -> LicenceService:
    if runtime.licences is None:
        raise ServiceUnavailable(
            "the licence service is off: the manifest has no LicenceRegistry (deploy again)"
        )
    return runtime.licences


Licences = Annotated[LicenceService, Depends(get_licences)]


def get_counter(runtime: Runtime) -> PresentationVerifier:
    if runtime.counter is None:
        raise ServiceUnavailable("presentation verification is off (no licence service)")
    return runtime.counter


Counter = Annotated[PresentationVerifier, Depends(get_counter)]


async def get_principal(
    service: Licences, authorization: Annotated[str | None, Header()] = None
) -> Principal | None:
    """The caller named by the bearer token (None without a token; 401 for a wrong one)."""
    return service.departments.tokens.authenticate(authorization)


Caller = Annotated[Principal | None, Depends(get_principal)]
