"""Decoding raw event logs of the manifest's contracts: the one fast path, checked against web3.

:class:`EventDecoder` turns a raw ``eth_getLogs`` entry (hex strings, as :meth:`Chain.logs`
returns it) of any contract it was given into a :class:`DecodedLog` whose ``args`` are JSON-ready:
bytes as ``0x`` hex, addresses checksummed, integers as ints, in the ABI's order. It is what the
node's indexer stores.

Why hand-written: web3's ``get_event_data`` (and even eth_abi) costs ~0.2-0.5 ms per event;
slicing the 32-byte ABI words of an event whose inputs are elementary types costs ~25x less,
which is most of the indexer's catch-up (``bench/indexer_bench.py``). ``bench/idle_bench.py``
measures both per log: 6.4 µs against 185.8 µs (2026-12-07, the loaded 2-core VM). Events with
other inputs (tuples, arrays, indexed dynamic types; none in today's contracts) fall back to
``get_event_data``. ``tests/node/core/contracts/test_fast_paths.py`` checks that both give the
same answer for every event of every committed artifact.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_abi.codec import ABICodec
from eth_abi.registry import registry as abi_registry
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import to_checksum_address
from web3._utils.events import get_event_data

from credledger.node.core.artifacts import abi as artifact_abi

_ELEMENTARY = re.compile(r"^(address|bool|string|bytes\d*|u?int\d*)$")
_CODEC = ABICodec(abi_registry)


@functools.lru_cache(maxsize=4096)
def checksum(address: str) -> str:
    return str(to_checksum_address(address))


def jsonable(value: Any) -> Any:
    """web3's decoded values as JSON: bytes as 0x hex, tuples as lists."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def _word_decoder(typ: str) -> Callable[[bytes], Any]:
    """How to read one 32-byte ABI word of elementary static type ``typ`` (JSON-ready)."""
    if typ == "address":
        return lambda w: checksum("0x" + w[12:].hex())
    if typ == "bool":
        return lambda w: w != bytes(32)
    if typ.startswith("uint"):
        return lambda w: int.from_bytes(w, "big")
    if typ.startswith("int"):
        return lambda w: int.from_bytes(w, "big", signed=True)
    if typ.startswith("bytes") and typ != "bytes":
        n = int(typ[5:])
        return lambda w: "0x" + w[:n].hex()
    raise ValueError(typ)


class FastEvent:
    """One event's decoder by ABI word slicing; ``ok`` False if its inputs need web3's."""

    def __init__(self, entry: dict[str, Any]) -> None:
        inputs = entry.get("inputs", [])
        self.entry = entry
        self.name = str(entry["name"])
        self.order = [i["name"] for i in inputs]
        self.ok = all(_ELEMENTARY.match(i["type"]) for i in inputs) and not any(
            i["type"] in ("string", "bytes") for i in inputs if i.get("indexed")
        )
        if not self.ok:
            return
        self.indexed = [(i["name"], _word_decoder(i["type"])) for i in inputs if i.get("indexed")]
        self.data: list[tuple[str, str, Callable[[bytes], Any] | None]] = [
            (
                i["name"],
                i["type"],
                None if i["type"] in ("string", "bytes") else _word_decoder(i["type"]),
            )
            for i in inputs
            if not i.get("indexed")
        ]

    def decode(self, topics: list[str], data: bytes) -> dict[str, Any]:
        if len(topics) != len(self.indexed) + 1:
            raise ValueError(f"{self.name}: {len(topics)} topics")
        out: dict[str, Any] = {}
        for (name, read_topic), topic in zip(self.indexed, topics[1:], strict=True):
            out[name] = read_topic(bytes.fromhex(topic[2:]))
        for k, (name, typ, read) in enumerate(self.data):
            word = data[32 * k : 32 * k + 32]
            if len(word) != 32:
                raise ValueError(f"{self.name}: short data")
            if read is not None:
                out[name] = read(word)
                continue
            offset = int.from_bytes(word, "big")
            size = int.from_bytes(data[offset : offset + 32], "big")
            raw = data[offset + 32 : offset + 32 + size]
            if len(raw) != size:
                raise ValueError(f"{self.name}: short {typ}")
            out[name] = (
                raw.decode("utf-8", errors="replace") if typ == "string" else "0x" + raw.hex()
            )
        return {k: out[k] for k in self.order}


@dataclass(frozen=True)
class DecodedLog:
    """A raw log decoded: which contract (manifest name), which event, its JSON-ready args."""

    contract: str
    address: str  # checksummed
    event: str
    args: dict[str, Any]
    block_number: int
    block_hash: str  # 0x hex, lower case
    tx_hash: str
    log_index: int
    block_time: int | None  # the provider's blockTimestamp, if it gives one


def web3_log(raw: dict[str, Any]) -> dict[str, Any]:
    """A raw log in the form web3's ``get_event_data`` takes."""
    return {
        "address": checksum(str(raw["address"]).lower()),
        "topics": [bytes.fromhex(t[2:]) for t in raw["topics"]],
        "data": bytes.fromhex(raw["data"][2:]),
        "logIndex": int(raw["logIndex"], 16),
        "transactionIndex": int(raw.get("transactionIndex") or "0x0", 16),
        "transactionHash": bytes.fromhex(raw["transactionHash"][2:]),
        "blockHash": bytes.fromhex(raw["blockHash"][2:]),
        "blockNumber": int(raw["blockNumber"], 16),
    }


class EventDecoder:
    """Decodes the raw logs of the contracts named in ``contracts`` (manifest name -> address)."""

    def __init__(self, contracts: dict[str, str]) -> None:
        self.names: dict[str, str] = {}
        self._events: dict[tuple[str, bytes], FastEvent] = {}
        for name, address in contracts.items():
            addr = address.lower()
            self.names[addr] = name
            for entry in artifact_abi(name):
                if entry.get("type") == "event" and not entry.get("anonymous"):
                    topic = bytes(event_abi_to_log_topic(entry))  # type: ignore[arg-type]
                    self._events[(addr, topic)] = FastEvent(entry)
        self.addresses = [checksum(a) for a in self.names]

    def _event_of(self, raw: dict[str, Any]) -> FastEvent | None:
        topics = raw.get("topics") or []
        if not topics:
            return None
        return self._events.get((str(raw["address"]).lower(), bytes.fromhex(topics[0][2:])))

    def knows(self, raw: dict[str, Any]) -> bool:
        return self._event_of(raw) is not None

    def abi_of(self, raw: dict[str, Any]) -> dict[str, Any]:
        event = self._event_of(raw)
        if event is None:
            raise KeyError("not an event of these contracts")
        return event.entry

    def decode(self, raw: dict[str, Any], *, fast: bool = True) -> DecodedLog | None:
        """``raw`` decoded, or None if it is no known event of these contracts. ``fast=False``
        decodes with web3 (what the fast path is tested against)."""
        event = self._event_of(raw)
        if event is None:
            return None
        if fast and event.ok:
            args = event.decode(raw["topics"], bytes.fromhex(raw["data"][2:]))
        else:
            data = get_event_data(_CODEC, event.entry, web3_log(raw))
            args = jsonable(dict(data["args"]))
        address = str(raw["address"]).lower()
        stamp = raw.get("blockTimestamp")
        return DecodedLog(
            contract=self.names[address],
            address=checksum(address),
            event=event.name,
            args=args,
            block_number=int(raw["blockNumber"], 16),
            block_hash=str(raw["blockHash"]).lower(),
            tx_hash=str(raw["transactionHash"]).lower(),
            log_index=int(raw["logIndex"], 16),
            block_time=int(stamp, 16) if stamp is not None else None,
        )
