"""Grants: prepare typed data, grant (custodial or externally signed), list, revoke."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import Field

from credledger.node.core.http.limits import BoundedJsonRoute
from credledger.wallet.api.deps import ERRORS, Body, CurrentCaller, Runtime
from credledger.wallet.grants import GrantInput

router = APIRouter(tags=["grants"], route_class=BoundedJsonRoute, responses=ERRORS)


class GrantBody(Body):
    asset_id: str = Field(alias="assetId", max_length=80)
    grantee: str = Field(max_length=64)
    purpose: str = Field(max_length=64)
    expires_at: int | str = Field(alias="expiresAt")
    max_uses: int = Field(default=0, alias="maxUses", ge=0, lt=2**32)
    deadline: int | None = Field(default=None, ge=0, lt=2**63)
    signature: str | None = Field(default=None, max_length=200)

    def item(self) -> GrantInput:
        return GrantInput(self.asset_id, self.grantee, self.purpose, self.expires_at,
                          self.max_uses, self.deadline, self.signature)  # fmt: skip


class RevokeBody(Body):
    deadline: int | None = Field(default=None, ge=0, lt=2**63)
    signature: str | None = Field(default=None, max_length=200)


@router.get("/v1/purposes")
def purpose_catalogue(runtime: Runtime) -> dict[str, Any]:
    return {"purposes": runtime.grants.purposes()}


@router.post("/v1/grants/typed-data")
def grant_typed_data(body: GrantBody, caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    """The EIP-712 payload for ``eth_signTypedData_v4`` (non-custodial enterprises)."""
    return runtime.grants.typed_data(caller, body.item())


@router.post("/v1/grants", status_code=201)
def create_grant(
    body: GrantBody,
    caller: CurrentCaller,
    runtime: Runtime,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> dict[str, Any]:
    """Grant a grantee the use of an asset for a purpose until a date (relayed grantBySig).

    With an ``Idempotency-Key`` header a retry answers the first request's grant (409 if the key
    came with a different request). Without one, a request whose slot already holds an active
    grant with the same terms answers that grant (``existing: true``) and relays nothing."""
    return runtime.grants.grant(caller, body.item(), idempotency_key)


@router.get("/v1/grants")
def list_grants(caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    return {"grants": runtime.grants.list(caller)}


@router.get("/v1/grants/{grant_id}")
def get_grant(grant_id: str, caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    return runtime.grants.get(caller, grant_id)


@router.post("/v1/grants/{grant_id}/revoke/typed-data")
def revoke_typed_data(grant_id: str, caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    return runtime.grants.revoke_typed_data(caller, grant_id)


@router.post("/v1/grants/{grant_id}/revoke")
def revoke_grant(
    grant_id: str, caller: CurrentCaller, runtime: Runtime, body: RevokeBody | None = None
) -> dict[str, Any]:
    """Revoke (relayed revokeBySig); non-custodial: send the signed deadline and signature."""
    b = body or RevokeBody()
    return runtime.grants.revoke(caller, grant_id, b.deadline, b.signature)
