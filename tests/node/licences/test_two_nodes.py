"""Flow 9: two departments' nodes on one chain see each other's licences through the chain alone."""

from __future__ import annotations

import time
from typing import Any

from tests.node.licences.conftest import ENTERPRISE, TOKENS, document, issue_body, sha
from tests.node.licences.harness import Node

# one indexing cycle is CREDLEDGER_INDEXER__POLL_INTERVAL (0.2 s in the harness) plus the round;
# the wall-clock bound is loose (shared CI machines), the block-height check is the exact one
ONE_CYCLE = 1.0


def _until(fetch: Any, check: Any, timeout: float) -> tuple[Any, float]:
    start = time.monotonic()
    while True:
        value = fetch()
        if check(value):
            return value, time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not seen within {timeout}s: {value}")
        time.sleep(0.02)


def test_each_node_sees_the_others_licences_statuses_and_supervision(
    node_a: Node, node_b: Node
) -> None:
    # B (drug administration) issues a drug licence to the enterprise
    drug = node_b.ok(
        node_b.post("/v1/licences", TOKENS["drugs"], json=issue_body("MED-DRUG-OPERATION")), 201
    )
    # A (market regulation) issues a food permit to the same enterprise
    food = node_a.ok(
        node_a.post("/v1/licences", TOKENS["market"], json=issue_body("FOOD-PRODUCTION")), 201
    )

    def ids(node: Node) -> set[str]:
        view = node.ok(node.get(f"/v1/enterprises/{ENTERPRISE}"))
        return {x["licenceId"] for x in view["licences"]}

    # "within one indexing cycle": as soon as A's indexer has B's block, A's view shows it
    waited = node_a.wait_indexed(drug["blockNumber"])
    assert drug["licenceId"] in ids(node_a)
    assert waited < ONE_CYCLE * 5, f"A indexed B's block after {waited:.2f}s"
    node_b.wait_indexed(food["blockNumber"])
    assert food["licenceId"] in ids(node_b)

    # B reads A's licence in full (issuer known by address only: it is not one of B's departments)
    seen = node_b.ok(node_b.get(f"/v1/licences/{food['licenceId']}"))
    assert seen["type"]["code"] == "FOOD-PRODUCTION"
    assert seen["status"] == "ACTIVE"
    assert seen["issuer"]["name"] is None and seen["issuer"]["address"]
    assert seen["holder"]["kind"] == "enterprise"

    # A's enforcement department suspends B's drug licence; B sees it within one cycle
    suspended = node_a.ok(
        node_a.post(
            f"/v1/licences/{drug['licenceId']}/suspend",
            TOKENS["enforcement"],
            json={"reasonCode": 5},
        )
    )

    def drug_status(node: Node) -> str:
        view = node.ok(node.get(f"/v1/enterprises/{ENTERPRISE}"))
        return str(
            next(x for x in view["licences"] if x["licenceId"] == drug["licenceId"])["status"]
        )

    # answers are judged at the node's indexed block: once B has seen the suspension's block,
    # its very next answers say SUSPENDED (and name a block at or after it)
    waited = node_b.wait_indexed(suspended["blockNumber"])
    seen_now = node_b.ok(node_b.get(f"/v1/licences/{drug['licenceId']}"))
    assert seen_now["status"] == "SUSPENDED"
    assert seen_now["judgedAtBlock"] >= suspended["blockNumber"]
    assert drug_status(node_b) == "SUSPENDED"
    assert waited < ONE_CYCLE * 5, f"B indexed the suspension after {waited:.2f}s"
    detail = node_b.ok(node_b.get(f"/v1/licences/{drug['licenceId']}"))
    assert detail["statusReason"]["code"] == 5
    # B's own department reinstates its licence; A sees that too
    node_b.ok(node_b.post(f"/v1/licences/{drug['licenceId']}/reinstate", TOKENS["drugs"], json={}))
    _until(lambda: drug_status(node_a), lambda s: s == "ACTIVE", 10)

    # supervision recorded on A is visible on B
    doc = document("penalty decision")
    node_a.ok(
        node_a.post(
            f"/v1/enterprises/{ENTERPRISE}/supervision",
            TOKENS["enforcement"],
            files={"document": ("decision.pdf", doc)},
            data={"kind": "ADMINISTRATIVE_PENALTY"},
        ),
        201,
    )

    def penalties(node: Node) -> list[dict[str, Any]]:
        view = node.ok(node.get(f"/v1/enterprises/{ENTERPRISE}"))
        return [s for s in view["supervision"] if s["refHash"] == sha(doc)]

    found, _ = _until(lambda: penalties(node_b), lambda xs: len(xs) == 1, 10)
    assert found[0]["kind"] == "ADMINISTRATIVE_PENALTY"
    assert found[0]["supervisor"]["name"] is None  # enforcement is not one of B's departments

    # a clerk of B verifies A's document with B's node
    verdict = node_b.ok(
        node_b.post(
            "/v1/verify/document",
            TOKENS["clerk_b"],
            json={"documentHash": food["documentHash"], "licenceId": food["licenceId"]},
        )
    )
    assert verdict["verdict"] == "VALID"
    assert verdict["verification"]["id"].startswith("vr_")
