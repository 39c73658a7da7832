"""A material's receipt from the wallet verifies against the file itself.

The receipt names the holder; `credledger verify` derives the asset id
``keccak256(abi.encode(holder, sha256(file)))``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from credledger.node.core.contracts.eip712 import material_asset_id
from tests.conftest import run_cli
from tests.wallet.conftest import Enterprise, WalletEnv
from tests.wallet.harness import Wallet

pytestmark = pytest.mark.chain


def test_material_receipt_verifies_against_the_file(
    wenv: WalletEnv, wallet: Wallet, enterprise: Enterprise, other_enterprise: Enterprise,
    tmp_path: Path,
) -> None:  # fmt: skip
    data = os.urandom(4_000)
    doc = tmp_path / "公司章程.pdf"
    doc.write_bytes(data)
    m = wallet.file(enterprise.token, doc.name, data)
    wallet.wait_state(enterprise.token, m["id"], "anchored")
    r = wallet.get(f"/v1/materials/{m['id']}/receipt", enterprise.token)
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert receipt["material"]["holder"].lower() == enterprise.address.lower()
    path = tmp_path / "公司章程.pdf.receipt.json"
    path.write_text(json.dumps(receipt), encoding="utf-8")
    rpc = wenv.info.rpc_url

    def verify(target: str, receipt_file: Path = path) -> tuple[int, str]:
        out = run_cli("verify", target, "--receipt", str(receipt_file), "--rpc", rpc)
        return out.returncode, out.stdout + out.stderr

    code, text = verify(str(doc))
    assert code == 0 and "✓ material asset id" in text and "VERIFIED" in text, text
    # the asset id itself still verifies (as before)
    assert verify(m["id"])[0] == 0
    # another file, or the same file under another holder's name, does not
    other = tmp_path / "other.pdf"
    other.write_bytes(data + b"!")
    code, text = verify(str(other))
    assert code == 1 and "✗ material asset id" in text and "NOT VERIFIED" in text, text
    forged = tmp_path / "forged.json"
    forged.write_text(
        json.dumps(
            {**receipt, "material": {**receipt["material"], "holder": other_enterprise.address}}
        )
    )
    code, text = verify(str(doc), forged)
    assert code == 1 and "✗ material asset id" in text, text
    assert material_asset_id(other_enterprise.address, bytes.fromhex(
        receipt["material"]["documentSha256"][2:])) != bytes.fromhex(m["id"][2:])  # fmt: skip
