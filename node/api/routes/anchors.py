"""Anchors: submit hashes or files, read status and receipts (thin router over the service).

Anchoring makes the node pay for a transaction, so it needs the token of a department, a clerk or
a service (the wallet's service identity) — or ``api.public_anchoring`` (then anyone may, limited
by client address). Every caller also has a quota of hashes (``api.rate_limits``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from starlette.datastructures import UploadFile

from credledger.node.anchoring.service import AnchoringService
from credledger.node.api.deps import Runtime
from credledger.node.api.routes._bodies import (
    FILE_SCHEMA,
    HASH_PATTERN,
    READ_ERRORS,
    WRITE_ERRORS,
    Body,
    hash_upload,
)
from credledger.node.api.security import Guard, GuardedRoute, limits_of, rate_key
from credledger.node.auth import Principal
from credledger.node.core.errors import InputError, PayloadTooLargeError
from credledger.node.core.http.limits import loads_json
from credledger.node.core.receipts import hex32, parse_hash

router = APIRouter(prefix="/v1/anchors", tags=["anchors"], route_class=GuardedRoute)
Anchorer = Annotated[
    Principal | None,
    Depends(Guard("department", "clerk", "service", public="public_anchoring", action="anchor")),
]
DocHash = Annotated[str, Path(pattern=HASH_PATTERN, description="0x + 64 hex digits (SHA-256)")]


class AnchorBody(Body):
    hashes: list[str] = Field(description="SHA-256 hashes, 0x + 64 hex digits each")


_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": AnchorBody.model_json_schema(by_alias=True)},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": FILE_SCHEMA,
                            "description": "files to anchor (only their SHA-256 is kept)",
                        }
                    },
                }
            },
        },
    }
}


def _service(runtime: Runtime) -> AnchoringService:
    return runtime.anchoring


def _parse_json(body: bytes, check_count: Callable[..., None], max_depth: int) -> list[bytes]:
    if not body.strip():
        raise InputError('empty body; send {"hashes": ["0x…"]} or a multipart upload of files')
    data = loads_json(body, max_depth=max_depth, max_bytes=None)
    if not isinstance(data, dict) or not isinstance(data.get("hashes"), list):
        raise InputError('the body must be a JSON object {"hashes": ["0x…", …]}', field="hashes")
    items = data["hashes"]
    check_count(len(items))  # before parsing: a huge list is refused without work
    out: list[bytes] = []
    bad: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        try:
            out.append(parse_hash(item))
        except InputError as exc:
            bad.append({"index": i, "reason": exc.message})
    if bad:
        raise InputError(
            f"{len(bad)} of {len(items)} hashes are malformed; nothing was stored "
            f"(first: index {bad[0]['index']}: {bad[0]['reason']})",
            items=bad,
        )
    return out


async def _parse_files(
    request: Request, max_bytes: int, limit: int, check_count: Callable[..., None]
) -> list[bytes]:
    form = await request.form(max_files=limit + 1, max_fields=limit + 1)
    files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
    check_count(len(files), "files")
    hashes: list[bytes] = []
    too_big: list[dict[str, Any]] = []
    for i, f in enumerate(files):
        try:
            hashes.append(await hash_upload(f, max_bytes))
        except PayloadTooLargeError:
            too_big.append({"index": i, "reason": f"over the {max_bytes}-byte limit"})
    if too_big:
        raise PayloadTooLargeError(
            f"{len(too_big)} files are over the {max_bytes}-byte limit; nothing was stored",
            items=too_big,
        )
    return hashes


@router.post("", status_code=202, responses=WRITE_ERRORS, openapi_extra=_BODY)
async def submit(request: Request, runtime: Runtime, caller: Anchorer) -> JSONResponse:
    """Accept hashes (JSON) or files (multipart, SHA-256 of the bytes; files are not kept).

    Answers 202 only after every hash is durably stored; any bad item refuses the whole request.
    """
    service = _service(runtime)
    limit = service.settings.max_hashes_per_request
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        hashes = await _parse_files(
            request, runtime.settings.api.max_upload_bytes, limit, service.check_count
        )
    else:
        body = await request.body()
        hashes = _parse_json(body, service.check_count, runtime.settings.api.max_json_depth)
    limits_of(request).anchor_hashes.take(rate_key(request, caller), len(hashes))
    records = await run_in_threadpool(service.submit, hashes)
    return JSONResponse(
        status_code=202,
        content={"count": len(records), "anchors": [r.to_json() for r in records]},
    )


@router.get("/{doc_hash}", responses=READ_ERRORS)
def status(doc_hash: DocHash, runtime: Runtime) -> dict[str, Any]:
    """Status of one hash (pending, submitted, confirmed) and its receipt once confirmed."""
    return _service(runtime).get(parse_hash(doc_hash)).to_json()


@router.get(
    "/{doc_hash}/receipt",
    responses={**READ_ERRORS, 200: {"content": {"application/json": {}}}},
    response_class=Response,
)
def receipt(doc_hash: DocHash, runtime: Runtime) -> Response:
    """The receipt as a downloadable JSON file (404 until the hash is confirmed)."""
    h = parse_hash(doc_hash)
    body = _service(runtime).receipt(h)
    name = f"{hex32(h)[2:14]}.receipt.json"
    return Response(
        content=json.dumps(body, indent=2) + "\n",
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
