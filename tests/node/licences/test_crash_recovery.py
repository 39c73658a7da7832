"""Idempotency across a crash: the node is killed with SIGKILL while an issuance it claimed is
on its way to the chain; a retry with the same Idempotency-Key after the restart is answered from
the chain at once — with the licence if it was mined, by issuing it if it was not — instead of a
409 until the stale-claim timeout (five minutes) runs out."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from credledger.node.auth import TokenBook
from credledger.node.core.chain import Chain
from credledger.node.core.manifest import addresses
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.node.departments import Department, Departments
from credledger.node.deploy import deploy
from credledger.node.devnet import DevnetInfo, free_port, launch, terminate
from credledger.node.licences.service import authorise_departments, register_catalogue
from tests.node.licences.conftest import CATALOGUE, MARKET, TOKENS, issue_body
from tests.node.licences.harness import Node, toml_config

pytestmark = pytest.mark.chain


class Devnet:
    def __init__(self, info: DevnetInfo, manifest: Path, contracts: dict[str, str]) -> None:
        self.info = info
        self.chain = Chain([info.rpc_url])
        self.manifest = manifest
        self.contracts = contracts

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        return self.chain.w3.provider.make_request(method, params or [])["result"]  # type: ignore[arg-type]

    def pending_txs(self) -> int:
        return len(self.chain.w3.eth.get_block("pending")["transactions"])

    def issued(self, licence_id: str) -> int:
        registry = self.chain.contract("LicenceRegistry", self.contracts["LicenceRegistry"])
        logs = registry.events.LicenceIssued().get_logs(
            from_block=0, argument_filters={"licenceId": bytes.fromhex(licence_id[2:])}
        )
        return len(logs)


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """An anvil of its own: this test stops mining and kills nodes."""
    tmp = tmp_path_factory.mktemp("crash-chain")
    _, info = launch("anvil", free_port(), None, tmp / "anvil.log")
    try:
        chain = Chain([info.rpc_url])
        admin = TxSender(chain, dev_account(0))
        manifest, _ = deploy(chain, admin, tmp / "manifest.json")
        contracts = addresses(manifest)
        register_catalogue(chain, contracts["LicenceRegistry"], admin, CATALOGUE)
        market = Department(
            "market", "market", TxSender(chain, dev_account(1)), frozenset(MARKET), frozenset()
        )
        authorise_departments(
            chain, contracts["LicenceRegistry"], admin, Departments([market], TokenBook())
        )
        yield Devnet(info, tmp / "manifest.json", contracts)
    finally:
        terminate(info.pid)


def market_node(devnet: Devnet, workdir: Path) -> Node:
    config = toml_config(
        departments=[
            {"name": "market", "dev_account": 1, "token": TOKENS["market"], "issues": MARKET}
        ],
        clerks=[],
        admin_tokens=[],
    )
    return Node("crash", devnet.info.rpc_url, workdir, devnet.manifest, config, 0)


def kill_mid_issuance(devnet: Devnet, node: Node, body: dict[str, Any], key: str) -> None:
    """Send the keyed issuance, wait until its transaction is in the mempool, then SIGKILL."""
    devnet.rpc("evm_setAutomine", [False])

    def send() -> None:
        headers = {"Authorization": f"Bearer {TOKENS['market']}", "Idempotency-Key": key}
        with contextlib.suppress(httpx.HTTPError):  # the node dies under it
            httpx.post(node.url + "/v1/licences", json=body, headers=headers, timeout=60)

    caller = threading.Thread(target=send)
    caller.start()
    deadline = time.monotonic() + 30
    while devnet.pending_txs() == 0:
        assert time.monotonic() < deadline, "the issuance never reached the mempool"
        time.sleep(0.05)
    assert node.proc is not None
    os.killpg(node.proc.pid, signal.SIGKILL)
    node.proc.wait(timeout=10)
    node.proc = None
    caller.join(timeout=60)


def retry(node: Node, body: dict[str, Any], key: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    r = node.post("/v1/licences", TOKENS["market"], json=body, headers={"Idempotency-Key": key})
    return r, time.monotonic() - started


@pytest.mark.parametrize("mined", [True, False], ids=["mined-before-restart", "never-mined"])
def test_a_keyed_retry_after_sigkill_is_settled_from_the_chain(
    devnet: Devnet, tmp_path: Path, mined: bool
) -> None:
    body = issue_body()
    key = f"crash-{mined}-" + body["serialNumber"]
    node = market_node(devnet, tmp_path / "node")
    node.start()
    try:
        kill_mid_issuance(devnet, node, body, key)
        if mined:
            devnet.rpc("evm_mine")  # the first attempt made it to the chain
        else:
            devnet.rpc("anvil_dropAllTransactions")  # it never did
        assert devnet.pending_txs() == 0
        devnet.rpc("evm_setAutomine", [True])
        node.start()  # same data dir: the claim of the killed run is still pending in it
        r, took = retry(node, body, key)
        assert r.status_code == 201, r.text
        assert took < 30  # not the five-minute stale-claim timeout
        answer = r.json()
        assert answer.get("recovered", False) is mined
        assert devnet.issued(answer["licenceId"]) == 1
        # the settled answer is now the key's answer: a further retry replays it
        again, _ = retry(node, body, key)
        assert again.status_code == 201 and again.json()["replayed"] is True
        assert again.json()["transactionHash"] == answer["transactionHash"]
    finally:
        devnet.rpc("evm_setAutomine", [True])
        node.stop()
