"""A clear citizen ID number reaches no log, response, database, transaction or event."""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Mapping

from eth_hash.auto import keccak

from credledger.node.core.identifiers import citizen_id_check_digit
from tests.node.licences.conftest import TOKENS, LicenceChain, document, issue_body, sha
from tests.node.licences.harness import SUBJECT_SECRET, Node


def _fresh_citizen_id() -> str:
    rnd = random.Random()
    body = f"440304{rnd.randint(1950, 2005)}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}"
    body += f"{rnd.randint(0, 999):03d}"
    return body + citizen_id_check_digit(body)


def _full_width(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in s)


def test_citizen_id_never_leaves_the_request(
    node_a: Node, node_b: Node, lchain: LicenceChain
) -> None:
    cid = _fresh_citizen_id()
    wrong = cid[:17] + ("0" if cid[17] != "0" else "1")
    doc = document("operator certificate")
    issued = node_a.ok(
        node_a.post(
            "/v1/licences",
            TOKENS["market"],
            json=issue_body("SE-OPERATOR", doc, uscc=None, holderCitizenId=_full_width(cid)),
        ),
        201,
    )
    assert issued["holder"] == {"kind": "person", "display": cid[:3] + "*" * 11 + cid[-4:]}
    lid = issued["licenceId"]
    node_a.ok(node_a.get(f"/v1/licences/{lid}"))
    node_b.ok(node_b.get(f"/v1/licences/{lid}"))
    node_a.ok(
        node_a.post(
            "/v1/verify/document",
            TOKENS["clerk_a"],
            json={"documentHash": sha(doc), "licenceId": lid},
        )
    )
    # the same person again (normalised to the same subject), and refusals that must not echo it
    again = node_a.ok(
        node_a.post(
            "/v1/licences",
            TOKENS["market"],
            json=issue_body("METR-VERIFIER", uscc=None, holderCitizenId=cid.lower()),
        ),
        201,
    )
    refusals = [
        issue_body("SE-OPERATOR", uscc=None, holderCitizenId=wrong),
        issue_body("SE-OPERATOR", uscc=None, holderCitizenId=cid, metadata={"note": f"id {cid}"}),
        issue_body("SE-OPERATOR", uscc=None, holderCitizenId=cid, serialNumber=f"S{cid}"),
        issue_body("FOOD-OPERATION", uscc=None, holderCitizenId=cid),
        {**issue_body("SE-OPERATOR", uscc=None, holderCitizenId=cid), "unexpected": cid},
    ]
    for body in refusals:
        r = node_a.post("/v1/licences", TOKENS["market"], json=body)
        assert r.status_code == 422, r.text
    lid2 = again["licenceId"]
    sup = node_a.post(
        f"/v1/licences/{lid2}/suspend", TOKENS["market"], json={"reasonCode": 99, "note": cid}
    )
    assert sup.status_code == 422

    # the chain holds the keyed subject only
    registry = lchain.chain.contract("LicenceRegistry", lchain.contracts["LicenceRegistry"])
    (event,) = registry.events.LicenceIssued().get_logs(
        from_block=0, argument_filters={"licenceId": bytes.fromhex(lid[2:])}
    )
    subject = hmac.new(
        SUBJECT_SECRET.encode(), b"credledger/subject/person/v1\x00" + cid.encode(), hashlib.sha256
    ).digest()
    assert bytes(event["args"]["holder"]) == subject

    needles = {
        "clear": cid.encode(),
        "first 17 digits": cid[:17].encode(),
        "full width": _full_width(cid).encode(),
        "sha256": hashlib.sha256(cid.encode()).digest(),
        "keccak": keccak(cid.encode()),
    }

    def leaks(data: bytes) -> list[str]:
        hexed = data.hex().encode()
        return [
            name
            for name, n in needles.items()
            if n in data or n.hex().encode() in hexed or n.hex().encode() in data
        ]

    for node in (node_a, node_b):
        for text in node.responses:
            assert not leaks(text.encode()), f"response of node {node.name} leaks: {text[:200]}"
        assert not leaks(node.log_path.read_bytes()), f"log of node {node.name}"
        for path in node.data_dir.rglob("*"):
            if path.is_file():
                assert not leaks(path.read_bytes()), f"{path} leaks the ID"

    w3 = lchain.chain.w3
    for number in range(w3.eth.block_number + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            assert isinstance(tx, Mapping)  # full transactions, not hashes
            assert not leaks(bytes(tx["input"])), f"tx {tx['hash'].hex()} input"
        for log in w3.eth.get_logs({"fromBlock": number, "toBlock": number}):
            blob = bytes(log["data"]) + b"".join(bytes(t) for t in log["topics"])
            assert not leaks(blob), f"log in block {number}"
