"""Document verification: a file or its hash, optionally the licence it claims to be."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from credledger.node.api.deps import get_licences, get_runtime
from credledger.node.api.fastform import small_form
from credledger.node.api.routes.licences import (
    Body,
    doc_hash_of,
    read_payload,
    validated,
)
from credledger.node.licences.inputs import parse_licence_id
from credledger.node.licences.models import DocumentVerdict

router = APIRouter(tags=["verify"])


class VerifyBody(Body):
    document_hash: str | None = Field(default=None, alias="documentHash")
    licence_id: str | None = Field(default=None, alias="licenceId")


@router.post("/v1/verify/document", response_model=DocumentVerdict)
async def verify_document(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Verdict VALID, SUSPENDED, REVOKED, EXPIRED, NOT_YET_VALID, SUPERSEDED, TAMPERED or UNKNOWN.

    With a clerk's (or department's) token the check is recorded and anchored; the answer carries
    the record's id (``GET /v1/verifications/{id}``). ``judgedAtBlock`` is the block the verdict
    was judged at.
    """
    # the read path's hot route: no dependency graph to solve, small forms parsed at once
    runtime = await get_runtime(request)
    service = await get_licences(runtime)
    caller = service.departments.tokens.authenticate(authorization)
    limit = runtime.settings.api.max_upload_bytes
    payload = await small_form(request, limit)
    fields, file_hash = payload if payload is not None else await read_payload(request, runtime)
    body = validated(VerifyBody, fields)
    doc = doc_hash_of(body.document_hash, file_hash)
    assert doc is not None
    lid = parse_licence_id(body.licence_id) if body.licence_id else None
    # on the event loop: the read model answers from memory, and a clerk's record waits for its
    # group commit without holding a thread; anything that must wait for the indexer (an
    # unknown licence, this node's own write not indexed yet) goes to the thread pool
    verifier = service.verifier
    now = verifier.judged_now(caller, doc, lid)
    if now is None:
        answer = await run_in_threadpool(verifier.verify_json, caller, doc, lid)
    else:
        answer, record = now
        if record is not None:
            answer = await verifier.record_async(answer, record)
    return JSONResponse(answer)
