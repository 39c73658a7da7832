"""verify_deployment checks what the bytecode cannot show: the ConsentRegistry's LicenceRegistry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from credledger.node.core.artifacts import load_artifact
from credledger.node.deploy import ANCHOR_ADMIN_DELAY, LICENCE_ADMIN_DELAY, verify_deployment
from tests.contracts.conftest import Env


def _manifest(manifest: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path


def test_the_deployment_verifies_with_its_wiring(env: Env, tmp_path: Path) -> None:
    results = {r.name: r for r in verify_deployment(env.chain, _manifest(env.manifest, tmp_path))}
    assert all(r.ok for r in results.values()), results
    assert "licences() is the manifest's LicenceRegistry" in results["ConsentRegistry"].detail
    admin = env.addr("admin")
    assert f"default admin {admin}, hand-over delay {ANCHOR_ADMIN_DELAY} s" in (
        results["AnchorRegistry"].detail
    )
    assert f"hand-over delay {LICENCE_ADMIN_DELAY} s" in results["LicenceRegistry"].detail


def test_a_consent_registry_wired_to_another_licence_registry_fails(
    env: Env, tmp_path: Path
) -> None:
    """Same bytecode (the address is an immutable), so only the wiring check can catch it."""
    art = load_artifact("ConsentRegistry")
    factory = env.chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    rogue_registry = env.addr("outsider")
    receipt = env.senders["admin"].send(factory.constructor(rogue_registry))
    contracts = dict(env.manifest["contracts"])
    contracts["ConsentRegistry"] = {
        **contracts["ConsentRegistry"],
        "address": receipt["contractAddress"],
    }
    path = _manifest({**env.manifest, "contracts": contracts}, tmp_path)
    results = {r.name: r for r in verify_deployment(env.chain, path)}
    bad = results["ConsentRegistry"]
    assert not bad.ok
    assert f"licences() is {rogue_registry}, not the manifest's LicenceRegistry" in bad.detail
    assert results["LicenceRegistry"].ok and results["AnchorRegistry"].ok
