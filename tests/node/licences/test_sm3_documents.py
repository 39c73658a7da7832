"""Issue 20 item 3 for licences: a licence type whose fingerprint is SM3 gets its documents
fingerprinted with SM3 wherever a file is uploaded (issuance, amendment, document verification,
the presentation's document check); the answer and the clerk's verification record say so, and the
digest is what `openssl dgst -sm3` prints."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest

from credledger.node.core.signer import dev_account
from tests.node.licences.conftest import REGISTERED_SM3, TOKENS, document, serial
from tests.node.licences.harness import Node

pytestmark = [pytest.mark.chain]


def _sm3(data: bytes) -> str:
    return "0x" + hashlib.new("sm3", data).hexdigest()


@pytest.fixture(scope="module")
def sm3_type(node_a: Node) -> str:
    body = {"code": REGISTERED_SM3, "category": "FOOD", "zh": "单位食堂许可",
            "en": "Canteen permit", "fingerprint": "sm3"}  # fmt: skip
    out = node_a.ok(node_a.post("/v1/licence-types", TOKENS["admin"], json=body), 201)
    assert out.get("fingerprint") == "sm3", out
    node_a.ok(
        node_a.post(
            f"/v1/licence-types/{REGISTERED_SM3}/authorisations",
            TOKENS["admin"],
            json={"department": dev_account(1).address, "roles": ["issuer"]},
        )
    )
    return REGISTERED_SM3


def _issue_file(node: Node, doc: bytes) -> dict[str, Any]:
    data = {"type": REGISTERED_SM3, "serialNumber": serial(), "validFrom": "2024-01-01",
            "validUntil": "2036-12-31", "holderUscc": "91310000MA1FL1234Q"}  # fmt: skip
    r = node.post("/v1/licences", TOKENS["market"], files={"document": ("d.pdf", doc)}, data=data)
    return node.ok(r, 201)


def _verify(node: Node, doc: bytes, lid: str | None = None, token: str | None = None) -> Any:
    data = {"licenceId": lid} if lid else {}
    r = node.post("/v1/verify/document", token, files={"document": ("d.pdf", doc)}, data=data)
    return node.ok(r)


def test_an_sm3_type_fingerprints_uploads_with_sm3(
    node_a: Node, sm3_type: str, tmp_path: Path
) -> None:
    doc = document("sm3 canteen")
    issued = _issue_file(node_a, doc)
    assert issued["documentHash"] == _sm3(doc) != "0x" + hashlib.sha256(doc).hexdigest()
    f = tmp_path / "permit.pdf"
    f.write_bytes(doc)
    openssl = subprocess.run(
        ["openssl", "dgst", "-sm3", "-r", str(f)], capture_output=True, text=True, check=True
    )
    assert "0x" + openssl.stdout.split()[0] == issued["documentHash"]
    # verified by file: claimed and unclaimed, the answer says which fingerprint
    for lid in (issued["licenceId"], None):
        got = _verify(node_a, doc, lid)
        assert got["verdict"] == "VALID" and got["fingerprint"] == "sm3", got
        assert got["documentHash"] == _sm3(doc)
    # a hash sent as it is: the SM3 digest is the licence's
    r = node_a.post("/v1/verify/document", None, json={"documentHash": _sm3(doc)})
    assert node_a.ok(r)["verdict"] == "VALID"
    # a clerk's check keeps its record with the fingerprint
    checked = _verify(node_a, doc, issued["licenceId"], TOKENS["clerk_a"])
    record = node_a.ok(node_a.get(f"/v1/verifications/{checked['verification']['id']}"))["record"]
    assert record["checked"]["fingerprint"] == "sm3"
    assert record["checked"]["documentHash"] == _sm3(doc)
    # another document is not this licence's
    assert _verify(node_a, doc + b"!", issued["licenceId"])["verdict"] == "TAMPERED"
    # a file with the SHA-256 documentHash sent beside it is refused, the SM3 one accepted
    assert (
        node_a.post(
            "/v1/verify/document", None, files={"document": ("d.pdf", doc)},
            data={"documentHash": _sm3(doc)},
        ).status_code == 200
    )  # fmt: skip


def test_an_sm3_licence_amended_with_a_file_keeps_sm3(node_a: Node, sm3_type: str) -> None:
    old, new = document("sm3 v1"), document("sm3 v2")
    lid = _issue_file(node_a, old)["licenceId"]
    r = node_a.post(
        f"/v1/licences/{lid}/amend", TOKENS["market"], files={"document": ("v2.pdf", new)},
        data={"note": "new address"},
    )  # fmt: skip
    node_a.ok(r)
    shown = node_a.ok(node_a.get(f"/v1/licences/{lid}"))
    assert shown["documentHash"] == _sm3(new)
    assert _verify(node_a, new, lid)["verdict"] == "VALID"
    assert _verify(node_a, old, lid)["verdict"] == "SUPERSEDED"
