"""Issue 19 item 5: the wallet's OpenAPI declares the 4xx answers its operations give (401, 403,
404, …), and schemathesis' status_code_conformance finds no undocumented status."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.wallet.conftest import WalletEnv, new_uscc
from tests.wallet.harness import Wallet
from tests.wallet.test_fuzz import _schemathesis

pytestmark = [pytest.mark.chain]

OPEN = {"/health", "/v1/ping"}


def test_every_operation_declares_401_403_404_422(wallet: Wallet) -> None:
    spec = wallet.get("/openapi.json").json()
    missing = []
    for path, ops in spec["paths"].items():
        if path in OPEN:
            continue
        for method, op in ops.items():
            declared = set(op.get("responses", {}))
            for status in ("401", "403", "404", "422", "429"):
                if status not in declared:
                    missing.append(f"{method.upper()} {path} {status}")
    assert not missing, missing


@pytest.fixture
def own_wallet(wenv: WalletEnv, tmp_path: Path) -> Iterator[Wallet]:
    with wenv.own_wallet(tmp_path / "conform", relayer=5) as w:
        yield w


@pytest.mark.slow
def test_schemathesis_finds_no_undocumented_status(own_wallet: Wallet, tmp_path: Path) -> None:
    uscc = new_uscc()
    own_wallet.register(uscc, "状态码测试公司")
    token = own_wallet.login(uscc)
    code, out, cases = _schemathesis(
        own_wallet, tmp_path / "events.ndjson", f"Authorization: Bearer {token}",
        checks="status_code_conformance", examples=3,
    )  # fmt: skip
    assert code == 0, out[-6000:]
    assert cases > 50, out[-2000:]
