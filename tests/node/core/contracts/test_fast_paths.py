"""The chain layer's hand-written fast paths agree with web3 for everything they cover.

- Event decoding (``contracts.events.EventDecoder``, what the indexer stores): every event of
  every committed artifact, with arguments drawn by hypothesis and encoded by eth_abi, decodes to
  what web3's ``get_event_data`` gives; and so do the real logs of real transactions on anvil.
- The keyed-nonce view (``ConsentRegistry.nonce``, one raw eth_call) answers what web3's contract
  call of ``nonces(address,uint192)`` answers, before and after the nonce moves.
- The raw block, head, balance and nonce reads of ``Chain`` answer what web3's ``eth`` module does.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import event_abi_to_log_topic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credledger.node.core.artifacts import abi as artifact_abi
from credledger.node.core.artifacts import artifact_names
from credledger.node.core.chain import Chain
from credledger.node.core.contracts.anchor_registry import AnchorRegistry
from credledger.node.core.contracts.consent_registry import ConsentRegistry, nonce_key
from credledger.node.core.contracts.events import EventDecoder, FastEvent
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender

ADDRESS = "0x" + "ab" * 20


def _events() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, entry)
        for name in artifact_names()
        for entry in artifact_abi(name)
        if entry.get("type") == "event" and not entry.get("anonymous")
    ]


EVENTS = _events()


def _value(typ: str) -> st.SearchStrategy[Any]:
    if typ == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
    if typ == "bool":
        return st.booleans()
    if typ == "string":
        return st.text(max_size=80)
    if typ == "bytes":
        return st.binary(max_size=100)
    if typ.startswith("bytes"):
        n = int(typ[5:])
        return st.binary(min_size=n, max_size=n)
    bits = int(typ.removeprefix("u").removeprefix("int") or 256)
    if typ.startswith("uint"):
        return st.integers(0, 2**bits - 1)
    return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def _raw_log(entry: dict[str, Any], values: list[Any], block: int = 7) -> dict[str, Any]:
    """The JSON-RPC form of a log emitting ``entry`` with ``values`` (ABI order)."""
    inputs = entry["inputs"]
    topics = ["0x" + bytes(event_abi_to_log_topic(entry)).hex()]  # type: ignore[arg-type]
    data_types, data_values = [], []
    for inp, value in zip(inputs, values, strict=True):
        if inp.get("indexed"):
            topics.append("0x" + abi_encode([inp["type"]], [value]).hex())
        else:
            data_types.append(inp["type"])
            data_values.append(value)
    return {
        "address": ADDRESS,
        "topics": topics,
        "data": "0x" + abi_encode(data_types, data_values).hex(),
        "logIndex": "0x3",
        "transactionIndex": "0x0",
        "transactionHash": "0x" + "11" * 32,
        "blockHash": "0x" + "22" * 32,
        "blockNumber": hex(block),
    }


def test_every_committed_event_has_a_fast_decoder() -> None:
    assert len(EVENTS) >= 20
    slow = [f"{n}.{e['name']}" for n, e in EVENTS if not FastEvent(e).ok]
    assert slow == [], f"events left to web3's decoder: {slow}"


@pytest.mark.parametrize("contract,entry", EVENTS, ids=[f"{n}.{e['name']}" for n, e in EVENTS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_decoding_equals_web3(
    contract: str, entry: dict[str, Any], data: st.DataObject
) -> None:
    values = [data.draw(_value(i["type"]), label=i["name"]) for i in entry["inputs"]]
    raw = _raw_log(entry, values)
    decoder = EventDecoder({contract: ADDRESS})
    fast, slow = decoder.decode(raw), decoder.decode(raw, fast=False)
    assert fast is not None and slow is not None
    assert fast == slow
    assert list(fast.args) == [i["name"] for i in entry["inputs"]]


def test_fast_decoding_of_real_logs_equals_web3(
    chain: Chain, deployment: dict[str, Any], snapshot: None
) -> None:
    contracts = {n: c["address"] for n, c in deployment["contracts"].items()}
    admin = TxSender(chain, dev_account(0))
    anchors = AnchorRegistry(chain, contracts["AnchorRegistry"], admin)
    for i in range(3):
        anchors.anchor(bytes([i + 1]) * 32, 10 + i)
    holder = TxSender(chain, dev_account(4))
    consent = ConsentRegistry(chain, contracts["ConsentRegistry"], holder)
    consent.cancel_nonce(consent.nonce(holder.address, 5))
    decoder = EventDecoder(contracts)
    logs = chain.logs(decoder.addresses, 0, chain.block_number())
    decoded = [(decoder.decode(r), decoder.decode(r, fast=False)) for r in logs]
    names = {d.event for d, _ in decoded if d is not None}
    assert {"Anchored", "RoleGranted"} <= names
    assert len(decoded) >= 5
    for fast, slow in decoded:
        assert fast == slow


def test_fast_nonce_view_equals_web3(
    chain: Chain, deployment: dict[str, Any], snapshot: None
) -> None:
    address = deployment["contracts"]["ConsentRegistry"]["address"]
    holder = TxSender(chain, dev_account(5))
    registry = ConsentRegistry(chain, address, holder)
    keys = [0, 1, 2**191 + 7, 2**192 - 1, nonce_key(b"\x01" * 32, ADDRESS, b"\x02" * 32)]
    for who in (holder.address, dev_account(6).address):
        for key in keys:
            web3 = int(registry.contract.functions.nonces(who, key).call())
            assert registry.nonce(who, key) == web3
    for key in keys[:3]:  # the nonce moves: both still agree
        before = registry.nonce(holder.address, key)
        registry.cancel_nonce(before)
        after = registry.nonce(holder.address, key)
        assert after == int(registry.contract.functions.nonces(holder.address, key).call())
        assert after == before + 1
    with pytest.raises(ValueError):
        registry.nonce(holder.address, 2**192)


def test_raw_reads_equal_web3(chain: Chain, deployment: dict[str, Any]) -> None:
    head = chain.block_number()
    assert abs(head - chain.w3.eth.block_number) <= 1
    block = chain.block(head)
    theirs = chain.w3.eth.get_block(head)
    assert block.hash == bytes(theirs["hash"]) and block.timestamp == theirs["timestamp"]
    assert block.parent_hash == bytes(theirs["parentHash"])
    assert chain.block_hash(head) == block.hash and chain.block_hash(head + 1000) is None
    who = dev_account(7).address
    assert chain.balance(who) == chain.w3.eth.get_balance(who)
    assert chain.transaction_count(who) == chain.w3.eth.get_transaction_count(who)
    tx = deployment["contracts"]["AnchorRegistry"]["transactionHash"]
    receipt = chain.receipt(tx)
    assert receipt is not None and receipt["status"] == 1
    assert chain.receipt("0x" + "00" * 32) is None
