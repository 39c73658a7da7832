"""The event indexer against a real anvil: decoding, queries, split-on-refusal, resume, reorg."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from credledger.node.core import merkle
from credledger.node.core.chain import Chain
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.node.indexer import IndexedEvent, Indexer
from credledger.node.settings import IndexerSettings
from tests.node.anchoring.conftest import DevChain
from tests.node.anchoring.harness import RpcProxy, rpc

pytestmark = pytest.mark.chain


def _root(tag: str) -> bytes:
    return merkle.build([hashlib.sha256(tag.encode()).digest()]).root


def _indexer(dev: DevChain, url: str, db: Path, chunk: int = 1000) -> Indexer:
    manifest = json.loads(dev.manifest.read_text())
    contracts = {n: c["address"] for n, c in manifest["contracts"].items()}
    return Indexer(
        Chain([url]),
        contracts,
        int(manifest["startBlock"]),
        db,
        IndexerSettings(chunk_blocks=chunk, poll_interval=0.1),
    )


def _catch_up(ix: Indexer) -> None:
    for _ in range(1000):
        if ix.poll():
            return
    raise AssertionError("indexer did not catch up")


def test_indexes_all_events_with_queries_splitting_and_resume(
    make_chain: Callable[..., DevChain], tmp_path: Path
) -> None:
    dev = make_chain()
    sender = TxSender(dev.chain, dev_account(0))
    registry = dev.chain.contract("AnchorRegistry", dev.registry_address)
    roots = [_root(f"ix-{i}") for i in range(3)]
    for r in roots:
        sender.send(registry.functions.anchor(r, 1))
        rpc(dev.rpc_url, "anvil_mine", [hex(40)])  # spread the events over many blocks
    proxy = RpcProxy(dev.rpc_url, max_log_blocks=16)
    ix = _indexer(dev, proxy.url, tmp_path / "ix.sqlite3", chunk=100)
    _catch_up(ix)
    assert proxy.refused > 0  # 100-block chunks were refused and split
    assert ix.indexed_height == dev.chain.w3.eth.block_number

    anchored = ix.events("AnchorRegistry", "Anchored")
    assert [e.args["root"] for e in anchored] == ["0x" + r.hex() for r in roots]
    assert [(e.block_number, e.log_index) for e in anchored] == sorted(
        (e.block_number, e.log_index) for e in anchored
    )
    e = anchored[1]
    assert e.args["leafCount"] == 1 and e.block_time > 0 and e.tx_hash.startswith("0x")
    assert e.block_hash == "0x" + bytes(dev.chain.w3.eth.get_block(e.block_number)["hash"]).hex()
    one = ix.events(where={"root": "0x" + roots[2].hex().upper()})
    assert len(one) == 1 and one[0].event == "Anchored"
    granted = ix.events("AnchorRegistry", "RoleGranted")
    assert granted and all(g.args["account"].startswith("0x") for g in granted)
    assert ix.events("NoSuchContract") == []
    ix.close()

    # resume: a new indexer on the same database continues from its height
    more = _root("ix-more")
    sender.send(registry.functions.anchor(more, 1))
    ix2 = _indexer(dev, dev.rpc_url, tmp_path / "ix.sqlite3")
    seen: list[IndexedEvent] = []
    ix2.on_event(seen.append)
    _catch_up(ix2)
    assert [s.args["root"] for s in seen] == ["0x" + more.hex()]
    assert len(ix2.events("AnchorRegistry", "Anchored")) == 4
    ix2.close()


def test_reorg_rolls_back_removed_events(
    make_chain: Callable[..., DevChain], tmp_path: Path
) -> None:
    dev = make_chain()
    sender = TxSender(dev.chain, dev_account(0))
    registry = dev.chain.contract("AnchorRegistry", dev.registry_address)
    kept = _root("kept")
    sender.send(registry.functions.anchor(kept, 1))
    snap = rpc(dev.rpc_url, "evm_snapshot")
    removed = _root("removed")
    sender.send(registry.functions.anchor(removed, 1))
    ix = _indexer(dev, dev.rpc_url, tmp_path / "ix.sqlite3")
    rolled: list[int] = []
    ix.on_reorg(rolled.append)
    _catch_up(ix)
    assert len(ix.events(event="Anchored")) == 2
    assert rpc(dev.rpc_url, "evm_revert", [snap]) is True
    sender.nonces.reset()
    other = _root("other-fork")
    sender.send(registry.functions.anchor(other, 1))
    rpc(dev.rpc_url, "anvil_mine", [hex(3)])
    _catch_up(ix)
    roots = [e.args["root"] for e in ix.events(event="Anchored")]
    assert roots == ["0x" + kept.hex(), "0x" + other.hex()]
    assert rolled and ix.indexed_height == dev.chain.w3.eth.block_number
    ix.close()


def test_wait_until_wakes_the_running_indexer(
    make_chain: Callable[..., DevChain], tmp_path: Path
) -> None:
    import time

    dev = make_chain()
    manifest = json.loads(dev.manifest.read_text())
    ix = Indexer(
        Chain([dev.rpc_url]),
        {n: c["address"] for n, c in manifest["contracts"].items()},
        int(manifest["startBlock"]),
        tmp_path / "ix.sqlite3",
        IndexerSettings(poll_interval=30),  # it would sleep 30 s between rounds
    )
    ix.start()
    try:
        assert ix.wait_until(dev.chain.w3.eth.block_number, timeout=10)
        registry = dev.chain.contract("AnchorRegistry", dev.registry_address)
        receipt = TxSender(dev.chain, dev_account(0)).send(
            registry.functions.anchor(_root("wake"), 1)
        )
        t0 = time.monotonic()
        assert ix.wait_until(receipt["blockNumber"], timeout=10)
        assert time.monotonic() - t0 < 5
        assert ix.events(where={"root": "0x" + _root("wake").hex()})
        assert ix.health()["indexedHeight"] >= receipt["blockNumber"]
    finally:
        ix.stop()
        ix.close()
