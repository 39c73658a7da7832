"""Batch issuance, holder binding, not-yet-valid licences, reason codes."""

from __future__ import annotations

from tests.node.licences.conftest import TOKENS, LicenceChain, document, issue_body, sha
from tests.node.licences.harness import Node


def test_batch_is_one_transaction_all_or_nothing(node_a: Node) -> None:
    bodies = [issue_body(t) for t in ("BL-BUSINESS", "FOOD-OPERATION", "SE-USE-REGISTRATION")]
    bodies[0]["validUntil"] = None  # a business licence without a term (长期)
    out = node_a.ok(
        node_a.post("/v1/licences:batch", TOKENS["market"], json={"licences": bodies}), 201
    )
    assert len(out["licences"]) == 3
    assert {x["transactionHash"] for x in out["licences"]} == {out["transactionHash"]}
    for x, b in zip(out["licences"], bodies, strict=True):
        shown = node_a.ok(node_a.get(f"/v1/licences/{x['licenceId']}"))
        assert shown["type"]["code"] == b["type"] and shown["serialNumber"] == b["serialNumber"]
    assert (
        node_a.ok(node_a.get(f"/v1/licences/{out['licences'][0]['licenceId']}"))["validUntil"]
        is None
    )
    # one bad item refuses the whole batch, naming it; nothing is issued
    good, bad = issue_body(), issue_body(holderUscc="91310000MA1FL1234R")
    r = node_a.post("/v1/licences:batch", TOKENS["market"], json={"licences": [good, bad]})
    assert r.status_code == 422, r.text
    assert r.json()["details"]["items"][0]["index"] == 1
    check = node_a.ok(
        node_a.post("/v1/verify/document", json={"documentHash": good["documentHash"]})
    )
    assert check["verdict"] == "UNKNOWN"
    # a type the department does not issue anywhere in the batch is 403
    r = node_a.post(
        "/v1/licences:batch",
        TOKENS["market"],
        json={"licences": [issue_body(), issue_body("MED-DRUG-PRODUCTION")]},
    )
    assert r.status_code == 403
    same = issue_body()
    r = node_a.post("/v1/licences:batch", TOKENS["market"], json={"licences": [same, same]})
    assert r.status_code == 422 and "twice" in r.json()["message"]


def test_bind_holder_address(node_a: Node, node_b: Node) -> None:
    lid = node_a.ok(node_a.post("/v1/licences", TOKENS["market"], json=issue_body()), 201)[
        "licenceId"
    ]
    wallet = "0x" + "5a" * 20
    bad = node_a.post(
        f"/v1/licences/{lid}/bind-holder", TOKENS["market"], json={"holderAddress": "0x5a"}
    )
    assert bad.status_code == 422
    node_a.ok(
        node_a.post(
            f"/v1/licences/{lid}/bind-holder", TOKENS["market"], json={"holderAddress": wallet}
        )
    )
    shown = node_a.ok(node_a.get(f"/v1/licences/{lid}"))
    assert shown["holderAddress"].lower() == wallet
    assert shown["history"][-1]["action"] == "HOLDER_BOUND"
    other = node_b.post(
        f"/v1/licences/{lid}/bind-holder", TOKENS["drugs"], json={"holderAddress": wallet}
    )
    assert other.status_code == 403


def test_not_yet_valid(node_a: Node, lchain: LicenceChain) -> None:
    doc = document("future")
    start = int(lchain.chain.w3.eth.get_block("latest")["timestamp"]) + 30 * 86400
    body = issue_body("FOOD-OPERATION", doc, validFrom=start)
    lid = node_a.ok(node_a.post("/v1/licences", TOKENS["market"], json=body), 201)["licenceId"]
    out = node_a.ok(
        node_a.post("/v1/verify/document", json={"documentHash": sha(doc), "licenceId": lid})
    )
    assert out["verdict"] == "NOT_YET_VALID"
    assert node_a.ok(node_a.get(f"/v1/licences/{lid}"))["status"] == "NOT_YET_VALID"


def test_reason_codes_and_types_are_public(node_a: Node) -> None:
    codes = node_a.ok(node_a.get("/v1/reason-codes"))["codes"]
    assert {c["code"] for c in codes} >= {1, 2, 3, 4, 5, 99}
    types = node_a.ok(node_a.get("/v1/licence-types"))
    assert len(types["categories"]) == 7
    assert types["types"][0]["code"] == "BL-BUSINESS"
