"""Verification records: the clerk's evidence, with its anchoring receipt once confirmed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from credledger.node.api.routes._bodies import READ_ERRORS
from credledger.node.api.routes.licences import Licences
from credledger.node.api.security import GuardedRoute
from credledger.node.licences.models import VerificationRecord

router = APIRouter(tags=["verifications"], route_class=GuardedRoute)


@router.get(
    "/v1/verifications/{verification_id}",
    response_model=VerificationRecord,
    responses=READ_ERRORS,
)
async def get_verification(
    verification_id: Annotated[str, Path(max_length=80)], service: Licences
) -> VerificationRecord:
    return await run_in_threadpool(service.verification, verification_id)
