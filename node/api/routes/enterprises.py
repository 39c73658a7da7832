"""The enterprise code view (企业码): licences and supervision records of one USCC, and its QR."""

from __future__ import annotations

import io
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from credledger.node.api.deps import Runtime, licences_of, runtime_of
from credledger.node.api.responses import FastJSONResponse
from credledger.node.api.routes._bodies import (
    READ_ERRORS,
    WRITE_ERRORS,
    Body,
    idempotency_key,
    request_body,
    validated,
)
from credledger.node.api.routes.licences import IdempotencyKey, Licences, payload
from credledger.node.api.security import Guard, GuardedRoute
from credledger.node.auth import Principal
from credledger.node.core.errors import InputError
from credledger.node.core.identifiers import normalise_uscc
from credledger.node.licences.inputs import parse_hash
from credledger.node.licences.models import EnterpriseView, SupervisionRecorded

router = APIRouter(tags=["enterprises"], route_class=GuardedRoute)
# the hot read, in a router of its own that the app includes first (routes are matched in order)
read_router = APIRouter(tags=["enterprises"], route_class=GuardedRoute)
Uscc = Annotated[str, Path(max_length=64, description="unified social credit code (18 chars)")]
Supervisor = Annotated[Principal, Depends(Guard("department", action="record supervision"))]


class SupervisionBody(Body):
    kind: str = Field(max_length=40)
    ref_hash: str | None = Field(
        default=None, alias="refHash", max_length=80, description="or send 'document'"
    )


@read_router.get("/v1/enterprises/{uscc}", response_model=EnterpriseView, responses=READ_ERRORS)
async def enterprise(uscc: Uscc, request: Request) -> Response | EnterpriseView:
    service = licences_of(runtime_of(request))  # a hot route: no dependency resolution
    # from the read model on the event loop; to a thread only while this node's write is indexed
    body = service.queries.enterprise_json_now(uscc)
    if body is None:
        return await run_in_threadpool(service.enterprise, uscc)
    return FastJSONResponse(body)


@router.get(
    "/v1/enterprises/{uscc}/qr.svg",
    responses={**READ_ERRORS, 200: {"content": {"image/svg+xml": {}}}},
    response_class=Response,
)
async def enterprise_qr(uscc: Uscc, request: Request, service: Licences) -> Response:
    code = normalise_uscc(uscc)
    base = service.public_url or str(request.base_url)
    url = f"{base.rstrip('/')}/e/{code}"  # the enterprise-code page (node/web)
    qr = segno.make(url, error="m")
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=4, title=f"enterprise code {code}")
    return Response(
        out.getvalue(),
        media_type="image/svg+xml",
        headers={"X-Enterprise-Code-Url": url, "Cache-Control": "public, max-age=300"},
    )


@router.post(
    "/v1/enterprises/{uscc}/supervision",
    status_code=201,
    response_model=SupervisionRecorded,
    responses=WRITE_ERRORS,
    openapi_extra=request_body(SupervisionBody, file_field="document"),
)
async def record_supervision(
    uscc: Uscc,
    request: Request,
    runtime: Runtime,
    caller: Supervisor,
    service: Licences,
    key: IdempotencyKey = None,
) -> SupervisionRecorded:
    """A supervising department records an abnormal-operation listing/removal or a penalty.

    Send the decision document as a file (``document``) or its SHA-256 as ``refHash``.
    """
    key = idempotency_key(key)
    fields, file_hash = await payload(request, runtime)
    body = validated(SupervisionBody, fields)
    ref = file_hash or (parse_hash(body.ref_hash, "refHash") if body.ref_hash else None)
    if ref is None:
        raise InputError(
            "send the decision document as 'document' or its hash as 'refHash'", field="refHash"
        )
    return await run_in_threadpool(service.record_supervision, caller, uscc, body.kind, ref, key)
