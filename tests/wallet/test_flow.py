"""The issue's "done when", end to end through real processes: node, wallet, anvil, CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from credledger.node.core.contracts.consent_registry import ConsentRegistry, purpose_of
from credledger.node.core.receipts import parse_hash
from credledger.node.core.signer import dev_account
from tests.conftest import run_cli
from tests.wallet.conftest import BANK, Enterprise, WalletEnv
from tests.wallet.harness import Wallet, run_wallet_cli

pytestmark = pytest.mark.chain

PDF = b"%PDF-1.4\n% articles of association\n" + bytes(range(256)) * 40


def test_register_file_grant_fetch_revoke(
    wenv: WalletEnv,
    wallet: Wallet,
    enterprise: Enterprise,
    other_enterprise: Enterprise,
    tmp_path: Path,
) -> None:
    ent, tok = enterprise, enterprise.token
    # a department issues a licence bound to the enterprise's address, and one not bound yet
    bound = wenv.issue_licence(ent.uscc, ent.address)
    unbound = wenv.issue_licence(ent.uscc)
    assets = wallet.ok(wallet.get("/v1/assets", tok))
    by_id = {lic["licenceId"]: lic for lic in assets["licences"]}
    assert by_id[bound]["binding"] == "bound"
    assert by_id[bound]["status"] == "ACTIVE" and by_id[bound]["issuer"]["name"] == "market"
    assert [h["action"] for h in by_id[bound]["history"]][:1] == ["ISSUED"]
    assert by_id[unbound]["binding"] == "unbound" and ent.address in by_id[unbound]["howToBind"]

    # the same PDF filed twice: one material (201, then 200)
    m = wallet.file(tok, "公司章程.pdf", PDF)
    assert m["folder"]["code"] == "ARTICLES" and m["state"] == "pending"
    again = wallet.file(tok, "copy.pdf", PDF, status=200)
    assert again["id"] == m["id"]
    wallet.wait_state(tok, m["id"], "anchored")
    trusted = wallet.ok(wallet.post(f"/v1/materials/{m['id']}/confirm", tok))
    assert trusted["state"] == "trusted" and trusted["label"] == "trusted"
    assert len(wallet.ok(wallet.get("/v1/materials", tok))["materials"]) == 1

    # its receipt verifies with `credledger verify` and the chain alone
    receipt = wallet.ok(wallet.get(f"/v1/materials/{m['id']}/receipt", tok))
    path = tmp_path / "material.receipt.json"
    path.write_text(json.dumps(receipt))
    out = run_cli("verify", m["id"], "--receipt", str(path), "--rpc", wenv.info.rpc_url)
    assert out.returncode == 0 and "VERIFIED" in out.stdout, out.stdout + out.stderr

    # grant the bank the licence for LOAN-APPLICATION for 30 days
    bank = dev_account(BANK)
    g = wallet.ok(
        wallet.post("/v1/grants", tok, json={
            "assetId": bound, "grantee": bank.address, "purpose": "LOAN-APPLICATION",
            "expiresAt": int(time.time()) + 30 * 86400, "maxUses": 3,
        }), 201,
    )  # fmt: skip
    assert g["state"] == "active" and g["uses"] == 0
    registry = ConsentRegistry(wenv.chain, wenv.contracts["ConsentRegistry"])
    lid, loan = parse_hash(bound), purpose_of("LOAN-APPLICATION")
    assert registry.is_authorized(ent.address, lid, bank.address, loan)

    # the bank records a use on chain and fetches the licence with it (the CLI does both)
    out = run_wallet_cli(
        "grantee", "fetch", "--wallet", wallet.url,
        "--holder", ent.address, "--asset", bound, "--purpose", "LOAN-APPLICATION",
        "--rpc", wenv.info.rpc_url, "--dev-account", str(BANK), "--out", str(tmp_path / "bank"),
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    use_files = list((tmp_path / "bank").glob("*.use.json"))
    assert len(use_files) == 1
    use = json.loads(use_files[0].read_text())
    assert use["uses"] == 1 and use["grantee"] == bank.address and use["assetId"] == bound
    content = json.loads(Path(str(use_files[0]).removesuffix(".use.json")).read_text())
    assert content["licence"]["licenceId"] == bound
    grants = wallet.ok(wallet.get("/v1/grants", tok))["grants"]
    assert [(x["uses"], x["state"]) for x in grants] == [(1, "active")]
    history = wallet.ok(wallet.get("/v1/history", tok))
    assert [u["transactionHash"] for u in history["uses"]] == [use["useTransaction"]]
    assert history["uses"][0]["purpose"] == "LOAN-APPLICATION"

    # revoke: false on chain from then on
    r = wallet.ok(wallet.post(f"/v1/grants/{g['grantId']}/revoke", tok))
    assert r["state"] == "revoked"
    assert not registry.is_authorized(ent.address, lid, bank.address, loan)

    # a second enterprise sees none of it
    other = other_enterprise.token
    assert wallet.ok(wallet.get("/v1/materials", other))["materials"] == []
    assert wallet.ok(wallet.get("/v1/grants", other))["grants"] == []
    assert wallet.get(f"/v1/materials/{m['id']}", other).status_code == 404
    assert wallet.get(f"/v1/grants/{g['grantId']}", other).status_code == 404
    assert wallet.ok(wallet.get("/v1/history", other))["uses"] == []
