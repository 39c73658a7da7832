"""A node process for the hardening tests: its own anvil, the catalogue registered, one issuing
department, a clerk, an admin and a service identity; and a second node with tight rate limits
and public anchoring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from credledger.node.auth import TokenBook, hash_token
from credledger.node.core.chain import Chain
from credledger.node.core.manifest import addresses
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.node.departments import Department, Departments
from credledger.node.deploy import deploy
from credledger.node.devnet import DevnetInfo, free_port, launch, terminate
from credledger.node.licences.catalogue import load_catalogue
from credledger.node.licences.service import authorise_departments, register_catalogue
from tests.node.licences.harness import Node, toml_config

TYPES = [t.code for t in load_catalogue().types if t.category != "MED"]
TOKENS = {
    "market": "tok-h-market-" + "a" * 32,
    "clerk": "tok-h-clerk-" + "b" * 32,
    "admin": "tok-h-admin-" + "c" * 32,
    "service": "tok-h-service-" + "d" * 32,
}
ENTERPRISE = "91310000MA1FL1234Q"


@dataclass
class HChain:
    info: DevnetInfo
    chain: Chain
    manifest: Path
    contracts: dict[str, str]


@pytest.fixture(scope="session")
def hchain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HChain]:
    tmp = tmp_path_factory.mktemp("hardening-chain")
    _, info = launch("anvil", free_port(), None, tmp / "anvil.log")
    try:
        chain = Chain([info.rpc_url])
        admin = TxSender(chain, dev_account(0))
        manifest_path = tmp / "manifest.json"
        manifest, _ = deploy(chain, admin, manifest_path)
        contracts = addresses(manifest)
        registry = contracts["LicenceRegistry"]
        register_catalogue(chain, registry, admin, load_catalogue())
        market = Department(
            "market", "market", TxSender(chain, dev_account(1)), frozenset(TYPES), frozenset(TYPES)
        )
        authorise_departments(chain, registry, admin, Departments([market], TokenBook()))
        yield HChain(info, chain, manifest_path, contracts)
    finally:
        terminate(info.pid)


def config(extra_api: str = "") -> str:
    base = toml_config(
        departments=[
            {
                "name": "market",
                "dev_account": 1,
                "token": TOKENS["market"],
                "issues": TYPES,
                "supervises": TYPES,
            }
        ],
        clerks=[{"name": "clerk-h", "department": "market", "token": TOKENS["clerk"]}],
        admin_tokens=[TOKENS["admin"]],
    )
    services = json.dumps([{"name": "wallet", "token_sha256": [hash_token(TOKENS["service"])]}])
    # TOML accepts this JSON array of inline tables once the keys are bare words
    services = services.replace('"name":', "name =").replace('"token_sha256":', "token_sha256 =")
    return base + f"\n[api]\nservice_tokens = {services}\n{extra_api}"


def _node(name: str, hchain: HChain, tmp: pytest.TempPathFactory, cfg: str) -> Iterator[Node]:
    node = Node(name, hchain.info.rpc_url, tmp.mktemp(f"hnode-{name}"), hchain.manifest, cfg, 0)
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def hnode(hchain: HChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A node with the default body limits (a 4 MiB multipart limit to keep the tests quick) and
    write limits no test can reach: the whole session shares its admin and department tokens, so
    the default burst of 200 writes was met by whichever test came last (a CI run answered 429 to
    a privacy check). Rate limits are tested on `tight`."""
    api = (
        "max_request_bytes = 4194304\n"
        "[api.rate_limits]\nwrites_per_minute = 6000000.0\nwrite_burst = 1000000\n"
    )
    yield from _node("main", hchain, tmp_path_factory, config(api))


@pytest.fixture(scope="session")
def tight(hchain: HChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A node with public anchoring, tiny rate limits and a 2-second body timeout."""
    api = (
        "public_anchoring = true\nbody_timeout = 2.0\nbody_deadline = 4.0\n"
        "[api.rate_limits]\nwrites_per_minute = 6.0\nwrite_burst = 3\n"
        "public_per_minute = 6.0\npublic_burst = 3\n"
        "anchor_hashes_per_hour = 36.0\nanchor_hash_burst = 10\n"
    )
    yield from _node("tight", hchain, tmp_path_factory, config(api))
