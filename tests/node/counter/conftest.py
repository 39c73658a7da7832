"""A counter node on the licence tests' chain: the market department, its clerk, holder keys.

The holder (dev account 6), an agent (7) and a stranger (8) sign presentation tokens with the
real codec (``credledger.node.core.presentation``); grants are real ConsentRegistry transactions.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from credledger.node.core import presentation as pr
from credledger.node.core.contracts.consent_registry import ConsentRegistry
from credledger.node.core.contracts.eip712 import GrantRequest
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.node.counter.authority import COUNTER_PURPOSE
from tests.node.licences import conftest as licence_fixtures
from tests.node.licences.conftest import MARKET, LicenceChain, issue_body
from tests.node.licences.harness import Node, toml_config

lchain = licence_fixtures.lchain  # the licence tests' session chain, re-used here

TOKENS = {
    "market": "tok-ctr-market-" + "a" * 32,
    "clerk": "tok-ctr-clerk-" + "c" * 32,
    "admin": "tok-ctr-admin-" + "d" * 32,
}
CLERK_NAME = "counter-1"


def counter_config() -> str:
    return toml_config(
        departments=[
            {
                "name": "market",
                "uscc": "11310000MB2F00001F",  # GB/T 36904 identifiers
                "dev_account": 1,
                "token": TOKENS["market"],
                "issues": MARKET,
                "supervises": MARKET,
            }
        ],
        clerks=[{"name": CLERK_NAME, "department": "market", "token": TOKENS["clerk"]}],
        admin_tokens=[TOKENS["admin"]],
    )


@pytest.fixture(scope="session")
def counter_node(lchain: LicenceChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = Node(
        "C",
        lchain.info.rpc_url,
        tmp_path_factory.mktemp("node-counter"),
        lchain.manifest,
        counter_config(),
        signer_dev_account=0,
    )
    node.start()
    try:
        yield node
    finally:
        node.stop()


@dataclass
class Parties:
    lchain: LicenceChain
    node: Node
    holder: LocalAccount
    agent: LocalAccount
    stranger: LocalAccount

    @property
    def chain_id(self) -> int:
        return self.lchain.chain.chain_id

    def consent(self, account: LocalAccount) -> ConsentRegistry:
        return ConsentRegistry(
            self.lchain.chain,
            self.lchain.contracts["ConsentRegistry"],
            TxSender(self.lchain.chain, account),
        )

    def issue(self, type_code: str = "FOOD-OPERATION", doc: bytes | None = None) -> dict[str, Any]:
        body = issue_body(type_code, doc=doc, holderAddress=self.holder.address)
        return self.node.ok(self.node.post("/v1/licences", TOKENS["market"], json=body), 201)

    def grant(self, asset: bytes, grantee: str, seconds: int = 3600) -> None:
        now = int(self.lchain.chain.w3.eth.get_block("latest")["timestamp"])
        args = (self.holder.address, asset, grantee, COUNTER_PURPOSE, now + seconds)
        # Contracts II names the asset's kind (GrantRequest.licence); before it, the plain form
        make = getattr(GrantRequest, "licence", None)
        request = make(*args) if make is not None else GrantRequest(*args)
        self.consent(self.holder).grant(request)

    def revoke(self, asset: bytes, grantee: str) -> None:
        self.consent(self.holder).revoke(asset, grantee, COUNTER_PURPOSE)

    def token(
        self, assets: list[bytes], signer: pr.Signer | None = None, **kw: Any
    ) -> pr.Presentation:
        signer = signer or pr.ChainKeySigner(self.holder.key)
        return pr.create(signer, assets, self.chain_id, **kw)

    def verify(self, token: str, token_as: str = "clerk", **kw: Any) -> dict[str, Any]:
        if "files" in kw or "data" in kw:
            data = {"token": token, **kw.pop("data", {})}
            r = self.node.post("/v1/verify/presentation", TOKENS[token_as], data=data, **kw)
        else:
            r = self.node.post("/v1/verify/presentation", TOKENS[token_as], json={"token": token})
        return self.node.ok(r)

    def wait_indexed(self) -> None:
        self.node.wait_indexed(int(self.lchain.chain.w3.eth.block_number))


@pytest.fixture(scope="session")
def parties(lchain: LicenceChain, counter_node: Node) -> Parties:
    return Parties(lchain, counter_node, dev_account(6), dev_account(7), dev_account(8))


def lid(issued: dict[str, Any]) -> bytes:
    return bytes.fromhex(issued["licenceId"][2:])


def wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("condition not met in time")
