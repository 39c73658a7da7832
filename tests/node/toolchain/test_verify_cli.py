"""`credledger verify`: the exit codes docs/receipt.md states, and failing lines that say what
differs. A batch is anchored straight on the session anvil (no node), the receipt built from it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from credledger.node.core import merkle
from credledger.node.core.chain import Chain
from credledger.node.core.receipts import build_receipt, hex32, sha256_file
from credledger.node.core.tx import TxSender
from credledger.node.devnet import DevnetInfo, free_port
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def anchored(
    tmp_path_factory: pytest.TempPathFactory,
    chain: Chain,
    deployer: TxSender,
    deployment: dict[str, Any],
) -> tuple[Path, Path, dict[str, Any]]:
    """(document, receipt file, receipt) of a three-document batch anchored on chain."""
    folder = tmp_path_factory.mktemp("verify")
    docs = [folder / f"doc{i}.pdf" for i in range(3)]
    for d in docs:
        d.write_bytes(b"%PDF " + os.urandom(64))
    hashes = [sha256_file(d) for d in docs]
    tree = merkle.build(hashes)
    address = deployment["contracts"]["AnchorRegistry"]["address"]
    registry = chain.contract("AnchorRegistry", address)
    tx = deployer.send(registry.functions.anchor(tree.root, len(hashes)))
    block = chain.w3.eth.get_block(tx["blockNumber"])
    receipt = build_receipt(
        doc_hash=hashes[0],
        proof=tree.proof(0),
        root=tree.root,
        leaf_count=len(hashes),
        chain_id=chain.chain_id,
        contract=address,
        tx_hash=bytes(tx["transactionHash"]),
        block_number=tx["blockNumber"],
        block_hash=bytes(block["hash"]),
        block_time=int(block["timestamp"]),
    )
    path = folder / "doc0.pdf.receipt.json"
    path.write_text(json.dumps(receipt))
    return docs[0], path, receipt


def _verify(target: str, receipt: Path, rpc: str) -> tuple[int, list[str]]:
    r = run_cli("verify", target, "--receipt", str(receipt), "--rpc", rpc)
    assert "Traceback" not in r.stderr
    return r.returncode, [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]


def _variant(tmp_path: Path, receipt: dict[str, Any], **changes: Any) -> Path:
    p = tmp_path / "variant.json"
    p.write_text(json.dumps({**receipt, **changes}))
    return p


def test_exit_0_when_every_check_passes_with_a_host_port_rpc(
    anchored: tuple[Path, Path, dict[str, Any]], anvil: DevnetInfo
) -> None:
    doc, path, _ = anchored
    code, lines = _verify(str(doc), path, f"127.0.0.1:{anvil.port}")
    assert code == 0, lines
    assert len([ln for ln in lines if ln.startswith("✓")]) == 10 and lines[-1] == "VERIFIED"


def test_a_wrong_leaf_is_exit_1_and_the_line_shows_both_leaves(
    anchored: tuple[Path, Path, dict[str, Any]], anvil: DevnetInfo, tmp_path: Path
) -> None:
    doc, _, receipt = anchored
    bad = "0x" + "ab" * 32
    code, lines = _verify(str(doc), _variant(tmp_path, receipt, leaf=bad), anvil.rpc_url)
    assert code == 1 and lines[-1] == "NOT VERIFIED"
    failed = [ln for ln in lines if ln.startswith("✗")]
    assert len(failed) == 1 and "leaf encoding" in failed[0]
    assert bad in failed[0] and receipt["leaf"] in failed[0], failed[0]


def test_another_document_is_exit_1_and_the_line_shows_both_hashes(
    anchored: tuple[Path, Path, dict[str, Any]], anvil: DevnetInfo, tmp_path: Path
) -> None:
    _, path, receipt = anchored
    other = tmp_path / "other.pdf"
    other.write_bytes(b"not the anchored one")
    code, lines = _verify(str(other), path, anvil.rpc_url)
    assert code == 1 and lines[-1] == "NOT VERIFIED"
    doc_line = next(ln for ln in lines if "document hash" in ln)
    assert doc_line.startswith("✗")
    assert hex32(sha256_file(other)) in doc_line and receipt["docHash"] in doc_line


@pytest.mark.parametrize(
    "content", ["not json", "[1, 2]", '{"format": "something-else", "version": 1}']
)
def test_an_unusable_receipt_is_exit_1_in_one_line(
    anchored: tuple[Path, Path, dict[str, Any]], anvil: DevnetInfo, tmp_path: Path, content: str
) -> None:
    doc, _, _ = anchored
    path = tmp_path / "r.json"
    path.write_text(content)
    code, lines = _verify(str(doc), path, anvil.rpc_url)
    assert code == 1 and len(lines) == 2 and lines[-1] == "NOT VERIFIED", lines


def test_a_missing_field_and_a_missing_receipt_are_exit_1(
    anchored: tuple[Path, Path, dict[str, Any]], anvil: DevnetInfo, tmp_path: Path
) -> None:
    doc, _, receipt = anchored
    no_root = {k: v for k, v in receipt.items() if k != "root"}
    path = tmp_path / "no-root.json"
    path.write_text(json.dumps(no_root))
    code, lines = _verify(str(doc), path, anvil.rpc_url)
    assert code == 1 and "'root'" in lines[0], lines
    code, lines = _verify(str(doc), tmp_path / "absent.json", anvil.rpc_url)
    assert code == 1 and "cannot read receipt" in lines[0], lines


def test_an_unreachable_rpc_is_exit_2(anchored: tuple[Path, Path, dict[str, Any]]) -> None:
    doc, path, _ = anchored
    code, lines = _verify(str(doc), path, f"http://127.0.0.1:{free_port()}")
    assert code == 2 and len(lines) == 1 and "cannot reach the chain" in lines[0], lines
