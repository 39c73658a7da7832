"""GET /health: chain id, latest block, contract addresses (and what workers add)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from credledger.node import __version__
from credledger.node.api.deps import Runtime

router = APIRouter(tags=["health"])


@router.get("/health")
def health(runtime: Runtime) -> dict[str, Any]:
    chain = runtime.chain
    body: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "chainId": chain.chain_id,
        "rpcUrl": chain.rpc_url,
        "latestBlock": chain.w3.eth.block_number,
        "contracts": runtime.contracts,
        "signer": runtime.sender.address,
    }
    body.update(runtime.component_health())
    return body
