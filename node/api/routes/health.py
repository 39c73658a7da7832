"""GET /health: status, chain id, latest block, contract addresses (and what workers add).

Everyone sees those. The RPC URL (it can carry a provider's API key) and the signer address are
shown only to a caller with the node's admin token (``licences.admin_token_sha256``; on a devnet
with the demo, ``devnet-admin-token``). A missing or unknown token just gets the public view.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Header

from credledger.node import __version__
from credledger.node.api.deps import Runtime
from credledger.node.auth import hash_token
from credledger.node.demo.licences import demo_settings
from credledger.node.runtime import NodeRuntime

router = APIRouter(tags=["health"])


def admin_hashes(runtime: NodeRuntime) -> list[str]:
    settings = runtime.settings
    if settings.licences.demo:
        settings = demo_settings(settings)
    return [h.lower() for h in settings.licences.admin_token_sha256]


def is_admin(runtime: NodeRuntime, authorization: str | None) -> bool:
    if not authorization:
        return False
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    digest = hash_token(token.strip())
    return any(hmac.compare_digest(digest, h) for h in admin_hashes(runtime))


@router.get("/health")
def health(
    runtime: Runtime,
    authorization: Annotated[
        str | None,
        Header(description="`Bearer <admin token>` adds rpcUrl and signer to the answer"),
    ] = None,
) -> dict[str, Any]:
    chain = runtime.chain
    body: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "chainId": chain.chain_id,
        "latestBlock": chain.block_number(),
        "contracts": runtime.contracts,
    }
    if is_admin(runtime, authorization):
        body["rpcUrl"] = chain.rpc_url
        body["signer"] = runtime.sender.address
    body.update(runtime.component_health())
    return body


@router.get("/v1/ping")
async def ping() -> dict[str, bool]:
    """A trivial endpoint: no chain, no state. The benchmarks' reference (what the server itself
    can do through the node's own middleware)."""
    return {"ok": True}
