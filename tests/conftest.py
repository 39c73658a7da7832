"""Shared fixtures: one real anvil per test session, a deployed set of contracts, snapshots.

Integration tests talk to a real chain over JSON-RPC. Isolation comes from anvil snapshots
(`evm_snapshot` / `evm_revert`), not from mocks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from credledger.node.core.chain import Chain
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.node.deploy import deploy
from credledger.node.devnet import DevnetInfo, Engine, free_port, launch, terminate
from tests.support import fuzz, reaper

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    # every process the tests start dies with this session, however it ends (Ctrl-C, SIGTERM,
    # a killed worker): tests/support/reaper.py; tests/architecture/test_interrupt.py proves it
    worker = hasattr(config, "workerinput")
    reaper.install(is_controller=not worker and bool(getattr(config.option, "numprocesses", 0)))
    # the contract state machines' seed: chosen here, in the controller, and put into the
    # environment before pytest-xdist starts its workers, so that every worker uses this one
    fuzz.seed()


def pytest_unconfigure(config: pytest.Config) -> None:
    left = reaper.kill_all()
    if left and not hasattr(config, "workerinput"):
        print(f"\nkilled {len(left)} processes the tests left running", file=sys.stderr)


def pytest_report_header(config: pytest.Config) -> str:
    return fuzz.header()


def _session_chain(engine: Engine, tmp: pytest.TempPathFactory) -> Iterator[DevnetInfo]:
    log = tmp.mktemp(engine) / f"{engine}.log"
    _proc, info = launch(engine, free_port(), None, log, tied=True)
    try:
        yield info
    finally:
        terminate(info.pid)


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetInfo]:
    """A fresh anvil on a free port for the whole test session (instant mining)."""
    yield from _session_chain("anvil", tmp_path_factory)


@pytest.fixture(scope="session")
def ganache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetInfo]:
    """A ganache 7.9 (from npm) on a free port for the whole test session."""
    yield from _session_chain("ganache", tmp_path_factory)


@pytest.fixture(scope="session")
def chain(anvil: DevnetInfo) -> Chain:
    return Chain([anvil.rpc_url])


@pytest.fixture(scope="session")
def deployer(chain: Chain) -> TxSender:
    return TxSender(chain, dev_account(0))


@pytest.fixture(scope="session")
def deployment(
    chain: Chain, deployer: TxSender, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The project's contracts deployed once per session on the session anvil."""
    path = tmp_path_factory.mktemp("deploy") / f"{chain.chain_id}.json"
    manifest, _ = deploy(chain, deployer, path)
    manifest["_path"] = str(path)
    return manifest


@pytest.fixture
def snapshot(chain: Chain, deployer: TxSender) -> Iterator[None]:
    """Revert every chain change the test made (anvil snapshot).

    The revert also rolls back the session deployer's nonce on chain: its cached next nonce is
    dropped too, or its next transaction (in a later test of this worker) would leave a gap and
    never be mined."""
    snap = chain.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        yield
    finally:
        chain.w3.provider.make_request("evm_revert", [snap])  # type: ignore[arg-type]
        deployer.nonces.reset()


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run the real `credledger` command in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "credledger.node.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
