"""Licence endpoints: types, issuance (single and batch), lifecycle changes, reads.

Thin: guard the caller (token, kind, rate limit — before the body is read), parse the request
(JSON, or multipart with the document as a file), call
:class:`credledger.node.licences.service.LicenceService`, return its JSON.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import Response
from pydantic import Field, StrictInt, StrictStr, field_validator
from starlette.concurrency import run_in_threadpool

from credledger.node.api.deps import Licences as Licences  # re-exported for the other routers
from credledger.node.api.deps import Runtime, licences_of, runtime_of
from credledger.node.api.responses import FastJSONResponse
from credledger.node.api.routes._bodies import (
    READ_ERRORS,
    WRITE_ERRORS,
    Body,
    doc_hash_of,
    idempotency_key,
    request_body,
    validated,
)
from credledger.node.api.routes._bodies import read_payload as _read_payload
from credledger.node.api.security import Guard, GuardedRoute
from credledger.node.auth import Principal, PrincipalKind, require
from credledger.node.core.errors import InputError
from credledger.node.core.fingerprints import pick_digest
from credledger.node.core.gbt import looks_like_gbt_identifier, parse_type_code
from credledger.node.core.identifiers import refuse_citizen_ids
from credledger.node.licences.catalogue import CODE_PATTERN, LicenceType
from credledger.node.licences.inputs import reasons
from credledger.node.licences.models import (
    Authorisation,
    IssuedBatch,
    IssuedLicence,
    LicenceDetail,
    LifecycleChange,
    RegisteredType,
    RetiredKey,
)
from credledger.node.licences.service import IssueInput

router = APIRouter(tags=["licences"], route_class=GuardedRoute)
# the hot read, in a router of its own that the app includes first (routes are matched in order)
read_router = APIRouter(tags=["licences"], route_class=GuardedRoute)


Admin = Annotated[Principal, Depends(Guard("admin", action="manage licence types"))]
Department = Annotated[Principal, Depends(Guard("department", action="change licences"))]
# a token is optional: with a clerk's or department's the check is recorded
VERIFIER = Guard(action="verify")
Verifier = Annotated[Principal | None, Depends(VERIFIER)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="retry-safe writes: the same key and body answer the first result again",
    ),
]
# a licence: its id (0x + 64 hex digits) or its GB/T 36904 identifier (1.2.156.3005.2.…); a
# malformed one is refused with the reason (422), by the service that resolves it
LicenceId = Annotated[
    str,
    Path(
        description="0x + 64 hex digits, or the GB/T 36904 identifier (1.2.156.3005.2.…)",
        min_length=1,
        max_length=700,
    ),
]


async def payload(
    request: Request, runtime: Runtime, file_field: str = "document"
) -> tuple[dict[str, Any], bytes | None]:
    api = runtime.settings.api
    return await _read_payload(
        request,
        max_file_bytes=api.max_upload_bytes,
        max_depth=api.max_json_depth,
        file_field=file_field,
    )


# --- request bodies ------------------------------------------------------------------------------

TimeValue = StrictInt | StrictStr
Metadata = dict[str, Any]


class IssueBody(Body):
    """One licence. Dates are Beijing dates (``validUntil`` is the last valid day)."""

    type: str = Field(min_length=1, max_length=64, pattern=CODE_PATTERN)
    serial_number: str = Field(alias="serialNumber", min_length=1, max_length=64)
    holder_uscc: str | None = Field(default=None, alias="holderUscc", max_length=64)
    holder_citizen_id: str | None = Field(default=None, alias="holderCitizenId", max_length=64)
    holder_address: str | None = Field(default=None, alias="holderAddress", max_length=64)
    document_hash: str | None = Field(
        default=None, alias="documentHash", max_length=80, description="or send 'document'"
    )
    valid_from: TimeValue = Field(alias="validFrom", description="YYYY-MM-DD, ISO or unix s")
    valid_until: TimeValue | None = Field(default=None, alias="validUntil")
    metadata: Metadata | None = None
    holder_name: str | None = Field(
        default=None,
        alias="holderName",
        max_length=200,
        description="the holder's name (GB/T 36903 持证主体); kept for an enterprise, never "
        "for a person",
    )

    @field_validator("metadata")
    @classmethod
    def _no_ids(cls, v: Metadata | None) -> Metadata | None:
        refuse_citizen_ids(v, "metadata")
        return v

    @field_validator("holder_name")
    @classmethod
    def _clean_name(cls, v: str | None) -> str | None:
        if v is None:
            return None
        refuse_citizen_ids(v, "holderName")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in v):
            raise ValueError("holderName: control characters are not allowed")
        return v.strip() or None


class BatchBody(Body):
    licences: list[IssueBody] = Field(min_length=1, max_length=100)


class SuspendBody(Body):
    reason_code: StrictInt | StrictStr = Field(
        alias="reasonCode", description="GET /v1/reason-codes"
    )
    note: str | None = Field(default=None, max_length=1000)


class ReinstateBody(Body):
    note: str | None = Field(default=None, max_length=1000)


class AmendBody(Body):
    document_hash: str | None = Field(
        default=None, alias="documentHash", max_length=80, description="or send 'document'"
    )
    valid_until: TimeValue | None = Field(default=None, alias="validUntil")
    note: str | None = Field(default=None, max_length=1000)
    # a person's sealed licence: its seal covers the citizen ID, which the node does not keep
    holder_citizen_id: str | None = Field(default=None, alias="holderCitizenId", max_length=64)
    holder_name: str | None = Field(default=None, alias="holderName", max_length=200)


class BindHolderBody(Body):
    holder_address: str = Field(alias="holderAddress", max_length=64)
    note: str | None = Field(default=None, max_length=1000)


class TypeBody(Body):
    code: str = Field(pattern=CODE_PATTERN, max_length=64)
    category: str = Field(max_length=16)
    zh: str = Field(min_length=1, max_length=100)
    en: str = Field(min_length=1, max_length=200)
    holder: str = Field(default="enterprise", pattern="^(enterprise|person|any)$")
    type_code: str | None = Field(
        default=None,
        alias="typeCode",
        max_length=30,
        description="GB/T 36902: the defining department's USCC + a 3-digit sequence",
    )
    fingerprint: str = Field(default="sha256", pattern="^(sha256|sm3)$")


class AuthorisationBody(Body):
    department: str = Field(max_length=64, description="a department name or its address")
    roles: list[str] = Field(max_length=4)


def to_input(body: IssueBody, file_hash: bytes | None = None) -> IssueInput:
    doc = doc_hash_of(body.document_hash, file_hash)
    assert doc is not None
    metadata = body.metadata
    if body.holder_name and body.holder_uscc is not None:
        # an enterprise's name is public: kept with the issuance's attributes (a person's never)
        given = (metadata or {}).get("holderName")
        if given is not None and given != body.holder_name:
            raise InputError(
                "holderName and metadata.holderName differ; send one", field="holderName"
            )
        metadata = {**(metadata or {}), "holderName": body.holder_name}
    return IssueInput(
        type=body.type,
        serial_number=body.serial_number,
        doc_hash=doc,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        holder_uscc=body.holder_uscc,
        holder_citizen_id=body.holder_citizen_id,
        holder_address=body.holder_address,
        metadata=metadata,
        holder_name=body.holder_name,  # for the seal; stored only as above
    )


# --- types and reason codes --------------------------------------------------------------------


@router.get("/v1/licence-types", responses=READ_ERRORS)
async def list_types(service: Licences) -> dict[str, Any]:
    types = await run_in_threadpool(service.types)
    return {
        "categories": [
            {"code": c.code, "zh": c.zh, "en": c.en} for c in service.catalogue.categories
        ],
        "types": [t.to_json() for t in types],
    }


@router.post(
    "/v1/licence-types",
    status_code=201,
    response_model=RegisteredType,
    responses=WRITE_ERRORS,
    openapi_extra=request_body(TypeBody),
)
async def register_type(
    request: Request, runtime: Runtime, caller: Admin, service: Licences
) -> RegisteredType:
    """Register a licence type on chain (admin)."""
    fields, _ = await payload(request, runtime)
    body = validated(TypeBody, fields)
    t = LicenceType(
        body.code,
        body.category,
        body.zh,
        body.en,
        body.holder,  # type: ignore[arg-type]
        type_code=parse_type_code(body.type_code) if body.type_code else None,
        type_code_source="local" if body.type_code else None,
        fingerprint=body.fingerprint,  # type: ignore[arg-type]
    )
    return await run_in_threadpool(service.register_type, caller, t)


@router.post(
    "/v1/licence-types/{code}/authorisations",
    response_model=Authorisation,
    responses=WRITE_ERRORS,
    openapi_extra=request_body(AuthorisationBody),
)
async def authorise(
    code: Annotated[str, Path(pattern=CODE_PATTERN, max_length=64)],
    request: Request,
    runtime: Runtime,
    caller: Admin,
    service: Licences,
) -> Authorisation:
    """Authorise a department on chain to issue and/or supervise a type (admin)."""
    fields, _ = await payload(request, runtime)
    body = validated(AuthorisationBody, fields)
    return await run_in_threadpool(service.authorise, caller, code, body.department, body.roles)


@router.post("/v1/department-keys/{key}/retire", responses=WRITE_ERRORS)
async def retire_key(key: str, service: Licences, caller: Caller) -> RetiredKey:
    needs_token(caller, "admin")
    return await run_in_threadpool(service.retire_key, caller, key)


@router.get("/v1/reason-codes")
async def reason_codes() -> dict[str, Any]:
    return {"codes": [{"code": r.code, "zh": r.zh, "en": r.en} for r in reasons().values()]}


# --- issuance ------------------------------------------------------------------------------------


@router.post(
    "/v1/licences",
    status_code=201,
    response_model=IssuedLicence,
    responses=WRITE_ERRORS,
    openapi_extra=request_body(
        IssueBody,
        file_field="document",
        description="JSON with documentHash, or multipart with the document file",
    ),
)
async def issue(
    request: Request,
    runtime: Runtime,
    caller: Department,
    service: Licences,
    key: IdempotencyKey = None,
) -> IssuedLicence:
    """Issue one licence (a department)."""
    key = idempotency_key(key)
    fields, file_hash = await payload(request, runtime)
    body = validated(IssueBody, fields)
    # an uploaded document is fingerprinted as its type says (SHA-256 or SM3)
    fingerprint = "sha256"
    if file_hash is not None:
        fingerprint = await run_in_threadpool(service.fingerprint_of_type, body.type)
    item = to_input(body, pick_digest(file_hash, fingerprint))
    return await run_in_threadpool(service.issue, caller, item, key)


@router.post(
    "/v1/licences:batch",
    status_code=201,
    response_model=IssuedBatch,
    responses=WRITE_ERRORS,
    openapi_extra=request_body(BatchBody, multipart=False),
)
async def issue_batch(
    request: Request,
    runtime: Runtime,
    caller: Department,
    service: Licences,
    key: IdempotencyKey = None,
) -> IssuedBatch:
    """Issue up to 100 licences in one transaction (a department); all or nothing."""
    key = idempotency_key(key)
    fields, _ = await payload(request, runtime)
    body = validated(BatchBody, fields)
    items = [to_input(b) for b in body.licences]
    return await run_in_threadpool(service.issue_batch, caller, items, key)


# --- reads and lifecycle -------------------------------------------------------------------------


@read_router.get("/v1/licences/{licence_id}", response_model=LicenceDetail, responses=READ_ERRORS)
async def get_licence(licence_id: LicenceId, request: Request) -> Response | LicenceDetail:
    service = licences_of(runtime_of(request))  # a hot route: no dependency resolution
    if looks_like_gbt_identifier(licence_id):  # may wait for the indexer (a new type)
        lid, ident = await run_in_threadpool(service.resolve, licence_id)
    else:
        lid, ident = service.resolve(licence_id)
    # from the read model on the event loop; to a thread only when the answer must wait
    body = service.queries.get_json_now(lid)
    if body is None:
        body = (await run_in_threadpool(service.get, lid)).body()
    service.check_identifier(body, ident)  # and the number, if this node never saw it
    return FastJSONResponse(body)


@router.post(
    "/v1/licences/{licence_id}/suspend",
    response_model=LifecycleChange,
    responses=WRITE_ERRORS,
    openapi_extra=request_body(SuspendBody),
)
async def suspend(
    licence_id: LicenceId,
    request: Request,
    runtime: Runtime,
    caller: Department,
    service: Licences,
    key: IdempotencyKey = None,
) -> LifecycleChange:
    """Suspend an active licence with a reason code (GET /v1/reason-codes)."""
    lid = await run_in_threadpool(service.licence_id, licence_id)
    key = idempotency_key(key)
    body = validated(SuspendBody, (await payload(request, runtime))[0])
    return await run_in_threadpool(service.suspend, caller, lid, body.reason_code, body.note, key)


@router.post(
    "/v1/licences/{licence_id}/reinstate",
    response_model=LifecycleChange,
    responses=WRITE_ERRORS,
    openapi_extra=request_body(ReinstateBody, required=False),
)
async def reinstate(
    licence_id: LicenceId,
    request: Request,
    runtime: Runtime,
    caller: Department,
    service: Licences,
    key: IdempotencyKey = None,
) -> LifecycleChange:
    """Lift a suspension."""
    lid = await run_in_threadpool(service.licence_id, licence_id)
    key = idempotency_key(key)
    body = validated(ReinstateBody, (await payload(request, runtime))[0])
    return await run_in_threadpool(service.reinstate, caller, lid, body.note, key)


@router.post(
    "/v1/licences/{licence_id}/revoke",
    response_model=LifecycleChange,
    responses=WRITE_ERRORS,
    openapi_extra=request_body(SuspendBody),
)
async def revoke(
    licence_id: LicenceId,
    request: Request,
    runtime: Runtime,
    caller: Department,
    service: Licences,
    key: IdempotencyKey = None,
) -> LifecycleChange:
    """Revoke a licence for good, with a reason code."""
    lid = await run_in_threadpool(service.licence_id, licence_id)
    key = idempotency_key(key)
    body = validated(SuspendBody, (await payload(request, runtime))[0])
    return await run_in_threadpool(service.revoke, caller, lid, body.reason_code, body.note, key)


@router.post(
    "/v1/licences/{licence_id}/amend",
    response_model=LifecycleChange,
    responses=WRITE_ERRORS,
    openapi_extra=request_body(AmendBody, file_field="document"),
)
async def amend(
    licence_id: LicenceId,
    request: Request,
    runtime: Runtime,
    caller: Department,
    service: Licences,
    key: IdempotencyKey = None,
) -> LifecycleChange:
    """A new version of the licence document (and optionally a new last valid day)."""
    lid = await run_in_threadpool(service.licence_id, licence_id)
    key = idempotency_key(key)
    fields, file_hash = await payload(request, runtime)
    body = validated(AmendBody, fields)
    fingerprint = "sha256"
    if file_hash is not None:  # an upload is fingerprinted as the licence's type says
        fingerprint = await run_in_threadpool(service.fingerprint_of, lid)
    doc = doc_hash_of(body.document_hash, pick_digest(file_hash, fingerprint))
    assert doc is not None
    return await run_in_threadpool(
        service.amend,
        caller,
        lid,
        doc,
        body.valid_until,
        body.note,
        key,
        body.holder_citizen_id,
        body.holder_name,
    )


@router.post(
    "/v1/licences/{licence_id}/bind-holder",
    response_model=LifecycleChange,
    responses=WRITE_ERRORS,
    openapi_extra=request_body(BindHolderBody),
)
async def bind_holder(
    licence_id: LicenceId,
    request: Request,
    runtime: Runtime,
    caller: Department,
    service: Licences,
    key: IdempotencyKey = None,
) -> LifecycleChange:
    """Bind the holder's wallet address to the licence."""
    lid = await run_in_threadpool(service.licence_id, licence_id)
    key = idempotency_key(key)
    body = validated(BindHolderBody, (await payload(request, runtime))[0])
    return await run_in_threadpool(
        service.bind_holder, caller, lid, body.holder_address, body.note, key
    )


# --- names other routers used before the guards existed ----------------------------------------

# the caller, if it sent a token (prefer a Guard with the kinds the route needs)
Caller = Verifier
read_payload = payload


def needs_token(caller: Principal | None, *kinds: PrincipalKind) -> None:
    """401 without a token, 403 for the wrong kind (a Guard does this before the body is read)."""
    anyone: tuple[PrincipalKind, ...] = ("department", "clerk", "admin", "service")
    require(caller, *(kinds or anyone), action="do this")
