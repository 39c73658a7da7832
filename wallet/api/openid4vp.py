"""OpenID4VP 1.0 (issue 22): the enterprise answers a verifier's request — what is asked and by
whom, the presentation of the chosen licences, or a refusal (docs/openid4vp.md, "Holder: our
wallet"). The verifier's own failures answer 502 (``verifier_error``) or 409
(``verifier_refused``: the request was answered already or expired)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from credledger.node.core.http.limits import BoundedJsonRoute
from credledger.wallet.api.deps import ERRORS, Body, CurrentCaller, Runtime, error_doc
from credledger.wallet.openid4vp import Choice

RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    502: error_doc("the verifier did not answer, or answered with an error (its code named)"),
    503: error_doc("the node did not answer"),
}
router = APIRouter(tags=["openid4vp"], route_class=BoundedJsonRoute, responses=RESPONSES)


class LinkBody(Body):
    link: str = Field(min_length=1, max_length=4096, description="openid4vp://?client_id=…")


class RespondBody(LinkBody):
    choices: dict[str, Choice] = Field(
        max_length=8, description="credential query id → the licence and the fields it discloses"
    )


@router.post("/v1/openid4vp/resolve")
def resolve(body: LinkBody, caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    """Fetch and check the verifier's signed request: who asks (its certificate, whether this
    wallet trusts it), what (each DCQL credential query) and which held licences answer it."""
    return runtime.openid4vp.resolve(caller, body.link)


@router.post("/v1/openid4vp/respond")
def respond(body: RespondBody, caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    """Present the chosen licences (SD-JWT VC with a key-binding JWT for the request's nonce and
    the verifier's client_id) to the verifier; its answer status and redirect_uri."""
    return runtime.openid4vp.respond(caller, body.link, body.choices)


@router.post("/v1/openid4vp/decline")
def decline(body: LinkBody, caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    """Tell the verifier the enterprise declines (``access_denied``)."""
    return runtime.openid4vp.decline(caller, body.link)
