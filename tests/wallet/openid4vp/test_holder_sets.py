"""Our wallet answering DCQL ``credential_sets`` and ``claim_sets`` (OpenID4VP 1.0 sections 6.2,
6.4) from the node's verifier, on a real node process, anvil and wallet process: resolve shows the
sets, which queries are required and what each licence would disclose; respond sends one option
(the first fully chosen, in the verifier's order) and one claim set, and the node judges VALID."""

from __future__ import annotations

from typing import Any

import pytest

from tests.wallet.openid4vp.conftest import TOKENS, Holder

pytestmark = pytest.mark.chain
EITHER = {"licenceTypes": ["FOOD-OPERATION", "FOOD-PRODUCTION"], "anyOf": True,
          "fields": ["name", "number"]}  # fmt: skip
OP = "urn:credledger:licence-type:FOOD-OPERATION"
PROD = "urn:credledger:licence-type:FOOD-PRODUCTION"


def start(h: Holder, body: dict[str, Any]) -> tuple[str, str]:
    answer = h.cred.node.ok(h.cred.node.post("/v1/presentation-requests", TOKENS["market"],
                                             json=body), 201)  # fmt: skip
    return answer["id"], answer["authorizationRequest"]


def state_of(h: Holder, rid: str) -> dict[str, Any]:
    return h.cred.node.ok(h.cred.node.get(f"/v1/presentation-requests/{rid}", TOKENS["market"]))


def call(h: Holder, what: str, **body: Any) -> Any:
    return h.wallet.post(f"/v1/openid4vp/{what}", h.token, json=body)


def _cq(cid: str, vct: str, claims: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": cid, "format": "dc+sd-jwt", "meta": {"vct_values": [vct]}, "claims": claims,
            **extra}  # fmt: skip


def test_resolve_shows_the_sets_and_respond_sends_one_option(holder: Holder) -> None:
    op = holder.licence()
    prod = holder.licence(type="FOOD-PRODUCTION")
    rid, link = start(holder, EITHER)
    asked = holder.wallet.ok(call(holder, "resolve", link=link))
    assert asked["credentialSets"] == [{"options": [["food_operation"], ["food_production"]],
                                        "required": True, "satisfiable": True}]  # fmt: skip
    by_id = {q["id"]: q for q in asked["queries"]}
    assert {q["required"] for q in by_id.values()} == {False}  # either one will do
    assert prod in [c["licenceId"] for c in by_id["food_production"]["candidates"]]
    assert by_id["food_production"]["satisfiable"] is True
    # the production permit alone: VALID, and only it was sent
    choice = {"licenceId": prod, "disclose": ["name", "number"]}
    out = holder.wallet.ok(call(holder, "respond", link=link, choices={"food_production": choice}))
    assert out["verifierStatus"] == 200, out
    got = state_of(holder, rid)
    assert got["verdict"] == "VALID", got
    assert [(c["credentialQueryId"], c["licenceId"]) for c in got["credentials"]] == [
        ("food_production", prod)
    ]
    # both chosen: the verifier's first option is sent, not both (no more than is needed)
    rid, link = start(holder, EITHER)
    both = {"food_operation": {"licenceId": op, "disclose": ["name", "number"]},
            "food_production": choice}  # fmt: skip
    holder.wallet.ok(call(holder, "respond", link=link, choices=both))
    got = state_of(holder, rid)
    assert got["verdict"] == "VALID", got
    assert [c["credentialQueryId"] for c in got["credentials"]] == ["food_operation"]


def test_a_required_set_left_unchosen_is_refused_before_anything_is_sent(holder: Holder) -> None:
    prod = holder.licence(type="FOOD-PRODUCTION")
    name = [{"path": ["name"]}]
    query = {"credentials": [_cq("op", OP, name), _cq("prod", PROD, name)],
             "credential_sets": [{"options": [["op"]]},
                                 {"options": [["prod"]], "required": False}]}  # fmt: skip
    rid, link = start(holder, {"dcqlQuery": query})
    asked = holder.wallet.ok(call(holder, "resolve", link=link))
    assert {q["id"]: q["required"] for q in asked["queries"]} == {"op": True, "prod": False}
    assert [s["required"] for s in asked["credentialSets"]] == [True, False]
    r = call(holder, "respond", link=link,
             choices={"prod": {"licenceId": prod, "disclose": ["name"]}})  # fmt: skip
    assert r.status_code == 422, r.text
    assert "one of [op] (credential set 0)" in r.json()["message"], r.text
    assert state_of(holder, rid)["state"] == "pending"


def test_claim_sets_one_set_disclosed(holder: Holder) -> None:
    lid = holder.licence()
    claims = [{"id": "n", "path": ["name"]}, {"id": "num", "path": ["number"]},
              {"id": "code", "path": ["holderCode"]}]  # fmt: skip
    query = {"credentials": [_cq("lic", OP, claims, claim_sets=[["n", "num"], ["code"]])]}
    rid, link = start(holder, {"dcqlQuery": query})
    (q,) = holder.wallet.ok(call(holder, "resolve", link=link))["queries"]
    assert q["claimSets"] == [["n", "num"], ["code"]] and q["satisfiable"] is True, q
    assert q["claimSetFields"] == [["name", "number"], ["holderCode"]]
    cand = next(c for c in q["candidates"] if c["licenceId"] == lid)
    assert cand["claimSet"] == 0 and cand["disclose"] == ["name", "number"] == q["asks"]
    # neither set in full: refused by the wallet, saying which sets would do
    r = call(
        holder, "respond", link=link, choices={"lic": {"licenceId": lid, "disclose": ["name"]}}
    )
    assert r.status_code == 422, r.text
    assert "[name, number] or [holderCode]" in r.json()["message"], r.text
    # the second set alone: VALID at the node, that set met
    choice = {"licenceId": lid, "disclose": ["holderCode"]}
    holder.wallet.ok(call(holder, "respond", link=link, choices={"lic": choice}))
    got = state_of(holder, rid)
    assert got["verdict"] == "VALID", got
    (one,) = got["credentials"]
    assert one["claimSet"] == 1 and set(one["disclosed"]) == {"holderCode"}, one
