"""One anvil, the contracts and licence catalogue on it, a node process and a wallet process.

The node acts for the market-regulation department (dev account 1) so tests can issue licences to
the enterprises they register; the wallet relays with dev account 7; grantees (banks) use dev
accounts 8 and 9 with their own keys.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from credledger.node.auth import TokenBook, hash_token
from credledger.node.core.chain import Chain
from credledger.node.core.identifiers import USCC_ALPHABET, is_uscc, uscc_check_char
from credledger.node.core.manifest import addresses
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.node.departments import Department, Departments
from credledger.node.deploy import deploy
from credledger.node.devnet import DevnetInfo, free_port, launch, terminate
from credledger.node.licences.catalogue import load_catalogue
from credledger.node.licences.service import authorise_departments, register_catalogue
from tests.node.licences.harness import Node, toml_config
from tests.wallet.harness import WALLET_NODE_TOKEN, Wallet

CATALOGUE = load_catalogue()
MARKET = [t.code for t in CATALOGUE.types if t.category != "MED"]
MARKET_TOKEN = "tok-market-" + "a" * 32
BANK = 8
OTHER_BANK = 9

_rng = random.Random(12)
_serials = itertools.count(1)


def new_uscc() -> str:
    """A fresh, valid USCC (GB 32100-2015 check character)."""
    while True:
        body = "9131000" + "".join(_rng.choice(USCC_ALPHABET[:10]) for _ in range(10))
        code = body + uscc_check_char(body)
        if is_uscc(code):
            return code


@dataclass
class WalletEnv:
    info: DevnetInfo
    chain: Chain
    manifest: Path
    contracts: dict[str, str]
    node: Node
    wallet: Wallet

    @contextmanager
    def own_wallet(
        self,
        workdir: Path,
        *,
        relayer: int,
        node_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Iterator[Wallet]:
        """A wallet process of its own on the session's chain (and node, unless ``node_url``),
        with its own relayer dev account; stopped afterwards."""
        w = Wallet(workdir, self.info.rpc_url, node_url or self.node.url, self.manifest, env=env,
                   relayer_dev_account=relayer)  # fmt: skip
        w.start()
        try:
            yield w
        finally:
            w.stop()

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        return self.chain.w3.provider.make_request(method, params or [])["result"]  # type: ignore[arg-type]

    def issue_licence(self, uscc: str, holder_address: str | None = None, **extra: Any) -> str:
        body: dict[str, Any] = {
            "type": "FOOD-OPERATION",
            "serialNumber": f"W-{next(_serials):06d}-{_rng.randrange(10**6)}",
            "documentHash": "0x" + _rng.randbytes(32).hex(),
            "validFrom": "2024-01-01",
            "validUntil": "2036-12-31",
            "holderUscc": uscc,
            **extra,
        }
        if holder_address:
            body["holderAddress"] = holder_address
        r = self.node.post("/v1/licences", MARKET_TOKEN, json=body)
        assert r.status_code == 201, r.text
        lid: str = r.json()["licenceId"]
        return lid


@pytest.fixture(scope="session")
def wenv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletEnv]:
    tmp = tmp_path_factory.mktemp("wallet-env")
    _, info = launch("anvil", free_port(), None, tmp / "anvil.log")
    node: Node | None = None
    wallet: Wallet | None = None
    try:
        chain = Chain([info.rpc_url])
        admin = TxSender(chain, dev_account(0))
        manifest_path = tmp / "manifest.json"
        manifest, _ = deploy(chain, admin, manifest_path)
        contracts = addresses(manifest)
        register_catalogue(chain, contracts["LicenceRegistry"], admin, CATALOGUE)
        market = Department("market", "market", TxSender(chain, dev_account(1)),
                            frozenset(MARKET), frozenset(MARKET))  # fmt: skip
        authorise_departments(chain, contracts["LicenceRegistry"], admin,
                              Departments([market], TokenBook()))  # fmt: skip
        config = toml_config(
            departments=[{"name": "market", "dev_account": 1, "token": MARKET_TOKEN,
                          "issues": MARKET, "supervises": MARKET}],
            clerks=[], admin_tokens=[],
        )  # fmt: skip
        node = Node("W", info.rpc_url, tmp / "node", manifest_path, config, signer_dev_account=0)
        # the wallet anchors as a node service (nodes that check tokens on POST /v1/anchors)
        node.env["CREDLEDGER_API__SERVICE_TOKENS"] = json.dumps(
            [{"name": "wallet", "token_sha256": [hash_token(WALLET_NODE_TOKEN)]}]
        )
        node.start()
        wallet = Wallet(tmp / "wallet", info.rpc_url, node.url, manifest_path)
        wallet.start()
        yield WalletEnv(info, chain, manifest_path, contracts, node, wallet)
    finally:
        if wallet is not None:
            wallet.stop()
        if node is not None:
            node.stop()
        terminate(info.pid)


@pytest.fixture(scope="session")
def wallet(wenv: WalletEnv) -> Wallet:
    return wenv.wallet


@dataclass
class Enterprise:
    uscc: str
    name: str
    address: str
    token: str


@pytest.fixture
def enterprise(wallet: Wallet) -> Enterprise:
    uscc = new_uscc()
    out = wallet.register(uscc, "上海测试科技有限公司")
    return Enterprise(uscc, out["name"], out["address"], wallet.login(uscc))


@pytest.fixture
def other_enterprise(wallet: Wallet) -> Enterprise:
    uscc = new_uscc()
    out = wallet.register(uscc, "Other Trading Co., Ltd.")
    return Enterprise(uscc, out["name"], out["address"], wallet.login(uscc))
