"""`credledger wallet …` commands against a real wallet process (python -m credledger.wallet)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from credledger.node.core.signer import dev_account
from tests.wallet.conftest import BANK, WalletEnv, new_uscc
from tests.wallet.harness import PASSWORD, Wallet, run_wallet_cli

pytestmark = pytest.mark.chain


def test_wallet_commands(wenv: WalletEnv, wallet: Wallet, tmp_path: Path) -> None:
    env = {
        "CREDLEDGER_WALLET_URL": wallet.url,
        "CREDLEDGER_WALLET_SESSION": str(tmp_path / "session.json"),
        "CREDLEDGER_WALLET_PASSWORD": PASSWORD,
        "CREDLEDGER_WALLET_EXPORT_PASSPHRASE": "export passphrase 1",
    }

    def cli(*args: str, ok: bool = True) -> str:
        out = run_wallet_cli(*args, env=env)
        if ok:
            assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    uscc = new_uscc()
    assert "custodial" in cli("register", "--uscc", uscc, "--name", "命令行公司")
    assert "legal_rep" in cli("login", "--uscc", uscc)
    (tmp_path / "营业执照.pdf").write_bytes(b"cli business licence scan " + uscc.encode())
    (tmp_path / "lease.pdf").write_bytes(b"cli lease " + uscc.encode())
    out = cli("file", str(tmp_path / "营业执照.pdf"), str(tmp_path / "lease.pdf"))
    assert "BUSINESS-LICENCE" in out and "LEASE" in out
    again = cli("file", str(tmp_path / "lease.pdf"))
    assert "already filed" in again
    listed = json.loads(cli("materials", "--json"))["materials"]
    assert len(listed) == 2
    token = json.loads((tmp_path / "session.json").read_text())["token"]
    mid = listed[0]["id"]
    wallet.wait_state(token, mid, "anchored")
    assert "trusted" in cli("confirm", mid)

    address = wallet.ok(wallet.get("/v1/me", token))["address"]
    licence = wenv.issue_licence(uscc, address)
    bank = dev_account(BANK).address
    out = cli("grant", "--asset", licence, "--grantee", bank, "--purpose", "loan-application",
              "--expires", "+30d", "--max-uses", "2")  # fmt: skip
    assert "active" in out
    grants = json.loads(cli("grants", "--json"))["grants"]
    assert grants[0]["maxUses"] == 2 and grants[0]["purpose"]["zh"] == "贷款申请"
    assert "revoked" in cli("revoke", grants[0]["grantId"])
    cli("export-key", "--out", str(tmp_path / "backup.json"))
    ks = json.loads((tmp_path / "backup.json").read_text())
    assert Account.from_key(Account.decrypt(ks, "export passphrase 1")).address == address
    actions = [e["action"] for e in json.loads(cli("history", "--json"))["events"]]
    assert {"registered", "material-filed", "material-confirmed", "granted", "revoked",
            "key-exported"} <= set(actions)  # fmt: skip

    # errors: one line on stderr, non-zero exit, no traceback
    bad = run_wallet_cli("confirm", "0x" + "00" * 32, env=env)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "no material" in bad.stderr
    down = run_wallet_cli("materials", "--token", token,
                          env={**env, "CREDLEDGER_WALLET_URL": "http://127.0.0.1:9"})  # fmt: skip
    assert down.returncode != 0 and "does not answer" in down.stderr
    cli("logout")
    nolog = run_wallet_cli("materials", env=env)
    assert nolog.returncode != 0 and "login" in nolog.stderr
