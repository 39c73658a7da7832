"""Document verification: a file or its hash, optionally the licence it claims to be."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from credledger.node.api.deps import licences_of, runtime_of
from credledger.node.api.fastform import small_form
from credledger.node.api.responses import FastJSONResponse
from credledger.node.api.routes._bodies import (
    WRITE_ERRORS,
    Body,
    doc_hash_of,
    request_body,
    validated,
)
from credledger.node.api.routes.licences import VERIFIER, payload
from credledger.node.api.security import BEARER_DOC, GuardedRoute
from credledger.node.core.gbt import looks_like_gbt_identifier
from credledger.node.licences.inputs import parse_licence_id
from credledger.node.licences.models import DocumentVerdict

router = APIRouter(tags=["verify"], route_class=GuardedRoute)


class VerifyBody(Body):
    document_hash: str | None = Field(
        default=None, alias="documentHash", max_length=80, description="or send 'document'"
    )
    licence_id: str | None = Field(default=None, alias="licenceId", max_length=700)
    # the licence's GB/T 36903 metadata as its holder presents it (JSON, or its text in a form):
    # the e-seal is checked over it (docs/standards.md "E-seals")
    metadata: dict[str, Any] | str | None = None


@router.post(
    "/v1/verify/document",
    response_model=DocumentVerdict,
    responses=WRITE_ERRORS,
    openapi_extra={
        **request_body(
            VerifyBody,
            file_field="document",
            description="the document as a file, or its documentHash; optionally the licenceId",
        ),
        **BEARER_DOC,
    },
)
async def verify_document(request: Request) -> Response:
    """Verdict VALID, SUSPENDED, REVOKED, EXPIRED, NOT_YET_VALID, SUPERSEDED, TAMPERED or UNKNOWN.

    With a clerk's (or department's) token the check is recorded and anchored; the answer carries
    the record's id (``GET /v1/verifications/{id}``). Without a token it is rate-limited by
    client address. ``judgedAtBlock`` is the block the verdict was judged at.
    """
    # the read path's hot route: no dependency resolution (node.api.security), the guard first
    caller = await VERIFIER.check(request)
    runtime = runtime_of(request)
    service = licences_of(runtime)
    # small forms (a clerk's upload) are split at once
    fast = await small_form(request, runtime.settings.api.max_upload_bytes)
    fields, file_hash = fast if fast is not None else await payload(request, runtime)
    body = validated(VerifyBody, fields)
    doc = doc_hash_of(body.document_hash, file_hash)
    assert doc is not None
    lid = None
    if body.licence_id and looks_like_gbt_identifier(body.licence_id):  # a GB/T 36904 one
        lid = await run_in_threadpool(service.licence_id, body.licence_id)
    elif body.licence_id:
        lid = parse_licence_id(body.licence_id)
    # on the event loop: the read model answers from memory, and a clerk's record waits for its
    # group commit without holding a thread; anything that must wait for the indexer (an
    # unknown licence, this node's own write not indexed yet) goes to the thread pool
    verifier = service.verifier
    now = verifier.judged_now(caller, doc, lid, body.metadata)
    if now is None:
        answer = await run_in_threadpool(verifier.verify_json, caller, doc, lid, body.metadata)
    else:
        answer, record = now
        if record is not None:
            answer = await verifier.record_async(answer, record)
    return FastJSONResponse(answer)
