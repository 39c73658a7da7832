"""Every verdict end to end through HTTP on a real node and anvil; clerk records get receipts."""

from __future__ import annotations

import time
from typing import Any

from tests.node.licences.conftest import (
    ENTERPRISE,
    TOKENS,
    LicenceChain,
    document,
    issue_body,
    sha,
)
from tests.node.licences.harness import Node


def _issue(node: Node, doc: bytes, **extra: Any) -> dict[str, Any]:
    body = issue_body("FOOD-OPERATION", doc, **extra)
    return node.ok(node.post("/v1/licences", TOKENS["market"], json=body), 201)


def _verify_file(
    node: Node, doc: bytes, licence_id: str | None = None, token: str | None = None
) -> dict[str, Any]:
    data = {"licenceId": licence_id} if licence_id else {}
    r = node.post("/v1/verify/document", token, files={"document": ("doc.pdf", doc)}, data=data)
    return node.ok(r)


def test_valid_by_file_and_by_hash(node_a: Node) -> None:
    doc = document("valid")
    issued = _issue(node_a, doc)
    by_file = _verify_file(node_a, doc)
    assert by_file["verdict"] == "VALID"
    assert by_file["licenceIds"] == [issued["licenceId"]]
    shown = by_file["licences"][0]
    assert shown["type"]["code"] == "FOOD-OPERATION"
    assert shown["issuer"]["name"] == "market"
    assert shown["status"] == "ACTIVE"
    claimed = node_a.ok(
        node_a.post(
            "/v1/verify/document",
            json={"documentHash": sha(doc), "licenceId": issued["licenceId"]},
        )
    )
    assert claimed["verdict"] == "VALID"
    assert "verification" not in claimed  # anonymous checks are not recorded


def test_suspended_shows_reason_and_time_then_reinstated(node_a: Node) -> None:
    doc = document("suspend")
    lid = _issue(node_a, doc)["licenceId"]
    s = node_a.ok(
        node_a.post(
            f"/v1/licences/{lid}/suspend",
            TOKENS["enforcement"],
            json={"reasonCode": 1, "note": "inspection 2026-11 found violations"},
        )
    )
    assert s["status"] == "SUSPENDED"
    out = _verify_file(node_a, doc, lid)
    assert out["verdict"] == "SUSPENDED"
    assert "violation found at inspection" in out["reasons"][0]
    assert "since" in out["reasons"][0]
    detail = node_a.ok(node_a.get(f"/v1/licences/{lid}"))
    assert detail["statusReason"]["code"] == 1
    assert detail["statusReason"]["by"]["name"] == "enforcement"
    assert detail["history"][-1]["note"] == "inspection 2026-11 found violations"
    node_a.ok(node_a.post(f"/v1/licences/{lid}/reinstate", TOKENS["market"], json={}))
    assert _verify_file(node_a, doc, lid)["verdict"] == "VALID"
    actions = [h["action"] for h in node_a.ok(node_a.get(f"/v1/licences/{lid}"))["history"]]
    assert actions == ["ISSUED", "SUSPENDED", "REINSTATED"]


def test_revoked_is_final(node_a: Node) -> None:
    doc = document("revoke")
    lid = _issue(node_a, doc)["licenceId"]
    node_a.ok(node_a.post(f"/v1/licences/{lid}/revoke", TOKENS["market"], json={"reasonCode": 4}))
    assert _verify_file(node_a, doc)["verdict"] == "REVOKED"
    again = node_a.post(f"/v1/licences/{lid}/revoke", TOKENS["market"], json={"reasonCode": 4})
    assert again.status_code == 409, again.text
    assert "revoked" in again.json()["message"]
    back = node_a.post(f"/v1/licences/{lid}/reinstate", TOKENS["market"], json={})
    assert back.status_code == 409
    assert "not suspended" in back.json()["message"]


def test_superseded_after_amendment_and_tampered(node_a: Node) -> None:
    old, new = document("v1"), document("v2")
    lid = _issue(node_a, old)["licenceId"]
    amended = node_a.post(
        f"/v1/licences/{lid}/amend",
        TOKENS["market"],
        files={"document": ("v2.pdf", new)},
        data={"validUntil": "2035-06-30", "note": "address change"},
    )
    node_a.ok(amended)
    assert _verify_file(node_a, new, lid)["verdict"] == "VALID"
    assert _verify_file(node_a, old, lid)["verdict"] == "SUPERSEDED"
    assert _verify_file(node_a, old)["verdict"] == "SUPERSEDED"
    tampered = _verify_file(node_a, b"a forged copy", lid)
    assert tampered["verdict"] == "TAMPERED"
    assert sha(new)[2:] in tampered["reasons"][0]
    detail = node_a.ok(node_a.get(f"/v1/licences/{lid}"))
    assert detail["version"] == 2
    assert detail["documentHash"] == sha(new)
    assert [h["action"] for h in detail["history"]] == ["ISSUED", "AMENDED"]


def test_unknown(node_a: Node) -> None:
    assert _verify_file(node_a, b"never issued anywhere " + document("u"))["verdict"] == "UNKNOWN"
    claimed_missing = _verify_file(node_a, document("u2"), "0x" + "ab" * 32)
    assert claimed_missing["verdict"] == "UNKNOWN"
    assert node_a.get("/v1/licences/0x" + "ab" * 32).status_code == 404


def test_anchored_material_is_valid_with_receipt(node_a: Node) -> None:
    doc = document("material")
    node_a.ok(node_a.post("/v1/anchors", TOKENS["clerk_a"], json={"hashes": [sha(doc)]}), 202)
    deadline = time.monotonic() + 20
    out: dict[str, Any] = {}
    while time.monotonic() < deadline:
        out = _verify_file(node_a, doc)
        if out["verdict"] == "VALID":
            break
        time.sleep(0.2)
    assert out["verdict"] == "VALID", out
    assert out["licenceIds"] == []
    assert out["material"]["receipt"]["root"]


def test_expired(node_a: Node, lchain: LicenceChain) -> None:
    doc = document("expiring")
    now = int(lchain.chain.w3.eth.get_block("latest")["timestamp"])
    lid = _issue(node_a, doc, validUntil=now + 600)["licenceId"]
    assert _verify_file(node_a, doc, lid)["verdict"] == "VALID"
    lchain.rpc("evm_increaseTime", [1200])
    lchain.rpc("evm_mine", [])
    # verdicts are judged at the node's indexed block (its time counts for expiry): once the
    # node has seen the mined block, the very next verdict says EXPIRED
    mined = int(lchain.chain.w3.eth.block_number)
    deadline = time.monotonic() + 10
    while node_a.ok(node_a.get("/health"))["indexer"]["indexedHeight"] < mined:
        assert time.monotonic() < deadline, "the node did not index the mined block"
        time.sleep(0.05)
    out = _verify_file(node_a, doc, lid)
    assert out["verdict"] == "EXPIRED"
    assert out["judgedAtBlock"] >= mined
    assert node_a.ok(node_a.get(f"/v1/licences/{lid}"))["status"] == "EXPIRED"


def test_clerk_verification_is_recorded_and_anchored(node_a: Node) -> None:
    doc = document("recorded")
    lid = _issue(node_a, doc)["licenceId"]
    out = _verify_file(node_a, doc, lid, token=TOKENS["clerk_a"])
    assert out["verdict"] == "VALID"
    vid = out["verification"]["id"]
    deadline = time.monotonic() + 20
    rec: dict[str, Any] = {}
    while time.monotonic() < deadline:
        rec = node_a.ok(node_a.get(f"/v1/verifications/{vid}"))
        if rec["receipt"]:
            break
        time.sleep(0.2)
    assert rec["receipt"], rec
    assert rec["record"]["verdict"] == "VALID"
    assert rec["record"]["checkedBy"] == "clerk:clerk-a"
    assert rec["record"]["department"] == "market"
    assert rec["receipt"]["docHash"] == rec["recordHash"]
    history = node_a.ok(node_a.get(f"/v1/licences/{lid}"))["history"]
    assert {"action": "VERIFIED", "verificationId": vid}.items() <= history[-1].items()
    # a failed check is evidence too, and is never recorded as valid
    bad = _verify_file(node_a, b"tampered " + doc, lid, token=TOKENS["clerk_a"])
    assert bad["verdict"] == "TAMPERED"
    bad_rec = node_a.ok(node_a.get(f"/v1/verifications/{bad['verification']['id']}"))
    assert bad_rec["record"]["verdict"] == "TAMPERED"
    assert node_a.get("/v1/verifications/vr_nope").status_code == 404


def test_enterprise_view_and_qr(node_a: Node) -> None:
    doc = document("ent")
    lid = _issue(node_a, doc)["licenceId"]
    ref = sha(b"abnormal operation listing notice " + doc)
    node_a.ok(
        node_a.post(
            f"/v1/enterprises/{ENTERPRISE}/supervision",
            TOKENS["enforcement"],
            json={"kind": "ABNORMAL_OPERATION_LISTED", "refHash": ref},
        ),
        201,
    )
    deadline = time.monotonic() + 10
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        view = node_a.ok(node_a.get(f"/v1/enterprises/{ENTERPRISE.lower()}"))
        if any(s["refHash"] == ref for s in view["supervision"]) and any(
            x["licenceId"] == lid for x in view["licences"]
        ):
            break
        time.sleep(0.1)
    assert view["uscc"] == ENTERPRISE
    mine = next(x for x in view["licences"] if x["licenceId"] == lid)
    assert mine["status"] == "ACTIVE" and mine["holder"]["display"] == ENTERPRISE
    sup = next(s for s in view["supervision"] if s["refHash"] == ref)
    assert sup["kind"] == "ABNORMAL_OPERATION_LISTED"
    assert sup["supervisor"]["name"] == "enforcement"
    qr = node_a.get(f"/v1/enterprises/{ENTERPRISE}/qr.svg")
    assert qr.status_code == 200
    assert qr.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in qr.content
    assert qr.headers["x-enterprise-code-url"].endswith(f"/e/{ENTERPRISE}")
    bad = node_a.get("/v1/enterprises/91310000MA1FL1234R")
    assert bad.status_code == 422
    assert "check character should be Q" in bad.json()["message"]


def test_history_lists_verifications_in_order_with_chain_events(node_a: Node) -> None:
    doc = document("ordered history")
    lid = _issue(node_a, doc)["licenceId"]
    assert _verify_file(node_a, doc, lid, token=TOKENS["clerk_a"])["verdict"] == "VALID"
    node_a.ok(
        node_a.post(
            f"/v1/licences/{lid}/suspend",
            token=TOKENS["market"],
            json={"reasonCode": 1, "note": "after the counter check"},
        )
    )
    history = node_a.ok(node_a.get(f"/v1/licences/{lid}"))["history"]
    assert [h["action"] for h in history] == ["ISSUED", "VERIFIED", "SUSPENDED"]
    issued, verified, suspended = history
    assert issued["blockNumber"] <= verified["chainHead"] < suspended["blockNumber"]
