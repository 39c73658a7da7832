"""Who may do what: local configuration first, and the contract's roles as the final word."""

from __future__ import annotations

from typing import Any

import pytest

from tests.node.licences.conftest import (
    NOT_ON_CHAIN,
    TOKENS,
    document,
    issue_body,
)
from tests.node.licences.harness import Node


def _food_licence(node: Node) -> str:
    body = issue_body("FOOD-OPERATION", document("authz"))
    lid: str = node.ok(node.post("/v1/licences", TOKENS["market"], json=body), 201)["licenceId"]
    return lid


def _drug_licence(node: Node) -> str:
    body = issue_body("MED-DRUG-OPERATION", document("authz-med"))
    lid: str = node.ok(node.post("/v1/licences", TOKENS["drugs"], json=body), 201)["licenceId"]
    return lid


@pytest.mark.parametrize(
    ("token", "status", "message"),
    [
        (None, 401, "Bearer"),
        ("not-a-known-token", 401, "not known"),
        (TOKENS["clerk_a"], 403, "only a department"),
        (TOKENS["admin"], 403, "only a department"),
        (TOKENS["enforcement"], 403, "not configured to issue FOOD-OPERATION"),
    ],
)
def test_who_cannot_issue(node_a: Node, token: str | None, status: int, message: str) -> None:
    r = node_a.post("/v1/licences", token, json=issue_body())
    assert r.status_code == status, r.text
    assert message in r.json()["message"]


def test_malformed_authorization_header(node_a: Node) -> None:
    r = node_a.post("/v1/licences", json=issue_body(), headers={"Authorization": TOKENS["market"]})
    assert r.status_code == 401
    assert "Bearer" in r.json()["message"]


def test_issuer_of_another_type_is_refused(node_a: Node) -> None:
    r = node_a.post("/v1/licences", TOKENS["market"], json=issue_body("MED-DRUG-OPERATION"))
    assert r.status_code == 403
    assert "not configured to issue MED-DRUG-OPERATION" in r.json()["message"]


def test_the_chain_refuses_a_type_the_node_config_allows(node_a: Node) -> None:
    # the market node is configured for NOT_ON_CHAIN, but the admin never authorised it on chain
    r = node_a.post("/v1/licences", TOKENS["market"], json=issue_body(NOT_ON_CHAIN))
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["details"]["contract_error"] == "NotIssuer"
    assert "not authorised on chain to issue" in body["message"]


def test_supervisor_suspends_and_reinstates_but_cannot_revoke(node_a: Node) -> None:
    lid = _food_licence(node_a)
    s = node_a.post(f"/v1/licences/{lid}/suspend", TOKENS["enforcement"], json={"reasonCode": 2})
    assert s.status_code == 200, s.text
    r = node_a.post(f"/v1/licences/{lid}/reinstate", TOKENS["enforcement"], json={})
    assert r.status_code == 200, r.text
    v = node_a.post(f"/v1/licences/{lid}/revoke", TOKENS["enforcement"], json={"reasonCode": 2})
    assert v.status_code == 403, v.text
    assert v.json()["details"]["contract_error"] == "NotAuthorised"


@pytest.mark.parametrize("action", ["suspend", "reinstate", "revoke", "amend", "bind-holder"])
def test_writes_without_a_token_are_401(node_a: Node, action: str) -> None:
    r = node_a.post(f"/v1/licences/0x{'11' * 32}/{action}", json={"reasonCode": 1})
    assert r.status_code == 401


def test_clerk_cannot_change_licences(node_a: Node) -> None:
    lid = _food_licence(node_a)
    r = node_a.post(f"/v1/licences/{lid}/suspend", TOKENS["clerk_a"], json={"reasonCode": 1})
    assert r.status_code == 403


def test_department_cannot_act_on_another_departments_type(node_a: Node, node_b: Node) -> None:
    drug = _drug_licence(node_b)
    food = _food_licence(node_a)
    # market (node A) has no role for drug types on chain
    r = node_a.post(f"/v1/licences/{drug}/suspend", TOKENS["market"], json={"reasonCode": 1})
    assert r.status_code == 403, r.text
    assert r.json()["details"]["contract_error"] == "NotAuthorised"
    # drugs (node B) has no role for food types on chain
    for action, body in [
        ("revoke", {"reasonCode": 1}),
        ("amend", {"documentHash": "0x" + "12" * 32}),
    ]:
        r = node_b.post(f"/v1/licences/{food}/{action}", TOKENS["drugs"], json=body)
        assert r.status_code == 403, r.text
    # a token of node A means nothing to node B
    r = node_b.post(f"/v1/licences/{food}/suspend", TOKENS["market"], json={"reasonCode": 1})
    assert r.status_code == 401


def test_unknown_licence_is_404_and_bad_input_is_422(node_a: Node) -> None:
    r = node_a.post(f"/v1/licences/0x{'22' * 32}/suspend", TOKENS["market"], json={"reasonCode": 1})
    assert r.status_code == 404
    assert "no licence" in r.json()["message"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"reasonCode": 12345}, "reasonCode must be one of"),
        ({"reasonCode": 1, "extra": True}, "extra: Extra inputs are not permitted"),
    ]
    lid = _food_licence(node_a)
    for body, message in cases:
        r = node_a.post(f"/v1/licences/{lid}/suspend", TOKENS["market"], json=body)
        assert r.status_code == 422, r.text
        assert message in r.json()["message"]
    assert node_a.get("/v1/licences/0x1234").status_code == 422


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"holderUscc": "91310000MA1FL1234R"}, 422, "check character should be Q, not R"),
        ({"holderUscc": "9131000OMA1FL1234Q"}, 422, "is not allowed"),
        ({"type": "NO-SUCH-TYPE"}, 404, "unknown licence type"),
        ({"documentHash": "0x1234"}, 422, "must be 32 bytes"),
        ({"validUntil": "2020-01-01"}, 422, "validUntil"),
        ({"validFrom": "yesterday"}, 422, "not a date"),
        ({"holderAddress": "0x12"}, 422, "holderAddress"),
        ({"type": "SE-OPERATOR"}, 422, "is held by a person, not by an enterprise"),
        ({"serialNumber": "ID 11010519491231002X"}, 422, "serialNumber contains a citizen ID"),
        ({"holderCitizenId": "11010519491231002X"}, 422, "exactly one"),
    ],
)
def test_issue_input_errors(
    node_a: Node, change: dict[str, Any], status: int, message: str
) -> None:
    r = node_a.post("/v1/licences", TOKENS["market"], json=issue_body(**change))
    assert r.status_code == status, r.text
    assert message in r.json()["message"]


def test_admin_registers_a_type_and_authorises_a_department(node_a: Node, node_b: Node) -> None:
    new_type = {
        "code": "FOOD-TEST-KITCHEN",
        "category": "FOOD",
        "zh": "测试厨房许可",
        "en": "Test kitchen permit",
    }
    assert node_a.post("/v1/licence-types", TOKENS["market"], json=new_type).status_code == 403
    assert node_a.post("/v1/licence-types", json=new_type).status_code == 401
    node_a.ok(node_a.post("/v1/licence-types", TOKENS["admin"], json=new_type), 201)
    dup = node_a.post("/v1/licence-types", TOKENS["admin"], json=new_type)
    assert dup.status_code == 409
    # any address will do for the role check
    drugs_address = node_b.health()["licences"]["departments"][0]["address"]
    grant = node_a.post(
        "/v1/licence-types/FOOD-TEST-KITCHEN/authorisations",
        TOKENS["admin"],
        json={"department": drugs_address, "roles": ["issuer", "supervisor"]},
    )
    node_a.ok(grant)
    # the other node learns the new type from the chain alone
    node_b.wait_indexed(node_a.health()["latestBlock"])
    codes = [t["code"] for t in node_b.ok(node_b.get("/v1/licence-types"))["types"]]
    assert "FOOD-TEST-KITCHEN" in codes
    assert len(codes) >= 26  # the catalogue and the types registered since
