"""Reuse by the grantee: a use recorded on chain, redeemed once; every refusal a 403 + reason."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from credledger.node.core.contracts.consent_registry import ConsentRegistry, purpose_of
from credledger.node.core.contracts.eip712 import sign_typed_data
from credledger.node.core.receipts import hex32, parse_hash
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.wallet.reuse import fetch_typed_data, sign_fetch
from tests.wallet.conftest import BANK, OTHER_BANK, Enterprise, WalletEnv, new_uscc
from tests.wallet.harness import Wallet

pytestmark = pytest.mark.chain
AUDIT = purpose_of("AUDIT")


class Bank:
    def __init__(self, wenv: WalletEnv, index: int) -> None:
        self.wenv = wenv
        self.account: LocalAccount = dev_account(index)
        self.address = self.account.address
        self.sender = TxSender(wenv.chain, self.account)
        self.registry = ConsentRegistry(wenv.chain, wenv.contracts["ConsentRegistry"], self.sender)

    def consume(self, holder: str, asset: str, purpose: bytes = AUDIT) -> str:
        receipt = self.registry.consume(holder, parse_hash(asset), purpose)
        return hex32(bytes(receipt["transactionHash"]))

    def failed_consume(self, holder: str, asset: str) -> str:
        """A consume that is mined and reverts (sent with a fixed gas, no estimate)."""
        call = self.registry.contract.functions.consume(holder, parse_hash(asset), AUDIT)
        with self.sender.nonces.lock:
            tx = self.sender.build(call, gas=100_000)
            tx["nonce"] = self.sender.nonces.take()
            signed = self.account.sign_transaction(tx)
            h = self.wenv.chain.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.wenv.chain.w3.eth.wait_for_transaction_receipt(h)
        assert receipt["status"] == 0
        return hex32(bytes(h))

    def body(self, tx: str, holder: str, asset: str, *, nonce: int | None = None,
             ttl: int = 60, signer: LocalAccount | None = None) -> dict[str, Any]:  # fmt: skip
        chain_id = self.wenv.chain.chain_id
        registry = self.wenv.contracts["ConsentRegistry"]
        who = signer or self.account
        if nonce is None:
            return sign_fetch(who, chain_id, registry, use_transaction=tx, holder=holder,
                              asset_id=asset, purpose=hex32(AUDIT), ttl=ttl)  # fmt: skip
        exp = int(time.time()) + ttl
        data = fetch_typed_data(chain_id, registry, use_transaction=tx, holder=holder,
                                asset_id=asset, purpose=hex32(AUDIT), nonce=nonce,
                                expires_at=exp)  # fmt: skip
        return {"request": {**data["message"], "nonce": str(nonce)},
                "signature": "0x" + sign_typed_data(who, data).hex()}  # fmt: skip


def refused(wallet: Wallet, body: dict[str, Any]) -> str:
    r = wallet.post("/v1/uses", json=body)
    assert r.status_code == 403, r.text
    reason: str = r.json()["reason"]
    return reason


def material_with_grant(
    wallet: Wallet, ent: Enterprise, bank: Bank, max_uses: int, expires_in: int = 3600
) -> tuple[dict[str, Any], bytes]:
    data = f"financial statement {ent.uscc} {time.time()}".encode()
    m = wallet.file(ent.token, "财务报表.pdf", data)
    wallet.wait_state(ent.token, m["id"], "anchored")
    grant = {"assetId": m["id"], "grantee": bank.address, "purpose": "AUDIT",
             "expiresAt": int(time.time()) + expires_in, "maxUses": max_uses}  # fmt: skip
    m["grant"] = wallet.ok(wallet.post("/v1/grants", ent.token, json=grant), 201)
    return m, data


def test_grantee_redeems_each_use_once(
    wenv: WalletEnv, wallet: Wallet, enterprise: Enterprise
) -> None:
    bank, other = Bank(wenv, BANK), Bank(wenv, OTHER_BANK)
    ent = enterprise
    m, data = material_with_grant(wallet, ent, bank, max_uses=3)
    tx1 = bank.consume(ent.address, m["id"])

    assert refused(wallet, bank.body(tx1, ent.address, m["id"], signer=other.account)) == (
        "wrong_grantee"
    )
    assert refused(wallet, bank.body(tx1, ent.address, m["id"], ttl=-5)) == "request_expired"
    assert refused(wallet, bank.body(tx1, ent.address, m["id"], ttl=3600)) == "request_expired"
    unknown = "0x" + "ab" * 32
    assert refused(wallet, bank.body(unknown, ent.address, m["id"])) == "transaction_not_found"
    grant_tx = m["grant"]["transactionHash"]
    assert refused(wallet, bank.body(grant_tx, ent.address, m["id"])) == "use_not_found"

    r = wallet.post("/v1/uses", json=bank.body(tx1, ent.address, m["id"], nonce=77))
    assert r.status_code == 200 and r.content == data
    assert r.headers["x-credledger-use-count"] == "1"
    assert r.headers["x-credledger-grant"] == m["grant"]["grantId"]
    assert r.headers["x-credledger-use-transaction"] == tx1
    assert refused(wallet, bank.body(tx1, ent.address, m["id"])) == "use_already_redeemed"

    tx2 = bank.consume(ent.address, m["id"])
    assert refused(wallet, bank.body(tx2, ent.address, m["id"], nonce=77)) == "nonce_reused"
    ok = wallet.post("/v1/uses", json=bank.body(tx2, ent.address, m["id"]))
    assert ok.status_code == 200 and ok.headers["x-credledger-use-count"] == "2"

    tx3 = bank.consume(ent.address, m["id"])
    exhausted = bank.failed_consume(ent.address, m["id"])
    assert refused(wallet, bank.body(exhausted, ent.address, m["id"])) == "grant_exhausted"
    # the history shows every use: who, when, purpose, transaction
    uses = wallet.ok(wallet.get("/v1/history", ent.token))["uses"]
    assert [u["transactionHash"] for u in uses] == [tx1, tx2, tx3]
    assert {u["grantee"] for u in uses} == {bank.address}
    assert {u["purpose"] for u in uses} == {"AUDIT"}
    assert uses[0]["redeemedAt"] and uses[2]["redeemedAt"] is None and uses[2]["time"] > 0

    # the holder deletes the file: an unredeemed use is refused, the anchor stays
    wallet.ok(wallet.delete(f"/v1/materials/{m['id']}/file", ent.token))
    assert refused(wallet, bank.body(tx3, ent.address, m["id"])) == "asset_deleted"


def test_revoked_and_expired_grants_are_refused(
    wenv: WalletEnv, wallet: Wallet, enterprise: Enterprise
) -> None:
    bank, ent = Bank(wenv, BANK), enterprise
    m, _ = material_with_grant(wallet, ent, bank, max_uses=0)
    tx = bank.consume(ent.address, m["id"])
    wallet.ok(wallet.post(f"/v1/grants/{m['grant']['grantId']}/revoke", ent.token))
    assert refused(wallet, bank.body(tx, ent.address, m["id"])) == "grant_revoked"
    after = bank.failed_consume(ent.address, m["id"])
    assert refused(wallet, bank.body(after, ent.address, m["id"])) == "grant_revoked"

    m2, _ = material_with_grant(wallet, ent, bank, max_uses=0, expires_in=8)
    tx2 = bank.consume(ent.address, m2["id"])
    expires = m2["grant"]["expiresAt"]
    while time.time() <= expires + 1:
        time.sleep(0.2)
    wenv.rpc("anvil_mine", ["0x1"])
    assert refused(wallet, bank.body(tx2, ent.address, m2["id"])) == "grant_expired"
    grants = {g["grantId"]: g["state"] for g in wallet.ok(wallet.get("/v1/grants", ent.token))[
        "grants"]}  # fmt: skip
    assert grants[m["grant"]["grantId"]] == "revoked"
    assert grants[m2["grant"]["grantId"]] == "expired"


@pytest.fixture
def confirming_wallet(wenv: WalletEnv, tmp_path: Path) -> Iterator[Wallet]:
    env = {"CREDLEDGER_WALLET_CHAIN__CONFIRMATIONS": "3"}
    with wenv.own_wallet(tmp_path / "confirming", relayer=6, env=env) as w:
        yield w


def test_unconfirmed_use_is_refused_until_confirmed(
    wenv: WalletEnv, confirming_wallet: Wallet
) -> None:
    w, bank = confirming_wallet, Bank(wenv, BANK)
    uscc = new_uscc()
    out = w.register(uscc, "辛公司")
    ent = Enterprise(uscc, out["name"], out["address"], w.login(uscc))
    m, data = material_with_grant(w, ent, bank, max_uses=1)
    tx = bank.consume(ent.address, m["id"])
    assert refused(w, bank.body(tx, ent.address, m["id"])) == "transaction_not_confirmed"
    wenv.rpc("anvil_mine", ["0x3"])
    r = w.post("/v1/uses", json=bank.body(tx, ent.address, m["id"]))
    assert r.status_code == 200 and r.content == data
