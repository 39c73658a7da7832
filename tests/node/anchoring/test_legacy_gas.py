"""A chain without EIP-1559 (anvil at the Berlin hardfork): anchors go out as legacy txs."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from credledger.node.core.chain import Chain, wait_for_rpc
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.node.deploy import deploy
from credledger.node.devnet import engine_command, free_port, terminate
from tests.node.anchoring.harness import NodeProcess

pytestmark = pytest.mark.chain


@pytest.fixture
def berlin_chain(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    cmd = [*engine_command("anvil", port, None), "--hardfork", "berlin"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_rpc(url)
        chain = Chain([url])
        manifest = tmp_path / "manifest.json"
        deploy(chain, TxSender(chain, dev_account(0)), manifest)
        yield url, manifest
    finally:
        terminate(proc.pid)


def test_legacy_chain_anchors_with_gas_price(
    berlin_chain: tuple[str, Path], make_node: Callable[..., NodeProcess]
) -> None:
    url, manifest = berlin_chain
    chain = Chain([url])
    assert not chain.supports_eip1559
    node = make_node([url], manifest)
    hs = [hashlib.sha256(f"legacy-{i}".encode()).digest() for i in range(4)]
    assert node.submit(hs).status_code == 202
    rec = node.wait_confirmed(hs)[0]
    tx = chain.w3.eth.get_transaction(rec["transactionHash"])
    assert tx["type"] in (0, "0x0") and tx["gasPrice"] > 0
    assert "maxFeePerGas" not in tx
