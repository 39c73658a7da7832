"""Generated citizen ID numbers, hidden in text and separators, never get past the one scan.

A valid ID (GB 11643-1999 check digit) is embedded in random text, with separators between its
digits, full-width digits, a lower-case x and digits around it. The scan must find every one;
sent to the node in each free-text field that reaches the chain or a database (serial number,
note, metadata keys and values, Idempotency-Key) it must be refused, and afterwards no response,
log line, database file, transaction or event holds the number in any form.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Mapping
from typing import Any

import pytest
from eth_hash.auto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credledger.node.core.identifiers import (
    PROVINCES,
    PersonalIdError,
    citizen_id_check_digit,
    contains_citizen_id,
    is_citizen_id,
    refuse_citizen_ids,
)
from tests.node.api.conftest import ENTERPRISE, TOKENS, HChain
from tests.node.licences.harness import Node

SEPARATORS = [" ", "-", ".", "/", "\\", "_", ",", ":", ";", "·", "\u200b", "\u3000", "–", "—",
              "\t", "\n", "|", "(", ")", "+", "*", "#", "'", '"']  # fmt: skip


@st.composite
def citizen_ids(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(sorted(PROVINCES))) + draw(
        st.text("0123456789", min_size=4, max_size=4)
    )
    birth = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)))
    body = region + birth.strftime("%Y%m%d") + draw(st.text("0123456789", min_size=3, max_size=3))
    return body + citizen_id_check_digit(body)


def _full_width(c: str) -> str:
    return chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c


@st.composite
def hidden(draw: st.DrawFn) -> tuple[str, str]:
    """(the ID, a text that carries it)."""
    cid = draw(citizen_ids())
    out = []
    for i, c in enumerate(cid):
        ch = c.lower() if c == "X" and draw(st.booleans()) else c
        if draw(st.integers(0, 4)) == 0:
            ch = _full_width(ch)
        out.append(ch)
        if i < 17 and draw(st.integers(0, 3)) == 0:
            out.append("".join(draw(st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=3))))
    words = st.text(st.characters(categories=["L", "N", "Zs", "P"]), max_size=20)
    prefix = draw(st.one_of(words, st.text("0123456789", max_size=6)))
    suffix = draw(st.one_of(words, st.text("0123456789X", max_size=6)))
    return cid, prefix + "".join(out) + suffix


@given(hidden())
@settings(max_examples=600, deadline=None)
def test_the_scan_finds_every_hidden_id(case: tuple[str, str]) -> None:
    cid, text = case
    assert is_citizen_id(cid)
    assert contains_citizen_id(text), ascii(text)
    with pytest.raises(PersonalIdError) as exc:
        refuse_citizen_ids({"nested": [{"k": text}]}, "metadata")
    assert cid not in exc.value.message and text not in exc.value.message
    with pytest.raises(PersonalIdError):
        refuse_citizen_ids({text: 1}, "metadata")  # keys too


def test_the_two_known_bypasses_and_no_false_alarms() -> None:
    for text in ("911010519491231002X", "110105-19491231-002X", "S 1101 0519 4912 3100 2x"):
        assert contains_citizen_id(text), text
    for text in ("JY13101050000001", "DEMO-BL-0001", "91310000MA1FL1234Q", "2024-01-01", ""):
        assert not contains_citizen_id(text), text


@pytest.fixture(scope="module")
def licence(hnode: Node) -> str:
    body = {
        "type": "FOOD-OPERATION",
        "serialNumber": "PRIV-" + hashlib.sha256(str(id(hnode)).encode()).hexdigest()[:8],
        "holderUscc": ENTERPRISE,
        "documentHash": "0x" + hashlib.sha256(b"privacy fuzz document").hexdigest(),
        "validFrom": "2024-01-01",
    }
    r = hnode.post("/v1/licences", TOKENS["market"], json=body)
    assert r.status_code in (201, 409), r.text
    lid = r.json()["licenceId"] if r.status_code == 201 else None
    assert lid is not None
    return str(lid)


_serials = itertools.count()


@given(hidden())
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_field_lets_a_hidden_id_through(
    hnode: Node, hchain: HChain, licence: str, case: tuple[str, str]
) -> None:
    cid, text = case
    tok = TOKENS["market"]
    doc = "0x" + hashlib.sha256(f"doc {next(_serials)} {text}".encode()).hexdigest()
    base = {
        "type": "FOOD-OPERATION",
        "serialNumber": f"PF-{next(_serials)}",
        "holderUscc": ENTERPRISE,
        "documentHash": doc,
        "validFrom": "2024-01-01",
    }
    attempts: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        ("/v1/licences", {**base, "serialNumber": text[:64]}, {}),
        ("/v1/licences", {**base, "metadata": {"holder": text}}, {}),
        ("/v1/licences", {**base, "metadata": {text: "x"}}, {}),
        ("/v1/licences", base, {"Idempotency-Key": text.encode("utf-8").decode("latin-1")[:200]}),
        ("/v1/licences:batch", {"licences": [{**base, "serialNumber": text[:64]}]}, {}),
        (f"/v1/licences/{licence}/suspend", {"reasonCode": 1, "note": text}, {}),
        (f"/v1/licences/{licence}/revoke", {"reasonCode": 1, "note": text}, {}),
    ]
    for path, body, headers in attempts:
        if (
            len(text) > 64
            and body.get("serialNumber") == text[:64]
            and not contains_citizen_id(text[:64])
        ):
            continue  # the cut removed part of the number
        if headers and not contains_citizen_id(headers["Idempotency-Key"]):
            continue
        r = hnode.post(path, tok, json=body, headers=headers)
        assert r.status_code == 422, (path, r.status_code, r.text[:300])
    # and afterwards the number is nowhere: responses, the log, databases, the chain
    needles = _needles(cid, text)
    for where, data in _everything(hnode, hchain):
        assert not _leaks(data, needles), f"{where} holds a generated ID"


def _needles(cid: str, text: str) -> dict[str, bytes]:
    return {
        "clear": cid.encode(),
        "clear lower x": cid.lower().encode(),
        "first 17 digits": cid[:17].encode(),
        "as sent": text.encode("utf-8"),
        "full width": "".join(_full_width(c) for c in cid).encode(),
        "sha256": hashlib.sha256(cid.encode()).digest(),
        "keccak": keccak(cid.encode()),
    }


def _leaks(data: bytes, needles: dict[str, bytes]) -> list[str]:
    hexed = data.hex().encode()
    return [
        name
        for name, n in needles.items()
        if len(n) >= 8 and (n in data or n.hex().encode() in hexed or n.hex().encode() in data)
    ]


def _everything(hnode: Node, hchain: HChain) -> list[tuple[str, bytes]]:
    blobs: list[tuple[str, bytes]] = [("response", t.encode()) for t in hnode.responses]
    blobs.append(("log", hnode.log_path.read_bytes()))
    blobs += [(str(p), p.read_bytes()) for p in hnode.data_dir.rglob("*") if p.is_file()]
    w3 = hchain.chain.w3
    for number in range(w3.eth.block_number + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            assert isinstance(tx, Mapping)
            blobs.append((f"tx in block {number}", bytes(tx["input"])))
        for log in w3.eth.get_logs({"fromBlock": number, "toBlock": number}):
            blobs.append((f"event in block {number}", bytes(log["data"]) + b"".join(log["topics"])))
    return blobs
