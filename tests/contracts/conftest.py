"""Fixtures for the contract tests: our own deployment of the PLAN on the session anvil.

The contracts are deployed by a dedicated key (not a dev account other test packages use), through
``node.deploy.deploy`` so the PLAN's constructor arguments and role wiring are what is tested. Every
actor has its own key, funded with ``anvil_setBalance``, so snapshots reverted here never leave
another package's nonce cache ahead of the chain. Tests take ``env`` (function scope): the chain is
reverted after each test and every sender's nonce cache reset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak

from credledger.node.core.chain import Chain
from credledger.node.core.contracts.anchor_registry import AnchorRegistry
from credledger.node.core.contracts.consent_registry import ConsentRegistry
from credledger.node.core.contracts.licence_registry import (
    ROLE_ISSUER,
    ROLE_SUPERVISOR,
    LicenceRegistry,
)
from credledger.node.core.tx import TxSender
from credledger.node.deploy import deploy

ACTORS = (
    "admin",  # deployer: default admin of every contract, anchorer
    "issuer",  # issues FOOD and BL
    "issuer2",  # issues FOOD only
    "supervisor",  # supervisor of FOOD, SUPERVISOR_ROLE
    "holder",  # an enterprise wallet
    "grantee",  # a bank
    "outsider",  # no role anywhere
    "relayer",  # the wallet service paying for signed grants
    "anchorer2",  # a second node
)

B = TypeVar("B", LicenceRegistry, AnchorRegistry, ConsentRegistry)

FOOD = keccak(b"FOOD-OPERATION")
BL = keccak(b"BL-BUSINESS")
MED = keccak(b"MED-RETAIL")  # registered, nobody authorised
SCHEMA = keccak(b"schema-v1")


def actor_key(name: str, namespace: str = "credledger-contract-tests") -> LocalAccount:
    acct: LocalAccount = Account.from_key(keccak(f"{namespace}/{name}".encode()))
    return acct


def fund(chain: Chain, address: str) -> None:
    chain.w3.provider.make_request("anvil_setBalance", [address, hex(10**22)])  # type: ignore[arg-type]


def rpc(chain: Chain, method: str, params: list[Any]) -> Any:
    resp = chain.w3.provider.make_request(method, params)  # type: ignore[arg-type]
    if "error" in resp:
        raise RuntimeError(f"{method} failed: {resp['error']}")
    return resp["result"]


def now(chain: Chain) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"])


def warp(chain: Chain, seconds: int) -> None:
    """Move the chain's clock forward and mine a block."""
    rpc(chain, "evm_increaseTime", [seconds])
    rpc(chain, "evm_mine", [])


@dataclass
class Env:
    chain: Chain
    accounts: dict[str, LocalAccount]
    senders: dict[str, TxSender]
    manifest: dict[str, Any]

    def addr(self, name: str) -> str:
        return str(self.accounts[name].address)

    bindings: dict[tuple[str, str], Any] = field(default_factory=dict)  # one per contract, actor

    def _binding(self, cls: type[B], as_: str) -> B:
        key = (cls.__name__, as_)
        if key not in self.bindings:
            address = self.manifest["contracts"][cls.__name__]["address"]
            self.bindings[key] = cls(self.chain, address, self.senders[as_])
        found: B = self.bindings[key]
        return found

    def licences(self, as_: str = "admin") -> LicenceRegistry:
        return self._binding(LicenceRegistry, as_)

    def anchors(self, as_: str = "admin") -> AnchorRegistry:
        return self._binding(AnchorRegistry, as_)

    def consents(self, as_: str = "admin") -> ConsentRegistry:
        return self._binding(ConsentRegistry, as_)

    def reset_nonces(self) -> None:
        for s in self.senders.values():
            s.nonces.reset()

    def snapshot(self) -> str:
        return str(rpc(self.chain, "evm_snapshot", []))

    def revert(self, snap: str) -> None:
        assert rpc(self.chain, "evm_revert", [snap]) is True
        self.reset_nonces()


def build_env(
    chain: Chain, manifest_path: Path, namespace: str = "credledger-contract-tests"
) -> Env:
    """Deploy the PLAN from a dedicated key and set up types, departments and roles."""
    accounts = {name: actor_key(name, namespace) for name in ACTORS}
    for acct in accounts.values():
        fund(chain, acct.address)
    senders = {name: TxSender(chain, acct) for name, acct in accounts.items()}
    manifest, _ = deploy(chain, senders["admin"], manifest_path, force=True)
    env = Env(chain, accounts, senders, manifest)
    lic = env.licences()
    lic.register_type(FOOD, "Food business permit", SCHEMA)
    lic.register_type(BL, "Business licence", SCHEMA)
    lic.register_type(MED, "Drug retail permit", SCHEMA)
    lic.set_authorisation(FOOD, env.addr("issuer"), ROLE_ISSUER)
    lic.set_authorisation(BL, env.addr("issuer"), ROLE_ISSUER)
    lic.set_authorisation(FOOD, env.addr("issuer2"), ROLE_ISSUER)
    lic.set_authorisation(FOOD, env.addr("supervisor"), ROLE_SUPERVISOR)
    lic.grant_supervisor_role(env.addr("supervisor"))
    return env


@pytest.fixture(scope="session")
def session_env(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Env:
    path = tmp_path_factory.mktemp("contracts-deploy") / "manifest.json"
    return build_env(chain, path)


@pytest.fixture
def env(session_env: Env) -> Iterator[Env]:
    """The deployed contracts, with every chain change of the test reverted afterwards."""
    snap = session_env.snapshot()
    try:
        yield session_env
    finally:
        session_env.revert(snap)
