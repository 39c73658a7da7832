"""Portable anchoring receipts: build them, and check them against a chain with no node.

The format is documented in ``docs/receipt.md`` (``credledger-receipt``, version 1 for SHA-256
fingerprints, version 2 for SM3 ones). A receipt is self-contained: with it, the document (or its
hash) and any RPC endpoint of the chain, anyone can check that the document was anchored, where
and when.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3

from credledger.node.core import fingerprints, merkle
from credledger.node.core.chain import Chain
from credledger.node.core.contracts.anchor_registry import AnchorRegistry
from credledger.node.core.contracts.eip712 import material_asset_id
from credledger.node.core.errors import InputError
from credledger.node.core.fingerprints import Fingerprint, fingerprint_file, parse_fingerprint

RECEIPT_FORMAT = "credledger-receipt"
RECEIPT_VERSION = 1  # SHA-256 fingerprints: the receipt every verifier since the first one reads
RECEIPT_VERSION_TAGGED = 2  # other fingerprints (SM3): the leaf input is the tagged digest
RECEIPT_VERSIONS = (RECEIPT_VERSION, RECEIPT_VERSION_TAGGED)
LEAF_ENCODING = "keccak256(keccak256(abi.encode(bytes32 docHash)))"
LEAF_ENCODING_TAGGED = "keccak256(keccak256(abi.encode(bytes32 anchoredValue)))"
TREE_KIND = "openzeppelin-standard-merkle-tree (sorted leaves, sorted pairs, keccak256)"
DOC_HASH_ALGORITHM = "sha256"


def _utc(seconds: int) -> str:
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):  # a receipt's blockTime past year 9999
        return f"{seconds} (unix seconds)"


def hex32(b: bytes) -> str:
    return "0x" + bytes(b).hex()


def parse_hash(value: Any, field: str | None = None) -> bytes:
    """A 32-byte hash from ``0x`` + 64 hex digits (the prefix is optional); InputError if not.

    ``field`` names the request field in the message and the error details (the one parser of
    hashes: anchors, receipts, licence ids, document hashes).
    """
    where = {"field": field} if field else {}
    if not isinstance(value, str):
        raise InputError(
            f"{field}: expected 0x + 64 hex digits"
            if field
            else "a hash must be a string of 64 hex digits",
            **where,
        )
    s = value.strip()
    s = s[2:] if s[:2] in ("0x", "0X") else s
    if len(s) != 64:
        raise InputError(
            f"{field}: must be 32 bytes (64 hex digits), got {len(s)}"
            if field
            else f"a hash must be 32 bytes (64 hex digits), got {len(s)} digits",
            **where,
        )
    try:
        return bytes.fromhex(s)
    except ValueError:
        raise InputError(
            f"{field}: only hex digits 0-9 a-f are allowed"
            if field
            else "a hash must contain only hex digits 0-9 a-f",
            **where,
        ) from None


def sha256_file(path: Path, chunk: int = 1 << 20) -> bytes:
    return fingerprint_file(path, "sha256", chunk)


def build_receipt(
    *,
    doc_hash: bytes,
    proof: Sequence[bytes],
    root: bytes,
    leaf_count: int,
    chain_id: int,
    contract: str,
    tx_hash: bytes,
    block_number: int,
    block_hash: bytes,
    block_time: int,
    submitted_at: float | None = None,
    fingerprint: Fingerprint = "sha256",
) -> dict[str, Any]:
    """The receipt of ``doc_hash`` (the document's fingerprint under ``fingerprint``): version 1
    for SHA-256 (any 32-byte value anchored as it is), version 2 with ``anchoredValue`` for SM3."""
    value = fingerprints.anchored_value(doc_hash, fingerprint)
    head: dict[str, Any] = {
        "format": RECEIPT_FORMAT,
        "version": RECEIPT_VERSION,
        "docHash": hex32(doc_hash),
        "docHashAlgorithm": fingerprint,
        "fingerprint": fingerprint,
        "leafEncoding": LEAF_ENCODING,
    }
    if fingerprint != "sha256":
        head |= {
            "version": RECEIPT_VERSION_TAGGED,
            "anchoredValue": hex32(value),
            "anchoredValueEncoding": fingerprints.ANCHORED_VALUE_ENCODING[fingerprint],
            "leafEncoding": LEAF_ENCODING_TAGGED,
        }
    return {
        **head,
        "leaf": hex32(merkle.leaf_hash(value)),
        "tree": TREE_KIND,
        "proof": [hex32(p) for p in proof],
        "root": hex32(root),
        "leafCount": leaf_count,
        "chainId": chain_id,
        "contract": Web3.to_checksum_address(contract),
        "contractName": "AnchorRegistry",
        "transactionHash": hex32(tx_hash),
        "blockNumber": block_number,
        "blockHash": hex32(block_hash),
        "blockTime": block_time,
        "submittedAt": submitted_at,
    }


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _field(receipt: dict[str, Any], key: str) -> Any:
    if key not in receipt:
        raise InputError(f"the receipt has no {key!r} field; is it a credledger receipt?")
    return receipt[key]


def _uint(receipt: dict[str, Any], key: str) -> int:
    """An unsigned integer field below 2**64 (an int, or its decimal string)."""
    value = _field(receipt, key)
    try:
        n = int(value) if not isinstance(value, bool | float) else None
    except (TypeError, ValueError):
        n = None
    if n is None or not 0 <= n < 2**64:
        raise InputError(f"the receipt's {key} is not an unsigned integer")
    return n


def _proof(receipt: dict[str, Any]) -> list[bytes]:
    proof = _field(receipt, "proof")
    if not isinstance(proof, list):
        raise InputError("the receipt's proof is not a list of hashes")
    return [parse_hash(p) for p in proof]


def _material_check(receipt: dict[str, Any], file_hash: bytes) -> tuple[bytes, Check] | None:
    """For a wallet material's receipt checked against the file itself: the asset id derived
    from the file's SHA-256 and the holder the receipt names, and the check that it is the
    anchored value. None if the receipt names no material (or ``file_hash`` is the value)."""
    material = receipt.get("material")
    if not isinstance(material, dict) or "holder" not in material:
        return None
    r_doc = parse_hash(_field(receipt, "docHash"))
    if file_hash == r_doc:
        return None
    holder = material["holder"]
    if not isinstance(holder, str) or not Web3.is_address(holder):
        raise InputError("the receipt's material.holder is not an address")
    asset = material_asset_id(holder, file_hash)
    ok = asset == r_doc
    detail = (
        f"keccak256(abi.encode({Web3.to_checksum_address(holder)}, {hex32(file_hash)}))"
        f" = {hex32(asset)} is the receipt's docHash"
        if ok
        else f"the asset id of this file for holder {holder}, {hex32(asset)}, differs from the "
        f"receipt's docHash {hex32(r_doc)}"
    )
    return asset, Check("material asset id", ok, detail)


def receipt_fingerprint(receipt: dict[str, Any]) -> Fingerprint:
    """The fingerprint a receipt names: ``fingerprint`` (required from version 2; a version-1
    receipt without it is a SHA-256 one). InputError for an unknown name or version."""
    if receipt.get("format") != RECEIPT_FORMAT:
        raise InputError(f"not a {RECEIPT_FORMAT} file (format={receipt.get('format')!r})")
    version = receipt.get("version")
    if version not in RECEIPT_VERSIONS or isinstance(version, bool):
        raise InputError(f"receipt version {version!r} is not supported (want 1 or 2)")
    if "fingerprint" not in receipt and version == RECEIPT_VERSION:
        return "sha256"
    return parse_fingerprint(_field(receipt, "fingerprint"), "the receipt's fingerprint")


def anchored_value(receipt: dict[str, Any], doc_hash: bytes | None = None) -> bytes:
    """The 32-byte value the receipt must prove on chain for ``doc_hash`` (None: the receipt's
    own ``docHash``): the hash itself (SHA-256), its SM3-tagged value, or, for a wallet material
    checked against its file, the material's asset id."""
    if doc_hash is None:
        doc_hash = parse_hash(_field(receipt, "docHash"))
    fp = receipt_fingerprint(receipt)
    material = _material_check(receipt, doc_hash) if fp == "sha256" else None
    if material:
        return material[0]
    return fingerprints.anchored_value(doc_hash, fp)


def _fingerprint_check(receipt: dict[str, Any], fp: Fingerprint, r_doc: bytes) -> Check:
    """Version 2: the receipt's anchoredValue (required there) is the tagged digest of its
    docHash. A version-1 receipt relabelled with another fingerprint has none: its leaf fails."""
    value = fingerprints.anchored_value(r_doc, fp)
    if receipt.get("version") == RECEIPT_VERSION_TAGGED or "anchoredValue" in receipt:
        stated = receipt.get("anchoredValue")
        ok = parse_hash(_field(receipt, "anchoredValue"), "anchoredValue") == value
    else:
        stated, ok = None, True
    standard = fingerprints.STANDARD[fp]
    return Check(
        "fingerprint",
        ok,
        f"{standard}; anchored value {hex32(value)}"
        if ok
        else f"the receipt's anchoredValue {stated} is not the {fp} value of its docHash, "
        f"{hex32(value)} = {fingerprints.ANCHORED_VALUE_ENCODING[fp]}",
    )


def check_receipt_offline(receipt: dict[str, Any], doc_hash: bytes | None = None) -> list[Check]:
    """The checks that need no chain: format, document hash, fingerprint, leaf, Merkle path.

    ``doc_hash`` is the document's fingerprint under the receipt's ``fingerprint`` (SHA-256 for a
    version-1 receipt), or, for a receipt naming a wallet material (``material.holder``), the
    SHA-256 of the material's file (see docs/receipt.md); None checks the receipt's own
    ``docHash`` (a receipt alone: it proves that value was anchored)."""
    fp = receipt_fingerprint(receipt)
    r_doc = parse_hash(_field(receipt, "docHash"))
    root = parse_hash(_field(receipt, "root"))
    proof = _proof(receipt)
    # a material's asset id is derived from the file's SHA-256 (docs/receipt.md)
    material = (
        _material_check(receipt, doc_hash) if doc_hash is not None and fp == "sha256" else None
    )
    if material is not None:
        value, check = material
        checks = [check]
    elif doc_hash is None:
        value = fingerprints.anchored_value(r_doc, fp)
        checks = [
            Check(
                "document hash",
                True,
                f"no document given: the receipt's {fp} docHash {hex32(r_doc)} is checked",
            )
        ]
    else:
        value = fingerprints.anchored_value(doc_hash, fp)
        checks = [
            Check(
                "document hash",
                r_doc == doc_hash,
                f"{hex32(doc_hash)} matches the receipt ({fp})"
                if r_doc == doc_hash
                else f"the document's {fp} hash {hex32(doc_hash)} differs from the receipt's "
                f"docHash {hex32(r_doc)}",
            )
        ]
    tagged = fp != "sha256" or receipt.get("version") != RECEIPT_VERSION
    if tagged:
        checks.append(_fingerprint_check(receipt, fp, r_doc))
    encoding = LEAF_ENCODING_TAGGED if tagged else LEAF_ENCODING
    r_leaf = parse_hash(_field(receipt, "leaf"))
    want_leaf = merkle.leaf_hash(value)
    checks.append(
        Check(
            "leaf encoding",
            r_leaf == want_leaf,
            encoding
            if r_leaf == want_leaf
            else f"the receipt's leaf {hex32(r_leaf)} differs from {hex32(want_leaf)} = "
            f"{encoding.replace('docHash', hex32(value)[:10] + '…')}"
            + (f" (the {fp} leaf input of its docHash)" if tagged else ""),
        )
    )
    path_ok = merkle.verify(root, value, proof)
    checks.append(
        Check(
            "merkle proof",
            path_ok,
            f"{len(proof)} steps lead to root {hex32(root)}"
            if path_ok
            else f"the {len(proof)}-step path does not lead to root {hex32(root)}",
        )
    )
    return checks


def check_receipt_on_chain(
    chain: Chain, receipt: dict[str, Any], doc_hash: bytes | None = None
) -> list[Check]:
    """Check a receipt against the chain only: chain id, anchor, contract view, canonical block.

    ``doc_hash`` as for :func:`check_receipt_offline` (None: the receipt alone)."""
    checks = check_receipt_offline(receipt, doc_hash)
    doc_hash = anchored_value(receipt, doc_hash)
    chain_id = _uint(receipt, "chainId")
    ok = chain.chain_id == chain_id
    checks.append(
        Check("chain id", ok, f"RPC is chain {chain.chain_id}, receipt names chain {chain_id}")
    )
    if not ok:
        return checks
    address = _field(receipt, "contract")
    if not isinstance(address, str) or not Web3.is_address(address):
        raise InputError("the receipt's contract is not an address")
    root = parse_hash(receipt["root"])
    proof = _proof(receipt)
    if not chain.code_at(address):
        checks.append(Check("anchored on chain", False, f"no contract at {address}"))
        return checks
    registry = AnchorRegistry(chain, address)
    anchored_at = registry.anchored_at(root)
    checks.append(
        Check(
            "anchored on chain",
            anchored_at != 0,
            f"root anchored at {_utc(anchored_at)} in registry {address}"
            if anchored_at
            else f"root {hex32(root)} is not anchored at {address}",
        )
    )
    block_time = _uint(receipt, "blockTime")
    checks.append(
        Check(
            "block time",
            anchored_at != 0 and anchored_at == block_time,
            f"blockTime {_utc(block_time)} equals anchoredAt(root)"
            if anchored_at == block_time
            else f"the receipt's blockTime {_utc(block_time)} differs from anchoredAt(root) "
            + (_utc(anchored_at) if anchored_at else "0 (not anchored)"),
        )
    )
    via_view = registry.verify_document(root, doc_hash, proof)
    checks.append(
        Check(
            "contract verifyDocument",
            via_view != 0,
            "the contract accepts the proof" if via_view else "the contract rejects the proof",
        )
    )
    block_number = _uint(receipt, "blockNumber")
    block_hash = parse_hash(_field(receipt, "blockHash"))
    tx_hash = parse_hash(_field(receipt, "transactionHash"))
    try:
        canonical = chain.block_hash(block_number) == block_hash
    except Exception:
        canonical = False
    detail = (
        f"block {block_number} {hex32(block_hash)} is canonical"
        if canonical
        else f"block {block_number} on chain is not {hex32(block_hash)} (reorged or wrong)"
    )
    checks.append(Check("block canonical", canonical, detail))
    leaf_count = _field(receipt, "leafCount")
    in_block = False
    emitted: list[int] = []  # leafCount of each Anchored(root) event in the transaction
    try:
        tx_receipt = chain.receipt(tx_hash)
        if tx_receipt is not None and tx_receipt["status"] == 1:
            emitted = [e.leaf_count for e in registry.anchored_events(tx_receipt) if e.root == root]
        in_block = (
            tx_receipt is not None
            and bytes(tx_receipt["blockHash"]) == block_hash
            and bool(emitted)
        )
    except Exception:
        in_block = False
    checks.append(
        Check(
            "anchor transaction",
            in_block,
            f"{hex32(tx_hash)} emitted Anchored(root) in that block"
            if in_block
            else f"{hex32(tx_hash)} did not anchor this root in block {block_number}",
        )
    )
    count_ok = bool(emitted) and isinstance(leaf_count, int) and emitted == [leaf_count]
    checks.append(
        Check(
            "leaf count",
            count_ok,
            f"leafCount {leaf_count} equals the Anchored event's"
            if count_ok
            else f"the receipt's leafCount {leaf_count!r} differs from the Anchored event's "
            + (", ".join(map(str, emitted)) if emitted else "(no Anchored(root) event found)"),
        )
    )
    return checks


# --- verification records (a clerk's check, anchored like a document) --------------------------

RECORD_HASH_ALGORITHM = "sha256 of the canonical JSON record (sorted keys, no spaces)"


def record_hash(record: Any) -> bytes:
    """The hash a verification record is anchored under: sha256 of its canonical JSON (sorted
    keys, no spaces, UTF-8). The one definition: document checks, presentation checks and
    anyone re-checking a downloaded record compute it here."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).digest()
