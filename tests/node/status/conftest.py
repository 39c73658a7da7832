"""A chain with the licence contracts (the licence tests' ``lchain``) and one node acting for the
market department with a P-256 credential key registered on chain, for the status-list tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from credledger.node.core.contracts.department_keys import KEY_KIND_P256
from credledger.node.core.contracts.licence_registry import LicenceRegistry
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.node.credentials.keys import generate_p256, public_raw, save_p256_key
from tests.node.licences.conftest import MARKET, TOKENS, USCC, LicenceChain, lchain
from tests.node.licences.harness import Node, toml_config

__all__ = ["lchain"]

PASSPHRASE = "status-tests-credential-passphrase"


@dataclass
class StatusNode:
    node: Node
    department: str  # the market department's address
    key_id: int
    public_raw: bytes
    registry: LicenceRegistry


@pytest.fixture(scope="module")
def status_node(
    lchain: LicenceChain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StatusNode]:
    tmp = tmp_path_factory.mktemp("status-node")
    market = dev_account(1)
    key = generate_p256()
    save_p256_key(tmp / "credential.pem", key, PASSPHRASE)
    registry = LicenceRegistry(
        lchain.chain, lchain.contracts["LicenceRegistry"], TxSender(lchain.chain, market)
    )
    raw = public_raw(key.public_key())
    key_id, _ = registry.register_department_key(market.address, KEY_KIND_P256, raw)
    config = toml_config(
        departments=[
            {
                "name": "market",
                "uscc": USCC["market"],
                "dev_account": 1,
                "token": TOKENS["market"],
                "issues": MARKET,
                "supervises": MARKET,
            }
        ],
        clerks=[],
        admin_tokens=[],
    )
    config = config.replace(
        'name = "market"\n',
        'name = "market"\n'
        f'credential_keystore = "{tmp / "credential.pem"}"\n'
        f'credential_passphrase = "{PASSPHRASE}"\n',
        1,
    )
    node = Node("S", lchain.info.rpc_url, tmp / "node", lchain.manifest, config, 6)
    node.start()
    try:
        yield StatusNode(node, market.address, key_id, raw, registry)
    finally:
        node.stop()
