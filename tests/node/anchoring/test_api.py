"""POST /v1/anchors, GET status and receipts, /health, /metrics against a real node process."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from credledger.node.core import merkle
from credledger.node.core.receipts import parse_hash
from tests.node.anchoring.harness import AUTH, NodeProcess, scrape

pytestmark = pytest.mark.chain


def h(i: int, tag: str = "api") -> bytes:
    return hashlib.sha256(f"{tag}-{i}".encode()).digest()


def test_submit_confirm_receipt_and_dedupe(shared_node: NodeProcess) -> None:
    hashes = [h(i) for i in range(20)]
    r = shared_node.submit(hashes)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["count"] == 20
    assert [a["hash"] for a in body["anchors"]] == ["0x" + x.hex() for x in hashes]
    assert {a["status"] for a in body["anchors"]} <= {"pending", "submitted", "confirmed"}
    records = shared_node.wait_confirmed(hashes)
    roots = {rec["root"] for rec in records}
    assert len(roots) == 1  # submitted together, closed in one batch
    for x, rec in zip(hashes, records, strict=True):
        receipt = rec["receipt"]
        assert receipt["format"] == "credledger-receipt" and receipt["version"] == 1
        assert parse_hash(receipt["docHash"]) == x
        assert merkle.verify(
            parse_hash(receipt["root"]), x, [parse_hash(p) for p in receipt["proof"]]
        )
        assert receipt["leafCount"] == 20
    # the same hashes again: existing records, never a second leaf
    again = shared_node.submit([*hashes[:5], h(99)])
    assert again.status_code == 202
    first5 = again.json()["anchors"][:5]
    assert all(a["status"] == "confirmed" and a["root"] in roots for a in first5)
    db = shared_node.db()
    n = db.execute(
        "SELECT count(*) FROM docs WHERE doc_hash IN (?, ?)", (hashes[0], hashes[1])
    ).fetchone()[0]
    assert n == 2
    # the receipt download
    d = httpx.get(f"{shared_node.url}/v1/anchors/0x{hashes[3].hex()}/receipt")
    assert d.status_code == 200
    assert "attachment" in d.headers["content-disposition"]
    assert d.json() == records[3]["receipt"]


def test_multipart_files_are_hashed_with_sha256(shared_node: NodeProcess) -> None:
    a, b = os.urandom(300), os.urandom(500)
    r = httpx.post(
        shared_node.url + "/v1/anchors",
        files=[("file", ("a.pdf", a)), ("file", ("b.pdf", b))],
        headers=AUTH,
    )
    assert r.status_code == 202, r.text
    got = [x["hash"] for x in r.json()["anchors"]]
    assert got == ["0x" + hashlib.sha256(a).hexdigest(), "0x" + hashlib.sha256(b).hexdigest()]


def _problem(r: httpx.Response, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body: dict[str, object] = r.json()
    assert body["error"] and body["message"]
    return body


def test_bad_input_is_refused_whole_with_reasons(shared_node: NodeProcess) -> None:
    url = shared_node.url + "/v1/anchors"
    good = "0x" + h(1000).hex()
    bad = {"hashes": [good, "0xzz" + "0" * 62, "0x" + "ab" * 31, 42, "0x" + "cd" * 32]}
    body = _problem(httpx.post(url, json=bad, headers=AUTH), 422)
    items = body["details"]["items"]  # type: ignore[index]
    assert [i["index"] for i in items] == [1, 2, 3]
    assert "hex" in items[0]["reason"] and "64 hex digits" in items[1]["reason"]
    # nothing was stored: the good hash of that request is unknown
    assert httpx.get(f"{url}/{good}").status_code == 404
    assert httpx.get(f"{url}/0x{'cd' * 32}").status_code == 404

    too_many = {"hashes": ["0x" + os.urandom(32).hex() for _ in range(10_001)]}
    body = _problem(httpx.post(url, json=too_many, headers=AUTH), 413)
    assert "10000" in str(body["message"])

    body = _problem(
        httpx.post(url, content=b"", headers={**AUTH, "content-type": "application/json"}), 422
    )
    assert "empty" in str(body["message"])
    _problem(httpx.post(url, json={"hashes": []}, headers=AUTH), 422)
    _problem(httpx.post(url, json=["0x" + "00" * 32], headers=AUTH), 422)
    json_ct = {**AUTH, "content-type": "application/json"}
    _problem(httpx.post(url, content=b"{not json", headers=json_ct), 422)

    big = os.urandom(1001)  # the shared node's limit is 1000 bytes
    body = _problem(
        httpx.post(
            url, files=[("file", ("ok.txt", b"x")), ("file", ("big.bin", big))], headers=AUTH
        ),
        413,
    )
    assert "1000-byte" in str(body["message"])
    assert httpx.get(f"{url}/0x{hashlib.sha256(b'x').hexdigest()}").status_code == 404

    _problem(httpx.get(f"{url}/0x1234"), 422)
    _problem(httpx.get(f"{url}/0x{os.urandom(32).hex()}"), 404)
    _problem(httpx.get(f"{url}/0x{os.urandom(32).hex()}/receipt"), 404)


def test_health_and_metrics(shared_node: NodeProcess) -> None:
    health = shared_node.health()
    assert {"queueDepth", "pending", "submitted", "confirmed"} <= set(health["anchoring"])
    assert health["indexer"]["indexedHeight"] >= 0
    assert health["indexer"]["chainHead"] is not None
    types, samples = scrape(shared_node.url)
    assert {
        "credledger_anchor_queue_depth": "gauge",
        "credledger_anchor_batch_size": "histogram",
        "credledger_anchor_latency_seconds": "histogram",
        "credledger_rpc_errors": "counter",
        "credledger_reorgs": "counter",
        "credledger_indexed_height": "gauge",
        "credledger_signer_balance_wei": "gauge",
    }.items() <= types.items()
    assert samples["credledger_signer_balance_wei"] > 0
    assert samples["credledger_indexed_height"] >= 0
    assert samples["credledger_chain_head"] >= samples["credledger_indexed_height"]
    assert (
        samples['credledger_anchor_batch_size_bucket{le="+Inf"}']
        == (samples["credledger_anchor_batch_size_count"])
    )
