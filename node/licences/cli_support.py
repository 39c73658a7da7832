"""Helpers the CLI calls (kept here so the shared command modules stay small)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from credledger.node.core.chain import Chain
from credledger.node.core.errors import DeploymentError
from credledger.node.core.manifest import addresses
from credledger.node.core.tx import TxSender
from credledger.node.licences.catalogue import load_catalogue
from credledger.node.licences.service import register_catalogue


def register_shipped_catalogue(
    chain: Chain, admin: TxSender, manifest: dict[str, Any], say: Callable[[str], None]
) -> int:
    """`credledger deploy --with-catalogue`: register every shipped type not yet on chain."""
    address = addresses(manifest).get("LicenceRegistry")
    if address is None:
        raise DeploymentError("the manifest has no LicenceRegistry to register licence types in")
    catalogue = load_catalogue()
    n = register_catalogue(chain, address, admin, catalogue, progress=say)
    say(f"licence types: {n} registered now, {len(catalogue.types)} in the catalogue")
    return n
