"""Our wallet answering DCQL ``credential_sets`` and ``claim_sets`` (OpenID4VP 1.0 sections 6.2,
6.4) from the node's verifier, on a real node process, anvil and wallet process: resolve shows the
sets, which queries are required and what each licence would disclose; respond sends one option
(the first fully chosen, in the verifier's order) and one claim set, and the node judges VALID."""

from __future__ import annotations

from typing import Any

import pytest

from credledger.node.core.errors import InputError
from credledger.wallet.openid4vp import sets
from credledger.wallet.openid4vp.request import InvalidRequest
from tests.wallet.harness import run_wallet_cli
from tests.wallet.openid4vp.conftest import TOKENS, Holder

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


@pytest.mark.chain
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


@pytest.mark.chain
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


@pytest.mark.chain
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


@pytest.mark.chain
def test_the_cli_shows_the_sets_and_presents_one_option(holder: Holder, tmp_path: Any) -> None:
    prod = holder.licence(type="FOOD-PRODUCTION")
    rid, link = start(holder, EITHER)
    env = {"CREDLEDGER_WALLET_URL": holder.wallet.url, "CREDLEDGER_WALLET_TOKEN": holder.token,
           "CREDLEDGER_WALLET_SESSION": str(tmp_path / "session.json")}  # fmt: skip
    out = run_wallet_cli("openid4vp", "show", link, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "one of [food_operation] or [food_production] (can answer)" in out.stdout, out.stdout
    out = run_wallet_cli("openid4vp", "present", link, "--licence", prod, env=env)
    assert out.returncode == 0 and "answered 200" in out.stdout, out.stdout + out.stderr
    got = state_of(holder, rid)
    assert got["verdict"] == "VALID" and [c["licenceId"] for c in got["credentials"]] == [prod]


# --- the holder's reading of the sets alone (no chain) --------------------------------------------


def test_sets_alone_required_and_sent() -> None:
    ids = {"op", "prod", "extra"}
    raw = {"credential_sets": [{"options": [["op"], ["prod"]]},
                               {"options": [["op", "extra"]], "required": False}]}  # fmt: skip
    cs = sets.credential_sets(raw, ids)
    assert cs == [{"options": [["op"], ["prod"]], "required": True},
                  {"options": [["op", "extra"]], "required": False}]  # fmt: skip
    assert sets.required_ids(cs, ids) == set() and sets.required_ids(None, ids) == ids
    assert sets.required_ids([{"options": [["op", "prod"], ["op"]], "required": True}], ids) == {
        "op"
    }
    view = sets.sets_view(cs, {"op": False, "prod": True, "extra": True})
    assert [s["satisfiable"] for s in view] == [True, False]
    assert sets.sent(cs, {"prod"}) == {"prod"}
    assert sets.sent(cs, {"op", "prod", "extra"}) == {"op", "extra"}  # the first option of each
    with pytest.raises(InputError, match=r"one of \[op\] or \[prod\]"):
        sets.sent(cs, {"extra"})
    assert sets.sent(None, {"op"}) == {"op"}
    bads: list[Any] = [[], [{"options": [["nope"]]}], [{"options": [[]]}],
                       [{"options": [["op"]], "required": "yes"}], "x"]  # fmt: skip
    for bad in bads:
        with pytest.raises(InvalidRequest):
            sets.credential_sets({"credential_sets": bad}, ids)


def test_claim_sets_alone() -> None:
    cq = {"claims": [{"id": "n", "path": ["name"]}, {"id": "num", "path": ["number"]},
                     {"id": "code", "path": ["holderCode"]}],
          "claim_sets": [["n", "num"], ["code"]]}  # fmt: skip
    cs = sets.claim_sets(cq)
    assert cs == [["n", "num"], ["code"]]
    has_all = {"name", "number", "holderCode"}
    only_code = {"holderCode"}

    def having(names: set[str]) -> Any:
        return lambda c: c["path"][0] in names

    assert sets.claim_set_of(cq, cs, having(has_all)) == (0, ["name", "number"], [])
    assert sets.claim_set_of(cq, cs, having(only_code)) == (1, ["holderCode"], [])
    assert sets.claim_set_of(cq, cs, having({"name"})) == (None, ["name", "number"], [["number"]])
    assert sets.covers(cq, cs, {"holderCode"}, having(has_all))
    assert not sets.covers(cq, cs, {"name", "holderCode"}, having({"name", "number"}))
    for bad in ({"claims": [{"path": ["name"]}], "claim_sets": [["n"]]},
                {"claims": [{"id": "n", "path": ["name"]}], "claim_sets": [["x"]]},
                {"claims": [{"id": "n", "path": ["name"]}], "claim_sets": []}):  # fmt: skip
        with pytest.raises(ValueError, match="claim_sets"):
            sets.claim_sets(bad)
