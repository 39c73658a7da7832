"""Verification records: the clerk's evidence, with its anchoring receipt once confirmed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from credledger.node.api.routes._bodies import READ_ERRORS
from credledger.node.api.routes.licences import Licences
from credledger.node.api.security import GuardedRoute

router = APIRouter(tags=["verifications"], route_class=GuardedRoute)


@router.get("/v1/verifications/{verification_id}", responses=READ_ERRORS)
async def get_verification(
    verification_id: Annotated[str, Path(max_length=80)], service: Licences
) -> dict[str, Any]:
    return await run_in_threadpool(service.verification, verification_id)
