"""`credledger up` with the demo: it prints the clerk and enterprise pages and a ready
presentation token of the demo enterprise's licences that verifies VALID once;
`credledger counter demo-token` prints a fresh one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from credledger.node.core.demo import DEMO_ENTERPRISE_USCC
from credledger.node.demo.licences import CLERK_TOKEN
from credledger.node.devnet import DevnetInfo, free_port, launch
from credledger.node.devnet import terminate as stop_chain
from tests.conftest import run_cli
from tests.support.node_process import UpProcess


@pytest.fixture
def own_anvil(tmp_path: Path) -> Iterator[DevnetInfo]:
    """An anvil of its own: the demo writes to the chain, the session anvil stays clean."""
    _, info = launch("anvil", free_port(), None, tmp_path / "own-anvil.log")
    yield info
    stop_chain(info.pid)


def _verify(url: str, token: str) -> dict[str, object]:
    r = httpx.post(
        url + "/v1/verify/presentation",
        headers={"Authorization": f"Bearer {CLERK_TOKEN}"},
        json={"token": token},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_up_prints_the_pages_and_a_demo_token_that_verifies_once(
    own_anvil: DevnetInfo, tmp_path: Path
) -> None:
    node = UpProcess(tmp_path, rpc_urls=[own_anvil.rpc_url], demo=True)
    node.start()
    try:
        node.wait_ready(timeout=180)
        out = node.output()
        assert f"{node.url}/clerk" in out
        assert f"{node.url}/e/{DEMO_ENTERPRISE_USCC}" in out
        found = re.search(r"^\s+(CLP1[A-Z2-7]+)$", out, re.MULTILINE)
        assert found, out
        first = _verify(node.url, found.group(1))
        assert first["verdict"] == "VALID", first
        assets = first["assets"]
        assert isinstance(assets, list) and len(assets) == 2
        assert {a["type"]["code"] for a in assets} == {"BL-BUSINESS", "FOOD-OPERATION"}
        again = _verify(node.url, found.group(1))
        assert again["verdict"] == "REFUSED"
        assert [r["code"] for r in again["reasons"]] == ["REPLAYED"]  # type: ignore[attr-defined]
        fresh = run_cli("counter", "demo-token", "--node", node.url)
        assert fresh.returncode == 0, fresh.stderr
        assert _verify(node.url, fresh.stdout.strip())["verdict"] == "VALID"
        page = httpx.get(f"{node.url}/e/{DEMO_ENTERPRISE_USCC}", timeout=30)
        assert page.status_code == 200 and "JY13101050000001" in page.text
    finally:
        assert node.stop() == 0
