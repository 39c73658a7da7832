"""A batch is confirmed only once its block is final: N confirmations, or the finalized tag."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import pytest

from tests.node.anchoring.conftest import DevChain
from tests.node.anchoring.harness import NodeProcess, rpc

pytestmark = pytest.mark.chain


def _wait_status(
    node: NodeProcess, h: bytes, status: str, timeout: float = 30
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = node.record(h)
        if rec["status"] == status:
            return rec
        time.sleep(0.2)
    raise AssertionError(f"{h.hex()} never reached {status}: {node.record(h)}")


@pytest.mark.parametrize(
    ("setting", "blocks_to_final"),
    [("3", 2), ("finalized", 64)],  # anvil's finalized tag trails the head by 64 blocks
)
def test_receipt_waits_for_finality(
    setting: str,
    blocks_to_final: int,
    make_chain: Callable[..., DevChain],
    make_node: Callable[..., NodeProcess],
) -> None:
    dev = make_chain()
    node = make_node([dev.rpc_url], dev.manifest, {"CREDLEDGER_CHAIN__CONFIRMATIONS": setting})
    h = hashlib.sha256(f"finality-{setting}".encode()).digest()
    assert node.submit([h]).status_code == 202
    submitted = _wait_status(node, h, "submitted")
    assert "receipt" not in submitted or submitted["receipt"] is None
    anchored_in = dev.chain.w3.eth.block_number  # instant mining: the anchor is the head
    time.sleep(1.5)  # several pipeline cycles: still not final
    assert node.record(h)["status"] == "submitted"

    rpc(dev.rpc_url, "anvil_mine", [hex(blocks_to_final - 1)])
    time.sleep(1.5)
    assert node.record(h)["status"] == "submitted"  # one block short

    rpc(dev.rpc_url, "anvil_mine", [hex(1)])
    rec = _wait_status(node, h, "confirmed")
    receipt = rec["receipt"]
    assert isinstance(receipt, dict)
    assert receipt["blockNumber"] == anchored_in
