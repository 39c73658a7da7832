"""A stuck anchor transaction is replaced with +12.5% fees up to the cap; low balance warns."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from web3 import Web3

from tests.node.anchoring.conftest import DevChain
from tests.node.anchoring.harness import NodeProcess, rpc
from tests.support.waiting import wait_until

pytestmark = pytest.mark.chain

GWEI = 10**9


def test_stuck_tx_is_bumped_within_the_cap_then_mined_once(
    make_chain: Callable[..., DevChain], make_node: Callable[..., NodeProcess]
) -> None:
    dev = make_chain()
    rpc(dev.rpc_url, "evm_setAutomine", [False])  # transactions wait in the pool: "stuck"
    base = int(rpc(dev.rpc_url, "eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
    tip = int(rpc(dev.rpc_url, "eth_maxPriorityFeePerGas"), 16)
    first_fee = 2 * base + tip
    cap = first_fee * 1.4  # room for two +12.5% bumps, not a third
    node = make_node(
        [dev.rpc_url],
        dev.manifest,
        {
            "CREDLEDGER_ANCHORING__STUCK_AFTER": "0.5",
            "CREDLEDGER_ANCHORING__MAX_FEE_GWEI": str(cap / GWEI),
            "CREDLEDGER_ANCHORING__LOW_BALANCE_WEI": str(10**30),
        },
    )
    hs = [hashlib.sha256(f"stuck-{i}".encode()).digest() for i in range(5)]
    assert node.submit(hs).status_code == 202

    def node_log() -> str:
        return "".join(p.read_text() for p in node.workdir.glob("node-*.log"))

    # the pipeline bumps while it may, then logs that the next bump would pass the cap; with
    # automine off no block comes, so nothing changes after that (no fixed sleep to guess it)
    wait_until(lambda: '"event": "fee_cap_reached"' in node_log(), "fee cap reached", 60)
    db = node.db()
    attempts = db.execute("SELECT nonce, fee_cap, tip, tx_hash FROM txs ORDER BY id").fetchall()
    assert len(attempts) == 3, attempts  # the original and two bumps, then the cap holds
    assert len({a[0] for a in attempts}) == 1  # one nonce
    fees = [a[1] for a in attempts]
    assert fees[1] >= fees[0] * 1.125 and fees[2] >= fees[1] * 1.125
    assert all(f <= cap for f in fees)
    assert node.record(hs[0])["status"] == "submitted"

    rpc(dev.rpc_url, "evm_setAutomine", [True])
    rpc(dev.rpc_url, "evm_mine")
    rec = node.wait_confirmed(hs)[0]
    assert bytes.fromhex(rec["transactionHash"][2:]) == bytes(attempts[-1][3])
    registry = dev.chain.contract("AnchorRegistry", dev.registry_address)
    assert len(registry.events.Anchored().get_logs(from_block=0)) == 1
    signer = node.health()["signer"]
    tx = dev.chain.w3.eth.get_transaction(rec["transactionHash"])
    assert tx["nonce"] == attempts[0][0] and tx["maxFeePerGas"] == fees[-1]
    assert (
        dev.chain.w3.eth.get_transaction_count(Web3.to_checksum_address(signer)) == tx["nonce"] + 1
    )

    # the balance is under the (absurd) threshold: /health says so and a warning was logged
    health = node.health()["anchoring"]
    assert health["lowBalance"] is True
    logs = node_log()
    assert '"event": "low_balance"' in logs and '"event": "fee_bump"' in logs


def test_missing_anchorer_role_spends_nothing_and_recovers_when_granted(
    make_chain: Callable[..., DevChain], make_node: Callable[..., NodeProcess]
) -> None:
    from credledger.node.core.signer import dev_account
    from credledger.node.core.tx import TxSender

    dev = make_chain()
    node = make_node([dev.rpc_url], dev.manifest, {"CREDLEDGER_SIGNER__DEV_ACCOUNT": "3"})
    account = dev_account(3).address
    hs = [hashlib.sha256(f"no-role-{i}".encode()).digest() for i in range(3)]
    assert node.submit(hs).status_code == 202
    wait_until(
        lambda: "ANCHORER_ROLE" in (node.health()["anchoring"]["lastError"] or ""),
        "the node reports the missing role",
        60,
    )
    assert node.record(hs[0])["status"] == "pending"
    assert dev.chain.w3.eth.get_transaction_count(account) == 0  # no gas burnt on reverts

    registry = dev.chain.contract("AnchorRegistry", dev.registry_address)
    admin = TxSender(dev.chain, dev_account(0))
    admin.send(registry.functions.grantRole(registry.functions.ANCHORER_ROLE().call(), account))
    node.wait_confirmed(hs, timeout=30)
    assert dev.chain.w3.eth.get_transaction_count(account) == 1
