"""Verification records: the clerk's evidence, with its anchoring receipt once confirmed."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from credledger.node.api.routes.licences import Licences
from credledger.node.licences.models import VerificationRecord

router = APIRouter(tags=["verifications"])


@router.get("/v1/verifications/{verification_id}", response_model=VerificationRecord)
async def get_verification(verification_id: str, service: Licences) -> VerificationRecord:
    return await run_in_threadpool(service.verification, verification_id)
