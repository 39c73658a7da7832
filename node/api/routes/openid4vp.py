"""OpenID4VP 1.0 at the counter (issue 22, docs/openid4vp.md): a clerk's presentation request,
its signed request object, the wallet's ``direct_post`` response and the verdict."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

import segno
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from credledger.node.api.deps import Runtime, ServiceUnavailable, runtime_of
from credledger.node.api.responses import FastJSONResponse
from credledger.node.api.routes._bodies import WRITE_ERRORS, Body, request_body, validated
from credledger.node.api.routes.licences import payload
from credledger.node.api.security import BEARER_DOC, Guard, GuardedRoute
from credledger.node.auth import Principal
from credledger.node.core.errors import InputError
from credledger.node.openid4vp import dcql
from credledger.node.openid4vp.service import MAX_VP_TOKEN, PresentationVerifierOID4VP
from credledger.node.runtime import NodeRuntime

router = APIRouter(tags=["openid4vp"], route_class=GuardedRoute)
CLERK_GUARD = Guard("clerk", "department", action="ask a wallet")
Clerk = Annotated[Principal | None, Depends(CLERK_GUARD)]
WALLET_GUARD = Guard(action="answer a presentation request")
RequestId = Annotated[str, Path(max_length=80, pattern=r"^[A-Za-z0-9_-]+$")]


def verifier_of(runtime: NodeRuntime) -> PresentationVerifierOID4VP:
    service = runtime.openid4vp
    if service is None:
        raise ServiceUnavailable("OpenID4VP is off: the node has no credential service")
    return service


class PresentationRequestBody(Body):
    dcqlQuery: dict[str, Any] | None = Field(default=None, description="a DCQL query")
    licenceTypes: list[str] | None = Field(
        default=None, max_length=dcql.MAX_CREDENTIALS, description="or: the matter's types"
    )
    fields: list[str] | None = Field(
        default=None, max_length=dcql.MAX_CLAIMS, description="the fields to disclose"
    )
    anyOf: bool | None = Field(
        default=None,
        description="with licenceTypes: one licence of any of the types is enough (a DCQL "
        "credential set with one option per type), not one of each",
    )
    responseMode: Literal["direct_post", "direct_post.jwt"] = Field(
        default="direct_post", description="direct_post.jwt: the response encrypted (HAIP)"
    )
    flow: Literal["cross-device", "same-device"] = Field(
        default="cross-device",
        description="same-device: the wallet's browser is sent back to the result page",
    )


def qr_svg(text: str, scale: int = 4, omitsize: bool = False) -> tuple[str, int]:
    """The QR code (level M) as inline SVG; ``omitsize``: a ``viewBox`` only, sized by CSS."""
    qr = segno.make(text, error="m", micro=False, boost_error=False)
    return qr.svg_inline(scale=scale, omitsize=omitsize), int(qr.version)


def query_of(body: PresentationRequestBody) -> dict[str, Any]:
    """The DCQL query of a request body: ``dcqlQuery``, or the matter's types and fields."""
    if (body.dcqlQuery is None) == (body.licenceTypes is None):
        raise InputError("send either dcqlQuery or licenceTypes (with fields)", field="dcqlQuery")
    if body.dcqlQuery is not None:
        if body.fields is not None or body.anyOf is not None:
            field = "fields" if body.fields is not None else "anyOf"
            raise InputError(f"{field} goes with licenceTypes, not dcqlQuery", field=field)
        return dcql.checked(body.dcqlQuery)
    return dcql.from_matter(body.licenceTypes or [], body.fields, bool(body.anyOf))


@router.post(
    "/v1/presentation-requests",
    status_code=201,
    responses=WRITE_ERRORS,
    openapi_extra={**request_body(PresentationRequestBody, multipart=False), **BEARER_DOC},
)
async def create_presentation_request(request: Request) -> Response:
    """Start a request: a DCQL query (``dcqlQuery``) or a matter (``licenceTypes`` and
    ``fields``; ``anyOf``: one licence of any of the types) asking SD-JWT VCs. Answers its
    ``id``, the ``authorizationRequest`` (an ``openid4vp://`` URL passing the signed request
    object by reference) and its QR code."""
    caller = await CLERK_GUARD.check(request)
    assert caller is not None
    runtime = runtime_of(request)
    service = verifier_of(runtime)
    body = validated(PresentationRequestBody, (await payload(request, runtime))[0])
    query = query_of(body)

    def create() -> dict[str, Any]:
        # off the event loop: the QR code's mask choice alone is ~12 ms of CPU (bench/README.md)
        rid = service.create(caller, query, body.responseMode, None, body.flow)
        answer = service.describe(rid)
        svg, version = qr_svg(answer["authorizationRequest"])
        answer["qr"] = {"svg": svg, "version": version, "errorCorrection": "M"}
        return answer

    return FastJSONResponse(await run_in_threadpool(create), status_code=201)


@router.get("/v1/presentation-requests/{request_id}", responses=WRITE_ERRORS)
async def get_presentation_request(
    request_id: RequestId, caller: Clerk, runtime: Runtime
) -> Response:
    """The request's state (``pending``, ``answering``, ``answered``, ``failed``, ``expired``)
    and, once
    answered, the verdict, each credential's result and fields disclosed, and the record."""
    service = verifier_of(runtime)
    assert caller is not None
    return FastJSONResponse(await run_in_threadpool(service.describe, request_id, caller))


JWT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the signed request object (JAR)",
        "content": {"application/oauth-authz-req+jwt": {"schema": {"type": "string"}}},
    },
    **WRITE_ERRORS,
}


@router.get(
    "/v1/presentation-requests/{request_id}/request",
    response_class=Response,
    responses=JWT_RESPONSES,
    openapi_extra=BEARER_DOC,
)
async def presentation_request_object(request_id: RequestId, request: Request) -> Response:
    """The wallet fetches the signed request object here (``request_uri``)."""
    await WALLET_GUARD.check(request)
    service = verifier_of(runtime_of(request))
    jwt = await run_in_threadpool(service.request_object, request_id)
    return Response(jwt, media_type="application/oauth-authz-req+jwt")


async def _response_fields(request: Request) -> dict[str, Any]:
    """``vp_token`` and ``state`` of a form-encoded body (OpenID4VP's direct_post) or a JSON
    one (the same names; ``vp_token`` as an object or as its JSON text)."""
    raw = await request.body()
    if len(raw) > MAX_VP_TOKEN * 2:
        raise InputError("the response is too long", field="vp_token")
    try:
        text = raw.decode("utf-8")
        if request.headers.get("content-type", "").startswith("application/json"):
            body = json.loads(text)
            if not isinstance(body, dict):
                raise ValueError("not an object")
            if isinstance(body.get("vp_token"), dict):
                body["vp_token"] = json.dumps(body["vp_token"])
            return body
        form = parse_qs(text, keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise InputError(
            "the body is application/x-www-form-urlencoded (vp_token, state)", field="vp_token"
        ) from None
    return {k: v[0] for k, v in form.items()}


_FORM = {
    "type": "object",
    "properties": {
        "vp_token": {"type": "string", "description": "JSON: credential query id → [SD-JWT VC]"},
        "state": {"type": "string"},
        "response": {"type": "string", "description": "direct_post.jwt: the encrypted response"},
        "error": {"type": "string", "description": "the wallet's error response (with state)"},
        "error_description": {"type": "string"},
    },
}


@router.post(
    "/v1/presentation-requests/{request_id}/response",
    responses=WRITE_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": _FORM},
                "application/json": {"schema": _FORM},
            },
        },
        **BEARER_DOC,
    },
)
async def presentation_response(request_id: RequestId, request: Request) -> Response:
    """The wallet's ``direct_post`` (form-encoded ``vp_token`` and ``state``; ``response`` for
    ``direct_post.jwt``; or ``error`` and ``state``, which answers the request REFUSED). Taken
    once: a second response to the same request is refused (409 ``replayed``). Answers ``{}``;
    the verdict is read with ``GET /v1/presentation-requests/{id}``. A ``same-device``
    request answers ``{"redirect_uri"}``: the result page with a response code."""
    await WALLET_GUARD.check(request)
    service = verifier_of(runtime_of(request))
    f = await _response_fields(request)
    if "error" in f and "vp_token" not in f and "response" not in f:
        answer = await run_in_threadpool(
            service.declined, request_id, f["error"], f.get("error_description"), f.get("state")
        )
    else:
        answer = await run_in_threadpool(
            service.respond, request_id, f.get("vp_token"), f.get("state"), f.get("response")
        )
    return FastJSONResponse(answer)


@router.get(
    "/v1/presentation-requests/{request_id}/result",
    responses=WRITE_ERRORS,
    openapi_extra=BEARER_DOC,
)
async def presentation_result_for_holder(
    request_id: RequestId,
    request: Request,
    response_code: Annotated[str, Query(max_length=128)],
) -> Response:
    """The same-device flow's result, for whoever holds the response code the wallet's browser
    was sent back with: the verdict, each licence's type and the fields disclosed."""
    await WALLET_GUARD.check(request)
    service = verifier_of(runtime_of(request))
    body = await run_in_threadpool(service.result_for_holder, request_id, response_code)
    return FastJSONResponse(body)


@router.get("/v1/openid4vp/verifier", responses=WRITE_ERRORS, openapi_extra=BEARER_DOC)
async def verifier_identity(request: Request) -> Response:
    """This node's verifier: its ``clientId`` (``x509_hash:…``), its certificate chain
    (``x5c``, leaf first) and its ``name`` (the leaf's subject), so a wallet can trust its own
    node's verifier."""
    await WALLET_GUARD.check(request)
    identity = verifier_of(runtime_of(request)).identity
    return FastJSONResponse(
        {"clientId": identity.client_id, "x5c": identity.x5c, "name": identity.name}
    )
