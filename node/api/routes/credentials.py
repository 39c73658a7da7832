"""Open credentials (issue 21, docs/credentials.md): a licence as a VC-JWT or an SD-JWT VC, and
the verification of either against the chain."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from credledger.node.api.deps import Runtime, ServiceUnavailable, runtime_of
from credledger.node.api.responses import FastJSONResponse
from credledger.node.api.routes._bodies import (
    READ_ERRORS,
    WRITE_ERRORS,
    Body,
    request_body,
    validated,
)
from credledger.node.api.routes.licences import payload
from credledger.node.api.security import BEARER_DOC, Guard, GuardedRoute
from credledger.node.auth import Principal
from credledger.node.credentials.service import CredentialService
from credledger.node.runtime import NodeRuntime

router = APIRouter(tags=["credentials"], route_class=GuardedRoute)
Exporter = Annotated[Principal | None, Depends(Guard(action="export a credential"))]
VERIFY_GUARD = Guard(action="verify a credential")
CA_READER = Annotated[Principal | None, Depends(Guard(action="read the issuer CA"))]
PEM_CHAIN = "application/pem-certificate-chain"  # RFC 8555 §9.1
MEDIA = {"vc-jwt": "application/vc+jwt", "sd-jwt": "application/dc+sd-jwt"}


def credentials_of(runtime: NodeRuntime) -> CredentialService:
    service = runtime.credentials
    if service is None:
        raise ServiceUnavailable("credentials are off: the manifest has no LicenceRegistry")
    return service


class CredentialVerifyBody(Body):
    credential: str = Field(max_length=65_536, description="a VC-JWT or an SD-JWT VC")
    nonce: str | None = Field(default=None, max_length=200, description="the KB-JWT's nonce")
    audience: str | None = Field(default=None, max_length=500, description="the KB-JWT's aud")


_TEXT = {"schema": {"type": "string"}}
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the credential (compact serialisation)",
        "content": {"application/vc+jwt": _TEXT, "application/dc+sd-jwt": _TEXT},
    },
    **WRITE_ERRORS,
}


@router.get(
    "/v1/licences/{licence_id}/credential",
    response_class=Response,
    responses=EXPORT_RESPONSES,
)
async def licence_credential(
    licence_id: str,
    caller: Exporter,
    runtime: Runtime,
    format: Annotated[Literal["vc-jwt", "sd-jwt"], Query()] = "vc-jwt",
    holder_jwk: Annotated[str | None, Query(alias="holderJwk", max_length=2000)] = None,
) -> Response:
    """The licence (id or GB/T 36904 identifier) as a W3C VC 2.0 secured as ``vc+jwt``
    (``application/vc+jwt``) or an SD-JWT VC (``application/dc+sd-jwt``), signed by the issuing
    department's credential key (a node of that department answers; 409 ``no_credential_key``
    elsewhere). ``holderJwk`` (a P-256 JWK, JSON or base64url) binds an SD-JWT VC to the holder's
    key (``cnf``); it needs the issuing department's or the wallet's token."""
    service = credentials_of(runtime)
    text = await run_in_threadpool(
        service.export, licence_id, format, holder=holder_jwk, principal=caller
    )
    return Response(text, media_type=MEDIA[format])


@router.post(
    "/v1/credentials/verify",
    responses=WRITE_ERRORS,
    openapi_extra={**request_body(CredentialVerifyBody, multipart=False), **BEARER_DOC},
)
async def verify_credential(request: Request) -> Response:
    """Verdict VALID, SUSPENDED, REVOKED, EXPIRED, NOT_YET_VALID, SUPERSEDED, TAMPERED or UNKNOWN
    of a VC-JWT or an SD-JWT VC presentation (with its key-binding JWT checked against ``nonce``
    and ``audience``), with reasons, the issuer's on-chain key and the fields ``disclosed``."""
    # a hot route (node.api.security): the guard first, no dependency resolution; judged on the
    # event loop from the read model, in a thread only when it must wait for the indexer
    await VERIFY_GUARD.check(request)
    runtime = runtime_of(request)
    service = credentials_of(runtime)
    body = validated(CredentialVerifyBody, (await payload(request, runtime))[0])
    answer = service.verify(body.credential, nonce=body.nonce, audience=body.audience, wait=False)
    if answer is None:
        answer = await run_in_threadpool(
            service.verify, body.credential, nonce=body.nonce, audience=body.audience
        )
    return FastJSONResponse(answer)


@router.get(
    "/v1/credentials/issuer-ca.pem",
    response_class=Response,
    responses={
        200: {"description": "the CA certificate (PEM)", "content": {PEM_CHAIN: _TEXT}},
        **READ_ERRORS,
        401: WRITE_ERRORS[401],  # no token is needed, but one that is sent must be known
    },
)
async def issuer_ca(_caller: CA_READER, runtime: Runtime) -> Response:
    """The devnet issuer CA certificate: the trust anchor of the ``x5c`` chains in this node's
    credentials and status lists (docs/credentials.md "Issuer certificates"). 404
    ``no_issuer_ca`` outside a devnet (the operator's CA issues the certificates there)."""
    pem = credentials_of(runtime).issuer_ca_pem()
    return Response(pem, media_type=PEM_CHAIN, headers={"Cache-Control": "public, max-age=300"})
