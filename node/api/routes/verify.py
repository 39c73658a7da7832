"""Document verification: a file or its hash, optionally the licence it claims to be."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from credledger.node.api.deps import Runtime
from credledger.node.api.routes._bodies import (
    WRITE_ERRORS,
    Body,
    doc_hash_of,
    request_body,
    validated,
)
from credledger.node.api.routes.licences import Licences, Verifier, payload
from credledger.node.api.security import GuardedRoute
from credledger.node.licences.inputs import parse_licence_id
from credledger.node.licences.models import DocumentVerdict

router = APIRouter(tags=["verify"], route_class=GuardedRoute)


class VerifyBody(Body):
    document_hash: str | None = Field(
        default=None, alias="documentHash", max_length=80, description="or send 'document'"
    )
    licence_id: str | None = Field(default=None, alias="licenceId", max_length=80)


@router.post(
    "/v1/verify/document",
    response_model=DocumentVerdict,
    responses=WRITE_ERRORS,
    openapi_extra=request_body(
        VerifyBody,
        file_field="document",
        description="the document as a file, or its documentHash; optionally the licenceId",
    ),
)
async def verify_document(
    request: Request, runtime: Runtime, caller: Verifier, service: Licences
) -> DocumentVerdict:
    """Verdict VALID, SUSPENDED, REVOKED, EXPIRED, NOT_YET_VALID, SUPERSEDED, TAMPERED or UNKNOWN.

    With a clerk's (or department's) token the check is recorded and anchored; the answer carries
    the record's id (``GET /v1/verifications/{id}``). Without a token it is rate-limited by
    client address.
    """
    fields, file_hash = await payload(request, runtime)
    body = validated(VerifyBody, fields)
    doc = doc_hash_of(body.document_hash, file_hash)
    assert doc is not None
    lid = parse_licence_id(body.licence_id) if body.licence_id else None
    return await run_in_threadpool(service.verify_document, caller, doc, lid)
