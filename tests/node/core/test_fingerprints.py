"""node/core/fingerprints.py: SM3 and SHA-256 digests checked against the system's OpenSSL and the
GB/T 32905 example, and the SM3 leaf input checked against an independent keccak (npm) and
OpenZeppelin's merkle-tree, so an SM3 receipt verifies with outsiders' code too."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from credledger.node.core import merkle
from credledger.node.core.errors import InputError
from credledger.node.core.fingerprints import (
    ANCHORED_VALUE_ENCODING,
    SM3_TAG,
    FingerprintUnavailable,
    anchored_value,
    fingerprint_file,
    fingerprint_of,
    new_hasher,
    parse_fingerprint,
    sm3_available,
)
from tests.conftest import ROOT

OPENSSL = shutil.which("openssl")
MODULES = ROOT / "hardhat-free-devnet" / "node_modules"


def _openssl(alg: str, path: Path) -> bytes:
    assert OPENSSL, "the system openssl is needed"
    out = subprocess.run(
        [OPENSSL, "dgst", f"-{alg}", "-r", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return bytes.fromhex(out.split()[0])


def test_sm3_is_available_here_and_matches_the_standard_example() -> None:
    assert sm3_available()
    # GB/T 32905-2016 appendix A example 1: SM3("abc")
    assert fingerprint_of(b"abc", "sm3").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )
    # example 2: "abcd" x 16
    assert fingerprint_of(b"abcd" * 16, "sm3").hex() == (
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )
    assert fingerprint_of(b"abc") == hashlib.sha256(b"abc").digest()


@pytest.mark.parametrize("size", [0, 1, 55, 64, 1000, (1 << 20) + 17])
def test_file_digests_equal_openssl_dgst(tmp_path: Path, size: int) -> None:
    f = tmp_path / "doc.bin"
    f.write_bytes(os.urandom(size))
    assert fingerprint_file(f, "sm3") == _openssl("sm3", f)
    assert fingerprint_file(f, "sha256") == _openssl("sha256", f)
    assert fingerprint_file(f, "sm3", chunk=7) == fingerprint_of(f.read_bytes(), "sm3")


def test_parse_fingerprint() -> None:
    assert parse_fingerprint("SM3") == "sm3"
    assert parse_fingerprint(" sha-256 ") == "sha256"
    for bad in ("md5", "", None, 3, ["sm3"]):
        with pytest.raises(InputError, match="fingerprint: must be one of"):
            parse_fingerprint(bad)


def test_the_anchored_value_separates_the_algorithms() -> None:
    d = fingerprint_of(b"permit", "sm3")
    assert anchored_value(d, "sha256") == d
    sm3 = anchored_value(d, "sm3")
    assert sm3 == merkle.keccak256(merkle.keccak256(b"credledger.fingerprint.sm3") + d)
    assert sm3 != d and merkle.leaf_hash(sm3) != merkle.leaf_hash(d)
    with pytest.raises(InputError):
        anchored_value(b"short", "sm3")


def test_a_platform_without_sm3_gets_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    sm3_available.cache_clear()
    real_new = hashlib.new

    def no_sm3(name: str, *args: object, **kw: object) -> object:
        if name.lower() == "sm3":
            raise ValueError("unsupported hash type sm3")
        return real_new(name, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(hashlib, "new", no_sm3)
    try:
        assert not sm3_available()
        with pytest.raises(FingerprintUnavailable, match="SM3 is not available") as info:
            new_hasher("sm3")
        assert info.value.http_status == 501
        assert fingerprint_of(b"x", "sha256") == hashlib.sha256(b"x").digest()
        # the anchored value needs no SM3: a node without it still accepts SM3 digests
        assert len(anchored_value(b"\x01" * 32, "sm3")) == 32
    finally:
        monkeypatch.undo()
        sm3_available.cache_clear()
    assert sm3_available()


JS = """
const { keccak256 } = require(process.argv[1] + "/ethereum-cryptography/keccak");
const { StandardMerkleTree } = require(process.argv[1] + "/@openzeppelin/merkle-tree");
const hex = (b) => "0x" + Buffer.from(b).toString("hex");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const tag = keccak256(Buffer.from("credledger.fingerprint.sm3"));
const values = input.digests.map((d) =>
  hex(keccak256(Buffer.concat([Buffer.from(tag), Buffer.from(d.slice(2), "hex")]))));
const tree = StandardMerkleTree.of(values.map((v) => [v]), ["bytes32"]);
process.stdout.write(JSON.stringify({
  tag: hex(tag), values, root: tree.root, proofs: values.map((_, i) => tree.getProof(i)),
}));
"""


def test_sm3_leaf_inputs_and_tree_agree_with_independent_js() -> None:
    digests = [fingerprint_of(f"doc-{i}".encode(), "sm3") for i in range(5)]
    out = json.loads(
        subprocess.run(
            ["node", "-e", JS, str(MODULES)],
            input=json.dumps({"digests": ["0x" + d.hex() for d in digests]}),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    )
    assert out["tag"] == "0x" + SM3_TAG.hex()
    values = [anchored_value(d, "sm3") for d in digests]
    assert out["values"] == ["0x" + v.hex() for v in values]
    tree = merkle.build(values)
    assert out["root"] == "0x" + tree.root.hex()
    assert out["proofs"] == [["0x" + p.hex() for p in tree.proof(i)] for i in range(5)]


def test_the_docs_give_the_tag_and_the_anchored_value_rule() -> None:
    receipt_doc = (ROOT / "docs" / "receipt.md").read_text(encoding="utf-8")
    standards = (ROOT / "docs" / "standards.md").read_text(encoding="utf-8")
    assert "0x" + SM3_TAG.hex() in receipt_doc
    assert ANCHORED_VALUE_ENCODING["sm3"] in receipt_doc.replace('\\"', '"')
    assert "## SM3 (GM/T 0004) fingerprints" in standards
