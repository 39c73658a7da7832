"""Chromium (Debian's /usr/bin/chromium, never a downloaded browser) driven by Playwright.

``make setup`` installs it with apt-get when missing; the tests skip only if it is not there
and cannot be installed. Screenshots go to tests/output/browser/ (git-ignored).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from credledger.node.devnet import DevnetInfo, free_port, launch
from credledger.node.devnet import terminate as stop_chain
from tests.node.counter import conftest as counter_fixtures
from tests.support.node_process import UpProcess

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT = Path(__file__).resolve().parents[1] / "output" / "browser"


@contextlib.contextmanager
def demo_up(
    tmp: Path,
    *,
    env: dict[str, str] | None = None,
    before_start: Callable[[UpProcess], None] | None = None,
) -> Iterator[tuple[UpProcess, str, DevnetInfo]]:
    """``credledger up --demo`` with its wallet, on an anvil chain of its own: (node, the wallet's
    URL, the chain), once the wallet page is up; all stopped on the way out.
    ``before_start``: what must run between the node's set-up and its start."""
    _, chain = launch("anvil", free_port(), None, tmp / "anvil.log")
    try:
        wallet_port = free_port()
        node = UpProcess(
            tmp, rpc_urls=[chain.rpc_url], demo=True, companions=True,
            extra=["--wallet-port", str(wallet_port)], env=env,
        )  # fmt: skip
        if before_start is not None:
            before_start(node)
        node.start()
        try:
            node.wait_ready(timeout=240)
            deadline = time.monotonic() + 120
            while "wallet page: sign in with USCC" not in node.output():
                assert time.monotonic() < deadline, node.output()
                time.sleep(0.5)
            yield node, f"http://127.0.0.1:{wallet_port}", chain
        finally:
            assert node.stop() == 0
    finally:
        stop_chain(chain.pid)


# the counter tests' chain, node and key holders, re-used here
lchain = counter_fixtures.lchain
counter_node = counter_fixtures.counter_node
parties = counter_fixtures.parties


def _ensure_chromium() -> bool:
    if os.path.exists(CHROMIUM):
        return True
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return False
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], capture_output=True)
    return os.path.exists(CHROMIUM)


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in the main
# thread while it is open, and a later test module in the same worker that calls asyncio.run()
# would fail ("cannot be called from a running event loop").
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not _ensure_chromium():
        pytest.skip("Debian's chromium is not installed and apt-get cannot install it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    try:
        yield pg
    finally:
        context.close()


def shot(page: Any, name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def scan(page: Any, token: str) -> str:
    """Type the token into the focused field as a scan gun does, then Enter; the overall verdict."""
    assert page.evaluate("document.activeElement.id") == "token"
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    page.wait_for_selector("#result")
    return str(page.get_attribute("#result h2", "data-verdict"))
