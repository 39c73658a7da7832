"""Our wallet as an OpenID4VP holder: the credentials tests' chain and node (the market
department's credential key registered on chain, so the node issues SD-JWT VCs), a wallet process
on them, and the test enterprise in it holding licences.

Shared by the holder tests (W) and the independent-verifier test (J): add fixtures at the end."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.node.credentials.conftest import ENTERPRISE, TOKENS, CredEnv, cred, issue
from tests.wallet.harness import Wallet

__all__ = ["ENTERPRISE", "TOKENS", "CredEnv", "Holder", "cred", "holder", "vp_wallet"]


@pytest.fixture(scope="session")
def vp_wallet(cred: CredEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wallet]:
    """A wallet process on the credentials chain and node (relayer: dev account 7)."""
    w = Wallet(tmp_path_factory.mktemp("vp-wallet"), cred.info.rpc_url, cred.node.url,
               cred.manifest, relayer_dev_account=7)  # fmt: skip
    w.start()
    try:
        yield w
    finally:
        w.stop()


@dataclass
class Holder:
    """The test enterprise in the wallet (custodial: the wallet keeps its key)."""

    cred: CredEnv
    wallet: Wallet
    uscc: str
    address: str
    token: str  # its wallet session

    def licence(self, **extra: Any) -> str:
        """A food business licence issued to the enterprise's address: its licence id."""
        return str(issue(self.cred, holderAddress=self.address, **extra)["licenceId"])


@pytest.fixture(scope="session")
def holder(cred: CredEnv, vp_wallet: Wallet) -> Holder:
    out = vp_wallet.register(ENTERPRISE, "上海示例餐饮管理有限公司")
    return Holder(cred, vp_wallet, ENTERPRISE, str(out["address"]), vp_wallet.login(ENTERPRISE))
