"""Presentations at a counter: verify a token, find the checks of a statement, get a receipt."""

from __future__ import annotations

import io

import segno
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from credledger.node.api.deps import Caller, Counter, Licences, Runtime
from credledger.node.api.responses import FastJSONResponse
from credledger.node.api.routes._bodies import WRITE_ERRORS, Body, request_body, validated
from credledger.node.api.routes.licences import read_payload
from credledger.node.core.errors import ConflictError, NotFoundError
from credledger.node.counter.models import (
    PresentationChecks,
    PresentationVerdict,
    VerifierAudience,
)
from credledger.node.licences.inputs import parse_hash

router = APIRouter(tags=["presentations"])


class PresentationBody(Body):
    token: str = Field(min_length=1, max_length=2000)
    asset_id: str | None = Field(default=None, alias="assetId")
    document_hash: str | None = Field(default=None, alias="documentHash")


@router.post(
    "/v1/verify/presentation",
    response_model=PresentationVerdict,
    responses=WRITE_ERRORS,
    openapi_extra=request_body(
        PresentationBody,
        file_field="document",
        description="the token a scan gun typed; optionally the document of one of its assets",
    ),
)
async def verify_presentation(
    request: Request, runtime: Runtime, counter: Counter, caller: Caller
) -> Response:
    """Verdict VALID, INVALID (an asset is not valid) or REFUSED (the token is), per-asset verdicts
    with reason codes, and the verification record (anchored). JSON ``{token}``, or multipart with
    the asset's ``document`` (and ``assetId`` when the token names several assets)."""
    fields, file_hash = await read_payload(request, runtime)
    body = validated(PresentationBody, fields)
    doc = file_hash or (
        parse_hash(body.document_hash, "documentHash") if body.document_hash else None
    )
    asset = parse_hash(body.asset_id, "assetId") if body.asset_id else None
    verdict = await run_in_threadpool(counter.verify, caller, body.token, doc, asset)
    # the model's JSON as it was set (a reason or an asset shows only the fields it has)
    return FastJSONResponse(verdict.body())


@router.get("/v1/verify/audience", response_model=VerifierAudience)
async def verifier_audience(counter: Counter) -> VerifierAudience:
    """The audience that binds a token to this node alone (``verifier:<its chain account>``):
    such a token is refused at every other node, so this node checks its single use in its own
    store, without a transaction (docs/counter.md)."""
    return VerifierAudience(**counter.audience())


@router.get(
    "/v1/verify/audience.svg",
    responses={200: {"content": {"image/svg+xml": {}}}},
    response_class=Response,
)
async def verifier_audience_qr(counter: Counter) -> Response:
    """The audience above as a QR code, for a holder's wallet to bind its token to this node."""
    audience = counter.audience()["audience"]
    if audience is None:
        raise NotFoundError("this node has no verifier audience (no chain account)")
    qr = segno.make(audience, error="m")
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=4, title=audience)
    return Response(
        out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=300"}
    )


@router.get(
    "/v1/presentations/{statement_hash}",
    response_model=PresentationChecks,
    response_model_exclude_unset=True,
)
async def presentation_checks(statement_hash: str, counter: Counter) -> PresentationChecks:
    """The checks of one presentation statement (``sha256(M)``, known to its holder)."""
    h = parse_hash(statement_hash, "statementHash")
    checks = await run_in_threadpool(counter.of_statement, h)
    return PresentationChecks(statementHash="0x" + h.hex(), verifications=checks)


@router.get("/v1/verifications/{verification_id}/receipt", responses=WRITE_ERRORS)
async def verification_receipt(verification_id: str, service: Licences) -> JSONResponse:
    """The record and its anchoring receipt, as a download (409 until the anchor is confirmed)."""
    found = await run_in_threadpool(service.verification, verification_id)
    if not found.receipt:
        raise ConflictError(
            f"verification {verification_id} is not anchored yet; retry in a few seconds",
            anchor=found.anchor,
        )
    return JSONResponse(
        {
            "format": "credledger-verification-receipt-1",
            "verificationId": verification_id,
            "record": found.record,
            "recordHash": found.recordHash,
            "recordHashAlgorithm": found.recordHashAlgorithm,
            "receipt": found.receipt,
        },
        headers={"Content-Disposition": f'attachment; filename="{verification_id}.receipt.json"'},
    )
