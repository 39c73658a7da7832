"""Anchors: submit hashes or files, read status and receipts (thin router over the service).

Anchoring makes the node pay for a transaction, so it needs the token of a department, a clerk or
a service (the wallet's service identity) — or ``api.public_anchoring`` (then anyone may, limited
by client address). Every caller also has a quota of hashes (``api.rate_limits``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
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
    validated,
)
from credledger.node.api.security import Guard, GuardedRoute, limits_of, rate_key
from credledger.node.auth import Principal
from credledger.node.core.errors import InputError, PayloadTooLargeError
from credledger.node.core.fingerprints import (
    FINGERPRINTS,
    Fingerprint,
    new_hasher,
    parse_fingerprint,
)
from credledger.node.core.http.limits import loads_json
from credledger.node.core.receipts import (
    check_receipt_on_chain,
    hex32,
    parse_hash,
    receipt_fingerprint,
)

router = APIRouter(prefix="/v1/anchors", tags=["anchors"], route_class=GuardedRoute)
Anchorer = Annotated[
    Principal | None,
    Depends(Guard("department", "clerk", "service", public="public_anchoring", action="anchor")),
]
Verifier = Annotated[Principal | None, Depends(Guard(action="verify a receipt"))]
DocHash = Annotated[
    str, Path(pattern=HASH_PATTERN, description="0x + 64 hex digits (a SHA-256 or SM3 digest)")
]
FingerprintQuery = Annotated[
    Literal["sha256", "sm3"] | None,
    Query(description="which fingerprint the hash is (default: either, the node's own first)"),
]


class AnchorBody(Body):
    hashes: list[str] = Field(description="document digests, 0x + 64 hex digits each")
    fingerprint: Literal["sha256", "sm3"] | None = Field(
        default=None,
        description="the hashes' algorithm: sha256 or sm3 (GM/T 0004); default: the node's "
        "anchoring.fingerprint",
    )


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
                            "description": "files to anchor (only their digest is kept)",
                        },
                        "fingerprint": {
                            "type": "string",
                            "enum": list(FINGERPRINTS),
                            "description": "digest the files with sha256 or sm3 "
                            "(default: the node's anchoring.fingerprint)",
                        },
                    },
                }
            },
        },
    }
}


def _service(runtime: Runtime) -> AnchoringService:
    return runtime.anchoring


def _fingerprint(value: Any, service: AnchoringService) -> Fingerprint:
    return service.default_fingerprint if value is None else parse_fingerprint(value)


def _parse_json(
    body: bytes, service: AnchoringService, max_depth: int
) -> tuple[list[bytes], Fingerprint]:
    check_count = service.check_count
    if not body.strip():
        raise InputError('empty body; send {"hashes": ["0x…"]} or a multipart upload of files')
    data = loads_json(body, max_depth=max_depth, max_bytes=None)
    if not isinstance(data, dict) or not isinstance(data.get("hashes"), list):
        raise InputError('the body must be a JSON object {"hashes": ["0x…", …]}', field="hashes")
    fingerprint = _fingerprint(data.get("fingerprint"), service)
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
    return out, fingerprint


async def _digest_upload(upload: UploadFile, max_bytes: int, fingerprint: Fingerprint) -> bytes:
    return (await hash_upload(upload, max_bytes)).of(fingerprint)


async def _parse_files(
    request: Request, max_bytes: int, service: AnchoringService
) -> tuple[list[bytes], Fingerprint]:
    limit = service.settings.max_hashes_per_request
    form = await request.form(max_files=limit + 1, max_fields=limit + 1)
    files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
    named = [v for k, v in form.multi_items() if k == "fingerprint" and isinstance(v, str)]
    if len(named) > 1:
        raise InputError("field 'fingerprint' is sent twice", field="fingerprint")
    fingerprint = _fingerprint(named[0] if named else None, service)
    service.check_count(len(files), "files")
    new_hasher(fingerprint)  # a platform without SM3 refuses before reading any file
    hashes: list[bytes] = []
    too_big: list[dict[str, Any]] = []
    for i, f in enumerate(files):
        try:
            hashes.append(await _digest_upload(f, max_bytes, fingerprint))
        except PayloadTooLargeError:
            too_big.append({"index": i, "reason": f"over the {max_bytes}-byte limit"})
    if too_big:
        raise PayloadTooLargeError(
            f"{len(too_big)} files are over the {max_bytes}-byte limit; nothing was stored",
            items=too_big,
        )
    return hashes, fingerprint


@router.post("", status_code=202, responses=WRITE_ERRORS, openapi_extra=_BODY)
async def submit(request: Request, runtime: Runtime, caller: Anchorer) -> JSONResponse:
    """Accept hashes (JSON) or files (multipart: the digest of the bytes; files are not kept).

    ``fingerprint`` (a JSON field or a form field) says which digest: ``sha256`` or ``sm3``
    (GM/T 0004); without it, the node's ``anchoring.fingerprint``. Answers 202 only after every
    hash is durably stored; any bad item refuses the whole request.
    """
    service = _service(runtime)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        hashes, fingerprint = await _parse_files(
            request, runtime.settings.api.max_upload_bytes, service
        )
    else:
        body = await request.body()
        hashes, fingerprint = _parse_json(body, service, runtime.settings.api.max_json_depth)
    limits_of(request).anchor_hashes.take(rate_key(request, caller), len(hashes))
    records = await run_in_threadpool(service.submit, hashes, fingerprint)
    return JSONResponse(
        status_code=202,
        content={"count": len(records), "anchors": [r.to_json() for r in records]},
    )


@router.get("/{doc_hash}", responses=READ_ERRORS)
def status(
    doc_hash: DocHash, runtime: Runtime, fingerprint: FingerprintQuery = None
) -> dict[str, Any]:
    """Status of one hash (pending, submitted, confirmed), its fingerprint, and its receipt once
    confirmed."""
    return _service(runtime).get(parse_hash(doc_hash), fingerprint).to_json()


@router.get(
    "/{doc_hash}/receipt",
    responses={**READ_ERRORS, 200: {"content": {"application/json": {}}}},
    response_class=Response,
)
def receipt(doc_hash: DocHash, runtime: Runtime, fingerprint: FingerprintQuery = None) -> Response:
    """The receipt as a downloadable JSON file (404 until the hash is confirmed)."""
    h = parse_hash(doc_hash)
    body = _service(runtime).receipt(h, fingerprint)
    name = f"{hex32(h)[2:14]}.receipt.json"
    return Response(
        content=json.dumps(body, indent=2) + "\n",
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


class VerifyReceiptBody(Body):
    receipt: dict[str, Any] = Field(description="a credledger-receipt (version 1 or 2)")
    document_hash: str | None = Field(
        default=None,
        alias="documentHash",
        description="the document's digest under the receipt's fingerprint; or send 'document' "
        "as a file (multipart); neither: the receipt alone",
    )


_VERIFY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": VerifyReceiptBody.model_json_schema(by_alias=True)},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["receipt"],
                    "properties": {
                        "receipt": {"type": "string", "description": "the receipt's JSON"},
                        "document": {
                            **FILE_SCHEMA,
                            "description": "the document (digested with the receipt's "
                            "fingerprint; not kept)",
                        },
                    },
                }
            },
        },
    }
}


async def _verify_input(request: Request, runtime: Runtime) -> tuple[dict[str, Any], bytes | None]:
    """(receipt, document digest or None) from JSON or multipart."""
    api = runtime.settings.api
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=2)
        text = form.get("receipt")
        if isinstance(text, UploadFile):
            text = (await text.read(api.max_json_bytes + 1)).decode("utf-8", "replace")
        if not isinstance(text, str) or not text.strip():
            raise InputError("send the receipt's JSON as the form field 'receipt'", field="receipt")
        receipt = loads_json(text, max_depth=api.max_json_depth, max_bytes=api.max_json_bytes)
        if not isinstance(receipt, dict):
            raise InputError("receipt: must be a JSON object", field="receipt")
        document = form.get("document")
        if document is None:
            return receipt, None
        if not isinstance(document, UploadFile):
            raise InputError("send the document as a file part 'document'", field="document")
        kind = receipt_fingerprint(receipt)
        return receipt, await _digest_upload(document, api.max_upload_bytes, kind)
    raw = await request.body()
    data = loads_json(raw, max_depth=api.max_json_depth, max_bytes=None) if raw.strip() else None
    if not isinstance(data, dict):
        raise InputError('the body must be a JSON object {"receipt": {…}}', field="receipt")
    body = validated(VerifyReceiptBody, data)
    doc = parse_hash(body.document_hash, "documentHash") if body.document_hash else None
    return body.receipt, doc


@router.post("/verify", responses=WRITE_ERRORS, openapi_extra=_VERIFY_BODY)
async def verify_receipt(request: Request, runtime: Runtime, caller: Verifier) -> JSONResponse:
    """Check a receipt against the chain this node reads, exactly as ``credledger verify`` does
    (docs/receipt.md): SHA-256 (version 1) or SM3 (version 2) fingerprints, with the document, its
    digest, or the receipt alone. ``verified`` is true only if every check passed; a receipt that
    is not a credledger receipt, or lacks a field, is a 422. Open to anyone (rate-limited by
    client address without a token)."""
    receipt, doc = await _verify_input(request, runtime)
    checks = await run_in_threadpool(check_receipt_on_chain, runtime.chain, receipt, doc)
    return JSONResponse(
        {
            "verified": all(c.ok for c in checks),
            "fingerprint": receipt_fingerprint(receipt),
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
        }
    )
