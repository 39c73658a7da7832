"""Selective disclosure (issue 21): an SD-JWT VC presentation of a licence, with the fields the
enterprise chooses (docs/credentials.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
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
