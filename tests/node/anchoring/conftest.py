"""Fixtures for the anchoring tests: fresh anvils with deployed contracts, node processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from credledger.node.core.chain import Chain
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.node.deploy import deploy
from credledger.node.devnet import DevnetInfo, free_port, launch, terminate
from tests.node.anchoring.harness import NodeProcess


@dataclass
class DevChain:
    info: DevnetInfo
    manifest: Path
    chain: Chain

    @property
    def rpc_url(self) -> str:
        return self.info.rpc_url

    @property
    def registry_address(self) -> str:
        import json

        data = json.loads(self.manifest.read_text())
        address: str = data["contracts"]["AnchorRegistry"]["address"]
        return address


def _start_chain(tmp: Path, block_time: float | None) -> DevChain:
    _, info = launch("anvil", free_port(), block_time, tmp / "anvil.log")
    chain = Chain([info.rpc_url])
    manifest = tmp / "manifest.json"
    deploy(chain, TxSender(chain, dev_account(0)), manifest)
    return DevChain(info, manifest, chain)


@pytest.fixture
def make_chain(tmp_path: Path) -> Iterator[Callable[..., DevChain]]:
    """Start a fresh anvil (optionally with a block time) with the contracts deployed."""
    started: list[DevChain] = []

    def make(block_time: float | None = None) -> DevChain:
        d = tmp_path / f"chain{len(started)}"
        d.mkdir()
        c = _start_chain(d, block_time)
        started.append(c)
        return c

    yield make
    for c in started:
        terminate(c.info.pid)


@pytest.fixture
def make_node(tmp_path: Path) -> Iterator[Callable[..., NodeProcess]]:
    """Start `credledger up` processes; all are stopped at the end of the test."""
    nodes: list[NodeProcess] = []

    def make(rpc_urls: list[str], manifest: Path, env: dict[str, str] | None = None) -> NodeProcess:
        d = tmp_path / f"node{len(nodes)}"
        d.mkdir()
        n = NodeProcess(rpc_urls, d, manifest, env)
        nodes.append(n)
        n.start()
        return n

    yield make
    for n in nodes:
        n.stop()


@pytest.fixture(scope="module")
def shared_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevChain]:
    c = _start_chain(tmp_path_factory.mktemp("shared-chain"), None)
    yield c
    terminate(c.info.pid)


@pytest.fixture(scope="module")
def shared_node(
    shared_chain: DevChain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeProcess]:
    """One node on the shared chain with a small upload limit (1000 bytes)."""
    n = NodeProcess(
        [shared_chain.rpc_url],
        tmp_path_factory.mktemp("shared-node"),
        shared_chain.manifest,
        {"CREDLEDGER_API__MAX_UPLOAD_BYTES": "1000"},
    )
    n.start()
    yield n
    n.stop()
