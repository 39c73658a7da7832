"""Reuse by the grantee: redeem a use recorded on chain for the asset's content."""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field

from credledger.node.core.http.limits import BoundedJsonRoute
from credledger.wallet.api.deps import ERRORS, Body, CurrentCaller, Runtime
from credledger.wallet.api.materials import content_disposition

router = APIRouter(tags=["reuse"], route_class=BoundedJsonRoute, responses=ERRORS)


class UseBody(Body):
    request: dict[str, Any] = Field(
        description="useTransaction, holder, assetId, purpose, nonce, expiresAt"
    )
    signature: str = Field(max_length=200)


@router.get("/v1/info")
def info(runtime: Runtime) -> dict[str, Any]:
    """Chain id, ConsentRegistry address and the EIP-712 domain of fetch requests."""
    return runtime.reuse.info()


@router.post("/v1/uses")
def redeem_use(body: UseBody, runtime: Runtime) -> Response:
    """The grantee redeems one on-chain use (ConsentUsed) for the asset; 403 + reason if refused."""
    out = runtime.reuse.redeem(body.request, body.signature)
    receipt = base64.urlsafe_b64encode(json.dumps(out.receipt).encode()).decode()
    return Response(
        out.content,
        media_type=out.media_type,
        headers={
            **out.headers,
            "X-Credledger-Use-Receipt": receipt,
            "Content-Disposition": content_disposition(out.file_name),
        },
    )


@router.get("/v1/assets")
def assets(caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    """Licences (bound to the holder address, or issued to the USCC and unbound) and materials."""
    return runtime.assets.assets(caller)


@router.get("/v1/history")
def history(caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    """Everything done with the enterprise's assets, and every use recorded on chain."""
    return runtime.assets.history(caller)
