"""SM3 fingerprints (issue 20 item 3) through every interface, on a real anvil and a real node whose
deployment default is SM3: `credledger anchor --fingerprint`, the anchors API (JSON and
multipart), the store, the receipt (version 2) and `credledger verify` against only the RPC, with
the digest checked against the system's `openssl dgst -sm3`."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from credledger.node.core import merkle
from credledger.node.core.fingerprints import anchored_value, fingerprint_of
from credledger.node.core.receipts import check_receipt_on_chain, parse_hash
from tests.conftest import run_cli
from tests.node.anchoring.conftest import DevChain
from tests.node.anchoring.harness import ANCHOR_TOKEN, AUTH, NodeProcess

pytestmark = pytest.mark.chain


@pytest.fixture(scope="module")
def sm3_node(
    shared_chain: DevChain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeProcess]:
    """A node whose deployment fingerprint is SM3 (anchoring.fingerprint = "sm3")."""
    n = NodeProcess(
        [shared_chain.rpc_url],
        tmp_path_factory.mktemp("sm3-node"),
        shared_chain.manifest,
        {
            "CREDLEDGER_ANCHORING__FINGERPRINT": "sm3",
            # the receipt fuzz below sends some 300 verifications with the service token
            "CREDLEDGER_API__RATE_LIMITS__WRITE_BURST": "100000",
            "CREDLEDGER_API__RATE_LIMITS__WRITES_PER_MINUTE": "1000000",
        },
    )
    n.start()
    yield n
    n.stop()


# receipt fields a verifier does not check (docs/receipt.md: descriptions and the submit time)
INFORMATIONAL = {
    "submittedAt", "tree", "contractName", "docHashAlgorithm", "leafEncoding",
    "anchoredValueEncoding",
}  # fmt: skip


def _openssl_sm3(path: Path) -> str:
    openssl = shutil.which("openssl")
    assert openssl, "the system openssl is needed"
    out = subprocess.run(
        [openssl, "dgst", "-sm3", "-r", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return "0x" + out.split()[0].lower()


def _verify(*args: str) -> tuple[int, str]:
    r = run_cli("verify", *args)
    assert "Traceback" not in r.stderr
    return r.returncode, r.stdout + r.stderr


def _record(node: NodeProcess, h: str, fingerprint: str | None = None) -> httpx.Response:
    query = f"?fingerprint={fingerprint}" if fingerprint else ""
    return httpx.get(f"{node.url}/v1/anchors/{h}{query}", timeout=30)


def test_an_sm3_file_anchored_by_the_cli_verifies_against_only_the_rpc(
    sm3_node: NodeProcess, shared_chain: DevChain, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    files = [folder / f"证照{i}.pdf" for i in range(3)]
    for i, f in enumerate(files):
        f.write_bytes(b"%PDF-1.7 " + os.urandom(300 + i))
    out = tmp_path / "receipts"
    r = run_cli(
        "anchor", *map(str, files), "--node", sm3_node.url, "--fingerprint", "sm3", "--wait",
        "--out", str(out), env={"CREDLEDGER_TOKEN": ANCHOR_TOKEN},
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "confirmed sm3" in r.stdout
    rpc = shared_chain.rpc_url
    doc = files[0]
    path = out / (doc.name + ".receipt.json")
    receipt: dict[str, Any] = json.loads(path.read_text())
    # the receipt holds the digest openssl prints, names the algorithm and is version 2
    assert receipt["docHash"] == _openssl_sm3(doc)
    assert receipt["fingerprint"] == receipt["docHashAlgorithm"] == "sm3"
    assert receipt["version"] == 2
    value = anchored_value(parse_hash(receipt["docHash"]), "sm3")
    assert receipt["anchoredValue"] == "0x" + value.hex()
    assert receipt["leaf"] == "0x" + merkle.leaf_hash(value).hex()

    # by file, by hash, and the receipt alone: every check passes, against the RPC only
    code, text = _verify(str(doc), "--receipt", str(path), "--rpc", rpc)
    assert code == 0 and text.strip().endswith("VERIFIED"), text
    assert "✓ fingerprint" in text and "GM/T 0004" in text
    assert len([ln for ln in text.splitlines() if ln.startswith("✓")]) == 11
    assert _verify(receipt["docHash"], "--receipt", str(path), "--rpc", rpc)[0] == 0
    code, text = _verify("--receipt", str(path), "--rpc", rpc)
    assert code == 0 and "no document given" in text, text
    # the contract itself accepts the tagged value with the proof
    registry = shared_chain.chain.contract("AnchorRegistry", receipt["contract"])
    proof = [parse_hash(p) for p in receipt["proof"]]
    root = parse_hash(receipt["root"])
    assert registry.functions.verifyDocument(root, value, proof).call() == receipt["blockTime"]
    assert all(c.ok for c in check_receipt_on_chain(shared_chain.chain, receipt, None))

    def variant(name: str, **changes: Any) -> Path:
        p = tmp_path / f"{name}.json"
        body = {k: v for k, v in {**receipt, **changes}.items() if v is not None}
        p.write_text(json.dumps(body))
        return p

    # the fingerprint label changed: refused with the file, with the hash and alone
    relabelled: dict[str, dict[str, Any]] = {
        "as-sha256": {"fingerprint": "sha256", "docHashAlgorithm": "sha256"},
        "as-v1-sha256": {"fingerprint": "sha256", "version": 1, "anchoredValue": None},
        "v1-no-label": {"fingerprint": None, "version": 1, "anchoredValue": None},
    }
    for name, changes in relabelled.items():
        p = variant(name, **changes)
        for target in ([str(doc)], [receipt["docHash"]], []):
            code, text = _verify(*target, "--receipt", str(p), "--rpc", rpc)
            assert code == 1 and "NOT VERIFIED" in text, (name, target, text)
            assert "✗ leaf encoding" in text or "✗ document hash" in text, (name, text)
    # a version-2 receipt must name its fingerprint; an unknown one is refused
    for changes in ({"fingerprint": None}, {"fingerprint": "md5"}):
        code, text = _verify(str(doc), "--receipt", str(variant("v2", **changes)), "--rpc", rpc)
        assert code == 1 and "fingerprint" in text, text
    # another document, or the SHA-256 of this one, does not pass for it
    other = tmp_path / "other.pdf"
    other.write_bytes(doc.read_bytes() + b"!")
    code, text = _verify(str(other), "--receipt", str(path), "--rpc", rpc)
    assert code == 1 and "✗ document hash" in text and "sm3 hash" in text, text
    sha = "0x" + hashlib.sha256(doc.read_bytes()).hexdigest()
    assert _verify(sha, "--receipt", str(path), "--rpc", rpc)[0] == 1


def test_a_sha256_receipt_relabelled_sm3_fails(
    sm3_node: NodeProcess, shared_chain: DevChain, tmp_path: Path
) -> None:
    doc = tmp_path / "permit.pdf"
    doc.write_bytes(os.urandom(256))
    out = tmp_path / "r"
    r = run_cli(
        "anchor", str(doc), "--node", sm3_node.url, "--fingerprint", "sha256", "--wait",
        "--out", str(out), env={"CREDLEDGER_TOKEN": ANCHOR_TOKEN},
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    path = out / "permit.pdf.receipt.json"
    receipt = json.loads(path.read_text())
    # a SHA-256 receipt is the version-1 receipt every existing verifier reads, now labelled
    assert receipt["version"] == 1 and receipt["fingerprint"] == "sha256"
    assert "anchoredValue" not in receipt
    assert receipt["docHash"] == "0x" + hashlib.sha256(doc.read_bytes()).hexdigest()
    rpc = shared_chain.rpc_url
    code, text = _verify(str(doc), "--receipt", str(path), "--rpc", rpc)
    assert code == 0 and len([ln for ln in text.splitlines() if ln.startswith("✓")]) == 10, text
    for version in (1, 2):
        p = tmp_path / f"relabelled{version}.json"
        p.write_text(json.dumps({**receipt, "fingerprint": "sm3", "version": version}))
        for target in ([str(doc)], [receipt["docHash"]], []):
            code, text = _verify(*target, "--receipt", str(p), "--rpc", rpc)
            assert code == 1 and "NOT VERIFIED" in text, (version, target, text)


def test_the_api_and_the_store_record_each_hashs_fingerprint(sm3_node: NodeProcess) -> None:
    health = httpx.get(sm3_node.url + "/health", timeout=30).json()
    assert health["anchoring"]["fingerprint"] == "sm3"
    digest = os.urandom(32)
    h = "0x" + digest.hex()
    # no fingerprint named: the deployment's (sm3); the same bytes as sha256 are another record
    r = httpx.post(sm3_node.url + "/v1/anchors", json={"hashes": [h]}, headers=AUTH, timeout=30)
    assert r.status_code == 202, r.text
    (rec,) = r.json()["anchors"]
    assert rec["hash"] == h and rec["fingerprint"] == "sm3"
    assert rec["anchoredValue"] == "0x" + anchored_value(digest, "sm3").hex()
    r = httpx.post(
        sm3_node.url + "/v1/anchors",
        json={"hashes": [h], "fingerprint": "sha256"},
        headers=AUTH,
        timeout=30,
    )
    assert r.status_code == 202, r.text
    (rec,) = r.json()["anchors"]
    assert rec["fingerprint"] == "sha256" and "anchoredValue" not in rec
    # lookups: by kind, or either (the deployment's first)
    assert _record(sm3_node, h).json()["fingerprint"] == "sm3"
    assert _record(sm3_node, h, "sm3").json()["fingerprint"] == "sm3"
    assert _record(sm3_node, h, "sha256").json()["fingerprint"] == "sha256"
    lone = "0x" + os.urandom(32).hex()
    r = httpx.post(
        sm3_node.url + "/v1/anchors",
        json={"hashes": [lone], "fingerprint": "sm3"},
        headers=AUTH,
        timeout=30,
    )
    assert r.status_code == 202
    assert _record(sm3_node, lone, "sha256").status_code == 404
    assert _record(sm3_node, lone, "md5").status_code == 422
    # both confirm; each receipt names its own fingerprint and verifies offline
    sm3_node.wait_queue_empty()
    for kind, version in (("sm3", 2), ("sha256", 1)):
        receipt = _record(sm3_node, h, kind).json()["receipt"]
        assert receipt["fingerprint"] == kind and receipt["version"] == version
        assert receipt["docHash"] == h
        d = httpx.get(f"{sm3_node.url}/v1/anchors/{h}/receipt?fingerprint={kind}", timeout=30)
        assert d.status_code == 200 and d.json() == receipt
    # a bad fingerprint is a 422 naming the field; nothing stored
    for bad in ("md5", 5, ""):
        r = httpx.post(
            sm3_node.url + "/v1/anchors",
            json={"hashes": ["0x" + os.urandom(32).hex()], "fingerprint": bad},
            headers=AUTH,
            timeout=30,
        )
        assert r.status_code == 422, r.text
        assert "fingerprint" in r.json()["message"]
    # the store: one row per (digest, kind), the SM3 row keeping the digest beside its value
    db = sqlite3.connect(sm3_node.data_dir / "anchoring.sqlite3")
    rows = db.execute(
        "SELECT fingerprint, doc_hash, digest FROM docs WHERE doc_hash IN (?, ?)",
        (digest, anchored_value(digest, "sm3")),
    ).fetchall()
    db.close()
    assert sorted(rows) == [
        ("sha256", digest, None),
        ("sm3", anchored_value(digest, "sm3"), digest),
    ]


def test_multipart_uploads_are_hashed_with_the_named_or_default_fingerprint(
    sm3_node: NodeProcess,
) -> None:
    a, b = os.urandom(300), os.urandom(500)
    r = httpx.post(
        sm3_node.url + "/v1/anchors",
        files=[("file", ("a.pdf", a)), ("file", ("b.pdf", b))],
        headers=AUTH,
        timeout=30,
    )
    assert r.status_code == 202, r.text
    got = [(x["hash"], x["fingerprint"]) for x in r.json()["anchors"]]
    assert got == [
        ("0x" + fingerprint_of(a, "sm3").hex(), "sm3"),
        ("0x" + fingerprint_of(b, "sm3").hex(), "sm3"),
    ]
    r = httpx.post(
        sm3_node.url + "/v1/anchors",
        data={"fingerprint": "sha256"},
        files=[("file", ("a.pdf", a))],
        headers=AUTH,
        timeout=30,
    )
    assert r.status_code == 202, r.text
    assert r.json()["anchors"][0]["hash"] == "0x" + hashlib.sha256(a).hexdigest()


def test_the_cli_takes_the_nodes_default_when_no_fingerprint_is_named(
    sm3_node: NodeProcess, tmp_path: Path
) -> None:
    doc = tmp_path / "a.txt"
    doc.write_bytes(os.urandom(64))
    r = run_cli("anchor", str(doc), "--node", sm3_node.url, env={"CREDLEDGER_TOKEN": ANCHOR_TOKEN})
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"submitted sm3 {_openssl_sm3(doc)}" in r.stdout
    r = run_cli("anchor", str(doc), "--node", sm3_node.url, "--fingerprint", "md5")
    assert r.returncode == 2 and "--fingerprint: must be one of" in r.stdout + r.stderr


def test_the_node_verifies_receipts_of_either_fingerprint_against_its_chain(
    sm3_node: NodeProcess, tmp_path: Path
) -> None:
    doc = os.urandom(400)
    kinds: dict[str, dict[str, Any]] = {}
    for kind in ("sm3", "sha256"):
        r = httpx.post(
            sm3_node.url + "/v1/anchors",
            data={"fingerprint": kind},
            files=[("file", ("d.pdf", doc))],
            headers=AUTH,
            timeout=30,
        )
        assert r.status_code == 202, r.text
        kinds[kind] = r.json()["anchors"][0]
    sm3_node.wait_queue_empty()
    url = sm3_node.url + "/v1/anchors/verify"
    for kind, rec in kinds.items():
        receipt = _record(sm3_node, rec["hash"], kind).json()["receipt"]
        # the receipt alone, with the digest, and with the document (no token: public)
        for extra in ({}, {"documentHash": rec["hash"]}):
            r = httpx.post(url, json={"receipt": receipt, **extra}, timeout=30)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["verified"] and body["fingerprint"] == kind, body
        r = httpx.post(
            url,
            data={"receipt": json.dumps(receipt)},
            files=[("document", ("d.pdf", doc))],
            timeout=30,
        )
        assert r.status_code == 200 and r.json()["verified"], r.text
        names = [c["name"] for c in r.json()["checks"]]
        assert ("fingerprint" in names) == (kind == "sm3")
        # another document, and the label changed
        r = httpx.post(
            url,
            data={"receipt": json.dumps(receipt)},
            files=[("document", ("d.pdf", doc + b"!"))],
            timeout=30,
        )
        assert r.status_code == 200 and not r.json()["verified"]
        other = "sha256" if kind == "sm3" else "sm3"
        r = httpx.post(url, json={"receipt": {**receipt, "fingerprint": other}}, timeout=30)
        assert r.status_code == 200 and not r.json()["verified"], r.text
        failed = {c["name"] for c in r.json()["checks"] if not c["ok"]}
        assert {"leaf encoding", "merkle proof", "contract verifyDocument"} <= failed
    # not a receipt, or no body: 422
    for bad in ({"receipt": {"format": "x"}}, {"receipt": 3}, {}):
        assert httpx.post(url, json=bad, timeout=30).status_code == 422
    # any field of either receipt replaced by a value of another shape: not verified or a 422,
    # never a server error
    for receipt in (
        _record(sm3_node, rec["hash"], k).json()["receipt"] for k, rec in kinds.items()
    ):
        for key in receipt:
            values: tuple[Any, ...] = (None, "x", -1, [], {}, 2**70, True, "0x" + "00" * 32)
            for value in values:
                if value == receipt[key]:
                    continue
                changed = {"receipt": {**receipt, key: value}}
                r = httpx.post(url, json=changed, headers=AUTH, timeout=30)
                assert r.status_code in (200, 422), (key, value, r.text)
                if r.status_code == 200 and key not in INFORMATIONAL:
                    assert not r.json()["verified"], (key, value)


def test_a_version_1_store_upgrades_and_its_hashes_stay_sha256(tmp_path: Path) -> None:
    """No chain: the anchoring database of before fingerprints (schema version 1)."""
    from credledger.node.anchoring.store import MIGRATIONS, AnchorStore
    from credledger.node.core.db import Database

    path = tmp_path / "anchoring.sqlite3"
    old = Database(path, MIGRATIONS[:1])
    with old.tx() as c:
        c.execute("INSERT INTO docs (doc_hash, submitted_at) VALUES (?, 1.5)", (b"\x11" * 32,))
    old.close()
    store = AnchorStore(path)
    assert store.db.version == 2
    row = store.doc(b"\x11" * 32)
    assert row is not None and row.fingerprint == "sha256" and row.digest is None
    assert row.document_hash == b"\x11" * 32
    rows, new = store.add_docs([b"\x11" * 32], "sm3")  # the same bytes as SM3: another row
    assert new == 1 and rows[0].fingerprint == "sm3" and rows[0].digest == b"\x11" * 32
    assert rows[0].doc_hash == anchored_value(b"\x11" * 32, "sm3")
    store.close()


def test_without_sm3_the_cli_says_so_in_one_line_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No chain or node: a platform whose OpenSSL lacks SM3 (hashlib.new('sm3') refused)."""
    from credledger.node import cli
    from credledger.node.core.fingerprints import sm3_available

    real_new = hashlib.new

    def no_sm3(name: str, *args: Any, **kw: Any) -> Any:
        if name.lower() == "sm3":
            raise ValueError("unsupported hash type sm3")
        return real_new(name, *args, **kw)

    doc = tmp_path / "a.pdf"
    doc.write_bytes(b"%PDF")
    receipt = tmp_path / "r.json"
    receipt.write_text(
        json.dumps({"format": "credledger-receipt", "version": 2, "fingerprint": "sm3"})
    )
    monkeypatch.setattr(hashlib, "new", no_sm3)
    sm3_available.cache_clear()
    try:
        for argv in (
            ["anchor", str(doc), "--fingerprint", "sm3", "--node", "http://127.0.0.1:9"],
            ["verify", str(doc), "--receipt", str(receipt), "--rpc", "http://127.0.0.1:9"],
        ):
            monkeypatch.setattr("sys.argv", ["credledger", *argv])
            with pytest.raises(SystemExit) as info:
                cli.main()
            assert info.value.code == 2, argv
            err = capsys.readouterr().err
            assert "SM3 is not available on this platform" in err and "Traceback" not in err
    finally:
        monkeypatch.undo()
        sm3_available.cache_clear()
