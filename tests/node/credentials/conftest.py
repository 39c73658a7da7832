"""One anvil with the contracts and catalogue, the market department authorised and its P-256
credential key registered on chain (kind 2), and a real node process that holds that key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from credledger.node.auth import TokenBook, hash_token
from credledger.node.core.chain import Chain
from credledger.node.core.contracts.licence_registry import KEY_KIND_P256, LicenceRegistry
from credledger.node.core.manifest import addresses
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.node.credentials.keys import generate_p256, public_raw, save_p256_key
from credledger.node.departments import Department, Departments
from credledger.node.deploy import deploy
from credledger.node.devnet import DevnetInfo, free_port, launch, terminate
from credledger.node.licences.catalogue import load_catalogue
from credledger.node.licences.service import authorise_departments, register_catalogue
from tests.node.licences.harness import SUBJECT_SECRET, Node
from tests.wallet.harness import WALLET_NODE_TOKEN

CATALOGUE = load_catalogue()
MARKET = [t.code for t in CATALOGUE.types if t.category != "MED"]
TOKENS = {
    "market": "tok-cred-market-" + "a" * 32,
    "enforcement": "tok-cred-enforcement-" + "b" * 32,
    "wallet": WALLET_NODE_TOKEN,  # the wallet service's token at this node
}
USCC = "11310000MB2F00001F"
ENTERPRISE = "91310000MA1FL1234Q"
PASSPHRASE = "credential-test-passphrase"


@dataclass
class CredEnv:
    info: DevnetInfo
    chain: Chain
    registry: LicenceRegistry
    key: ec.EllipticCurvePrivateKey  # the market department's credential key
    key_id: int
    market: str  # the market department's address
    node: Node
    manifest: Path


def _config(key_path: Path) -> str:
    def arr(xs: list[str]) -> str:
        return "[" + ", ".join(f'"{x}"' for x in xs) + "]"

    return f"""subject_secret = "{SUBJECT_SECRET}"

[licences]
admin_token_sha256 = []

[api]
service_tokens = [{{ name = "wallet", token_sha256 = ["{hash_token(TOKENS["wallet"])}"] }}]

[api.rate_limits]
writes_per_minute = 6000000.0
write_burst = 1000000
public_per_minute = 6000000.0
public_burst = 1000000

[[departments]]
name = "market"
uscc = "{USCC}"
dev_account = 1
token_sha256 = {arr([hash_token(TOKENS["market"])])}
issues = {arr(MARKET)}
supervises = {arr(MARKET)}
credential_keystore = "{key_path}"
credential_passphrase_env = "CREDLEDGER_TEST_CREDENTIAL_PASSPHRASE"

[[departments]]
name = "enforcement"
dev_account = 3
token_sha256 = {arr([hash_token(TOKENS["enforcement"])])}
supervises = {arr(MARKET)}
"""


@pytest.fixture(scope="session")
def cred(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CredEnv]:
    tmp = tmp_path_factory.mktemp("cred-chain")
    _, info = launch("anvil", free_port(), None, tmp / "anvil.log")
    node: Node | None = None
    try:
        chain = Chain([info.rpc_url])
        admin = TxSender(chain, dev_account(0))
        manifest_path = tmp / "manifest.json"
        manifest, _ = deploy(chain, admin, manifest_path)
        address = addresses(manifest)["LicenceRegistry"]
        register_catalogue(chain, address, admin, CATALOGUE)

        def dept(name: str, account: int, issues: list[str], supervises: list[str]) -> Department:
            sender = TxSender(chain, dev_account(account))
            return Department(name, name, sender, frozenset(issues), frozenset(supervises))

        view = Departments(
            [dept("market", 1, MARKET, MARKET), dept("enforcement", 3, [], MARKET)], TokenBook()
        )
        authorise_departments(chain, address, admin, view)
        market = dev_account(1).address
        registry = LicenceRegistry(chain, address, TxSender(chain, dev_account(1)))
        key = generate_p256()
        key_path = tmp / "credential-market.pem"
        save_p256_key(key_path, key, PASSPHRASE)
        key_id, _ = registry.register_department_key(
            market, KEY_KIND_P256, public_raw(key.public_key())
        )
        import os

        os.environ["CREDLEDGER_TEST_CREDENTIAL_PASSPHRASE"] = PASSPHRASE  # the node inherits it
        node = Node("C", info.rpc_url, tmp / "node", manifest_path, _config(key_path), 0)
        node.start()
        yield CredEnv(info, chain, registry, key, key_id, market, node, manifest_path)
    finally:
        if node is not None:
            node.stop()
        terminate(info.pid)


_n = iter(range(1, 10**9))


def issue(env: CredEnv, **extra: Any) -> dict[str, Any]:
    """A food business licence of the test enterprise, issued by the market department."""
    import hashlib
    import os

    n = next(_n)
    body: dict[str, Any] = {
        "type": "FOOD-OPERATION",
        "serialNumber": f"JY{os.getpid()}{n:06d}",
        "documentHash": "0x" + hashlib.sha256(f"cred doc {os.getpid()} {n}".encode()).hexdigest(),
        "validFrom": "2024-01-01",
        "validUntil": "2036-12-31",
        "holderUscc": ENTERPRISE,
        "metadata": {"holderName": "上海示例餐饮管理有限公司"},
    }
    body.update(extra)
    return env.node.ok(env.node.post("/v1/licences", TOKENS["market"], json=body), 201)
