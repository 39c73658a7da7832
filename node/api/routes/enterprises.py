"""The enterprise code view (企业码): licences and supervision records of one USCC, and its QR."""

from __future__ import annotations

import io

import segno
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from credledger.node.api.deps import Runtime
from credledger.node.api.routes.licences import (
    Body,
    Caller,
    Licences,
    needs_token,
    read_payload,
    validated,
)
from credledger.node.errors import InputError
from credledger.node.identifiers import normalise_uscc
from credledger.node.licences.inputs import parse_hash
from credledger.node.licences.models import EnterpriseView, SupervisionRecorded

router = APIRouter(tags=["enterprises"])


class SupervisionBody(Body):
    kind: str
    ref_hash: str | None = Field(default=None, alias="refHash")


@router.get("/v1/enterprises/{uscc}", response_model=EnterpriseView)
async def enterprise(uscc: str, service: Licences) -> EnterpriseView:
    return await run_in_threadpool(service.enterprise, uscc)


@router.get("/v1/enterprises/{uscc}/qr.svg")
async def enterprise_qr(uscc: str, request: Request, service: Licences) -> Response:
    code = normalise_uscc(uscc)
    base = service.public_url or str(request.base_url)
    url = f"{base.rstrip('/')}/v1/enterprises/{code}"
    qr = segno.make(url, error="m")
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=4, title=f"enterprise code {code}")
    return Response(
        out.getvalue(),
        media_type="image/svg+xml",
        headers={"X-Enterprise-Code-Url": url, "Cache-Control": "public, max-age=300"},
    )


@router.post(
    "/v1/enterprises/{uscc}/supervision", status_code=201, response_model=SupervisionRecorded
)
async def record_supervision(
    uscc: str,
    request: Request,
    runtime: Runtime,
    service: Licences,
    caller: Caller,
) -> SupervisionRecorded:
    """A supervising department records an abnormal-operation listing/removal or a penalty.

    Send the decision document as a file (``document``) or its SHA-256 as ``refHash``.
    """
    needs_token(caller, "department")
    fields, file_hash = await read_payload(request, runtime)
    body = validated(SupervisionBody, fields)
    ref = file_hash or (parse_hash(body.ref_hash, "refHash") if body.ref_hash else None)
    if ref is None:
        raise InputError("send the decision document as 'document' or its hash as 'refHash'")
    key = request.headers.get("idempotency-key")
    return await run_in_threadpool(service.record_supervision, caller, uscc, body.kind, ref, key)
