"""GB/T 36904 identifiers and GB/T 36903 metadata through a real node: answers, lookups by
identifier on every route that takes a licence, refusals with their reason, the CLI."""

from __future__ import annotations

import os
import random
import re
import time
from pathlib import Path

import httpx
from stdnum.iso7064 import mod_37_36  # an independent MOD 37,36

from credledger.node.core.gbt import GBT_ROOT, encode_serial, gbt_identifier
from credledger.node.core.identifiers import citizen_id_check_digit
from credledger.node.core.signer import dev_account
from tests.node.licences.conftest import (
    ENTERPRISE,
    REGISTERED_WITH_TYPE_CODE,
    TOKENS,
    USCC,
    document,
    issue_body,
    serial,
    sha,
)
from tests.node.licences.harness import Node
from tests.node.licences.test_cli_and_demo import cli

FOOD_OPERATION = "11310000MB2F00001F101"
NAME = "上海示例餐饮管理有限公司"


def _issue(node: Node, **extra: object) -> tuple[dict, dict]:
    body = issue_body(holderName=NAME, **extra)
    issued = node.ok(node.post("/v1/licences", TOKENS["market"], json=body), 201)
    return body, issued


def _independent_check(identifier: str) -> bool:
    parts = identifier[len(GBT_ROOT) + 1 :].split(".")
    return bool(mod_37_36.is_valid("".join(parts)))


def test_issued_licence_has_an_identifier_and_metadata(node_a: Node) -> None:
    body, issued = _issue(node_a)
    ident = issued["identifier"]
    expected = gbt_identifier(FOOD_OPERATION, USCC["market"], body["serialNumber"], 1)
    assert ident == str(expected)
    assert ident.split(".")[7] == encode_serial(body["serialNumber"])  # "T-…": hex-encoded
    assert ident.endswith(f".001.{expected.check}")
    assert _independent_check(ident)

    by_id = node_a.ok(node_a.get(f"/v1/licences/{issued['licenceId']}"))
    by_ident = node_a.ok(node_a.get(f"/v1/licences/{ident}"))
    assert by_id["licenceId"] == by_ident["licenceId"] == issued["licenceId"]
    assert by_ident["identifier"] == ident
    assert by_ident["fingerprint"] == "sha256"
    assert by_ident["type"]["typeCode"] == FOOD_OPERATION
    assert by_ident["issuer"]["uscc"] == USCC["market"]
    md = by_ident["metadata"]
    assert md == {
        "name": "食品经营许可证",
        "typeCode": FOOD_OPERATION,
        "number": body["serialNumber"],
        "identifier": ident,
        "authority": "market",  # the department's display name (none configured: its name)
        "issueDate": md["issueDate"],
        "holderName": NAME,
        "holderCode": ENTERPRISE,
        "holderCodeType": "uscc",
        "validFrom": "2024-01-01",
        "validUntil": "2036-12-31",
    }
    assert len(md["issueDate"]) == 10
    assert by_ident["attributes"] == {"holderName": NAME}
    # case and full width folded
    assert node_a.ok(node_a.get(f"/v1/licences/{ident.lower()}"))["identifier"] == ident
    # listed with it in the enterprise view and verdicts
    ent = node_a.ok(node_a.get(f"/v1/enterprises/{ENTERPRISE}"))
    assert ident in {x["identifier"] for x in ent["licences"]}
    page = node_a.get(f"/e/{ENTERPRISE}?lang=en")
    assert page.status_code == 200 and ident in page.text  # the enterprise page
    verdict = node_a.ok(
        node_a.post(
            "/v1/verify/document",
            json={"documentHash": body["documentHash"], "licenceId": ident},
        )
    )
    assert verdict["verdict"] == "VALID"
    assert verdict["licences"][0]["identifier"] == ident
    # a clerk's check: the verification record (anchored) names the identifier too
    recorded = node_a.ok(
        node_a.post(
            "/v1/verify/document",
            TOKENS["clerk_a"],
            json={"documentHash": body["documentHash"], "licenceId": ident},
        )
    )
    record = node_a.ok(node_a.get(f"/v1/verifications/{recorded['verification']['id']}"))
    assert record["record"]["licenceIdentifiers"] == {issued["licenceId"]: ident}


def test_plain_serial_and_long_term_validity(node_a: Node) -> None:
    number = f"SC{os.getpid()}{random.randint(10**9, 10**10)}"
    _body, issued = _issue(node_a, serialNumber=number, validUntil=None)
    assert issued["identifier"].split(".")[7] == number
    md = node_a.ok(node_a.get(f"/v1/licences/{issued['identifier']}"))["metadata"]
    assert md["validUntil"] == "长期" and md["number"] == number


def test_every_tampered_character_is_refused_with_the_reason(node_a: Node) -> None:
    _, issued = _issue(node_a)
    ident = issued["identifier"]
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for i, ch in enumerate(ident):
        other = alphabet[(alphabet.index(ch) + 7) % 36] if ch in alphabet else "7"
        tampered = ident[:i] + other + ident[i + 1 :]
        r = node_a.get(f"/v1/licences/{tampered}")
        assert r.status_code == 422, (i, tampered, r.text)
        assert r.json()["error"] == "invalid_identifier"
        assert r.json()["message"].startswith("identifier")
    wrong = ident[:-1] + ("0" if ident[-1] != "0" else "1")
    r = node_a.get(f"/v1/licences/{wrong}")
    assert r.status_code == 422
    assert f"check character should be {ident[-1]}" in r.json()["message"]
    # the same on a write route and in a verification
    r = node_a.post(f"/v1/licences/{wrong}/suspend", TOKENS["market"], json={"reasonCode": 1})
    assert r.status_code == 422 and r.json()["error"] == "invalid_identifier"
    r = node_a.post("/v1/verify/document", json={"documentHash": sha(b"x"), "licenceId": wrong})
    assert r.status_code == 422 and "check character" in r.json()["message"]


def test_well_formed_identifier_of_no_licence_is_404_with_the_reason(node_a: Node) -> None:
    body, _issued = _issue(node_a)
    number = body["serialNumber"]
    other_issuer = gbt_identifier(FOOD_OPERATION, USCC["drugs"], number, 1)
    r = node_a.get(f"/v1/licences/{other_issuer}")
    assert r.status_code == 404 and f"issued by {USCC['market']}" in r.json()["message"]
    later = gbt_identifier(FOOD_OPERATION, USCC["market"], number, 2)
    r = node_a.get(f"/v1/licences/{later}")
    assert r.status_code == 404 and "version 1" in r.json()["message"]
    unknown = gbt_identifier(FOOD_OPERATION, USCC["market"], serial(), 1)
    assert node_a.get(f"/v1/licences/{unknown}").status_code == 404
    no_type = gbt_identifier("11310000MB2F00001F999", USCC["market"], number, 1)
    r = node_a.get(f"/v1/licences/{no_type}")
    assert r.status_code == 404 and "type code" in r.json()["message"]


def test_amendment_increments_the_version_and_writes_take_identifiers(node_a: Node) -> None:
    _, issued = _issue(node_a)
    first = issued["identifier"]
    new_doc = document("amended")
    node_a.ok(
        node_a.post(
            f"/v1/licences/{first}/amend", TOKENS["market"], json={"documentHash": sha(new_doc)}
        )
    )
    shown = node_a.ok(node_a.get(f"/v1/licences/{first}"))  # an earlier version's: accepted
    second = shown["identifier"]
    assert shown["version"] == 2 and second != first
    assert second.split(".")[-2] == "002" and second.split(".")[:-2] == first.split(".")[:-2]
    assert _independent_check(second)
    assert shown["metadata"]["identifier"] == second
    out = node_a.ok(
        node_a.post(f"/v1/licences/{second}/suspend", TOKENS["market"], json={"reasonCode": 1})
    )
    assert out["status"] == "SUSPENDED" and out["licenceId"] == issued["licenceId"]


def test_person_holder_metadata_is_masked_and_the_name_not_kept(node_a: Node) -> None:
    rnd = random.Random()
    cid17 = f"440304{rnd.randint(1950, 2005)}0{rnd.randint(1, 9)}1{rnd.randint(1, 9)}"
    cid17 += f"{rnd.randint(0, 999):03d}"
    cid = cid17 + citizen_id_check_digit(cid17)
    person_name = f"张{rnd.randint(10**5, 10**6)}"
    body = issue_body("SE-OPERATOR", uscc=None, holderCitizenId=cid, holderName=person_name)
    issued = node_a.ok(node_a.post("/v1/licences", TOKENS["market"], json=body), 201)
    md = node_a.ok(node_a.get(f"/v1/licences/{issued['identifier']}"))["metadata"]
    assert md["holderCodeType"] == "citizen_id"
    assert md["holderCode"] == cid[:3] + "*" * 11 + cid[-4:]
    assert md["holderName"] == ""
    for f in Path(node_a.workdir).rglob("*.sqlite3*"):
        data = f.read_bytes()
        assert person_name.encode() not in data and cid.encode() not in data, f


def test_licence_types_show_type_codes_and_fingerprints(node_a: Node) -> None:
    types = node_a.ok(node_a.get("/v1/licence-types"))["types"]
    business = next(t for t in types if t["code"] == "BL-BUSINESS")
    assert business["typeCode"] == "11100000MB0143028R001"
    assert business["typeCodeSource"] == "national" and business["typeCodeCitation"]
    assert all(t["fingerprint"] in ("sha256", "sm3") for t in types)


def test_cli_shows_and_changes_a_licence_by_identifier(node_a: Node) -> None:
    _, issued = _issue(node_a)
    ident = issued["identifier"]
    env = {"CREDLEDGER_NODE_URL": node_a.url, "CREDLEDGER_TOKEN": TOKENS["market"]}
    shown = cli("licence", "show", ident, env=env)
    assert shown.returncode == 0, shown.stderr
    assert ident in shown.stdout and issued["licenceId"] in shown.stdout
    assert "GB/T 36903" in shown.stdout and NAME in shown.stdout
    sus = cli("licence", "suspend", ident.lower(), "--reason", "1", env=env)
    assert sus.returncode == 0 and "SUSPENDED" in sus.stdout, sus.stderr
    bad = cli("licence", "show", ident[:-1] + ("0" if ident[-1] != "0" else "1"), env=env)
    assert bad.returncode != 0 and "check character" in bad.stderr


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_clerk_page_search_by_identifier(node_a: Node) -> None:
    _, issued = _issue(node_a)
    ident = issued["identifier"]
    with httpx.Client(base_url=node_a.url, timeout=60) as clerk:
        r = clerk.post(
            "/clerk/login",
            data={"csrf": _csrf(clerk.get("/clerk").text), "token": TOKENS["clerk_a"]},
        )
        assert r.status_code == 303 and r.headers["location"] == "/clerk", r.text

        def search(text: str) -> str:
            r = clerk.post(
                "/clerk/verify",
                data={"csrf": _csrf(clerk.get("/clerk").text), "token": text},
            )
            assert r.status_code == 303, r.text
            page = clerk.get(r.headers["location"] + "&lang=en")
            assert page.status_code == 200
            return page.text

        found = search(ident.lower())
        assert ident in found and NAME in found and 'data-verdict="VALID"' in found
        assert issued["licenceId"] in found
        by_id = search(issued["licenceId"])
        assert ident in by_id
        wrong = ident[:-1] + ("0" if ident[-1] != "0" else "1")
        refused = search(wrong)
        assert 'data-verdict="INVALID"' in refused
        assert f"check character should be {ident[-1]}" in refused
        assert "Identifier refused" in refused


def test_other_nodes_departments_have_identifiers_through_department_codes(
    node_a: Node, node_b: Node
) -> None:
    """Node B acts for drugs only; node A's market licences get their identifier there from
    ``licences.department_codes``, and B's from A's."""
    _, issued = _issue(node_a)
    ident = issued["identifier"]
    deadline = time.monotonic() + 20
    while True:
        r = node_b.get(f"/v1/licences/{ident}")
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    shown = node_b.ok(r)
    assert shown["identifier"] == ident and shown["issuer"]["uscc"] == USCC["market"]
    assert shown["issuer"]["name"] is None  # not a department node B acts for
    # the chain keeps no licence number, so B knows it only from the identifier asked for
    assert shown["serialNumber"] == issued["serialNumber"]
    assert shown["metadata"]["identifier"] == ident and shown["metadata"]["holderName"] == ""
    by_id = node_b.ok(node_b.get(f"/v1/licences/{issued['licenceId']}"))
    assert by_id["identifier"] is None and by_id["issuer"]["uscc"] == USCC["market"]
    med = issue_body("MED-DRUG-OPERATION", holderName=NAME)
    on_b = node_b.ok(node_b.post("/v1/licences", TOKENS["drugs"], json=med), 201)
    assert on_b["identifier"].split(".")[6] == USCC["drugs"]
    deadline = time.monotonic() + 20
    while node_a.get(f"/v1/licences/{on_b['identifier']}").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.3)


def test_a_type_registered_later_with_a_type_code_gets_identifiers(node_a: Node) -> None:
    code, type_code = REGISTERED_WITH_TYPE_CODE, "11310000MB2F00001F901"
    body = {"code": code, "category": "FOOD", "zh": "中央厨房许可", "en": "Central kitchen"}
    bad = node_a.post("/v1/licence-types", TOKENS["admin"], json={**body, "typeCode": "X1"})
    assert bad.status_code == 422 and "21 characters" in bad.json()["message"]
    taken = {**body, "typeCode": FOOD_OPERATION}
    r = node_a.post("/v1/licence-types", TOKENS["admin"], json=taken)
    assert r.status_code == 409 and "another licence type" in r.json()["message"]
    out = node_a.ok(
        node_a.post("/v1/licence-types", TOKENS["admin"], json={**body, "typeCode": type_code}),
        201,
    )
    assert out["typeCode"] == type_code and out["typeCodeSource"] == "local"
    node_a.ok(
        node_a.post(
            f"/v1/licence-types/{code}/authorisations",
            TOKENS["admin"],
            json={"department": dev_account(1).address, "roles": ["issuer"]},
        )
    )
    issued = node_a.ok(node_a.post("/v1/licences", TOKENS["market"], json=issue_body(code)), 201)
    assert issued["identifier"].split(".")[5] == type_code
    shown = node_a.ok(node_a.get(f"/v1/licences/{issued['identifier']}"))
    assert shown["licenceId"] == issued["licenceId"]
    assert shown["metadata"]["name"] == "中央厨房许可"
    listed = node_a.ok(node_a.get("/v1/licence-types"))["types"]
    assert next(t for t in listed if t["code"] == code)["typeCode"] == type_code
