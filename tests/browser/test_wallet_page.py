"""The wallet page (``/`` of the wallet service) in a real Chromium, as an enterprise uses it:
a real anvil, node and wallet process; nothing mocked."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from credledger.node.core.signer import dev_account
from tests.browser.conftest import shot
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

CONTRACT = b"%PDF-1.4\n% supply contract\n" + bytes(range(256)) * (12 * 1024)  # 3 MiB


def sign_in(page: Any, url: str, ent: Enterprise, lang: str = "en") -> None:
    page.goto(f"{url}/?lang={lang}")
    page.fill("#uscc", ent.uscc)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#who")


def until(page: Any, expression: str, timeout: float = 20) -> None:
    """Poll a JavaScript expression until it is true (the page's CSP forbids wait_for_function's
    string evaluation, rightly)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"not true within {timeout} s: {expression}"
        time.sleep(0.05)


def done(page: Any, key: str) -> None:
    page.wait_for_selector(f"#done[data-done='{key}']")
    assert page.query_selector("#error") is None, page.inner_text("#error")


def test_enterprise_files_confirms_grants_revokes_presents_and_exports(
    page: Any,
    wenv: WalletEnv,  # noqa: F811
    wallet: Wallet,  # noqa: F811
    enterprise: Enterprise,  # noqa: F811
    tmp_path: Path,
) -> None:
    ent = enterprise
    licence = wenv.issue_licence(ent.uscc, ent.address)

    # sign in, in English
    page.goto(f"{wallet.url}/?lang=en")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == "Enterprise wallet sign-in"
    shot(page, "wallet-sign-in-en")
    sign_in(page, wallet.url, ent)
    assert ent.name in page.inner_text("#who")
    row = page.locator(f"#licences [data-asset='{licence}']")
    assert row.locator(".badge").get_attribute("data-status") == "ACTIVE"
    assert "ACTIVE" in row.inner_text() and "Bound" in row.inner_text()
    shot(page, "wallet-signed-in-en")

    # file a material: the suggested folder, the progress bar up to 100 %, then it is listed
    page.click("#tab-materials")
    doc = tmp_path / "supply-contract-2026.pdf"
    doc.write_bytes(CONTRACT)
    page.set_input_files("#file-input", str(doc))
    until(page, "document.getElementById('folder-suggestion').textContent.includes('Contracts')")
    page.click("#file-submit")
    until(page, "document.getElementById('upload-progress').value === 100")
    assert page.inner_text("#upload-percent") == "100 %"
    assert int(page.get_attribute("#upload-progress", "data-steps")) >= 2
    page.wait_for_selector("#upload-done")
    assert "Contracts" in page.inner_text("#upload-done")
    shot(page, "wallet-upload-100")
    done(page, "msg.filed")
    material = page.get_attribute("#materials-table li", "data-asset")
    assert material and material.startswith("0x")
    assert page.inner_text(f"#materials-table li[data-asset='{material}'] .folder") == "Contracts"
    shot(page, "wallet-filed")

    # once anchored it can be confirmed: the trusted badge
    deadline = time.monotonic() + 60
    while page.query_selector(f"li[data-asset='{material}'][data-state=anchored]") is None:
        assert time.monotonic() < deadline, "the material was not anchored within 60 s"
        time.sleep(0.5)
        page.goto(f"{wallet.url}/materials")
    assert page.inner_text(f"li[data-asset='{material}'] .badge") == "Anchored, unconfirmed"
    shot(page, "wallet-anchored")
    page.click(f"li[data-asset='{material}'] button.confirm")
    done(page, "msg.confirmed")
    assert page.get_attribute(f"li[data-asset='{material}'] .badge", "data-label") == "trusted"
    assert page.inner_text(f"li[data-asset='{material}'] .badge") == "Trusted"
    shot(page, "wallet-confirmed")

    # grant it to a bank: active; revoke it: revoked
    page.click("#tab-grants")
    bank = dev_account(BANK).address
    page.select_option("#grant-asset", material)
    page.fill("#grantee", bank)
    page.select_option("#purpose", "LOAN-APPLICATION")
    page.fill("#max-uses", "2")
    page.click("#grant-submit")
    done(page, "msg.granted")
    grant = page.locator("#grants-table li").first
    assert grant.get_attribute("data-state") == "active"
    assert bank in grant.inner_text() and "Loan application" in grant.inner_text()
    assert "0 / 2" in grant.inner_text()
    grant_id = grant.get_attribute("data-grant")
    shot(page, "wallet-granted")
    page.click(f"li[data-grant='{grant_id}'] button.revoke")
    done(page, "msg.revoked")
    assert page.get_attribute(f"li[data-grant='{grant_id}']", "data-state") == "revoked"
    assert "Revoked" in page.inner_text(f"li[data-grant='{grant_id}'] .badge")
    assert page.query_selector(f"li[data-grant='{grant_id}'] button.revoke") is None
    shot(page, "wallet-revoked")

    # show a QR code for the licence and the material; it refreshes itself before it expires
    page.click("#tab-qr")
    page.check(f"#qr-form input[value='{licence}']")
    page.check(f"#qr-form input[value='{material}']")
    page.fill("#audience", "yangpu-counter")
    page.select_option("#qr-ttl", "30")
    page.click("#qr-submit")
    page.wait_for_selector("#qr-box svg")
    token = page.input_value("#qr-token")
    assert token.startswith("CLP1"), token[:40]
    assert re.search(r"\d+", page.inner_text("#qr-countdown"))
    shot(page, "wallet-qr")
    until(
        page,
        f"!!document.getElementById('qr-token') && "
        f"document.getElementById('qr-token').value !== {token!r}",
        timeout=40,
    )
    fresh = page.input_value("#qr-token")
    assert fresh.startswith("CLP1") and fresh != token
    shot(page, "wallet-qr-refreshed")

    # history: the events, and the CSV for Excel (UTF-8 with a BOM)
    page.goto(f"{wallet.url}/history")
    actions = {r.get_attribute("data-action") for r in page.query_selector_all("#history-table li")}
    assert {"material-filed", "material-confirmed", "granted", "revoked"} <= actions
    assert "presentation" in actions
    shown = page.locator("#history-table li[data-kind=presentation]").first.inner_text()
    assert "Food business permit" in shown and "supply-contract-2026.pdf" in shown
    shot(page, "wallet-history")
    with page.expect_download() as got:
        page.click("#history-csv")
    data = Path(got.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Time (UTC+08:00),")
    assert "Granted" in text and grant_id in text and bank in text

    # the same page in Chinese, remembered; then sign out
    page.goto(f"{wallet.url}/?lang=zh")
    page.goto(f"{wallet.url}/")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("#assets-h") == "证照"
    page.goto(f"{wallet.url}/materials")
    assert page.inner_text(f"li[data-asset='{material}'] .badge") == "可信"
    page.goto(f"{wallet.url}/grants")
    assert page.inner_text(f"li[data-grant='{grant_id}'] .badge") == "已撤销"
    shot(page, "wallet-signed-in-zh")
    page.click("#signout")
    done(page, "msg.signed_out")
    assert page.query_selector("#login-form") is not None
    shot(page, "wallet-signed-out-zh")


def test_sign_in_with_the_keyboard_only_in_chinese(
    page: Any,
    wallet: Wallet,  # noqa: F811
    enterprise: Enterprise,  # noqa: F811
) -> None:
    page.goto(f"{wallet.url}/")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("h1") == "企业钱包登录"
    assert page.evaluate("document.activeElement.id") == "uscc"
    page.keyboard.type(enterprise.uscc)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "login"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    # the focus is visible
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.type(PASSWORD)
    shot(page, "wallet-sign-in-keyboard-zh")
    page.keyboard.press("Enter")
    page.wait_for_selector("#who")
    assert page.inner_text("#assets-h") == "证照"
    # every field of the signed-in page has a label, and nothing is loaded from another host
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
        ".filter(e => e.labels.length === 0 && !e.closest('label')).map(e => e.name)"
    )
    assert unlabelled == []
    html = page.content()
    assert "http://" not in html and "https://" not in html
    shot(page, "wallet-signed-in-keyboard-zh")


def test_posts_without_the_csrf_token_are_refused(
    wallet: Wallet,  # noqa: F811
    enterprise: Enterprise,  # noqa: F811
) -> None:
    with httpx.Client(base_url=wallet.url, timeout=30) as c:
        # sign-in needs the pre-session token of the page's cookie
        r = c.post("/web/login", data={"uscc": enterprise.uscc, "password": PASSWORD})
        assert r.status_code == 403 and "wallet_session" not in r.headers.get("set-cookie", "")
        page = c.get("/")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf
        r = c.post(
            "/web/login",
            data={"csrf": csrf.group(1), "uscc": enterprise.uscc, "password": PASSWORD},
        )
        assert r.status_code == 303, r.text
        cookie = r.headers["set-cookie"].lower()
        assert "wallet_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        signed_in = c.get("/")
        assert 'id="who"' in signed_in.text
        good = re.search(r'name="csrf" value="([^"]+)"', signed_in.text)
        assert good
        # a session but no (or a wrong) CSRF token: refused, nothing done
        bank = dev_account(BANK).address
        body = {"assetId": "0x" + "11" * 32, "grantee": bank, "purpose": "AUDIT",
                "until": "2030-01-01", "maxUses": "1"}  # fmt: skip
        for extra in ({}, {"csrf": "x" * len(good.group(1))}):
            r = c.post("/web/grants", data={**body, **extra})
            assert r.status_code == 403 and 'id="refused"' in r.text
            r = c.post("/web/materials", data=extra, files={"file": ("a.pdf", b"%PDF-1.4 x")})
            assert r.status_code == 403
            r = c.post("/web/qr", data={"asset": "0x" + "11" * 32, **extra})
            assert r.status_code == 403
            r = c.post("/web/logout", data=extra)
            assert r.status_code == 403
        assert wallet.ok(wallet.get("/v1/grants", enterprise.token))["grants"] == []
        assert wallet.ok(wallet.get("/v1/materials", enterprise.token))["materials"] == []
        # with the token a domain error is a message on the page, not a traceback
        r = c.post("/web/grants", data={**body, "csrf": good.group(1)})
        assert r.status_code == 404 and 'id="error"' in r.text and "Traceback" not in r.text
        # the session still works: the CSRF refusals signed nobody out
        assert 'id="who"' in c.get("/").text


@pytest.mark.parametrize("size", [(1280, 900), (390, 844)], ids=["desktop", "phone"])
def test_a_grant_to_an_address_book_entry_shows_its_name(
    page: Any,
    wenv: WalletEnv,  # noqa: F811
    wallet: Wallet,  # noqa: F811
    enterprise: Enterprise,  # noqa: F811
    size: tuple[int, int],
) -> None:
    ent = enterprise
    licence = wenv.issue_licence(ent.uscc, ent.address)
    bank = dev_account(BANK).address
    page.set_viewport_size({"width": size[0], "height": size[1]})
    sign_in(page, wallet.url, ent, "zh")
    page.click("#tab-grants")
    assert page.query_selector("#grantee-book") is None  # an empty book offers nothing
    # add the bank to the address book from the grants view
    page.fill("#book-name", "上海银行")
    page.fill("#book-address", bank)
    page.fill("#book-note", "流动资金贷款")
    page.click("#book-submit")
    done(page, "msg.grantee_added")
    entry = page.locator(f"#book-list li[data-grantee='{bank}']")
    assert "上海银行" in entry.inner_text() and "流动资金贷款" in entry.inner_text()
    # the grant form offers its name, with the address as the option's secondary text
    options = page.eval_on_selector_all(
        "#grantee-book option", "os => os.map(o => [o.value, o.textContent])"
    )
    assert options == [["上海银行", bank]]
    assert page.get_attribute("#grantee", "list") == "grantee-book"
    page.select_option("#grant-asset", licence)
    page.fill("#grantee", "上海银行")
    page.select_option("#purpose", "ACCOUNT-OPENING")
    page.click("#grant-submit")
    done(page, "msg.granted")
    # the grant shows the name, and the address as smaller, muted secondary text
    card = page.locator("#grants-table li").first
    shown = card.locator("dd.grantee")
    assert shown.locator("span.data").inner_text() == "上海银行"
    secondary = shown.locator("small")
    assert secondary.inner_text() == bank
    name_px = float(
        shown.locator("span.data").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    )
    sub_px = float(secondary.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    assert sub_px < name_px
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"wallet-address-book-{'phone' if size[0] < 500 else 'desktop'}-zh")
    # axe-core finds nothing serious or critical in the view with a filled address book
    from tests.browser.test_pages_fit import AXE, AXE_RUN

    page.evaluate(AXE.read_text(encoding="utf-8"))  # through the debugger, not the page's CSP
    assert page.evaluate(AXE_RUN) == []
    # in English too; the history names what happened
    page.goto(f"{wallet.url}/history?lang=en")
    actions = {r.get_attribute("data-action") for r in page.query_selector_all("#history-table li")}
    assert "grantee-added" in actions
    assert "Grantee added to the address book" in page.inner_text("#history-table")
