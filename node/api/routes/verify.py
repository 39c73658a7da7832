"""Document verification: a file or its hash, optionally the licence it claims to be."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from credledger.node.api.deps import Runtime
from credledger.node.api.routes.licences import (
    Body,
    Caller,
    Licences,
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
    request: Request, runtime: Runtime, service: Licences, caller: Caller
) -> Response:
    """Verdict VALID, SUSPENDED, REVOKED, EXPIRED, NOT_YET_VALID, SUPERSEDED, TAMPERED or UNKNOWN.

    With a clerk's (or department's) token the check is recorded and anchored; the answer carries
    the record's id (``GET /v1/verifications/{id}``). ``judgedAtBlock`` is the block the verdict
    was judged at.
    """
    fields, file_hash = await read_payload(request, runtime)
    body = validated(VerifyBody, fields)
    doc = doc_hash_of(body.document_hash, file_hash)
    assert doc is not None
    lid = parse_licence_id(body.licence_id) if body.licence_id else None
    # hot path on the event loop: the read model answers from memory, and a clerk's record waits
    # for its group commit without holding a thread; anything that must wait for the indexer
    # (an unknown licence, this node's own write not indexed yet) goes to the thread pool
    verifier = service.verifier
    now = verifier.judged_now(caller, doc, lid)
    if now is None:
        answer = await run_in_threadpool(verifier.verify_json, caller, doc, lid)
    else:
        answer, record = now
        if record is not None:
            answer = await verifier.record_async(answer, record)
    return JSONResponse(answer)
