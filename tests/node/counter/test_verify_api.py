"""POST /v1/verify/presentation against a real node and chain: every verdict and refusal."""

from __future__ import annotations

import hashlib
import os
import time

import httpx
from eth_abi.abi import encode as abi_encode
from eth_hash.auto import keccak

from credledger.node.core import presentation as pr
from credledger.node.core.signer import dev_account
from tests.node.counter.conftest import CLERK_NAME, TOKENS, Parties, lid, wait_for
from tests.node.licences.conftest import document


def codes(reasons: list[dict[str, object]]) -> list[object]:
    return [r["code"] for r in reasons]


def test_holder_presents_valid_then_replay_is_refused(parties: Parties) -> None:
    a, b = parties.issue(), parties.issue("BL-BUSINESS")
    p = parties.token([lid(a), lid(b)])
    got = parties.verify(p.encode())
    assert got["verdict"] == "VALID", got
    assert [x["verdict"] for x in got["assets"]] == ["VALID", "VALID"]
    first = got["assets"][0]
    assert first["presentedBy"] == "holder" and first["status"] == "ACTIVE"
    assert first["type"]["code"] == "FOOD-OPERATION"
    assert first["issuer"]["name"] == "market"
    vid = got["verification"]["id"]
    # the same view when read from the indexed events (the second scan, indexer caught up)
    parties.wait_indexed()
    fresh = parties.verify(parties.token([lid(a)]).encode())["assets"][0]
    assert fresh["issuer"]["name"] == "market" and fresh["type"]["code"] == "FOOD-OPERATION"
    assert fresh["validFromIso"].startswith("2024-01-01") and fresh["serialNumber"]
    again = parties.verify(p.encode())
    assert again["verdict"] == "REFUSED" and codes(again["reasons"]) == ["REPLAYED"]
    assert again["reasons"][0]["firstVerification"] == vid
    # the record is kept and shows on the licence's history; the holder finds both checks
    record = parties.node.ok(parties.node.get(f"/v1/verifications/{vid}"))["record"]
    assert record["format"] == "credledger-presentation-verification-1"
    assert record["verdict"] == "VALID" and record["checkedBy"] == f"clerk:{CLERK_NAME}"
    history = parties.node.ok(parties.node.get(f"/v1/licences/{a['licenceId']}"))["history"]
    # a refused token is not written into the licence's history (anyone can name any licence)
    assert [h["verdict"] for h in history if h["action"] == "VERIFIED"] == ["VALID", "VALID"]
    sh = got["presentation"]["statementHash"]
    both = parties.node.ok(parties.node.get(f"/v1/presentations/{sh}"))["verifications"]
    assert [c["verdict"] for c in both] == ["VALID", "REFUSED"]
    # once anchored, the receipt downloads
    receipt = wait_for(
        lambda: (r := parties.node.get(f"/v1/verifications/{vid}/receipt")).status_code == 200 and r
    )
    assert "attachment" in receipt.headers["content-disposition"]
    assert receipt.json()["receipt"]["leaf"] or receipt.json()["receipt"]


def test_expired_future_tampered_and_foreign_tokens_are_refused(parties: Parties) -> None:
    a = lid(parties.issue())
    now = int(time.time())
    old = parties.token([a], ttl=120, issued_at=now - 200)
    got = parties.verify(old.encode())
    assert got["verdict"] == "REFUSED" and codes(got["reasons"]) == ["TOKEN_EXPIRED"]
    assert got["assets"][0]["verdict"] == "NOT_CHECKED"
    # within the 30 s clock skew it is still accepted
    assert (
        parties.verify(parties.token([a], ttl=120, issued_at=now - 140).encode())["verdict"]
        == "VALID"
    )
    future = parties.token([a], issued_at=now + 120)
    assert codes(parties.verify(future.encode())["reasons"]) == ["TOKEN_NOT_YET_VALID"]
    token = parties.token([a]).encode()
    i = 60
    tampered = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
    got = parties.verify(tampered)
    assert got["verdict"] == "REFUSED"
    assert codes(got["reasons"])[0] in ("BAD_SIGNATURE", "TOKEN_MALFORMED")
    assert codes(parties.verify("hello")["reasons"]) == ["TOKEN_MALFORMED"]
    # the untampered token was never used up by the tampered one
    assert parties.verify(token)["verdict"] == "VALID"
    # signed by another key (a valid signature, but not the holder's)
    foreign = parties.token([a], signer=pr.ChainKeySigner(parties.stranger.key))
    got = parties.verify(foreign.encode())
    assert got["verdict"] == "INVALID" and got["assets"][0]["verdict"] == "NOT_HOLDER"
    # another network's token
    other = pr.create(pr.ChainKeySigner(parties.holder.key), [a], parties.chain_id + 1)
    assert codes(parties.verify(other.encode())["reasons"]) == ["BAD_SIGNATURE"]


def test_audience(parties: Parties) -> None:
    a = lid(parties.issue())
    for aud in ["market", f"market/{CLERK_NAME}"]:
        assert parties.verify(parties.token([a], audience=aud).encode())["verdict"] == "VALID"
    for aud in ["drugs", "market/counter-9"]:
        got = parties.verify(parties.token([a], audience=aud).encode())
        assert codes(got["reasons"]) == ["WRONG_AUDIENCE"]


def test_agent_and_device_key_need_an_active_grant(parties: Parties) -> None:
    a = lid(parties.issue())
    agent = pr.ChainKeySigner(parties.agent.key)
    device = pr.DeviceKeySigner.generate()
    assert parties.verify(parties.token([a], signer=agent).encode())["assets"][0]["verdict"] == (
        "NOT_HOLDER"
    )
    parties.grant(a, parties.agent.address)
    parties.grant(a, device.address)
    got = parties.verify(parties.token([a], signer=agent).encode())
    assert got["verdict"] == "VALID" and got["assets"][0]["presentedBy"] == "agent"
    got = parties.verify(parties.token([a], signer=device).encode())
    assert got["verdict"] == "VALID" and got["presentation"]["keyKind"] == "p256"
    parties.revoke(a, device.address)
    parties.wait_indexed()
    got = parties.verify(parties.token([a], signer=device).encode())
    assert got["assets"][0]["verdict"] == "AGENT_NOT_AUTHORISED"
    assert "revoked" in got["assets"][0]["reasons"][0]["message"]
    # the agent shows a suspended licence: SUSPENDED, not "agent not authorised" (Contracts II
    # pauses the grant while the licence is suspended)
    lic = "0x" + a.hex()
    body = {"reasonCode": 1}
    parties.node.ok(parties.node.post(f"/v1/licences/{lic}/suspend", TOKENS["market"], json=body))
    got = parties.verify(parties.token([a], signer=agent).encode())
    assert codes(got["assets"][0]["reasons"]) == ["SUSPENDED"]


def test_suspension_reinstatement_and_revocation(parties: Parties) -> None:
    issued = parties.issue()
    a, path = lid(issued), f"/v1/licences/{issued['licenceId']}"
    parties.node.ok(
        parties.node.post(f"{path}/suspend", TOKENS["market"], json={"reasonCode": 1, "note": "x"})
    )
    got = parties.verify(parties.token([a]).encode())
    card = got["assets"][0]
    assert got["verdict"] == "INVALID" and card["verdict"] == "SUSPENDED"
    reason = card["reasons"][0]
    assert reason["code"] == "SUSPENDED" and reason["reason"] and reason["since"] > 0
    parties.node.ok(parties.node.post(f"{path}/reinstate", TOKENS["market"], json={}))
    assert parties.verify(parties.token([a]).encode())["verdict"] == "VALID"
    parties.node.ok(parties.node.post(f"{path}/revoke", TOKENS["market"], json={"reasonCode": 1}))
    assert parties.verify(parties.token([a]).encode())["assets"][0]["verdict"] == "REVOKED"


def test_document_upload_matches_or_is_tampered(parties: Parties) -> None:
    doc = document("counter")
    issued = parties.issue(doc=doc)
    a, other = lid(issued), lid(parties.issue())
    got = parties.verify(parties.token([a]).encode(), files={"document": ("l.pdf", doc)})
    assert got["verdict"] == "VALID" and got["assets"][0]["document"]["match"] is True
    got = parties.verify(parties.token([a]).encode(), files={"document": ("l.pdf", doc + b"!")})
    assert got["assets"][0]["verdict"] == "TAMPERED"
    # with two assets the document names its asset
    got = parties.verify(
        parties.token([other, a]).encode(),
        files={"document": ("l.pdf", doc)},
        data={"assetId": issued["licenceId"]},
    )
    assert got["verdict"] == "VALID" and "document" in got["assets"][1]
    assert "document" not in got["assets"][0]


def test_issuer_no_longer_authorised(parties: Parties) -> None:
    code = "IND-CABLE"  # used by no other counter test
    a = lid(parties.issue(code))
    dept = dev_account(1).address  # the market department
    body = {"department": dept, "roles": []}
    parties.node.ok(
        parties.node.post(f"/v1/licence-types/{code}/authorisations", TOKENS["admin"], json=body)
    )
    try:
        got = parties.verify(parties.token([a]).encode())
        assert got["assets"][0]["verdict"] == "ISSUER_NOT_AUTHORISED"
    finally:
        body["roles"] = ["issuer", "supervisor"]
        parties.node.ok(
            parties.node.post(
                f"/v1/licence-types/{code}/authorisations", TOKENS["admin"], json=body
            )
        )
    assert parties.verify(parties.token([a]).encode())["verdict"] == "VALID"


def test_material_needs_its_document(parties: Parties) -> None:
    doc = os.urandom(64)
    doc_hash = hashlib.sha256(doc).digest()
    asset = keccak(abi_encode(["address", "bytes32"], [parties.holder.address, doc_hash]))
    parties.node.ok(
        parties.node.post("/v1/anchors", TOKENS["market"], json={"hashes": ["0x" + asset.hex()]}),
        202,
    )
    wait_for(
        lambda: parties.node.get(f"/v1/anchors/0x{asset.hex()}").json()["status"] == "confirmed"
    )
    got = parties.verify(parties.token([asset]).encode())
    assert got["assets"][0]["verdict"] == "DOCUMENT_NEEDED" and got["verdict"] == "INVALID"
    got = parties.verify(parties.token([asset]).encode(), files={"document": ("m.pdf", doc)})
    assert got["verdict"] == "VALID" and got["assets"][0]["kind"] == "material"
    got = parties.verify(parties.token([asset]).encode(), files={"document": ("m.pdf", b"x")})
    assert got["assets"][0]["verdict"] == "TAMPERED"
    unknown = parties.verify(parties.token([os.urandom(32)]).encode())
    assert unknown["assets"][0]["verdict"] == "UNKNOWN_ASSET"


def test_tokens_and_roles(parties: Parties) -> None:
    token = parties.token([lid(parties.issue())]).encode()
    r = parties.node.post("/v1/verify/presentation", json={"token": token})
    assert r.status_code == 401
    r = parties.node.post("/v1/verify/presentation", TOKENS["admin"], json={"token": token})
    assert r.status_code == 403
    # a department may verify too
    assert parties.verify(token, token_as="market")["verdict"] == "VALID"


def test_single_use_survives_a_restart(parties: Parties) -> None:
    token = parties.token([lid(parties.issue())]).encode()
    assert parties.verify(token)["verdict"] == "VALID"
    node = parties.node
    node.stop()
    node.client = httpx.Client(base_url=node.url, timeout=60)
    node.start()
    assert codes(parties.verify(token)["reasons"]) == ["REPLAYED"]


def test_the_verdict_is_a_typed_model_on_the_wire(parties: Parties) -> None:
    """The route's response_model is the counter's PresentationVerdict; the answer keeps only the
    fields each check has (a refused token's assets carry no licence fields)."""
    schema = parties.node.ok(parties.node.get("/openapi.json"))
    ok = schema["paths"]["/v1/verify/presentation"]["post"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/PresentationVerdict")
    for name in ("PresentationVerdict", "AssetCheck", "Reason", "RecordReceipt"):
        assert name in schema["components"]["schemas"], name
    refused = parties.verify("hello")
    assert set(refused) == {
        "verdict", "reasons", "presentation", "assets", "documentHash", "checkedAt", "verification"
    }  # fmt: skip
    assert refused["presentation"] is None and refused["assets"] == []
    assert set(refused["reasons"][0]) == {"code", "message"}
