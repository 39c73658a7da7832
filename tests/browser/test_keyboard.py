"""Every main flow with the keyboard alone (Tab, Shift+Tab, Enter, Space and typing; no mouse):
the wallet — sign in, the QR code for chosen licences, the address book, a grant and its
revocation — and the clerk's scan-gun flow. Every control on the way is reached by Tab and shows
where the focus is (an outline or a ring), in a real Chromium against real services."""

from __future__ import annotations

from typing import Any

import pytest

from credledger.node.core.signer import dev_account
from tests.browser.conftest import scan, shot
from tests.browser.test_wallet_page import done
from tests.node.counter.conftest import TOKENS, Parties, lid
from tests.wallet.conftest import (  # noqa: F401  (session fixtures used below)
    BANK,
    Enterprise,
    WalletEnv,
    enterprise,
    wallet,
    wenv,
)
from tests.wallet.harness import PASSWORD, Wallet

pytestmark = pytest.mark.chain

# the focused element, and whether a person can see that it has the focus
FOCUS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  const ring = !!s.boxShadow && s.boxShadow !== 'none';
  const r = e.getBoundingClientRect();
  const label = e.id || e.getAttribute('href') || e.getAttribute('name') || e.tagName;
  return {label: label, visible: (outline || ring) && r.width > 0 && r.height > 0};
}"""


def focused(page: Any) -> dict[str, Any] | None:
    got: dict[str, Any] | None = page.evaluate(FOCUS)
    return got


def tab_to(page: Any, selector: str, *, back: bool = False, limit: int = 80) -> None:
    """Press Tab (Shift+Tab) until ``selector`` has the focus; every stop on the way must show
    its focus. Fails if the control is not reachable within ``limit`` presses."""
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        now = focused(page)
        if now is None:
            continue
        assert now["visible"], f"the focus on {now['label']} is invisible (after {seen[-5:]})"
        seen.append(str(now["label"]))
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is not reachable with the keyboard; went through {seen}")


def test_the_wallet_with_the_keyboard_alone(
    page: Any,
    wenv: WalletEnv,  # noqa: F811
    wallet: Wallet,  # noqa: F811
    enterprise: Enterprise,  # noqa: F811
) -> None:
    ent = enterprise
    food = wenv.issue_licence(ent.uscc, ent.address)
    other = wenv.issue_licence(ent.uscc, ent.address, type="BL-BUSINESS")
    bank = dev_account(BANK).address

    # sign in: the USCC field has the focus, Tab to the password, Enter
    page.goto(f"{wallet.url}/?lang=en")
    assert page.evaluate("document.activeElement.id") == "uscc"
    page.keyboard.type(ent.uscc)
    tab_to(page, "#password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("#who")

    # the skip link is the first stop and is shown when focused; Enter moves to the content
    tab_to(page, "a.skip")
    assert page.evaluate("document.activeElement.getBoundingClientRect().left >= 0")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    # the QR code for chosen licences: Space unticks one, Enter on the button shows the code
    tab_to(page, f"#qr-form input[value='{other}']")
    assert page.evaluate("document.activeElement.checked")
    page.keyboard.press("Space")
    assert not page.evaluate("document.activeElement.checked")
    tab_to(page, "#qr-submit")
    page.keyboard.press("Enter")
    page.wait_for_selector("#qr-box svg")
    shot(page, "keyboard-qr")
    shown = wallet.ok(wallet.get("/v1/presentations", ent.token))["presentations"][0]
    assert shown["assetIds"] == [food.lower()]
    # the token text is reachable too (Enter opens its disclosure)
    tab_to(page, "#qr-box summary")
    page.keyboard.press("Enter")
    tab_to(page, "#qr-token")

    # to the grants view by its tab (Shift+Tab back up the page), Enter follows the link
    tab_to(page, "#tab-grants", back=True)
    page.keyboard.press("Enter")
    page.wait_for_selector("#grant-form")

    # add the bank to the address book: type, Tab, Space on the button
    tab_to(page, "#book-name")
    page.keyboard.type("Bank of Shanghai")
    tab_to(page, "#book-address")
    page.keyboard.type(bank)
    tab_to(page, "#book-submit")
    page.keyboard.press("Space")
    done(page, "msg.grantee_added")

    # grant the licence to it by name: the asset is the first choice, Tab to each field
    tab_to(page, "#grant-asset")
    assert page.evaluate("document.activeElement.value").lower() == food.lower()
    tab_to(page, "#grantee")
    page.keyboard.type("Bank of Shanghai")
    tab_to(page, "#grant-submit")
    tab_to(page, "#max-uses", back=True)  # Shift+Tab goes back one field at a time
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    tab_to(page, "#grant-submit")
    page.keyboard.press("Enter")
    done(page, "msg.granted")
    card = page.locator("#grants-table li").first
    assert "Bank of Shanghai" in card.inner_text() and "0 / 3" in card.inner_text()
    shot(page, "keyboard-granted")

    # revoke it with Enter on its button
    tab_to(page, "#grants-table button.revoke")
    page.keyboard.press("Enter")
    done(page, "msg.revoked")
    assert page.get_attribute("#grants-table li", "data-state") == "revoked"

    # the other views and the language switch are reachable; sign out with the keyboard
    for tab in ("#tab-history", "#tab-materials", "#tab-qr"):
        tab_to(page, tab, back=True)
    tab_to(page, "#signout", back=True)
    page.keyboard.press("Enter")
    done(page, "msg.signed_out")


def test_the_clerk_scan_gun_flow_with_the_keyboard_alone(page: Any, parties: Parties) -> None:
    food = parties.issue()
    page.goto(parties.node.url + "/clerk?lang=en")
    assert page.evaluate("document.activeElement.id") == "token"
    page.keyboard.type(TOKENS["clerk"])
    page.keyboard.press("Enter")
    page.wait_for_selector("#scan-form")
    # the scan field has the focus: the gun types the code and Enter, and again for the next
    assert scan(page, parties.token([lid(food)]).encode()) == "VALID"
    assert page.evaluate("document.activeElement.id") == "token"
    assert scan(page, parties.token([lid(food)]).encode()) == "VALID"
    shot(page, "keyboard-clerk")
    # every control of the verdict and the page is reachable with a visible focus
    tab_to(page, "#result .record a")
    tab_to(page, "#today li a")
    tab_to(page, "#token", back=True, limit=200)
