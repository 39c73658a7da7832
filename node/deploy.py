"""Deploy the project's contracts, keep a manifest per chain, and verify deployed bytecode.

The manifest ``deployments/<chainId>.json`` records each contract's address, deploy transaction,
block, deployer and artifact hash. ``verify_deployment`` compares the runtime code on chain with
the artifact's ``deployedBytecode``: immutable slots are taken from the chain code and checked to be
the only differences, so a match means the code is exactly what the committed sources compile to.
It then checks the wiring the bytecode cannot show: the ConsentRegistry's immutable
``licences()`` must be the manifest's LicenceRegistry, each admin-rules contract reports its
default admin and hand-over delay, and the PresentationLedger its version.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from web3 import Web3

from credledger.node.compiler import artifact_hash
from credledger.node.core.artifacts import load_artifact
from credledger.node.core.chain import Chain
from credledger.node.core.contracts._base import AdminRules
from credledger.node.core.contracts.anchor_registry import AnchorRegistry
from credledger.node.core.contracts.consent_registry import ConsentRegistry
from credledger.node.core.contracts.licence_registry import LicenceRegistry
from credledger.node.core.contracts.presentation_ledger import PresentationLedger
from credledger.node.core.errors import DeploymentError
from credledger.node.core.manifest import (
    MANIFEST_FORMAT,
    addresses,
    check_manifest_chain,
    load_manifest,
)
from credledger.node.core.tx import TxSender


@dataclass(frozen=True)
class ContractSpec:
    """One contract of the deployment plan, in dependency order."""

    name: str
    # constructor arguments, given the deployer address and the addresses deployed so far
    args: Callable[[str, dict[str, str]], list[Any]]
    # roles to grant after deployment: (role constant name, grantee function)
    roles: list[tuple[str, Callable[[str, dict[str, str]], str]]] = field(default_factory=list)


# how each contract is called once deployed (the typed bindings)
ADMIN_RULES: dict[str, type[AdminRules]] = {
    "AnchorRegistry": AnchorRegistry,
    "LicenceRegistry": LicenceRegistry,
}


def _deployer(deployer: str, _: dict[str, str]) -> str:
    return deployer


# Delay of a default-admin hand-over of LicenceRegistry and AnchorRegistry (both
# AccessControlDefaultAdminRules): one day gives the consortium time to notice and cancel a
# hand-over it did not intend.
LICENCE_ADMIN_DELAY = 86_400
ANCHOR_ADMIN_DELAY = 86_400


# The deployment plan: every contract in dependency order, with its constructor and roles.
# The deployer becomes admin; on devnets it also anchors (the node signs with the same key).
PLAN: list[ContractSpec] = [
    ContractSpec(
        "AnchorRegistry",
        args=lambda deployer, _: [ANCHOR_ADMIN_DELAY, deployer],
        roles=[("ANCHORER_ROLE", _deployer)],
    ),
    ContractSpec(
        "LicenceRegistry",
        args=lambda deployer, _: [LICENCE_ADMIN_DELAY, deployer],
    ),
    # No roles and no admin: every grant belongs to its holder; licence grants are checked against
    # the LicenceRegistry deployed above (an immutable constructor argument).
    ContractSpec("ConsentRegistry", args=lambda _deployer, deployed: [deployed["LicenceRegistry"]]),
    # No roles and no admin: the network-wide single-use store of presentations (a node spends
    # the statements of the tokens it accepts; docs/counter.md).
    ContractSpec("PresentationLedger", args=lambda _deployer, _deployed: []),
]


def deploy(
    chain: Chain,
    sender: TxSender,
    manifest_path: Path,
    *,
    force: bool = False,
    plan: list[ContractSpec] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Deploy the plan unless a manifest for this chain already exists; return (manifest, new)."""
    plan = plan if plan is not None else PLAN
    if manifest_path.is_file() and not force:
        manifest = load_manifest(manifest_path)
        check_manifest_chain(manifest, chain, manifest_path)
        if all(chain.code_at(c["address"]) for c in manifest["contracts"].values()):
            return manifest, False
        raise DeploymentError(
            f"manifest {manifest_path} names contracts with no code on chain {chain.chain_id} "
            "(was the devnet restarted?); use --force to deploy again"
        )
    deployer = sender.address
    addresses: dict[str, str] = {}
    contracts: dict[str, Any] = {}
    for spec in plan:
        art = load_artifact(spec.name)
        receipt = sender.deploy(spec.name, *spec.args(deployer, addresses))
        address = Web3.to_checksum_address(receipt["contractAddress"])  # type: ignore[arg-type]
        addresses[spec.name] = address
        contracts[spec.name] = {
            "address": address,
            "transactionHash": "0x" + receipt["transactionHash"].hex().removeprefix("0x"),
            "blockNumber": receipt["blockNumber"],
            "gasUsed": receipt["gasUsed"],
            "artifactHash": artifact_hash(art),
        }
        if progress:
            progress(f"deployed {spec.name} at {address}")
        for role_name, grantee_fn in spec.roles:
            instance = ADMIN_RULES[spec.name](chain, address, sender)
            role = instance.role_id(role_name)
            grantee = grantee_fn(deployer, addresses)
            if not instance.has_role(role, grantee):
                instance.grant_role(role, grantee)
            if progress:
                progress(f"granted {spec.name}.{role_name} to {grantee}")
    manifest = {
        "format": MANIFEST_FORMAT,
        "chainId": chain.chain_id,
        "deployer": deployer,
        "deployedAt": int(time.time()),
        "startBlock": min(c["blockNumber"] for c in contracts.values()),
        "contracts": contracts,
    }
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    tmp.replace(manifest_path)
    return manifest, True


@dataclass(frozen=True)
class VerifyResult:
    name: str
    address: str
    ok: bool
    detail: str


def _strip_immutables(code: bytes, artifact: dict[str, Any]) -> tuple[bytes, int]:
    out = bytearray(code)
    count = 0
    for refs in artifact.get("immutableReferences", {}).values():
        for ref in refs:
            start, length = int(ref["start"]), int(ref["length"])
            out[start : start + length] = b"\0" * length
            count += 1
    return bytes(out), count


def _split_metadata(code: bytes) -> tuple[bytes, bytes]:
    """Split runtime code into (executable part, CBOR metadata) using the trailing length."""
    if len(code) < 2:
        return code, b""
    n = int.from_bytes(code[-2:], "big")
    if n + 2 > len(code):
        return code, b""
    return code[: -(n + 2)], code[-(n + 2) :]


def verify_contract(chain: Chain, name: str, address: str) -> VerifyResult:
    art = load_artifact(name)
    expected = bytes.fromhex(art["deployedBytecode"].removeprefix("0x"))
    actual = chain.code_at(address)
    if not actual:
        return VerifyResult(name, address, False, "no code at this address")
    if len(actual) != len(expected):
        return VerifyResult(
            name, address, False, f"code length {len(actual)} != artifact {len(expected)}"
        )
    normalised, immutables = _strip_immutables(actual, art)
    if normalised == expected:
        return VerifyResult(name, address, True, f"matches artifact ({immutables} immutables)")
    exe_a, meta_a = _split_metadata(normalised)
    exe_e, meta_e = _split_metadata(expected)
    if exe_a == exe_e and meta_a != meta_e:
        return VerifyResult(
            name,
            address,
            False,
            "executable code matches but metadata hash differs (other sources)",
        )
    return VerifyResult(name, address, False, "runtime code differs from the artifact")


def _wiring(chain: Chain, name: str, address: str, deployed: dict[str, str]) -> tuple[bool, str]:
    """What the bytecode match cannot show: constructor wiring and governance, as (ok, detail)."""
    if name == "ConsentRegistry":
        licences = Web3.to_checksum_address(ConsentRegistry(chain, address).licence_registry())
        expected = deployed.get("LicenceRegistry")
        if expected is None or licences != Web3.to_checksum_address(expected):
            return False, f"licences() is {licences}, not the manifest's LicenceRegistry {expected}"
        return True, "licences() is the manifest's LicenceRegistry"
    if name == "PresentationLedger":
        return True, f"version {PresentationLedger(chain, address).version()}, no admin"
    if name in ADMIN_RULES:
        contract = ADMIN_RULES[name](chain, address)
        admin, delay = contract.default_admin(), contract.default_admin_delay()
        return True, f"default admin {admin}, hand-over delay {delay} s"
    return True, ""


def verify_deployment(chain: Chain, manifest_path: Path) -> list[VerifyResult]:
    manifest = load_manifest(manifest_path)
    check_manifest_chain(manifest, chain, manifest_path)
    deployed = addresses(manifest)
    results = []
    for name, entry in manifest["contracts"].items():
        results.append(verify_contract(chain, name, entry["address"]))
        if results[-1].ok:
            ok, detail = _wiring(chain, name, entry["address"], deployed)
            if detail:
                r = results[-1]
                results[-1] = VerifyResult(name, r.address, ok, f"{r.detail}; {detail}")
        art_hash = artifact_hash(load_artifact(name))
        if results[-1].ok and entry.get("artifactHash") != art_hash:
            results[-1] = VerifyResult(
                name,
                entry["address"],
                True,
                results[-1].detail + "; note: manifest artifactHash is from another build",
            )
    return results
