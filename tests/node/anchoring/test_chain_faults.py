"""The chain misbehaves: RPC down for 30 s, first RPC URL dead, a reorg removes an anchor."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from credledger.node.devnet import free_port
from tests.conftest import run_cli
from tests.node.anchoring.conftest import DevChain
from tests.node.anchoring.harness import NodeProcess, RpcProxy, rpc, scrape

pytestmark = pytest.mark.chain

OUTAGE_SECONDS = 30


def hashes(tag: str, n: int) -> list[bytes]:
    return [hashlib.sha256(f"{tag}-{i}".encode()).digest() for i in range(n)]


@pytest.mark.slow
def test_rpc_down_30s_submissions_accepted_then_anchored(
    make_chain: Callable[..., DevChain], make_node: Callable[..., NodeProcess]
) -> None:
    dev = make_chain()
    proxy = RpcProxy(dev.rpc_url)
    node = make_node([proxy.url], dev.manifest)
    before = hashes("before-outage", 10)
    assert node.submit(before).status_code == 202
    node.wait_confirmed(before)

    proxy.down()
    during = hashes("during-outage", 300)
    started = time.monotonic()
    for i in range(0, 300, 100):
        r = node.submit(during[i : i + 100])
        assert r.status_code == 202, r.text
    while time.monotonic() - started < OUTAGE_SECONDS:
        assert node.record(during[0])["status"] in ("pending", "submitted")
        time.sleep(2)
    assert scrape(node.url)[1]["credledger_rpc_errors_total"] > 0
    proxy.up()
    records = node.wait_confirmed(during, timeout=40)
    assert all(r["receipt"]["blockNumber"] > 0 for r in records)


def test_first_rpc_url_dead_is_invisible_to_clients(
    shared_chain: DevChain, make_node: Callable[..., NodeProcess]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    node = make_node([dead, shared_chain.rpc_url], shared_chain.manifest)
    hs = hashes("failover", 30)
    r = node.submit(hs)
    assert r.status_code == 202
    records = node.wait_confirmed(hs)
    assert len({rec["root"] for rec in records}) == 1
    health = node.health()
    assert health["status"] == "ok" and health["rpcUrl"] == shared_chain.rpc_url


def test_reorg_removing_the_anchor_block_reanchors(
    make_chain: Callable[..., DevChain], make_node: Callable[..., NodeProcess], tmp_path: Path
) -> None:
    dev = make_chain()
    node = make_node([dev.rpc_url], dev.manifest)
    snap = rpc(dev.rpc_url, "evm_snapshot")
    hs = hashes("reorg", 8)
    assert node.submit(hs).status_code == 202
    old = node.wait_confirmed(hs)[0]["receipt"]
    old_block, old_hash = old["blockNumber"], old["blockHash"]
    assert node.health()["indexer"]["indexedHeight"] >= 0

    # the fork: drop every block since the snapshot, build a different chain of the same height+
    assert rpc(dev.rpc_url, "evm_revert", [snap]) is True
    rpc(dev.rpc_url, "evm_setNextBlockTimestamp", [old["blockTime"] + 1000])
    for _ in range(3):
        rpc(dev.rpc_url, "evm_mine")
    deadline = time.monotonic() + 40
    new = old
    while time.monotonic() < deadline:
        rec = node.record(hs[0])
        if rec["status"] == "confirmed" and rec["receipt"]["blockHash"] != old_hash:
            new = rec["receipt"]
            break
        time.sleep(0.2)
    assert new["blockHash"] != old_hash, "the batch was not anchored again"
    canonical_old = rpc(dev.rpc_url, "eth_getBlockByNumber", [hex(old_block), False])
    assert canonical_old is None or canonical_old["hash"] != old_hash
    for h in hs:
        receipt = node.record(h)["receipt"]
        assert receipt["blockHash"] != old_hash
        assert receipt["root"] == new["root"] == old["root"]
    # the new receipt verifies against the chain alone; the old one does not any more
    new_file, old_file = tmp_path / "new.json", tmp_path / "old.json"
    import json

    new_file.write_text(json.dumps(new))
    old_file.write_text(json.dumps(old))
    ok = run_cli("verify", new["docHash"], "--receipt", str(new_file), "--rpc", dev.rpc_url)
    assert ok.returncode == 0, ok.stdout
    bad = run_cli("verify", old["docHash"], "--receipt", str(old_file), "--rpc", dev.rpc_url)
    assert bad.returncode == 1 and "✗ block canonical" in bad.stdout
    assert scrape(node.url)[1]["credledger_reorgs_total"] == 1
    # the indexer rolled back the removed event and holds only the new anchor
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = (
            node.db("indexer.sqlite3")
            .execute(
                "SELECT block_hash FROM events WHERE event = 'Anchored' AND args LIKE ?",
                (f"%{new['root']}%",),
            )
            .fetchall()
        )
        if rows == [(new["blockHash"],)]:
            break
        time.sleep(0.3)
    assert rows == [(new["blockHash"],)]
