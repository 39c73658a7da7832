"""What the routers share: the runtime, its services and the caller, as FastAPI dependencies.

They are ``async`` (they never block): FastAPI runs a sync dependency in its thread pool, one
thread hop per dependency per request. The plain functions (``runtime_of``, ``licences_of``,
``counter_of``) are the same lookups for the hot routes that skip dependency resolution
(node.api.security)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from credledger.node.anchoring.service import AnchoringService
from credledger.node.auth import Principal
from credledger.node.core.errors import CredledgerError
from credledger.node.counter.verify import PresentationVerifier
from credledger.node.licences.service import LicenceService
from credledger.node.runtime import NodeRuntime


class ServiceUnavailable(CredledgerError):
    code = "service_unavailable"
    http_status = 503


def runtime_of(request: Request) -> NodeRuntime:
    runtime: NodeRuntime = request.app.state.runtime
    return runtime


def licences_of(runtime: NodeRuntime) -> LicenceService:
    if runtime.licences is None:
        raise ServiceUnavailable(
            "the licence service is off: the manifest has no LicenceRegistry (deploy again)"
        )
    return runtime.licences


def counter_of(runtime: NodeRuntime) -> PresentationVerifier:
    if runtime.counter is None:
        raise ServiceUnavailable("presentation verification is off (no licence service)")
    return runtime.counter


# --- as dependencies ----------------------------------------------------------------------------


async def get_runtime(request: Request) -> NodeRuntime:
    return runtime_of(request)


Runtime = Annotated[NodeRuntime, Depends(get_runtime)]


async def get_anchoring(runtime: Runtime) -> AnchoringService:
    return runtime.anchoring


Anchoring = Annotated[AnchoringService, Depends(get_anchoring)]


async def get_licences(runtime: Runtime) -> LicenceService:
    return licences_of(runtime)


Licences = Annotated[LicenceService, Depends(get_licences)]


async def get_counter(runtime: Runtime) -> PresentationVerifier:
    return counter_of(runtime)


Counter = Annotated[PresentationVerifier, Depends(get_counter)]


async def get_principal(
    service: Licences, authorization: Annotated[str | None, Header()] = None
) -> Principal | None:
    """The caller named by the bearer token (None without a token; 401 for a wrong one)."""
    return service.departments.tokens.authenticate(authorization)


Caller = Annotated[Principal | None, Depends(get_principal)]
