"""Open credentials (issue 21): a licence the enterprise holds as a VC-JWT or an SD-JWT VC, and an
SD-JWT VC presentation with the fields the enterprise chooses (docs/credentials.md)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import Field

from credledger.node.core.http.limits import BoundedJsonRoute
from credledger.wallet.api.deps import ERRORS, Body, CurrentCaller, Runtime
from credledger.wallet.credentials import CredentialPresenter

router = APIRouter(tags=["credentials"], route_class=BoundedJsonRoute, responses=ERRORS)


class CredentialPresentationBody(Body):
    licence_id: str = Field(alias="licenceId", max_length=66)
    disclose: list[str] = Field(max_length=16, description="the GB/T 36903 fields to reveal")
    nonce: str = Field(min_length=1, max_length=200, description="the verifier's nonce")
    audience: str = Field(min_length=1, max_length=500, description="the verifier (its aud)")


@router.post("/v1/credentials/presentations", status_code=201)
def present_credential(
    body: CredentialPresentationBody, caller: CurrentCaller, runtime: Runtime
) -> dict[str, Any]:
    """An SD-JWT VC of the licence, signed by its department, revealing only ``disclose``, with a
    key-binding JWT by the enterprise's holder key for the verifier's ``nonce`` and ``audience``;
    the verifier checks it at any node (``POST /v1/credentials/verify``) or with any SD-JWT
    library."""
    presenter = CredentialPresenter(runtime.presentations, runtime.accounts, runtime.node)
    return presenter.present(caller, body.licence_id, body.disclose, body.nonce, body.audience)


@router.get(
    "/v1/credentials/{licence_id}",
    responses={200: {"content": {"application/vc+jwt": {}, "application/dc+sd-jwt": {}}}},
    response_class=Response,
)
def export_credential(
    licence_id: str,
    caller: CurrentCaller,
    runtime: Runtime,
    format: Literal["vc-jwt", "sd-jwt"] = Query("vc-jwt"),
) -> Response:
    """A licence the enterprise holds as a W3C VC 2.0 (``vc-jwt``) or an SD-JWT VC (``sd-jwt``,
    bound to the enterprise's holder key where the wallet keeps its key), signed by the issuing
    department's credential key registered on chain."""
    presenter = CredentialPresenter(runtime.presentations, runtime.accounts, runtime.node)
    text = presenter.export(caller, licence_id, format)
    media = "application/vc+jwt" if format == "vc-jwt" else "application/dc+sd-jwt"
    return Response(text, media_type=media)
