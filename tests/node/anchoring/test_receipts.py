"""`credledger anchor` saves receipts; `credledger verify` checks them against the chain alone."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from eth_hash.auto import keccak

from credledger.node.core.paths import ARTIFACTS_DIR, ROOT
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


def test_receipt_with_a_moved_block_time_or_a_changed_leaf_count_fails(
    shared_node: NodeProcess, shared_chain: DevChain, tmp_path: Path
) -> None:
    """The chain holds both: anchoredAt(root) and the Anchored event's leafCount."""
    out = tmp_path / "receipts"
    files = _anchor_folder(shared_node, tmp_path / "docs", out, 2)
    receipt = out / (files[0].name + ".receipt.json")
    base: dict[str, Any] = json.loads(receipt.read_text())
    rpc = shared_chain.rpc_url
    code, text = _verify(str(files[0]), receipt, rpc)
    assert code == 0 and "✓ block time" in text and "✓ leaf count" in text, text

    def variant(name: str, **changes: Any) -> Path:
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps({**base, **changes}))
        return p

    code, text = _verify(str(files[0]), variant("day", blockTime=base["blockTime"] - 86_400), rpc)
    assert code == 1 and "✗ block time" in text and "NOT VERIFIED" in text, text
    assert "✗ leaf count" not in text
    for count in (base["leafCount"] + 1, base["leafCount"] - 1, 1_000_000, "2"):
        code, text = _verify(str(files[0]), variant("count", leafCount=count), rpc)
        assert code == 1 and "✗ leaf count" in text and "NOT VERIFIED" in text, (count, text)
        assert "✗ block time" not in text
    # in-process: exactly the named check fails
    doc = parse_hash(base["docHash"])
    failed = {
        c.name
        for c in check_receipt_on_chain(shared_chain.chain, {**base, "blockTime": 0}, doc)
        if not c.ok
    }
    assert failed == {"block time"}


def test_verify_with_unreachable_rpc_is_one_line_exit_2(tmp_path: Path) -> None:
    receipt = tmp_path / "r.json"
    receipt.write_text(json.dumps({"format": "credledger-receipt", "version": 1}))
    r = run_cli("verify", "0x" + "55" * 32, "--receipt", str(receipt),
                "--rpc", f"http://127.0.0.1:{free_port()}")  # fmt: skip
    assert r.returncode == 2
    lines = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach" in lines[0], lines


def test_receipt_doc_gives_the_abi_a_verifier_needs() -> None:
    """docs/receipt.md's signatures, topic0 and selector are the deployed contract's."""
    doc = (ROOT / "docs" / "receipt.md").read_text(encoding="utf-8")
    abi = json.loads((ARTIFACTS_DIR / "AnchorRegistry.json").read_text())["abi"]

    def signature(item: dict[str, Any]) -> str:
        return f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"

    by_name = {i["name"]: i for i in abi if i.get("type") in ("event", "function")}
    event = by_name["Anchored"]
    spelled = ", ".join(
        f"{i['type']}{' indexed' if i['indexed'] else ''} {i['name']}" for i in event["inputs"]
    )
    assert f"Anchored({spelled})" in doc
    assert "0x" + keccak(signature(event).encode()).hex() in doc
    assert "0x" + keccak(signature(by_name["anchoredAt"]).encode())[:4].hex() in doc
    for view in ("anchoredAt", "verifyDocument", "anchorRecord"):
        ins = ", ".join(f"{i['type']} {i['name']}" for i in by_name[view]["inputs"])
        assert f"{view}({ins}) returns (" in doc, view
