"""Issue 19 item 3/5 on the node: a citizen ID in a licence-type name, a date, a path or a query is
refused (422, or 404 for an unknown path) without being echoed, and afterwards is found nowhere
(responses, the log, the node's databases, transactions and events); numbers of any length and
paths of any length answer 4xx, never 500."""

from __future__ import annotations

import pytest

from credledger.node.core.identifiers import citizen_id_check_digit, is_citizen_id
from tests.node.api.conftest import TOKENS, HChain
from tests.node.api.test_privacy_fuzz import _everything, _leaks, _needles
from tests.node.licences.harness import Node

pytestmark = [pytest.mark.chain]

BODY = "11010519491231" + "097"
CID = BODY + citizen_id_check_digit(BODY)


def test_a_citizen_id_is_refused_in_every_node_field_and_found_nowhere(
    hnode: Node, hchain: HChain
) -> None:
    assert is_citizen_id(CID)
    admin, market = TOKENS["admin"], TOKENS["market"]
    good = {"code": "PRIV-TYPE-1", "category": "FOOD", "zh": "测试许可", "en": "Test licence"}
    for field, value in [
        ("zh", f"许可 {CID}"),
        ("en", f"licence of {CID}"),
        ("code", f"T-{CID}"),
        ("category", CID[:16]),
    ]:
        r = hnode.post("/v1/licence-types", admin, json={**good, field: value})
        assert r.status_code in (404, 422), (field, r.status_code, r.text)
        assert CID not in r.text and CID[:16] not in r.text, r.text
    base = {
        "type": "FOOD-OPERATION",
        "serialNumber": "PRIV-DATE-1",
        "holderUscc": "91310000MA1FL1234Q",
        "documentHash": "0x" + "ab" * 32,
    }
    for field in ("validFrom", "validUntil"):
        r = hnode.post("/v1/licences", market, json={**base, "validFrom": "2024-01-01",
                                                     field: f"on {CID}"})  # fmt: skip
        assert r.status_code == 422, r.text
        assert CID not in r.text and "YYYY-MM-DD" in r.text, r.text
    # paths and queries: 4xx, nothing echoed
    for path in [
        f"/static/{CID}",
        f"/static/{CID}{'a' * 300}",
        f"/static/{'a' * 300}",
        f"/static/{'许' * 256}",
        f"/static/{'a/' * 2000}",
        "/static/a%00b",
        f"/static/{'b' * 200}/{'c' * 200}/{CID}",
        f"/v1/licence-types/{CID}/authorisations",
        f"/v1/verifications/{CID}",
        f"/v1/licences/{CID}",
        f"/v1/licences?holderUscc={CID}",
        f"/v1/licences?type={CID}",
        f"/v1/licences/0x{CID}{'0' * 46}",
        f"/v1/verifications/0x{CID}{'0' * 46}",
    ]:
        r = hnode.get(path, market)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:300])
        assert CID not in r.text, (path, r.text[:300])
    r = hnode.post(f"/v1/licence-types/{CID}/authorisations", admin,
                   json={"department": "market", "roles": ["issuer"]})  # fmt: skip
    assert 400 <= r.status_code < 500 and CID not in r.text, r.text
    # a multipart field named with the ID (a file field, a field sent twice)
    for path in ("/v1/licences", "/v1/verify/document"):
        r = hnode.post(path, market, files={CID: ("a.pdf", b"%PDF x")})
        assert 400 <= r.status_code < 500 and CID not in r.text, (path, r.text[:300])
        r = hnode.post(path, market, files=[(CID, (None, "1")), (CID, (None, "2")),
                                            ("document", ("a.pdf", b"%PDF y"))])  # fmt: skip
        assert 400 <= r.status_code < 500 and CID not in r.text, (path, r.text[:300])
    needles = _needles(CID, CID)
    for where, data in _everything(hnode, hchain):
        assert not _leaks(data, needles), f"{where} holds the citizen ID"


def test_numbers_of_any_length_answer_422(hnode: Node) -> None:
    market = TOKENS["market"]
    huge = "9" * 5000
    base = {
        "type": "FOOD-OPERATION",
        "serialNumber": "PRIV-HUGE-1",
        "holderUscc": "91310000MA1FL1234Q",
        "documentHash": "0x" + "cd" * 32,
        "validFrom": huge,
    }
    r = hnode.post("/v1/licences", market, json=base)
    assert r.status_code == 422 and r.json()["error"], r.text
    r = hnode.post("/v1/licences", market, content=b'{"validFrom": ' + huge.encode() + b"}",
                   headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 422 and r.json()["error"], r.text


ODD_PATHS = [
    "/%00",
    "/static/%00",
    "/static/..%2f..%2fapp.py",
    "/static/%2e%2e/%2e%2e/etc/passwd",
    "/static/" + "%ff" * 100,
    "/static/" + "a" * 4000,
    "/v1/licences/" + "a" * 8000,
    "/v1/licences/%ff%fe",
    "/v1/licence-types/%F0%9F%98%80/authorisations",
    "/v1/verifications/" + "9" * 5000,
    "/favicon.ico/x",
    "/docs/" + "a" * 300,
    "/" + "x/" * 3000,
]


def test_any_path_is_a_4xx_never_a_500(hnode: Node) -> None:
    for path in ODD_PATHS:
        for token in (None, TOKENS["market"]):
            r = hnode.get(path, token)
            assert r.status_code < 500, (path[:80], r.status_code, r.text[:300])
            if r.status_code >= 400:
                assert r.headers["content-type"].startswith(("application/json", "text/html"))
