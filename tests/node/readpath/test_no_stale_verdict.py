"""No stale verdict: answers are judged at one indexed block and say which (``judgedAtBlock``);
a suspension mined in block N is in every answer judged at N or later, on the node that wrote it
(the very next verdict) and on another node (once it has seen block N) — while clients keep
verifying, no verdict judged at or after N says VALID, none before N says SUSPENDED."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from tests.node.licences.conftest import (  # noqa: F401  (session fixtures used below)
    TOKENS,
    document,
    issue_body,
    lchain,
    node_a,
    node_b,
    sha,
)
from tests.node.licences.harness import Node


def _verify(client: httpx.Client, doc_hash: str, lid: str) -> dict[str, Any]:
    r = client.post("/v1/verify/document", json={"documentHash": doc_hash, "licenceId": lid})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_suspend_then_verify_is_never_stale(node_a: Node, node_b: Node) -> None:  # noqa: F811
    doc = document("no-stale")
    issued = node_a.ok(
        node_a.post("/v1/licences", TOKENS["market"], json=issue_body("FOOD-OPERATION", doc)), 201
    )
    lid, h = issued["licenceId"], sha(doc)
    node_b.wait_indexed(issued["blockNumber"])
    first = _verify(node_b.client, h, lid)
    assert first["verdict"] == "VALID" and first["judgedAtBlock"] >= issued["blockNumber"]

    seen: list[tuple[str, int, str]] = []
    stop = threading.Event()

    def hammer(node: Node) -> None:
        with httpx.Client(base_url=str(node.client.base_url), timeout=30) as c:
            while not stop.is_set():
                v = _verify(c, h, lid)
                seen.append((node.name, v["judgedAtBlock"], v["verdict"]))

    threads = [threading.Thread(target=hammer, args=(n,)) for n in (node_a, node_b)]
    for t in threads:
        t.start()
    try:
        suspended = node_a.ok(
            node_a.post(
                f"/v1/licences/{lid}/suspend", TOKENS["enforcement"], json={"reasonCode": 2}
            )
        )
        block = suspended["blockNumber"]
        # the node that wrote it: the very next verdict
        mine = _verify(node_a.client, h, lid)
        assert mine["verdict"] == "SUSPENDED" and mine["judgedAtBlock"] >= block, mine
        # the other node: as soon as it has seen the block
        node_b.wait_indexed(block)
        theirs = _verify(node_b.client, h, lid)
        assert theirs["verdict"] == "SUSPENDED" and theirs["judgedAtBlock"] >= block, theirs
        detail = node_b.ok(node_b.get(f"/v1/licences/{lid}"))
        assert detail["status"] == "SUSPENDED" and detail["judgedAtBlock"] >= block
        node_a.wait_indexed(block)
        n_after = len(seen)
        while len(seen) < n_after + 10:  # more verdicts after both nodes have the block
            threading.Event().wait(0.02)
    finally:
        stop.set()
        for t in threads:
            t.join()
    before = [s for s in seen if s[1] < block]
    after = [s for s in seen if s[1] >= block]
    assert after, seen
    assert all(v == "SUSPENDED" for _, _, v in after), [s for s in after if s[2] != "SUSPENDED"]
    assert all(v == "VALID" for _, _, v in before), [s for s in before if s[2] != "VALID"]


def test_reads_from_the_event_loop_are_what_the_models_say(node_a: Node) -> None:  # noqa: F811
    """GET /v1/licences/{id} and /v1/enterprises/{uscc} answer from the read model on the event
    loop without the response models: their JSON is exactly the models' own (history with a
    suspension, a note and a recorded verification included)."""
    from credledger.node.licences.models import EnterpriseView, LicenceDetail

    doc = document("loop-reads")
    body = issue_body("FOOD-OPERATION", doc)
    issued = node_a.ok(node_a.post("/v1/licences", TOKENS["market"], json=body), 201)
    lid = issued["licenceId"]
    node_a.ok(
        node_a.post(
            f"/v1/licences/{lid}/suspend",
            TOKENS["enforcement"],
            json={"reasonCode": 2, "note": "抽检不合格"},
        )
    )
    node_a.ok(
        node_a.post(
            "/v1/verify/document",
            TOKENS["clerk_a"],
            json={"documentHash": sha(doc), "licenceId": lid},
        )
    )
    detail = node_a.ok(node_a.get(f"/v1/licences/{lid}"))
    assert detail["status"] == "SUSPENDED"
    assert [h["action"] for h in detail["history"]][-1] == "VERIFIED"
    assert LicenceDetail.model_validate(detail).model_dump(mode="json", by_alias=True) == detail
    view = node_a.ok(node_a.get(f"/v1/enterprises/{body['holderUscc']}"))
    assert lid in [item["licenceId"] for item in view["licences"]]
    assert EnterpriseView.model_validate(view).model_dump(mode="json", by_alias=True) == view
