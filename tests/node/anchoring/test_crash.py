"""Kill -9 the node at random moments while 10,000 hashes are submitted: nothing acknowledged is
lost, nothing is anchored twice, the account's nonces have no gap."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from web3 import Web3

from credledger.node.core import merkle
from tests.node.anchoring.conftest import DevChain
from tests.node.anchoring.harness import NodeProcess

pytestmark = [pytest.mark.chain, pytest.mark.slow]

TOTAL = 10_000
CHUNK = 250
KILLS = 6


class Loader(threading.Thread):
    """A separate client: submits chunks, retrying each until it is acknowledged (202)."""

    def __init__(self, node: NodeProcess, hashes: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.node, self.hashes = node, hashes
        self.acked: set[bytes] = set()
        self.refused: list[str] = []

    def run(self) -> None:
        for i in range(0, len(self.hashes), CHUNK):
            chunk = self.hashes[i : i + CHUNK]
            while True:
                try:
                    r = self.node.submit(chunk)
                except httpx.HTTPError:
                    time.sleep(0.1)
                    continue
                if r.status_code == 202:
                    self.acked.update(chunk)
                    break
                self.refused.append(r.text)
                time.sleep(0.1)
            time.sleep(0.15)


def test_kill_9_during_submission_loses_nothing_and_duplicates_nothing(
    make_chain: Callable[..., DevChain], make_node: Callable[..., NodeProcess]
) -> None:
    dev = make_chain()
    node = make_node([dev.rpc_url], dev.manifest)
    rng = random.Random(20261121)
    hashes = [hashlib.sha256(f"crash-{i}".encode()).digest() for i in range(TOTAL)]
    loader = Loader(node, hashes)
    loader.start()
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.2, 2.0))
        node.kill9()
        node.start()
    loader.join(timeout=120)
    assert not loader.is_alive()
    assert len(loader.acked) == TOTAL
    assert loader.refused == []
    node.wait_queue_empty(timeout=90)

    # every acknowledged hash is in exactly one confirmed batch whose tree gives its root
    db = node.db()
    rows = db.execute(
        "SELECT d.doc_hash, b.id, b.status FROM docs d JOIN batches b ON d.batch_id = b.id"
    ).fetchall()
    by_hash = {bytes(r[0]): (r[1], r[2]) for r in rows}
    assert len(rows) == len(by_hash) == TOTAL
    assert all(by_hash[h][1] == "confirmed" for h in loader.acked)
    batches = db.execute("SELECT id, root, tx_hash FROM batches ORDER BY id").fetchall()
    for batch_id, root, _ in batches:
        docs = [bytes(r[0]) for r in db.execute(
            "SELECT doc_hash FROM docs WHERE batch_id = ? ORDER BY seq", (batch_id,))]  # fmt: skip
        assert merkle.build(docs).root == bytes(root)

    # on chain: one Anchored event per batch, no reverted or extra anchor transaction
    w3 = dev.chain.w3
    registry = dev.chain.contract("AnchorRegistry", dev.registry_address)
    events = registry.events.Anchored().get_logs(from_block=0)
    anchored_roots = [bytes(e["args"]["root"]) for e in events]
    assert sorted(anchored_roots) == sorted(bytes(b[1]) for b in batches)
    assert {bytes(e["transactionHash"]) for e in events} == {bytes(b[2]) for b in batches}
    signer = node.health()["signer"]
    nonces = []
    anchor_txs = 0
    selector = bytes(Web3.keccak(text="anchor(bytes32,uint32)")[:4])
    for n in range(w3.eth.block_number + 1):
        block: Any = w3.eth.get_block(n, full_transactions=True)
        for tx in block["transactions"]:
            if tx["from"] != signer:
                continue
            nonces.append(tx["nonce"])
            assert w3.eth.get_transaction_receipt(tx["hash"])["status"] == 1
            if bytes(tx["input"][:4]) == selector:
                anchor_txs += 1
    assert anchor_txs == len(batches)
    assert nonces == list(range(len(nonces)))
    assert w3.eth.get_transaction_count(signer, "pending") == len(nonces)
    assert node.starts == KILLS + 1

    # receipts of a sample verify with the contract's view
    for h in rng.sample(sorted(loader.acked), 25):
        receipt = node.record(h)["receipt"]
        proof = [bytes.fromhex(p[2:]) for p in receipt["proof"]]
        root = bytes.fromhex(receipt["root"][2:])
        assert registry.functions.verifyDocument(root, h, proof).call() > 0


def test_persisted_tx_whose_nonce_was_taken_is_signed_again(
    make_chain: Callable[..., DevChain], make_node: Callable[..., NodeProcess]
) -> None:
    """Signed and persisted, never broadcast, crash; meanwhile another transaction of the same
    account uses that nonce. After restart the batch is signed again with a fresh nonce."""
    from credledger.node.core.signer import dev_account
    from tests.node.anchoring.harness import RpcProxy

    dev = make_chain()
    proxy = RpcProxy(dev.rpc_url)
    node = make_node([proxy.url], dev.manifest)
    proxy.blocked_methods = {"eth_sendRawTransaction"}
    hs = [hashlib.sha256(f"taken-{i}".encode()).digest() for i in range(6)]
    assert node.submit(hs).status_code == 202
    deadline = time.monotonic() + 20
    rows: list[Any] = []
    while time.monotonic() < deadline and not rows:
        rows = node.db().execute("SELECT nonce, tx_hash, state, sent_at FROM txs").fetchall()
        time.sleep(0.2)
    assert len(rows) == 1 and rows[0][2] == "live" and rows[0][3] is None  # persisted, unsent
    nonce = rows[0][0]
    node.kill9()

    # another writer of the same account takes that nonce (e.g. a licence service)
    w3 = dev.chain.w3
    acct = dev_account(0)
    other = acct.sign_transaction(
        {"to": dev_account(5).address, "value": 1, "gas": 21_000, "nonce": nonce,
         "chainId": dev.chain.chain_id, **dev.chain.fee_fields()}
    )  # fmt: skip
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(other.raw_transaction))
    assert w3.eth.get_transaction_count(acct.address) == nonce + 1

    proxy.blocked_methods = set()
    node.start()
    rec = node.wait_confirmed(hs, timeout=30)[0]
    tx = w3.eth.get_transaction(rec["transactionHash"])
    assert tx["nonce"] == nonce + 1
    states = node.db().execute("SELECT nonce, state FROM txs ORDER BY id").fetchall()
    assert states == [(nonce, "dead"), (nonce + 1, "live")]
    registry = dev.chain.contract("AnchorRegistry", dev.registry_address)
    assert len(registry.events.Anchored().get_logs(from_block=0)) == 1
    assert w3.eth.get_transaction_count(acct.address, "pending") == nonce + 2
