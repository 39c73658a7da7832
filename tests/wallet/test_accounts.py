"""Accounts, roles, sessions, login throttling, custodial and external keys, export and import."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from eth_account import Account

from credledger.node.core.contracts.consent_registry import ConsentRegistry, purpose_of
from credledger.node.core.receipts import parse_hash
from credledger.node.core.signer import dev_account
from tests.wallet.conftest import BANK, Enterprise, WalletEnv, new_uscc
from tests.wallet.harness import PASSWORD, Wallet

pytestmark = pytest.mark.chain
EXTERNAL = 5  # anvil dev account that signs for the non-custodial enterprise


def expire_session(wallet: Wallet, token: str) -> None:
    """Move a session's expiry into the past, in the running wallet's own database."""
    import hashlib

    conn = sqlite3.connect(wallet.data_dir / "wallet.sqlite3", timeout=30)
    with conn:
        conn.execute(
            "UPDATE sessions SET expires_at=? WHERE token_hash=?",
            (time.time() - 1, hashlib.sha256(token.encode()).hexdigest()),
        )
    conn.close()


def end_agent_date(wallet: Wallet, uscc: str, login: str) -> None:
    """Move an agent's last day into the past, in the running wallet's own database (what a
    wait until the date passes would do, without the wait)."""
    conn = sqlite3.connect(wallet.data_dir / "wallet.sqlite3", timeout=30)
    with conn:
        cur = conn.execute(
            "UPDATE people SET until=? WHERE login=?"
            " AND enterprise_id=(SELECT id FROM enterprises WHERE uscc=?)",
            (int(time.time()) - 1, login, uscc),
        )
    conn.close()
    assert cur.rowcount == 1, f"no agent {login} of {uscc}"


def test_register_validates_and_refuses_duplicates(wallet: Wallet) -> None:
    r = wallet.post("/v1/accounts", json={"uscc": "91310000MA1FL1234X", "name": "x",
                                          "password": PASSWORD})  # fmt: skip
    assert r.status_code == 422 and "check" in r.json()["message"].lower()
    uscc = new_uscc()
    out = wallet.register(uscc, "甲公司")
    assert out["custody"] == "custodial" and out["address"].startswith("0x")
    assert wallet.post("/v1/accounts", json={"uscc": uscc, "name": "again",
                                             "password": PASSWORD}).status_code == 409  # fmt: skip
    short = wallet.post("/v1/accounts", json={"uscc": new_uscc(), "name": "y", "password": "short"})
    assert short.status_code == 422


def test_sessions_expire_and_log_out(wallet: Wallet, enterprise: Enterprise) -> None:
    me = wallet.ok(wallet.get("/v1/me", enterprise.token))
    assert me["role"] == "legal_rep" and me["keyUnlocked"] and me["address"] == enterprise.address
    assert wallet.get("/v1/me").status_code == 401
    assert wallet.get("/v1/me", "clw_not-a-session").status_code == 401
    second = wallet.login(enterprise.uscc)
    assert wallet.delete("/v1/sessions/current", second).status_code == 204
    assert wallet.get("/v1/me", second).status_code == 401
    third = wallet.login(enterprise.uscc)
    expire_session(wallet, third)
    r = wallet.get("/v1/me", third)
    assert r.status_code == 401 and "expired" in r.json()["message"]
    assert wallet.get("/v1/me", enterprise.token).status_code == 200


def test_failed_logins_are_throttled(wallet: Wallet, enterprise: Enterprise) -> None:
    body = {"uscc": enterprise.uscc, "password": "wrong password!"}
    codes = [wallet.post("/v1/sessions", json=body).status_code for _ in range(5)]
    assert codes == [401] * 5
    r = wallet.post("/v1/sessions", json=body)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # the right password too, while the account is throttled
    good = wallet.post("/v1/sessions", json={"uscc": enterprise.uscc, "password": PASSWORD})
    assert good.status_code == 429
    # other accounts are not affected
    other = new_uscc()
    wallet.register(other, "乙公司")
    assert wallet.login(other)


def test_administrators_and_agents(wallet: Wallet, enterprise: Enterprise) -> None:
    tok = enterprise.token
    for i in range(5):
        body = {"login": f"admin{i}", "name": f"管理员{i}", "password": PASSWORD}
        wallet.ok(wallet.post("/v1/administrators", tok, json=body), 201)
    sixth = wallet.post("/v1/administrators", tok,
                        json={"login": "admin5", "name": "x", "password": PASSWORD})  # fmt: skip
    assert sixth.status_code == 409 and "5" in sixth.json()["message"]
    admin = wallet.login(enterprise.uscc, "admin0")
    me = wallet.ok(wallet.get("/v1/me", admin))
    assert me["role"] == "admin" and me["keyUnlocked"]
    # an administrator cannot name administrators, but files and authorises agents
    r = wallet.post("/v1/administrators", admin, json={"login": "x1", "name": "x",
                                                       "password": PASSWORD})  # fmt: skip
    assert r.status_code == 403
    seen = wallet.file(admin, "营业执照.pdf", b"licence scan " + enterprise.uscc.encode())
    hidden = wallet.file(admin, "contract.pdf", b"a contract " + enterprise.uscc.encode())
    assert seen["folder"]["code"] == "BUSINESS-LICENCE" and hidden["folder"]["code"] == "CONTRACT"
    agent_body = {
        "login": "agent1",
        "name": "办事人",
        "password": PASSWORD,
        "assets": [seen["id"]],
        "actions": ["view"],
        "until": int(time.time()) + 3600,
    }
    agent = wallet.ok(wallet.post("/v1/agents", admin, json=agent_body), 201)  # fmt: skip
    assert agent["address"] != enterprise.address and agent["assets"] == [seen["id"]]
    atok = wallet.login(enterprise.uscc, "agent1")
    visible = [m["id"] for m in wallet.ok(wallet.get("/v1/materials", atok))["materials"]]
    assert visible == [seen["id"]]
    assert wallet.get(f"/v1/materials/{hidden['id']}", atok).status_code == 404
    assert wallet.get(f"/v1/materials/{seen['id']}/file", atok).content.startswith(b"licence")
    assert wallet.post("/v1/materials", atok, files={"file": ("a.pdf", b"x")}).status_code == 403
    assert wallet.post(f"/v1/materials/{seen['id']}/confirm", atok).status_code == 403
    grant = {"assetId": seen["id"], "grantee": dev_account(BANK).address,
             "purpose": "AUDIT", "expiresAt": int(time.time()) + 600}  # fmt: skip
    assert wallet.post("/v1/grants", atok, json=grant).status_code == 403
    assert (
        wallet.post(
            "/v1/keys/export", atok, json={"password": PASSWORD, "passphrase": "p" * 12}
        ).status_code
        == 403
    )
    # an agent whose date has passed cannot log in
    past = {**agent_body, "login": "agent2"}
    wallet.ok(wallet.post("/v1/agents", admin, json=past), 201)
    end_agent_date(wallet, enterprise.uscc, "agent2")
    r = wallet.post("/v1/sessions", json={"uscc": enterprise.uscc, "login": "agent2",
                                          "password": PASSWORD})  # fmt: skip
    assert r.status_code == 403
    # only the legal representative removes administrators; removing one ends their sessions
    assert wallet.delete("/v1/people/admin1", admin).status_code == 403
    assert wallet.delete("/v1/people/admin0", tok).status_code == 204
    assert wallet.get("/v1/me", admin).status_code == 401


def test_export_and_import_keystore(wallet: Wallet, enterprise: Enterprise) -> None:
    wrong = wallet.post(
        "/v1/keys/export",
        enterprise.token,
        json={"password": "not the password", "passphrase": "new passphrase!"},
    )
    assert wrong.status_code == 401
    out = wallet.ok(
        wallet.post(
            "/v1/keys/export",
            enterprise.token,
            json={"password": PASSWORD, "passphrase": "new passphrase!"},
        )
    )
    assert out["address"] == enterprise.address
    key = Account.decrypt(out["keystore"], "new passphrase!")
    assert Account.from_key(key).address == enterprise.address
    assert out["keystore"]["crypto"]["kdf"] == "scrypt"
    # import: a keystore made elsewhere becomes an enterprise's key
    acct = Account.create()
    ks = Account.encrypt(acct.key, "backup passphrase", kdf="scrypt", iterations=1024)
    body = {"uscc": new_uscc(), "name": "丙公司", "password": PASSWORD, "keystore": ks,
            "keystorePassphrase": "backup passphrase"}  # fmt: skip
    assert wallet.ok(wallet.post("/v1/accounts", json=body), 201)["address"] == acct.address
    bad = {**body, "uscc": new_uscc(), "keystorePassphrase": "wrong"}
    assert wallet.post("/v1/accounts", json=bad).status_code == 401


def test_external_address_signs_with_eth_sign_typed_data_v4(
    wenv: WalletEnv, wallet: Wallet
) -> None:
    holder = dev_account(EXTERNAL)
    uscc = new_uscc()
    out = wallet.register(uscc, "丁公司", address=holder.address)
    assert out["custody"] == "external" and out["address"] == holder.address
    tok = wallet.login(uscc)
    assert not wallet.ok(wallet.get("/v1/me", tok))["keyUnlocked"]
    m = wallet.file(tok, "audit report 2025.pdf", b"audit " + uscc.encode())
    bank = dev_account(BANK).address
    grant = {"assetId": m["id"], "grantee": bank, "purpose": "AUDIT",
             "expiresAt": "2099-12-31", "maxUses": 1}  # fmt: skip
    # the wallet cannot sign for it
    assert wallet.post("/v1/grants", tok, json=grant).status_code == 409
    prepared = wallet.ok(wallet.post("/v1/grants/typed-data", tok, json=grant))
    sig = wenv.rpc("eth_signTypedData_v4", [holder.address, prepared["typedData"]])
    signed = {**grant, "deadline": prepared["deadline"], "signature": sig}
    g = wallet.ok(wallet.post("/v1/grants", tok, json=signed), 201)
    registry = ConsentRegistry(wenv.chain, wenv.contracts["ConsentRegistry"])
    aid, audit = parse_hash(m["id"]), purpose_of("AUDIT")
    assert registry.is_authorized(holder.address, aid, bank, audit)
    # a replayed signature makes no transaction: the identical grant is the answer
    again = wallet.ok(wallet.post("/v1/grants", tok, json=signed), 201)
    assert again["existing"] is True and again["transactionHash"] == g["transactionHash"]
    # a signature over other terms is refused without a transaction
    foreign = {**signed, "maxUses": 2}
    assert wallet.post("/v1/grants", tok, json=foreign).status_code in (403, 409)
    # revoke, signed the same way
    assert wallet.post(f"/v1/grants/{g['grantId']}/revoke", tok).status_code == 409
    rv = wallet.ok(wallet.post(f"/v1/grants/{g['grantId']}/revoke/typed-data", tok))
    rsig = wenv.rpc("eth_signTypedData_v4", [holder.address, rv["typedData"]])
    body = {"deadline": rv["deadline"], "signature": rsig}
    assert wallet.ok(wallet.post(f"/v1/grants/{g['grantId']}/revoke", tok, json=body))[
        "state"] == "revoked"  # fmt: skip
    assert not registry.is_authorized(holder.address, aid, bank, audit)


def test_no_secret_in_answers_logs_or_database(wallet: Wallet, enterprise: Enterprise) -> None:
    """Passwords, tokens and keys never appear in clear: answers, the log, any DB column."""
    exported = wallet.ok(
        wallet.post(
            "/v1/keys/export",
            enterprise.token,
            json={"password": PASSWORD, "passphrase": "export-pass-1"},
        )
    )
    key_hex = Account.decrypt(exported["keystore"], "export-pass-1").hex()
    secrets = [PASSWORD, key_hex.removeprefix("0x"), "export-pass-1"]
    answers = "\n".join(wallet.responses)
    log = wallet.log()
    conn = sqlite3.connect(wallet.data_dir / "wallet.sqlite3")
    dump = "\n".join(conn.iterdump())
    conn.close()
    for s in secrets:
        assert s not in answers, "a secret in an answer"
        assert s not in log, "a secret in the log"
        assert s not in dump, "a secret in the database"
    assert enterprise.token not in dump and enterprise.token not in log
    # keystores in the database are encrypted (scrypt), passwords argon2id
    assert '"kdf": "scrypt"' in dump and "$argon2id$" in dump
    # the exported keystore is the only key material that leaves, and only encrypted
    assert json.dumps(exported).count("ciphertext") == 1
