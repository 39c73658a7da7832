"""Anchors: submit hashes or files, read status and receipts (thin router over the service)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from credledger.node.anchoring.service import AnchoringService
from credledger.node.api.deps import Runtime
from credledger.node.errors import InputError, PayloadTooLargeError
from credledger.node.receipts import hex32, parse_hash

router = APIRouter(prefix="/v1/anchors", tags=["anchors"])


def _service(runtime: Runtime) -> AnchoringService:
    return runtime.anchoring


def _parse_json(body: bytes, check_count: Callable[..., None]) -> list[bytes]:
    if not body.strip():
        raise InputError('empty body; send {"hashes": ["0x…"]} or a multipart upload of files')
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise InputError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("hashes"), list):
        raise InputError('the body must be a JSON object {"hashes": ["0x…", …]}')
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
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes * max(1, limit):
        raise PayloadTooLargeError(f"upload of {length} bytes is over the limit")
    form = await request.form(max_files=limit + 1, max_fields=limit + 1)
    files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
    check_count(len(files), "files")
    hashes: list[bytes] = []
    too_big: list[dict[str, Any]] = []
    for i, f in enumerate(files):
        h = hashlib.sha256()
        size = 0
        while chunk := await f.read(1 << 20):
            size += len(chunk)
            if size > max_bytes:
                break
            h.update(chunk)
        await f.close()
        if size > max_bytes:
            too_big.append(
                {"index": i, "file": f.filename, "reason": f"over the {max_bytes}-byte limit"}
            )
        hashes.append(h.digest())
    if too_big:
        raise PayloadTooLargeError(
            f"{len(too_big)} files are over the {max_bytes}-byte limit; nothing was stored",
            items=too_big,
        )
    return hashes


@router.post("", status_code=202)
async def submit(request: Request, runtime: Runtime) -> JSONResponse:
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
        hashes = _parse_json(body, service.check_count)
    records = await run_in_threadpool(service.submit, hashes)
    return JSONResponse(
        status_code=202,
        content={"count": len(records), "anchors": [r.to_json() for r in records]},
    )


@router.get("/{doc_hash}")
def status(doc_hash: str, runtime: Runtime) -> dict[str, Any]:
    """Status of one hash (pending, submitted, confirmed) and its receipt once confirmed."""
    return _service(runtime).get(parse_hash(doc_hash)).to_json()


@router.get("/{doc_hash}/receipt")
def receipt(doc_hash: str, runtime: Runtime) -> Response:
    """The receipt as a downloadable JSON file (404 until the hash is confirmed)."""
    h = parse_hash(doc_hash)
    body = _service(runtime).receipt(h)
    name = f"{hex32(h)[2:14]}.receipt.json"
    return Response(
        content=json.dumps(body, indent=2) + "\n",
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
