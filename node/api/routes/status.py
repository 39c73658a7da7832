"""Status lists (issue 21, docs/credentials.md "Status lists"): per issuing department and list,
never per credential.

``GET /v1/status-lists/{issuer}/{list}/revocation`` and ``…/suspension``: the W3C
``BitstringStatusListCredential`` as ``application/vc+jwt``; ``…/token``: the IETF Status List
Token (``application/statuslist+jwt``, 2 bits per licence). Public (rate-limited by address like
other public reads). ``ETag`` by block, ``Cache-Control: public, max-age`` short, ``304`` on a
matching ``If-None-Match``; ``Credledger-Block`` names the indexed block the list is as of.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from credledger.node.api.routes._bodies import READ_ERRORS, WRITE_ERRORS
from credledger.node.api.security import Guard, GuardedRoute
from credledger.node.auth import Principal
from credledger.node.core.errors import InputError
from credledger.node.status.documents import StatusDocuments

READER = Guard(action="read status lists")
Reader = Annotated[Principal | None, Depends(READER)]
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_TEXT = {"schema": {"type": "string"}}


def router_for(documents: StatusDocuments, public_url: str | None = None) -> APIRouter:
    """The status-list routes over ``documents``; list URLs start with ``documents.base_url``
    (the base the exported credentials point at), else ``public_url``, else the request's URL."""
    router = APIRouter(tags=["status lists"], route_class=GuardedRoute)

    @router.get(
        "/v1/status-lists/{issuer}/{list_id}/{kind}",
        responses={
            200: {
                "content": {"application/vc+jwt": _TEXT, "application/statuslist+jwt": _TEXT},
                "description": "the signed list (a compact JWS)",
            },
            304: {"description": "not modified since the ETag given in If-None-Match"},
            **READ_ERRORS,
            401: WRITE_ERRORS[401],  # no token is needed, but one that is sent must be known
        },
        response_class=Response,
    )
    async def status_list(
        request: Request,
        _caller: Reader,
        issuer: str,
        kind: Literal["revocation", "suspension", "token"],
        list_id: Annotated[int, Path(ge=0, le=2**32)],
    ) -> Response:
        """One list of ``issuer`` (the department's address): ``revocation``, ``suspension``
        (W3C Bitstring Status List credentials) or ``token`` (IETF Token Status List)."""
        if not _ADDRESS.match(issuer):
            raise InputError("issuer must be a department's address (0x and 40 hex digits)")
        base = documents.base_url or public_url or str(request.base_url)
        served = await run_in_threadpool(documents.serve, base, issuer, list_id, kind)
        headers = {
            "ETag": served.etag,
            "Cache-Control": f"public, max-age={served.max_age}",
            "Credledger-Block": str(served.block),
        }
        match = request.headers.get("if-none-match", "")
        if served.etag in {t.strip() for t in match.split(",")} or match.strip() == "*":
            return Response(status_code=304, headers=headers)
        return Response(served.body, media_type=served.media_type, headers=headers)

    return router
