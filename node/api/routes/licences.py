"""Licence endpoints: types, issuance (single and batch), lifecycle changes, reads.

Thin: parse the request (JSON, or multipart with the document as a file), resolve the caller
from its bearer token, call :class:`node.licences.service.LicenceService`, return its JSON.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from credledger.node.api.deps import Caller as Caller  # re-exported for the other routers
from credledger.node.api.deps import Licences as Licences
from credledger.node.api.deps import Runtime
from credledger.node.auth import Principal, PrincipalKind, require
from credledger.node.errors import (
    InputError,
    NotFoundError,
    PayloadTooLargeError,
    UnauthorizedError,
)
from credledger.node.licences.catalogue import CODE_PATTERN, LicenceType
from credledger.node.licences.inputs import parse_hash, parse_licence_id, reasons
from credledger.node.licences.models import (
    Authorisation,
    IssuedBatch,
    IssuedLicence,
    LicenceDetail,
    LifecycleChange,
    RegisteredType,
)
from credledger.node.licences.service import IssueInput

router = APIRouter(tags=["licences"])
M = TypeVar("M", bound=BaseModel)


def needs_token(caller: Principal | None, *kinds: PrincipalKind) -> None:
    """Writes answer 401 without a token (403 for the wrong kind) before looking at the body."""
    if caller is None:
        raise UnauthorizedError("this endpoint changes the chain: send 'Authorization: Bearer …'")
    if kinds:
        require(caller, *kinds, action="do this")


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


# --- request parsing -----------------------------------------------------------------------------


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class IssueBody(Body):
    type: str = Field(min_length=1, max_length=64)
    serial_number: str = Field(alias="serialNumber", min_length=1, max_length=64)
    holder_uscc: str | None = Field(default=None, alias="holderUscc", max_length=64)
    holder_citizen_id: str | None = Field(default=None, alias="holderCitizenId", max_length=64)
    holder_address: str | None = Field(default=None, alias="holderAddress")
    document_hash: str | None = Field(default=None, alias="documentHash")
    valid_from: int | str = Field(alias="validFrom")
    valid_until: int | str | None = Field(default=None, alias="validUntil")
    metadata: dict[str, Any] | None = None


class BatchBody(Body):
    licences: list[IssueBody] = Field(min_length=1)


class ChangeBody(Body):
    reason_code: int | None = Field(default=None, alias="reasonCode")
    note: str | None = None
    document_hash: str | None = Field(default=None, alias="documentHash")
    valid_until: int | str | None = Field(default=None, alias="validUntil")
    holder_address: str | None = Field(default=None, alias="holderAddress")


class TypeBody(Body):
    code: str = Field(pattern=CODE_PATTERN, max_length=64)
    category: str
    zh: str = Field(min_length=1, max_length=100)
    en: str = Field(min_length=1, max_length=200)
    holder: str = "enterprise"


class AuthorisationBody(Body):
    department: str
    roles: list[str]


def validated(model: type[M], data: Any) -> M:
    """Validate without echoing input values (they may hold a citizen ID number)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"where": ".".join(str(p) for p in e["loc"]) or "body", "problem": e["msg"]}
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise InputError(
            "; ".join(f"{p['where']}: {p['problem']}" for p in problems), problems=problems
        ) from None


async def read_payload(request: Request, runtime: Runtime) -> tuple[dict[str, Any], bytes | None]:
    """The request's fields and the SHA-256 of its ``document`` file part, if any."""
    limit = runtime.settings.api.max_upload_bytes
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form(max_part_size=limit)
        fields: dict[str, Any] = {}
        doc_hash: bytes | None = None
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key != "document":
                    raise InputError(f"unexpected file field {key!r}; send the file as 'document'")
                h = hashlib.sha256()
                size = 0
                while chunk := await value.read(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLargeError(f"the document is over {limit} bytes")
                    h.update(chunk)
                doc_hash = h.digest()
            elif key == "metadata":
                try:
                    fields[key] = json.loads(value)
                except ValueError:
                    raise InputError("metadata must be a JSON object") from None
            else:
                fields[key] = value
        return fields, doc_hash
    raw = await request.body()
    if len(raw) > limit:
        raise PayloadTooLargeError(f"the request is over {limit} bytes")
    if not raw:
        return {}, None
    try:
        data = json.loads(raw)
    except ValueError:
        raise InputError("the body is not JSON (or send multipart/form-data)") from None
    if not isinstance(data, dict):
        raise InputError("the body must be a JSON object")
    return data, None


def doc_hash_of(
    body_hash: str | None, file_hash: bytes | None, required: bool = True
) -> bytes | None:
    if body_hash and file_hash:
        if parse_hash(body_hash, "documentHash") != file_hash:
            raise InputError("documentHash does not match the uploaded document", field="document")
        return file_hash
    if file_hash:
        return file_hash
    if body_hash:
        return parse_hash(body_hash, "documentHash")
    if required:
        raise InputError("send the licence document as a file ('document') or its documentHash")
    return None


def to_input(body: IssueBody, file_hash: bytes | None = None) -> IssueInput:
    doc = doc_hash_of(body.document_hash, file_hash)
    assert doc is not None
    return IssueInput(
        type=body.type,
        serial_number=body.serial_number,
        doc_hash=doc,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        holder_uscc=body.holder_uscc,
        holder_citizen_id=body.holder_citizen_id,
        holder_address=body.holder_address,
        metadata=body.metadata,
    )


# --- types and reason codes --------------------------------------------------------------------


@router.get("/v1/licence-types")
async def list_types(service: Licences) -> dict[str, Any]:
    types = await run_in_threadpool(service.types)
    return {
        "categories": [
            {"code": c.code, "zh": c.zh, "en": c.en} for c in service.catalogue.categories
        ],
        "types": [t.to_json() for t in types],
    }


@router.post("/v1/licence-types", status_code=201, response_model=RegisteredType)
async def register_type(
    request: Request, runtime: Runtime, service: Licences, caller: Caller
) -> RegisteredType:
    needs_token(caller, "admin")
    fields, _ = await read_payload(request, runtime)
    body = validated(TypeBody, fields)
    if body.holder not in ("enterprise", "person", "any"):
        raise InputError("holder must be enterprise, person or any", field="holder")
    t = LicenceType(body.code, body.category, body.zh, body.en, body.holder)  # type: ignore[arg-type]
    return await run_in_threadpool(service.register_type, caller, t)


@router.post("/v1/licence-types/{code}/authorisations", response_model=Authorisation)
async def authorise(
    code: str, request: Request, runtime: Runtime, service: Licences, caller: Caller
) -> Authorisation:
    needs_token(caller, "admin")
    fields, _ = await read_payload(request, runtime)
    body = validated(AuthorisationBody, fields)
    return await run_in_threadpool(service.authorise, caller, code, body.department, body.roles)


@router.get("/v1/reason-codes")
async def reason_codes() -> dict[str, Any]:
    return {"codes": [{"code": r.code, "zh": r.zh, "en": r.en} for r in reasons().values()]}


# --- issuance ------------------------------------------------------------------------------------


@router.post("/v1/licences", status_code=201, response_model=IssuedLicence)
async def issue(
    request: Request,
    runtime: Runtime,
    service: Licences,
    caller: Caller,
    key: IdempotencyKey = None,
) -> IssuedLicence:
    needs_token(caller, "department")
    fields, file_hash = await read_payload(request, runtime)
    item = to_input(validated(IssueBody, fields), file_hash)
    return await run_in_threadpool(service.issue, caller, item, key)


@router.post("/v1/licences:batch", status_code=201, response_model=IssuedBatch)
async def issue_batch(
    request: Request,
    runtime: Runtime,
    service: Licences,
    caller: Caller,
    key: IdempotencyKey = None,
) -> IssuedBatch:
    needs_token(caller, "department")
    fields, _ = await read_payload(request, runtime)
    body = validated(BatchBody, fields)
    items = [to_input(b) for b in body.licences]
    return await run_in_threadpool(service.issue_batch, caller, items, key)


# --- reads and lifecycle -------------------------------------------------------------------------


@router.get("/v1/licences/{licence_id}", response_model=LicenceDetail)
async def get_licence(licence_id: str, service: Licences) -> LicenceDetail:
    return await run_in_threadpool(service.get, parse_licence_id(licence_id))


@router.post("/v1/licences/{licence_id}/{action}", response_model=LifecycleChange)
async def change(
    licence_id: str,
    action: str,
    request: Request,
    runtime: Runtime,
    service: Licences,
    caller: Caller,
    key: IdempotencyKey = None,
) -> LifecycleChange:
    lid = parse_licence_id(licence_id)
    needs_token(caller, "department")
    fields, file_hash = await read_payload(request, runtime)
    body = validated(ChangeBody, fields)
    if action == "suspend":
        return await run_in_threadpool(
            service.suspend, caller, lid, body.reason_code, body.note, key
        )
    if action == "reinstate":
        return await run_in_threadpool(service.reinstate, caller, lid, body.note, key)
    if action == "revoke":
        return await run_in_threadpool(
            service.revoke, caller, lid, body.reason_code, body.note, key
        )
    if action == "amend":
        doc = doc_hash_of(body.document_hash, file_hash)
        assert doc is not None
        return await run_in_threadpool(
            service.amend, caller, lid, doc, body.valid_until, body.note, key
        )
    if action == "bind-holder":
        return await run_in_threadpool(
            service.bind_holder, caller, lid, body.holder_address, body.note, key
        )
    raise NotFoundError(
        f"unknown action {action!r}; use suspend, reinstate, revoke, amend or bind-holder"
    )
