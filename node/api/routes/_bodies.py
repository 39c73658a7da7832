"""Request bodies shared by the routers: JSON or multipart (with a file), declared in the OpenAPI.

A write accepts either ``application/json`` or ``multipart/form-data`` (the same fields, plus the
document as a file part). FastAPI cannot declare two media types for one parameter, so routes
read the body with :func:`read_payload`, validate it with the route's pydantic model
(:func:`validated`) and declare both media types with :func:`request_body` — Swagger UI then shows
and sends either, and schemathesis fuzzes both.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.datastructures import UploadFile

from credledger.node.core.errors import InputError, PayloadTooLargeError
from credledger.node.core.fingerprints import FileDigest, FileDigester
from credledger.node.core.http.errors import safe_name
from credledger.node.core.http.limits import loads_json
from credledger.node.core.identifiers import refuse_citizen_ids
from credledger.node.licences.inputs import parse_hash

M = TypeVar("M", bound=BaseModel)
HASH_PATTERN = r"^\s*(0[xX])?[0-9a-fA-F]{64}\s*$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ErrorBody(BaseModel):
    """Every error answer: a stable code, a message that says what to do, optional details."""

    error: str
    message: str
    details: dict[str, Any] | None = None
    errorId: str | None = None


def _err(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


READ_ERRORS: dict[int | str, dict[str, Any]] = {
    404: _err("not found"),
    413: _err("body over the limit"),
    422: _err("invalid input (the field is named as sent)"),
    429: _err("rate limited; see Retry-After"),
    503: _err("a service is off or the chain is unreachable"),
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    400: _err("the chain refused the transaction"),
    401: _err("no token, or an unknown one"),
    403: _err("this principal may not do this"),
    408: _err("the body arrived too slowly"),
    409: _err("conflicts with the current state"),
    502: _err("the chain answered with an error"),
}


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` inlined (usable inside ``openapi_extra``)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(copy.deepcopy(defs[ref.split("/")[-1]]))
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out: dict[str, Any] = walk(schema)
    return out


FILE_SCHEMA = {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"}


def request_body(
    model: type[BaseModel],
    *,
    file_field: str | None = None,
    multipart: bool = True,
    required: bool = True,
    description: str = "",
) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as a JSON body and (with ``multipart``) as form
    fields plus an optional file part ``file_field``."""
    schema = _inline(model.model_json_schema(by_alias=True))
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if multipart:
        form = copy.deepcopy(schema)
        props = form.setdefault("properties", {})
        for name, prop in list(props.items()):
            kinds = _types(prop)
            if "object" in kinds or "array" in kinds:
                props[name] = {"type": "string", "description": f"{name} as JSON text"}
            elif "integer" in kinds and "string" not in kinds:
                props[name] = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
        if file_field:
            props[file_field] = {**FILE_SCHEMA, "description": "the document (its SHA-256 is used)"}
        form["additionalProperties"] = False
        content["multipart/form-data"] = {"schema": form}
    body: dict[str, Any] = {"required": required, "content": content}
    if description:
        body["description"] = description
    return {"requestBody": body}


def _types(prop: dict[str, Any]) -> set[str]:
    out = set()
    if isinstance(prop.get("type"), str):
        out.add(prop["type"])
    for alt in prop.get("anyOf", []) + prop.get("oneOf", []):
        if isinstance(alt, dict) and isinstance(alt.get("type"), str):
            out.add(alt["type"])
    return out


def validated(model: type[M], data: Any) -> M:
    """Validate without echoing input values (they may hold a citizen ID number)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"where": ".".join(safe_name(str(p)) for p in e["loc"]) or "body", "problem": e["msg"]}
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise InputError(
            "; ".join(f"{p['where']}: {p['problem']}" for p in problems), problems=problems
        ) from None


async def read_payload(
    request: Request,
    *,
    max_file_bytes: int,
    max_depth: int,
    file_field: str = "document",
    json_fields: tuple[str, ...] = ("metadata", "roles", "licences"),
) -> tuple[dict[str, Any], bytes | None]:
    """The request's fields and the SHA-256 of its file part, if any.

    The size of the whole body is bounded by the BodyLimitMiddleware as it streams; here each
    file is bounded while it is hashed and JSON is depth-checked before it is parsed.
    """
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form(max_files=2, max_fields=50, max_part_size=64 * 1024)
        fields: dict[str, Any] = {}
        doc_hash: bytes | None = None
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key != file_field:
                    raise InputError(
                        f"unexpected file field {safe_name(key)!r}; send the file as "
                        f"{file_field!r}",
                        field=safe_name(key),
                    )
                if doc_hash is not None:
                    raise InputError(f"send one file as {file_field!r}", field=file_field)
                doc_hash = await hash_upload(value, max_file_bytes)
            elif key in fields:
                raise InputError(f"field {safe_name(key)!r} is sent twice", field=safe_name(key))
            elif key in json_fields:
                fields[key] = loads_json(value, max_depth=max_depth)
            else:
                fields[key] = value
        return fields, doc_hash
    raw = await request.body()
    if not raw.strip():
        return {}, None
    data = loads_json(raw, max_depth=max_depth, max_bytes=None)
    if not isinstance(data, dict):
        raise InputError("the body must be a JSON object", field="body")
    return data, None


async def hash_upload(upload: UploadFile, max_bytes: int) -> FileDigest:
    """The upload's SHA-256 and SM3 in one pass (a licence route picks its type's)."""
    d = FileDigester()
    size = 0
    while chunk := await upload.read(1 << 20):
        size += len(chunk)
        if size > max_bytes:
            await upload.close()
            # the file name is not echoed: it is free text and may hold personal data
            raise PayloadTooLargeError(f"the uploaded file is over {max_bytes} bytes")
        d.update(chunk)
    await upload.close()
    return d.result()


def doc_hash_of(
    body_hash: str | None, file_hash: bytes | None, required: bool = True
) -> bytes | None:
    if body_hash and file_hash:
        given = parse_hash(body_hash, "documentHash")
        sm3 = file_hash.sm3 if isinstance(file_hash, FileDigest) else None
        if given != file_hash and given != sm3:
            raise InputError("documentHash does not match the uploaded document", field="document")
        return file_hash
    if file_hash:
        return file_hash
    if body_hash:
        return parse_hash(body_hash, "documentHash")
    if required:
        raise InputError(
            "send the document as a file ('document') or its SHA-256 as documentHash",
            field="documentHash",
        )
    return None


def idempotency_key(value: str | None) -> str | None:
    """The Idempotency-Key header, checked like every free text that reaches a database."""
    if value is None:
        return None
    if len(value) > 200:
        raise InputError("Idempotency-Key is longer than 200 characters", field="Idempotency-Key")
    refuse_citizen_ids(value, "Idempotency-Key")
    return value
