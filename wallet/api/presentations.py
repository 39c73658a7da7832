"""Presentations (the QR code shown at a counter) and the device keys that sign them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from credledger.node.core.http.limits import BoundedJsonRoute
from credledger.wallet.api.deps import ERRORS, Body, CurrentCaller, Runtime

router = APIRouter(tags=["presentations"], route_class=BoundedJsonRoute, responses=ERRORS)


class PresentationBody(Body):
    asset_ids: list[str] = Field(alias="assetIds", min_length=1, max_length=8)
    audience: str | None = Field(
        default=None, max_length=64, description="a department, or department/counter"
    )
    ttl: int | None = Field(default=None, ge=10, le=300, description="seconds (default 120)")


class DeviceBody(Body):
    public_key: str = Field(
        alias="publicKey", max_length=400, description="P-256 public key: PEM or hex of 04…"
    )
    asset_ids: list[str] = Field(alias="assetIds", min_length=1, max_length=8)
    expires_at: int | str = Field(alias="expiresAt", description="unix seconds or ISO 8601")
    label: str | None = Field(default=None, max_length=64)


@router.post("/v1/presentations", status_code=201)
def create_presentation(
    body: PresentationBody, caller: CurrentCaller, runtime: Runtime
) -> dict[str, Any]:
    """A signed token for the caller's assets (``CLP1…``), its QR code as SVG and its expiry."""
    return runtime.presentations.create(caller, body.asset_ids, body.audience, body.ttl)


@router.get("/v1/presentations")
def list_presentations(caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    """Recent presentations with the node's checks of each (verifications at counters)."""
    return {"presentations": runtime.presentations.list(caller)}


@router.post("/v1/devices", status_code=201)
def register_device(body: DeviceBody, caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    """Delegate assets to a phone's P-256 key (COUNTER-PRESENTATION grants, relayed)."""
    return runtime.presentations.register_device(
        caller, body.public_key, body.asset_ids, body.expires_at, body.label
    )
