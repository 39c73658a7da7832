"""The deployment manifest (``deployments/<chainId>.json``): reading it, checking it names the chain
it is used with, and the contract addresses it records. Written by ``credledger deploy``
(``node/deploy.py``); read by the node and by every package that talks to the same contracts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from credledger.node.core.chain import Chain
from credledger.node.core.errors import DeploymentError, WrongChainError

MANIFEST_FORMAT = "credledger-deployment-1"


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeploymentError(f"no manifest at {path}; run `credledger deploy` first") from None
    except ValueError as exc:
        raise DeploymentError(f"manifest {path} is not valid JSON: {exc}") from None
    if data.get("format") != MANIFEST_FORMAT or "contracts" not in data:
        raise DeploymentError(f"{path} is not a credledger deployment manifest")
    return data


def check_manifest_chain(manifest: dict[str, Any], chain: Chain, path: Path) -> None:
    if int(manifest.get("chainId", -1)) != chain.chain_id:
        raise WrongChainError(
            f"manifest {path} is for chain {manifest.get('chainId')}, "
            f"but {chain.rpc_url} is chain {chain.chain_id}"
        )


def addresses(manifest: dict[str, Any]) -> dict[str, str]:
    return {name: c["address"] for name, c in manifest["contracts"].items()}
