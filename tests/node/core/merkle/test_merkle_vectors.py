"""Fixed vectors of the frozen Merkle core, checked in Python, with @openzeppelin/merkle-tree
(node) and with the deployed AnchorRegistry's verifyDocument. A failure here means receipts
already issued would stop verifying: fix the code, never the vectors."""

from __future__ import annotations

import hashlib
import json
import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credledger.node.core import merkle
from credledger.node.core.chain import Chain
from credledger.node.core.tx import TxSender
from tests.conftest import ROOT

# doc hash i = sha256("credledger-vector-<i>"); root of the first n of them
VECTORS = {
    1: "0xfa4cd1f5ba84abc4457ca8197bfea704ea37c6133b5027f199e0428adb598f9e",
    2: "0x768160126879231e72f51add1ed348db0fe0cb09e57238463424848fae861f53",
    3: "0xd0414e880ec625535c3a57104ff4e76043edd37029ade554cf37d7a374b2c2cc",
    5: "0x88191d8edbd69b4c950c2be3891c911f06cdc7389c52da13d13ec3d380238d9b",
    8: "0x9b3135ac638517033139dbdd8923884dff2d4755fde0b5ac4512f6f0ead9d635",
    13: "0xcfe3a20d54ab4815af92552e0c839401ee516ba19dbd535fd8d8e9dddb0eb800",
}
# the leaf of vector doc 0 and the proof of doc 4 in the 5-leaf tree
LEAF_0 = "0xfa4cd1f5ba84abc4457ca8197bfea704ea37c6133b5027f199e0428adb598f9e"
PROOF_5_4 = [
    "0x6d6e042050628825af379c7c84abfafbf6f5579ade7f8a45ea5b0a12abf0d709",
    "0xfa4cd1f5ba84abc4457ca8197bfea704ea37c6133b5027f199e0428adb598f9e",
    "0xcf955f9c0dc735ae40aea9cfcc5f081eaddf64394bfab2ad997db021b922185b",
]


def docs(n: int) -> list[bytes]:
    return [hashlib.sha256(f"credledger-vector-{i}".encode()).digest() for i in range(n)]


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def test_keccak_backend_is_native() -> None:
    assert merkle.KECCAK_BACKEND == "safe-pysha3"
    assert hx(merkle.keccak256(b"")) == (
        "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )


@pytest.mark.parametrize("n", sorted(VECTORS))
def test_fixed_roots(n: int) -> None:
    tree = merkle.build(docs(n))
    assert hx(tree.root) == VECTORS[n]
    for i, d in enumerate(docs(n)):
        assert merkle.verify(tree.root, d, tree.proof(i))
    assert tree.all_proofs() == [tree.proof(i) for i in range(n)]


def test_fixed_leaf_and_proof() -> None:
    assert hx(merkle.leaf_hash(docs(1)[0])) == LEAF_0
    assert [hx(p) for p in merkle.build(docs(5)).proof(4)] == PROOF_5_4


def test_root_does_not_depend_on_input_order() -> None:
    d = docs(8)
    assert merkle.build(d).root == merkle.build(list(reversed(d))).root


def test_negative_cases() -> None:
    tree = merkle.build(docs(5))
    proof = tree.proof(2)
    other = hashlib.sha256(b"tampered").digest()
    assert not merkle.verify(tree.root, other, proof)
    assert not merkle.verify(merkle.build(docs(3)).root, docs(5)[2], proof)
    assert not merkle.verify(tree.root, docs(5)[2], proof[:-1])
    assert not merkle.verify(tree.root, docs(5)[2], [b"\x00" * 31])
    with pytest.raises(ValueError, match="32 bytes"):
        merkle.build([b"short"])
    with pytest.raises(ValueError, match="at least one"):
        merkle.build([])
    with pytest.raises(ValueError, match="duplicate"):
        merkle.build([docs(1)[0], docs(1)[0]])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70, unique=True))
def test_every_proof_verifies(doc_hashes: list[bytes]) -> None:
    tree = merkle.build(doc_hashes)
    for i, d in enumerate(doc_hashes):
        assert merkle.verify(tree.root, d, tree.proof(i))
        assert tree.leaf(i) == merkle.leaf_hash(d)


OZ_SCRIPT = """
const { StandardMerkleTree } = require(process.argv[1] + "/@openzeppelin/merkle-tree");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = input.map(hashes => {
  const t = StandardMerkleTree.of(hashes.map(h => [h]), ["bytes32"]);
  return { root: t.root, proofs: hashes.map((_, i) => t.getProof(i)) };
});
process.stdout.write(JSON.stringify(out));
"""


def _oz(sets: list[list[str]]) -> list[dict[str, Any]]:
    modules = ROOT / "hardhat-free-devnet" / "node_modules"
    result = subprocess.run(
        ["node", "-e", OZ_SCRIPT, str(modules)],
        input=json.dumps(sets),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


def test_matches_openzeppelin_merkle_tree() -> None:
    import random

    rng = random.Random(7)
    sets = [[hx(d) for d in docs(n)] for n in sorted(VECTORS)]
    sets += [[hx(rng.randbytes(32)) for _ in range(n)] for n in (4, 6, 31, 100, 257)]
    for hashes, oz in zip(sets, _oz(sets), strict=True):
        tree = merkle.build([bytes.fromhex(h[2:]) for h in hashes])
        assert hx(tree.root) == oz["root"]
        assert [[hx(p) for p in tree.proof(i)] for i in range(len(hashes))] == oz["proofs"]
    for n, oz in zip(sorted(VECTORS), _oz(sets[: len(VECTORS)]), strict=True):
        assert oz["root"] == VECTORS[n]


@pytest.mark.chain
def test_contract_verify_document_accepts_the_vectors(
    chain: Chain, deployer: TxSender, deployment: dict[str, Any], snapshot: None
) -> None:
    registry = chain.contract(
        "AnchorRegistry", deployment["contracts"]["AnchorRegistry"]["address"]
    )
    tree = merkle.build(docs(13))
    assert hx(tree.root) == VECTORS[13]
    deployer.send(registry.functions.anchor(tree.root, 13))
    for i, d in enumerate(docs(13)):
        assert registry.functions.verifyDocument(tree.root, d, tree.proof(i)).call() > 0
    # negatives: wrong document, proof of another leaf, unanchored root
    assert registry.functions.verifyDocument(tree.root, docs(14)[13], tree.proof(0)).call() == 0
    assert registry.functions.verifyDocument(tree.root, docs(13)[0], tree.proof(1)).call() == 0
    five = merkle.build(docs(5))
    assert registry.functions.verifyDocument(five.root, docs(5)[0], five.proof(0)).call() == 0
