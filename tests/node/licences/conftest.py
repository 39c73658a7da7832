"""One anvil for the licence tests, the contracts and catalogue on it, and two department nodes.

Node A acts for the market-regulation department (issuer of the non-drug types) and an
enforcement department (supervisor of every type), with a counter clerk and an admin token;
node B acts for the drug administration. Each has its own key, tokens and databases; they share
only the chain (and the consortium-wide subject secret).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from credledger.node.auth import TokenBook
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

CATALOGUE = load_catalogue()
MED = [t.code for t in CATALOGUE.types if t.category == "MED"]
MARKET = [t.code for t in CATALOGUE.types if t.category != "MED"]
# configured for the market department on its node but never authorised on chain: the contract
# itself must refuse it
NOT_ON_CHAIN = "MED-DEVICE-OPERATION"
# registered through the admin API by test_gbt_api (with a GB/T 36902 type code)
REGISTERED_WITH_TYPE_CODE = "FOOD-GBT-KITCHEN"
# registered by tests/node/licences/test_sm3_documents.py with fingerprint sm3
REGISTERED_SM3 = "FOOD-SM3-CANTEEN"

TOKENS = {
    "market": "tok-market-" + "a" * 32,
    "enforcement": "tok-enforcement-" + "b" * 32,
    "clerk_a": "tok-clerk-a-" + "c" * 32,
    "admin": "tok-admin-" + "d" * 32,
    "drugs": "tok-drugs-" + "e" * 32,
    "clerk_b": "tok-clerk-b-" + "f" * 32,
}
ENTERPRISE = "91310000MA1FL1234Q"
# the departments' unified social credit codes (GB/T 36904 issuer codes); enforcement has none
USCC = {"market": "11310000MB2F00001F", "drugs": "11310000MB2F00002J"}
OTHER_ENTERPRISE = "91440300708461136T"


@dataclass
class LicenceChain:
    info: DevnetInfo
    chain: Chain
    manifest: Path
    contracts: dict[str, str]

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        return self.chain.w3.provider.make_request(method, params or [])["result"]  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def lchain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LicenceChain]:
    tmp = tmp_path_factory.mktemp("lic-chain")
    _, info = launch("anvil", free_port(), None, tmp / "anvil.log")
    try:
        chain = Chain([info.rpc_url])
        admin = TxSender(chain, dev_account(0))
        manifest_path = tmp / "manifest.json"
        manifest, _ = deploy(chain, admin, manifest_path)
        contracts = addresses(manifest)
        registry = contracts["LicenceRegistry"]
        register_catalogue(chain, registry, admin, CATALOGUE)

        # on-chain roles: market issues and supervises the non-drug types, enforcement
        # supervises everything, drugs issues and supervises the drug types
        def dept(name: str, account: int, issues: list[str], supervises: list[str]) -> Department:
            sender = TxSender(chain, dev_account(account))
            return Department(name, name, sender, frozenset(issues), frozenset(supervises))

        chain_view = Departments(
            [
                dept("market", 1, MARKET, MARKET),
                dept("drugs", 2, MED, MED),
                dept("enforcement", 3, [], MARKET + MED),
            ],
            TokenBook(),
        )
        authorise_departments(chain, registry, admin, chain_view)
        # node B anchors with dev account 4
        anchor = chain.contract("AnchorRegistry", contracts["AnchorRegistry"])
        role = anchor.functions.ANCHORER_ROLE().call()
        admin.send(anchor.functions.grantRole(role, dev_account(4).address))
        yield LicenceChain(info, chain, manifest_path, contracts)
    finally:
        terminate(info.pid)


# These nodes serve every licence test of a session, some of which verify in tight loops without a
# token: the per-address public bucket is raised so that the tests measure verdicts, not the limiter
# (tests/hardening checks the limiter on nodes of its own).
_GENEROUS_PUBLIC_LIMITS = """
[api.rate_limits]
public_per_minute = 6000000.0
public_burst = 100000
writes_per_minute = 6000000.0
write_burst = 1000000
"""


def _node_a_config() -> str:
    return (
        toml_config(
            departments=[
                {
                    "name": "market",
                    "uscc": USCC["market"],
                    "dev_account": 1,
                    "token": TOKENS["market"],
                    "issues": [*MARKET, NOT_ON_CHAIN, REGISTERED_WITH_TYPE_CODE, REGISTERED_SM3],
                    "supervises": MARKET,
                },
                {
                    "name": "enforcement",
                    "dev_account": 3,
                    "token": TOKENS["enforcement"],
                    "supervises": MARKET + MED,
                },
            ],
            clerks=[{"name": "clerk-a", "department": "market", "token": TOKENS["clerk_a"]}],
            admin_tokens=[TOKENS["admin"]],
            department_codes={dev_account(2).address: USCC["drugs"]},  # node B's
        )
        + _GENEROUS_PUBLIC_LIMITS
    )


def _node_b_config() -> str:
    return (
        toml_config(
            departments=[
                {
                    "name": "drugs",
                    "uscc": USCC["drugs"],
                    "dev_account": 2,
                    "token": TOKENS["drugs"],
                    "issues": MED,
                    "supervises": MED,
                }
            ],
            clerks=[{"name": "clerk-b", "department": "drugs", "token": TOKENS["clerk_b"]}],
            admin_tokens=[],
            department_codes={dev_account(1).address: USCC["market"]},  # node A's
        )
        + _GENEROUS_PUBLIC_LIMITS
    )


def _session_node(
    name: str, lchain: LicenceChain, tmp: pytest.TempPathFactory, config: str, dev_account: int
) -> Iterator[Node]:
    node = Node(
        name,
        lchain.info.rpc_url,
        tmp.mktemp(f"node-{name.lower()}"),
        lchain.manifest,
        config,
        signer_dev_account=dev_account,
    )
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def node_a(lchain: LicenceChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    yield from _session_node("A", lchain, tmp_path_factory, _node_a_config(), 0)


@pytest.fixture(scope="session")
def node_b(lchain: LicenceChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    yield from _session_node("B", lchain, tmp_path_factory, _node_b_config(), 4)


_counter = iter(range(1, 10**9))


def serial(prefix: str = "T") -> str:
    return f"{prefix}-{os.getpid()}-{next(_counter):06d}"


def document(label: str) -> bytes:
    """A unique document body for one test."""
    return f"licence document {label} {serial()}".encode()


def sha(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


def issue_body(
    type_code: str = "FOOD-OPERATION",
    doc: bytes | None = None,
    uscc: str | None = ENTERPRISE,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": type_code,
        "serialNumber": serial(),
        "documentHash": sha(doc if doc is not None else document(type_code)),
        "validFrom": "2024-01-01",
        "validUntil": "2036-12-31",
    }
    if uscc is not None:
        body["holderUscc"] = uscc
    body.update(extra)
    return body
