"""DCQL ``credential_sets`` and ``claim_sets`` (OpenID4VP 1.0 sections 6.2, 6.4) at our verifier:
a matter that takes a food business OR a food production permit, a query that takes "name and
number, or the holder's credit code". The matcher's logic alone first (no chain), then on a real
node and anvil: malformed sets are 422, an option met is VALID, none met REFUSED
``credential_set_not_satisfied``."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc.jwk import ECKey

from credledger.node.core.errors import InputError
from credledger.node.openid4vp import dcql
from tests.node.openid4vp.conftest import (
    TOKENS,
    CredEnv,
    held,
    present,
    respond,
    start,
    verdict,
)

OP = "urn:credledger:licence-type:FOOD-OPERATION"
PROD = "urn:credledger:licence-type:FOOD-PRODUCTION"
EITHER = {"licenceTypes": ["FOOD-OPERATION", "FOOD-PRODUCTION"], "anyOf": True}


def _cq(cid: str, vct: str = OP, **extra: Any) -> dict[str, Any]:
    return {"id": cid, "format": "dc+sd-jwt", "meta": {"vct_values": [vct]}, **extra}


NAME_NUMBER_OR_CODE = _cq(
    "lic",
    claims=[
        {"id": "n", "path": ["name"]},
        {"id": "num", "path": ["number"]},
        {"id": "code", "path": ["holderCode"]},
    ],
    claim_sets=[["n", "num"], ["code"]],
)

# --- the matcher alone ---------------------------------------------------------------------------


def test_the_matter_any_of_is_one_credential_set_with_an_option_per_type() -> None:
    q = dcql.from_matter(["FOOD-OPERATION", "FOOD-PRODUCTION"], ["name"], any_of=True)
    assert q["credential_sets"] == [{"options": [["food_operation"], ["food_production"]]}]
    assert [c["id"] for c in q["credentials"]] == ["food_operation", "food_production"]
    assert "credential_sets" not in dcql.from_matter(["FOOD-OPERATION"], None)
    purpose = {"credentials": [_cq("a")], "credential_sets": [{"options": [["a"]], "purpose": "x"}]}
    assert dcql.checked(purpose)["credential_sets"] == purpose["credential_sets"]  # kept


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"credentials": [_cq("a")], "credential_sets": []}, "credential_sets: 1 to"),
        ({"credentials": [_cq("a")], "credential_sets": [{"options": [["b"]]}]}, "'b' is not"),
        ({"credentials": [_cq("a")], "credential_sets": [{"options": [[]]}]}, "non-empty"),
        ({"credentials": [_cq("a")], "credential_sets": [{"options": []}]}, "options: 1 to"),
        ({"credentials": [_cq("a")], "credential_sets": [{"required": True}]}, "options, req"),
        ({"credentials": [_cq("a")], "credential_sets": [{"options": [["a"]], "why": 1}]},
         "options, required"),
        ({"credentials": [_cq("a")], "credential_sets": [{"options": [["a"]], "required": "y"}]},
         "true or false"),
        ({"credentials": [_cq("a")], "credential_sets": [{"options": [["a", "a"]]}]}, "twice"),
        ({"credentials": [_cq("a", claims=[{"path": ["name"]}], claim_sets=[["x"]])]},
         "each with an id"),
        ({"credentials": [_cq("a", claim_sets=[["x"]])]}, "claim_sets need claims"),
        ({"credentials": [_cq("a", claims=[{"id": "n", "path": ["name"]}], claim_sets=[["x"]])]},
         "'x' is not"),
        ({"credentials": [_cq("a", claims=[{"id": "n", "path": ["name"]}], claim_sets=[])]},
         "1 to 8 lists"),
        ({"credentials": [_cq("a", claims=[{"id": "n", "path": ["name"]},
                                           {"id": "n", "path": ["number"]}])]}, "claim id once"),
    ],
)  # fmt: skip
def test_malformed_sets_are_refused_saying_what(query: dict[str, Any], says: str) -> None:
    with pytest.raises(InputError) as err:
        dcql.checked(query)
    assert says in err.value.message and err.value.details.get("field") == "dcqlQuery"


def test_claim_sets_the_first_met_is_the_one() -> None:
    cq = dcql.checked({"credentials": [NAME_NUMBER_OR_CODE]})["credentials"][0]
    both = {"vct": OP, "name": "x", "number": "1", "holderCode": "9131"}
    assert dcql.mismatches(cq, both) == [] and dcql.claim_set_met(cq, both) == 0
    code = {"vct": OP, "holderCode": "9131"}
    assert dcql.mismatches(cq, code) == [] and dcql.claim_set_met(cq, code) == 1
    name = {"vct": OP, "name": "x"}
    (why,) = dcql.mismatches(cq, name)
    assert dcql.claim_set_met(cq, name) is None and "[num] or [code]" in why, why
    # without claim_sets every claim is needed, as before
    plain = {**cq, "claim_sets": None}
    assert len(dcql.mismatches(plain, code)) == 2


def test_credential_sets_judged_from_the_answered_queries() -> None:
    q = {
        "credentials": [_cq("op"), _cq("prod", PROD), _cq("extra")],
        "credential_sets": [{"options": [["op"], ["prod"]]},
                            {"options": [["extra"]], "required": False}],
    }  # fmt: skip
    assert dcql.sets_judged(q, {"prod": "VALID"}) == ("VALID", [], [])
    assert dcql.sets_judged(q, {"op": "VALID", "extra": "SUSPENDED"})[0] == "VALID"
    verdict, codes, reasons = dcql.sets_judged(q, {"extra": "VALID"})
    assert verdict == "REFUSED" and codes == ["credential_set_not_satisfied"]
    assert "credential set 0" in reasons[0] and "[op] or [prod]" in reasons[0]
    # an option answered in full but not VALID gives its verdict; a REFUSED one is discarded
    assert dcql.sets_judged(q, {"op": "SUSPENDED"})[:2] == ("SUSPENDED", [])
    assert dcql.sets_judged(q, {"op": "VALID", "prod": "REFUSED"})[0] == "VALID"
    assert dcql.sets_judged(q, {"op": "REFUSED"})[:2] == (
        "REFUSED",
        ["credential_set_not_satisfied"],
    )


# --- at the node ---------------------------------------------------------------------------------


def test_the_api_refuses_malformed_sets(cred: CredEnv) -> None:
    node = cred.node
    for body in (
        {"dcqlQuery": {"credentials": [_cq("a")], "credential_sets": [{"options": [["b"]]}]}},
        {"dcqlQuery": {"credentials": [_cq("a", claim_sets=[["x"]])]}},
        {"dcqlQuery": {"credentials": [_cq("a")]}, "anyOf": True},
        {"licenceTypes": ["FOOD-OPERATION", "FOOD-OPERATION"], "anyOf": True},
    ):
        r = node.post("/v1/presentation-requests", TOKENS["market"], json=body)
        assert r.status_code == 422 and r.json()["details"]["field"], (body, r.text)


def test_either_licence_of_the_matter_is_valid(cred: CredEnv) -> None:
    holder = ECKey.generate_key("P-256")
    lid, vc = held(cred, holder, type="FOOD-PRODUCTION")
    asked = start(cred, EITHER)
    q = asked.request["dcql_query"]
    assert q["credential_sets"] == [{"options": [["food_operation"], ["food_production"]]}]
    r = respond(cred, asked, {"food_production": [present(vc, holder, asked)]})
    assert r.status_code == 200, r.text
    out = verdict(cred, asked)
    assert out["verdict"] == "VALID" and out["reasonCodes"] == ["valid"], out
    (one,) = out["credentials"]  # only the answered query is judged
    assert one["credentialQueryId"] == "food_production" and one["licenceId"] == lid
    record = cred.node.ok(cred.node.get(f"/v1/verifications/{out['verificationId']}"))
    assert record["record"]["assets"] == [{"assetId": lid, "verdict": "VALID",
                                           "reasons": ["valid"]}]  # fmt: skip


def test_no_option_met_is_refused_with_the_code(cred: CredEnv) -> None:
    holder = ECKey.generate_key("P-256")
    _, vc = held(cred, holder)
    query = {
        "credentials": [_cq("op", claims=[{"path": ["name"]}]),
                        _cq("prod", PROD, claims=[{"path": ["name"]}])],
        "credential_sets": [{"options": [["prod"]]},
                            {"options": [["op"]], "required": False}],
    }  # fmt: skip
    asked = start(cred, {"dcqlQuery": query})
    r = respond(cred, asked, {"op": [present(vc, holder, asked, keep=("name",))]})
    assert r.status_code == 200, r.text
    out = verdict(cred, asked)
    assert out["verdict"] == "REFUSED", out
    assert out["reasonCodes"] == ["credential_set_not_satisfied"], out
    assert any("credential set 0" in x and "[prod]" in x for x in out["reasons"]), out
    assert out["credentials"][0]["verdict"] == "VALID"  # the optional one, judged on its own


def test_a_refused_presentation_is_discarded(cred: CredEnv) -> None:
    """Section 8.6: a presentation failing its checks is discarded; the sets are judged on the
    rest — a good option beside it is VALID, alone it leaves the set unmet."""
    holder = ECKey.generate_key("P-256")
    _, op = held(cred, holder)
    _, prod = held(cred, holder, type="FOOD-PRODUCTION")
    asked = start(cred, EITHER)
    other = start(cred, EITHER)
    vp = {"food_operation": [present(op, holder, asked)],
          "food_production": [present(prod, holder, other)]}  # fmt: skip
    assert respond(cred, asked, vp).status_code == 200
    out = verdict(cred, asked)
    assert out["verdict"] == "VALID" and out["reasonCodes"] == ["valid"], out
    judged = {c["credentialQueryId"]: c for c in out["credentials"]}
    assert judged["food_production"]["verdict"] == "REFUSED", judged
    assert judged["food_production"]["codes"] == ["wrong_nonce"]
    asked = start(cred, EITHER)
    assert respond(cred, asked, {"food_production": vp["food_production"]}).status_code == 200
    out = verdict(cred, asked)
    assert out["verdict"] == "REFUSED", out
    assert out["reasonCodes"] == ["wrong_nonce", "credential_set_not_satisfied"], out


def test_a_suspended_licence_as_the_only_option_answered_is_suspended(cred: CredEnv) -> None:
    holder = ECKey.generate_key("P-256")
    lid, vc = held(cred, holder)
    cred.node.ok(cred.node.post(f"/v1/licences/{lid}/suspend", TOKENS["enforcement"],
                                json={"reasonCode": 1, "note": "test"}))  # fmt: skip
    asked = start(cred, EITHER)
    assert respond(cred, asked, {"food_operation": [present(vc, holder, asked)]}).status_code == 200
    out = verdict(cred, asked)
    assert out["verdict"] == "SUSPENDED" and out["reasonCodes"] == ["suspended"], out


def test_claim_sets_name_and_number_or_the_credit_code(cred: CredEnv) -> None:
    holder = ECKey.generate_key("P-256")
    _, vc = held(cred, holder)
    for keep, want, met in ((("holderCode",), "VALID", 1), (("name", "number"), "VALID", 0),
                            (("name", "holderCode", "number"), "VALID", 0),
                            (("name",), "REFUSED", None)):  # fmt: skip
        asked = start(cred, {"dcqlQuery": {"credentials": [NAME_NUMBER_OR_CODE]}})
        claims = asked.request["dcql_query"]["credentials"][0]
        assert claims["claim_sets"] == [["n", "num"], ["code"]]
        assert respond(cred, asked, {"lic": [present(vc, holder, asked, keep=keep)]}).is_success
        out = verdict(cred, asked)
        assert out["verdict"] == want, (keep, out)
        (one,) = out["credentials"]
        assert one["claimSet"] == met, (keep, one)
        if want == "REFUSED":
            assert out["reasonCodes"] == ["query_not_satisfied"], out
            assert any("no claim set is disclosed in full" in x for x in out["reasons"]), out
