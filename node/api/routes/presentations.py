"""Presentations at a counter: verify a token, find the checks of a statement, get a receipt."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from credledger.node.api.deps import Caller, Counter, Licences, Runtime
from credledger.node.api.routes._bodies import WRITE_ERRORS, Body, request_body, validated
from credledger.node.api.routes.licences import read_payload
from credledger.node.core.errors import ConflictError
from credledger.node.counter.verify import as_dict
from credledger.node.licences.inputs import parse_hash

router = APIRouter(tags=["presentations"])


class PresentationBody(Body):
    token: str = Field(min_length=1, max_length=2000)
    asset_id: str | None = Field(default=None, alias="assetId")
    document_hash: str | None = Field(default=None, alias="documentHash")


@router.post(
    "/v1/verify/presentation",
    responses=WRITE_ERRORS,
    openapi_extra=request_body(
        PresentationBody,
        file_field="document",
        description="the token a scan gun typed; optionally the document of one of its assets",
    ),
)
async def verify_presentation(
    request: Request, runtime: Runtime, counter: Counter, caller: Caller
) -> dict[str, Any]:
    """Verdict VALID, INVALID (an asset is not valid) or REFUSED (the token is), per-asset verdicts
    with reason codes, and the verification record (anchored). JSON ``{token}``, or multipart with
    the asset's ``document`` (and ``assetId`` when the token names several assets)."""
    fields, file_hash = await read_payload(request, runtime)
    body = validated(PresentationBody, fields)
    doc = file_hash or (
        parse_hash(body.document_hash, "documentHash") if body.document_hash else None
    )
    asset = parse_hash(body.asset_id, "assetId") if body.asset_id else None
    return await run_in_threadpool(counter.verify, caller, body.token, doc, asset)


@router.get("/v1/presentations/{statement_hash}")
async def presentation_checks(statement_hash: str, counter: Counter) -> dict[str, Any]:
    """The checks of one presentation statement (``sha256(M)``, known to its holder)."""
    h = parse_hash(statement_hash, "statementHash")
    checks = await run_in_threadpool(counter.of_statement, h)
    return {"statementHash": "0x" + h.hex(), "verifications": checks}


@router.get("/v1/verifications/{verification_id}/receipt", responses=WRITE_ERRORS)
async def verification_receipt(verification_id: str, service: Licences) -> JSONResponse:
    """The record and its anchoring receipt, as a download (409 until the anchor is confirmed)."""
    found = as_dict(await run_in_threadpool(service.verification, verification_id))
    if not found.get("receipt"):
        raise ConflictError(
            f"verification {verification_id} is not anchored yet; retry in a few seconds",
            anchor=found.get("anchor"),
        )
    return JSONResponse(
        {
            "format": "credledger-verification-receipt-1",
            "verificationId": verification_id,
            "record": found["record"],
            "recordHash": found["recordHash"],
            "recordHashAlgorithm": found["recordHashAlgorithm"],
            "receipt": found["receipt"],
        },
        headers={"Content-Disposition": f'attachment; filename="{verification_id}.receipt.json"'},
    )
