"""`credledger anchor` saves receipts; `credledger verify` checks them against the chain alone."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from credledger.node.core.receipts import check_receipt_on_chain, parse_hash
from credledger.node.devnet import free_port
from tests.conftest import run_cli
from tests.node.anchoring.conftest import DevChain
from tests.node.anchoring.harness import ANCHOR_TOKEN, NodeProcess

pytestmark = pytest.mark.chain


def _anchor_folder(node: NodeProcess, folder: Path, out: Path, n: int) -> list[Path]:
    folder.mkdir()
    files = []
    for i in range(n):
        p = folder / f"doc{i}.pdf"
        p.write_bytes(os.urandom(200 + i))
        files.append(p)
    r = run_cli(
        "anchor", str(folder), "--node", node.url, "--wait", "--out", str(out),
        env={"CREDLEDGER_TOKEN": ANCHOR_TOKEN},
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    return files


def _verify(target: str, receipt: Path, rpc: str) -> tuple[int, str]:
    r = run_cli("verify", target, "--receipt", str(receipt), "--rpc", rpc)
    return r.returncode, r.stdout + r.stderr


def test_anchor_then_verify_positive_and_negative(
    shared_node: NodeProcess, shared_chain: DevChain, tmp_path: Path
) -> None:
    out = tmp_path / "receipts"
    files = _anchor_folder(shared_node, tmp_path / "docs", out, 3)
    receipts = [out / (f.name + ".receipt.json") for f in files]
    assert all(r.is_file() for r in receipts)
    rpc = shared_chain.rpc_url

    # positive: by file and by hash, every check printed
    code, text = _verify(str(files[0]), receipts[0], rpc)
    assert code == 0, text
    for check in ("document hash", "merkle proof", "chain id", "anchored on chain",
                  "contract verifyDocument", "block canonical", "anchor transaction"):  # fmt: skip
        assert check in text
    assert "VERIFIED" in text
    doc_hash = json.loads(receipts[1].read_text())["docHash"]
    assert _verify(doc_hash, receipts[1], rpc)[0] == 0

    # tampered document
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(files[0].read_bytes() + b"!")
    code, text = _verify(str(tampered), receipts[0], rpc)
    assert code == 1 and "NOT VERIFIED" in text

    base: dict[str, Any] = json.loads(receipts[0].read_text())

    def variant(name: str, **changes: Any) -> Path:
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps({**base, **changes}))
        return p

    # a wrong root
    code, text = _verify(str(files[0]), variant("root", root="0x" + "11" * 32), rpc)
    assert code == 1 and "✗ merkle proof" in text
    # a proof from another batch: anchor one more document alone, take its proof
    other = os.urandom(32)
    assert shared_node.submit([other]).status_code == 202
    other_receipt = shared_node.wait_confirmed([other])[0]["receipt"]
    assert other_receipt["root"] != base["root"]
    stolen = variant("proof", proof=other_receipt["proof"] or ["0x" + "22" * 32])
    code, text = _verify(str(files[0]), stolen, rpc)
    assert code == 1 and "✗ merkle proof" in text
    # another chain id
    code, text = _verify(str(files[0]), variant("chain", chainId=1), rpc)
    assert code == 1 and "✗ chain id" in text
    # the same checks in-process (no subprocess): another batch's root and proof, a block hash
    # that is not canonical
    doc = parse_hash(base["docHash"])
    failed = {
        c.name
        for c in check_receipt_on_chain(
            shared_chain.chain,
            {**base, "proof": other_receipt["proof"], "root": other_receipt["root"]},
            doc,
        )
        if not c.ok
    }
    assert "merkle proof" in failed and "contract verifyDocument" in failed
    bad_block = {**base, "blockHash": "0x" + "33" * 32}
    failed = {
        c.name for c in check_receipt_on_chain(shared_chain.chain, bad_block, doc) if not c.ok
    }
    assert failed == {"block canonical", "anchor transaction"}
    assert all(c.ok for c in check_receipt_on_chain(shared_chain.chain, base, doc))

    # the contract view agrees, with no node involved
    registry = shared_chain.chain.contract("AnchorRegistry", base["contract"])
    proof = [parse_hash(p) for p in base["proof"]]
    root, doc = parse_hash(base["root"]), parse_hash(base["docHash"])
    assert registry.functions.verifyDocument(root, doc, proof).call() == base["blockTime"]
    assert registry.functions.verifyDocument(root, parse_hash("0x" + "44" * 32), proof).call() == 0


def test_verify_with_unreachable_rpc_is_one_line_exit_2(tmp_path: Path) -> None:
    receipt = tmp_path / "r.json"
    receipt.write_text(json.dumps({"format": "credledger-receipt", "version": 1}))
    r = run_cli("verify", "0x" + "55" * 32, "--receipt", str(receipt),
                "--rpc", f"http://127.0.0.1:{free_port()}")  # fmt: skip
    assert r.returncode == 2
    lines = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach" in lines[0], lines
