"""The Counter issue's "done when", as a new user meets it: `credledger up` with the devnet demo
and the wallet beside the node (what `make run` starts), then Chromium. The wallet page shows a QR
of the demo enterprise's licences; its token typed into the clerk page gives VALID cards and a
receipt; a second scan, an expired token and a token with one character changed are refused with
their reasons; a suspension shows SUSPENDED with reason and time on the next scan."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from credledger.node.core import presentation as pr
from credledger.node.core.demo import DEMO_ENTERPRISE_USCC, DEMO_HOLDER_DEV_ACCOUNT
from credledger.node.core.signer import dev_account
from credledger.node.demo.licences import CLERK_TOKEN
from credledger.node.devnet import DevnetInfo
from credledger.wallet.demo import DEMO_PASSWORD
from tests.browser.conftest import demo_up, scan, shot
from tests.support.node_process import UpProcess

pytestmark = pytest.mark.chain

ENFORCEMENT_TOKEN = "devnet-enforcement-token"


@pytest.fixture
def up(tmp_path: Path) -> Iterator[tuple[UpProcess, str, DevnetInfo]]:
    with demo_up(tmp_path) as up:
        yield up


def _codes(page: Any) -> list[str]:
    return [str(e.get_attribute("data-code")) for e in page.query_selector_all("#result li")]


def _show_qr(wallet_page: Any, licences: list[str]) -> str:
    for lid in licences:
        wallet_page.check(f"#qr-form input[value='{lid}']")
    wallet_page.click("#qr-submit")
    wallet_page.wait_for_selector("#qr-box svg")
    token = str(wallet_page.input_value("#qr-token"))
    assert token.startswith("CLP1"), token[:40]
    return token


def test_make_run_wallet_qr_to_clerk_cards_refusals_and_suspension(
    browser: Any, up: tuple[UpProcess, str, DevnetInfo]
) -> None:
    node, wallet_url, _ = up
    out = node.output()
    assert f"{node.url}/clerk" in out and f"/e/{DEMO_ENTERPRISE_USCC}" in out
    assert f"USCC {DEMO_ENTERPRISE_USCC}, password {DEMO_PASSWORD}" in out and wallet_url in out
    holder = dev_account(DEMO_HOLDER_DEV_ACCOUNT).address.lower()
    view = httpx.get(f"{node.url}/v1/enterprises/{DEMO_ENTERPRISE_USCC}", timeout=30).json()
    licences = [
        lic["licenceId"]
        for lic in view["licences"]
        if lic["status"] == "ACTIVE" and str(lic.get("holderAddress") or "").lower() == holder
    ]
    assert len(licences) == 2, view

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        wallet, clerk = context.new_page(), context.new_page()
        for pg in (wallet, clerk):
            pg.set_default_timeout(30_000)
        # the enterprise signs in to the wallet with what `up` printed and shows a QR code
        wallet.goto(f"{wallet_url}/?lang=en")
        wallet.fill("#uscc", DEMO_ENTERPRISE_USCC)
        wallet.fill("#password", DEMO_PASSWORD)
        wallet.click("#login-form button[type=submit]")
        wallet.wait_for_selector("#who")
        for lid in licences:
            badge = wallet.locator(f"#licences [data-asset='{lid}'] .badge")
            assert badge.get_attribute("data-status") == "ACTIVE"
        token = _show_qr(wallet, licences)
        shot(wallet, "done-when-wallet-qr")

        # the clerk signs in and the scan gun types the token: VALID cards and a receipt link
        clerk.goto(f"{node.url}/clerk?lang=en")
        clerk.fill("#token", CLERK_TOKEN)
        clerk.click("button[type=submit]")
        clerk.wait_for_selector("#scan-form")
        assert scan(clerk, token) == "VALID"
        cards = clerk.query_selector_all("#result .card")
        assert [c.get_attribute("data-verdict") for c in cards] == ["VALID", "VALID"]
        record = clerk.get_attribute("#result .record a", "href")
        assert record and re.match(r"^/v1/verifications/vr_\w+/receipt$", record), record
        shot(clerk, "done-when-clerk-valid")

        # the same code again, an expired one, one with a character changed
        assert scan(clerk, token) == "REFUSED" and "REPLAYED" in _codes(clerk)
        key = pr.ChainKeySigner(dev_account(DEMO_HOLDER_DEV_ACCOUNT).key)
        ids = [bytes.fromhex(lid[2:]) for lid in licences]
        chain_id = int(httpx.get(f"{wallet_url}/v1/info", timeout=30).json()["chainId"])
        old = pr.create(key, ids, chain_id, ttl=60, issued_at=int(time.time()) - 200).encode()
        assert scan(clerk, old) == "REFUSED" and "TOKEN_EXPIRED" in _codes(clerk)
        fresh = _show_qr(wallet, licences)
        i = len(fresh) // 2
        tampered = fresh[:i] + ("A" if fresh[i] != "A" else "B") + fresh[i + 1 :]
        assert scan(clerk, tampered) == "REFUSED"
        assert set(_codes(clerk)) & {"BAD_SIGNATURE", "TOKEN_MALFORMED"}
        shot(clerk, "done-when-clerk-tampered")

        # the enforcement department suspends the food permit: the next scan shows it
        food = next(lic for lic in view["licences"] if lic["licenceId"] in licences
                    and lic["type"]["code"] == "FOOD-OPERATION")  # fmt: skip
        r = httpx.post(
            f"{node.url}/v1/licences/{food['licenceId']}/suspend",
            headers={"Authorization": f"Bearer {ENFORCEMENT_TOKEN}"},
            json={"reasonCode": 1, "note": "inspection"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert scan(clerk, _show_qr(wallet, licences)) == "INVALID"
        suspended = clerk.locator(f"#result .card[data-asset='{food['licenceId']}']")
        if suspended.count() == 0:  # cards in token order
            suspended = clerk.locator("#result .card[data-verdict=SUSPENDED]")
        assert suspended.get_attribute("data-verdict") == "SUSPENDED"
        assert suspended.locator(".status-reason").inner_text().strip()
        assert suspended.locator(".status-since").inner_text().startswith("20")
        shot(clerk, "done-when-clerk-suspended")

        # the receipt of the first check downloads once its batch is anchored
        deadline = time.monotonic() + 90
        while True:
            got = httpx.get(f"{node.url}{record}", timeout=30)
            if got.status_code == 200:
                break
            assert got.status_code == 409 and time.monotonic() < deadline, got.text
            time.sleep(1)
        assert got.json()["format"] == "credledger-verification-receipt-1"

        # the holder's side: the wallet's history lists the presentations with their checks
        wallet.goto(f"{wallet_url}/history?lang=en")
        rows = wallet.query_selector_all("#history-table li[data-kind=presentation]")
        assert len(rows) >= 3
        shot(wallet, "done-when-wallet-history")
    finally:
        context.close()
