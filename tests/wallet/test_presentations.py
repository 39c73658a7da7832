"""Presentations made by the wallet and checked at the node: the holder's key, a phone's P-256
device key delegated on chain, the CLI, the history that shows each check (a receipt for both
sides), and the refusals — all through real processes (anvil, node, wallet)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import segno

from credledger.node.core import presentation as pr
from credledger.node.core.receipts import parse_hash
from tests.wallet.conftest import MARKET_TOKEN, Enterprise, WalletEnv
from tests.wallet.harness import Wallet, run_wallet_cli

pytestmark = pytest.mark.chain


def _verify(wenv: WalletEnv, token: str) -> dict[str, Any]:
    r = wenv.node.post("/v1/verify/presentation", MARKET_TOKEN, json={"token": token})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _codes(verdict: dict[str, Any]) -> set[str]:
    codes = {r["code"] for r in verdict.get("reasons", [])}
    for a in verdict.get("assets", []):
        codes |= {r["code"] for r in a.get("reasons", [])}
    return codes


def test_holder_shows_a_qr_the_counter_verifies_once_and_the_history_has_it(
    wenv: WalletEnv, wallet: Wallet, enterprise: Enterprise
) -> None:
    tok = enterprise.token
    lids = [wenv.issue_licence(enterprise.uscc, enterprise.address) for _ in range(3)]
    out = wallet.ok(
        wallet.post("/v1/presentations", tok, json={"assetIds": lids, "audience": "market"}), 201
    )
    token = out["token"]
    assert token.startswith("CLP1") and token == token.upper() and token.isalnum()
    assert 110 <= out["expiresAt"] - time.time() <= 121 and out["ttl"] == 120
    assert out["qrSvg"].lstrip().startswith("<svg") and out["assetIds"] == lids
    assert out["presenter"].lower() == enterprise.address.lower()
    # what a scan gun reads: alphanumeric mode, version <= 10 at M with three assets and audience
    qr = segno.make(token, error="m", boost_error=False)
    assert qr.mode == "alphanumeric" and isinstance(qr.version, int) and qr.version <= 10

    first = _verify(wenv, token)
    assert first["verdict"] == "VALID", first
    assert [a["verdict"] for a in first["assets"]] == ["VALID"] * 3
    again = _verify(wenv, token)
    assert again["verdict"] == "REFUSED" and "REPLAYED" in _codes(again), again

    listed = wallet.ok(wallet.get("/v1/presentations", tok))["presentations"]
    mine = next(p for p in listed if p["statementHash"] == out["statementHash"])
    assert mine["audience"] == "market" and mine["assetIds"] == lids
    ids = {c["id"] for c in mine["checks"]}
    assert first["verification"]["id"] in ids and again["verification"]["id"] in ids
    events = wallet.ok(wallet.get("/v1/history", tok))["events"]
    assert any(
        e["action"] == "presented" and e["statementHash"] == out["statementHash"] for e in events
    )


def test_a_token_for_another_audience_or_changed_in_one_character_is_refused(
    wenv: WalletEnv, wallet: Wallet, enterprise: Enterprise
) -> None:
    lid = wenv.issue_licence(enterprise.uscc, enterprise.address)
    other = wallet.ok(
        wallet.post(
            "/v1/presentations", enterprise.token, json={"assetIds": [lid], "audience": "drugs"}
        ),
        201,
    )
    assert "WRONG_AUDIENCE" in _codes(_verify(wenv, other["token"]))
    fresh = wallet.ok(
        wallet.post("/v1/presentations", enterprise.token, json={"assetIds": [lid]}), 201
    )
    t = fresh["token"]
    i = len(t) // 2
    tampered = t[:i] + ("A" if t[i] != "A" else "B") + t[i + 1 :]
    refused = _verify(wenv, tampered)
    assert refused["verdict"] == "REFUSED", refused
    assert _codes(refused) & {"BAD_SIGNATURE", "TOKEN_MALFORMED"}, refused


def test_presenting_what_the_enterprise_does_not_hold_is_refused_before_signing(
    wenv: WalletEnv, wallet: Wallet, enterprise: Enterprise, other_enterprise: Enterprise
) -> None:
    theirs = wenv.issue_licence(other_enterprise.uscc, other_enterprise.address)
    unbound = wenv.issue_licence(enterprise.uscc)
    for asset, status in ((theirs, 403), (unbound, 403), ("0x" + "ab" * 32, 404)):
        r = wallet.post("/v1/presentations", enterprise.token, json={"assetIds": [asset]})
        assert r.status_code == status, r.text
        assert r.json()["error"] and r.json()["message"]
    mine = wenv.issue_licence(enterprise.uscc, enterprise.address)
    for body in (
        {"assetIds": []},
        {"assetIds": [mine], "ttl": 301},
        {"assetIds": [mine, mine]},
        {"assetIds": ["not-a-hash"]},
        {"assetIds": [mine], "colour": "red"},
    ):
        r = wallet.post("/v1/presentations", enterprise.token, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"] == "invalid_input", r.text
    assert wallet.post("/v1/presentations", None, json={"assetIds": [mine]}).status_code == 401


def test_a_phone_key_delegated_on_chain_presents_without_the_wallet(
    wenv: WalletEnv, wallet: Wallet, enterprise: Enterprise
) -> None:
    lid = wenv.issue_licence(enterprise.uscc, enterprise.address)
    phone = pr.DeviceKeySigner.generate()
    chain_id = wenv.chain.chain_id
    # before delegation the node refuses the phone's token: it is nobody's agent
    early = _verify(wenv, pr.create(phone, [parse_hash(lid)], chain_id).encode())
    assert early["verdict"] != "VALID", early
    reg = wallet.ok(
        wallet.post(
            "/v1/devices",
            enterprise.token,
            json={
                "publicKey": phone.public_key.hex(),
                "assetIds": [lid],
                "expiresAt": int(time.time()) + 86400,
                "label": "法人手机",
            },
        ),
        201,
    )
    assert reg["device"] == phone.address and reg["grants"][0]["state"] == "active"
    assert reg["grants"][0]["purpose"]["code"] == "COUNTER-PRESENTATION"
    # the phone signs by itself: the wallet takes no part in making or checking this token
    token = pr.create(phone, [parse_hash(lid)], chain_id, ttl=60).encode()
    verdict = _verify(wenv, token)
    assert verdict["verdict"] == "VALID", verdict
    # a lost phone: revoke its grant and its next token is refused
    wallet.ok(wallet.post(f"/v1/grants/{reg['grants'][0]['grantId']}/revoke", enterprise.token))
    late = _verify(wenv, pr.create(phone, [parse_hash(lid)], chain_id).encode())
    assert late["verdict"] != "VALID", late
    bad = wallet.post(
        "/v1/devices",
        enterprise.token,
        json={"publicKey": "04" + "11" * 64, "assetIds": [lid], "expiresAt": "+1d"},
    )
    assert bad.status_code == 422 and "publicKey" in bad.json()["message"], bad.text


def test_cli_presents_with_the_wallet_and_with_a_device_key(
    wenv: WalletEnv, wallet: Wallet, enterprise: Enterprise, tmp_path: Path
) -> None:
    lid = wenv.issue_licence(enterprise.uscc, enterprise.address)
    auth = ["--wallet", wallet.url, "--token", enterprise.token]
    svg = tmp_path / "qr.svg"
    out = run_wallet_cli("wallet", "present", lid, "--json", "--qr-out", str(svg), *auth)
    assert out.returncode == 0, out.stdout + out.stderr
    made = json.loads(out.stdout)
    assert made["token"].startswith("CLP1") and svg.read_text().lstrip().startswith("<svg")
    assert _verify(wenv, made["token"])["verdict"] == "VALID"

    key = tmp_path / "phone.pem"
    out = run_wallet_cli("wallet", "device", "new", "--out", str(key))
    assert out.returncode == 0 and key.stat().st_mode & 0o777 == 0o600, out.stderr
    out = run_wallet_cli("wallet", "device", "register", lid, "--key", str(key),
                         "--expires", "+1d", *auth)  # fmt: skip
    assert out.returncode == 0 and "may present 1 asset" in out.stdout, out.stdout + out.stderr
    out = run_wallet_cli("wallet", "present", lid, "--device-key", str(key), "--json",
                         "--chain-id", str(wenv.chain.chain_id))  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert _verify(wenv, json.loads(out.stdout)["token"])["verdict"] == "VALID"

    # bad input: one line, non-zero, no traceback
    for args in (["--device-key", str(tmp_path / "missing.pem")], ["--ttl", "999", *auth]):
        out = run_wallet_cli("wallet", "present", lid, *args, "--chain-id", "1")
        assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
