"""Verification records: the clerk's evidence, with its anchoring receipt once confirmed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from credledger.node.api.routes.licences import Licences

router = APIRouter(tags=["verifications"])


@router.get("/v1/verifications/{verification_id}")
async def get_verification(verification_id: str, service: Licences) -> dict[str, Any]:
    return await run_in_threadpool(service.verification, verification_id)
