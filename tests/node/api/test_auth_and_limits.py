"""Who may anchor, rate limits and quotas (429 + Retry-After), auth before validation."""

from __future__ import annotations

import hashlib
import os
import time

import httpx
import pytest

from tests.node.api.conftest import TOKENS
from tests.node.licences.harness import Node

pytestmark = pytest.mark.chain


def hashes(n: int) -> list[str]:
    return ["0x" + hashlib.sha256(os.urandom(16)).hexdigest() for _ in range(n)]


def test_anchoring_needs_a_token_of_a_principal_allowed_to_anchor(hnode: Node) -> None:
    body = {"hashes": hashes(1)}
    r = hnode.post("/v1/anchors", json=body)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    r = hnode.post("/v1/anchors", "not-a-known-token-" + "x" * 30, json=body)
    assert r.status_code == 401
    r = hnode.post("/v1/anchors", json=body, headers={"Authorization": "Basic YTpi"})
    assert r.status_code == 401
    r = hnode.post("/v1/anchors", TOKENS["admin"], json=body)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    for who in ("market", "clerk", "service"):
        r = hnode.post("/v1/anchors", TOKENS[who], json={"hashes": hashes(2)})
        assert r.status_code == 202, (who, r.text)
    # nothing was stored for the refused requests
    assert hnode.get(f"/v1/anchors/{body['hashes'][0]}").status_code == 404


def test_unauthenticated_write_with_malformed_input_is_401_not_422(hnode: Node) -> None:
    bad_id = "/v1/licences/0xnot-an-id/suspend"
    assert hnode.post(bad_id, json={"reasonCode": 1}).status_code == 401
    assert hnode.post(bad_id, "wrong-token-" + "y" * 30, json={}).status_code == 401
    json_ct = {"content-type": "application/json"}
    for path in ("/v1/licences", "/v1/licences:batch", "/v1/licence-types", "/v1/anchors"):
        r = hnode.post(path, content=b"{not json", headers=json_ct)
        assert r.status_code == 401, (path, r.text)
    r = hnode.post(bad_id, TOKENS["clerk"], json={})
    assert r.status_code == 403  # a clerk cannot suspend, whatever the id
    r = hnode.post(bad_id, TOKENS["market"], json={"reasonCode": 1})
    assert r.status_code == 422  # with the right token the id is checked


def test_public_anchoring_is_rate_limited_by_address_with_retry_after(tight: Node) -> None:
    """`tight` has api.public_anchoring = true, 3 requests burst per address, a quota of 10
    hashes per principal/address. From an address of its own (127.0.0.53), so other tests'
    anonymous calls to the same node (test_bodies.py's slow bodies) have not spent its budget."""
    codes = []
    own = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.53"), timeout=30)
    for _ in range(5):
        r = own.post(tight.url + "/v1/anchors", json={"hashes": hashes(1)})
        codes.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1
            body = r.json()
            assert body["error"] == "rate_limited" and body["details"]["retryAfter"] >= 1
    assert codes[:3] == [202, 202, 202], codes
    assert codes[3:] == [429, 429], codes


def test_writes_are_rate_limited_per_principal(tight: Node) -> None:
    codes = []
    for _ in range(5):
        r = tight.post("/v1/anchors", TOKENS["clerk"], json={"hashes": hashes(1)})
        codes.append(r.status_code)
    assert codes.count(429) >= 1 and codes[0] == 202, codes
    assert tight.post("/v1/licences", TOKENS["clerk"], json={}).status_code in (403, 429)
    # another principal has its own bucket
    r = tight.post("/v1/anchors", TOKENS["service"], json={"hashes": hashes(1)})
    assert r.status_code == 202, r.text


def test_hash_quota_counts_hashes_not_requests(tight: Node) -> None:
    r = tight.post("/v1/anchors", TOKENS["market"], json={"hashes": hashes(11)})
    assert r.status_code == 429 and "split the request" in r.json()["message"]
    r = tight.post("/v1/anchors", TOKENS["market"], json={"hashes": hashes(8)})
    assert r.status_code == 202, r.text
    r = tight.post("/v1/anchors", TOKENS["market"], json={"hashes": hashes(8)})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1


def test_retry_after_is_honoured(tight: Node) -> None:
    """Empty this address's public bucket here (whatever the tests before left in it), wait as
    long as Retry-After says, and the next request passes."""

    def verify() -> httpx.Response:
        return tight.post("/v1/verify/document", json={"documentHash": hashes(1)[0]})

    for _ in range(20):  # a burst of 3 (public_burst): a few requests empty it
        r = verify()
        if r.status_code == 429:
            break
        assert r.status_code == 200, r.text
    else:
        pytest.fail("20 public requests in a row were never limited")
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 30, wait  # 3 at once, 6 a minute: a sliding window of 30 s
    time.sleep(wait + 0.2)  # honouring the header is what this test checks
    r = verify()
    assert r.status_code == 200, r.text
