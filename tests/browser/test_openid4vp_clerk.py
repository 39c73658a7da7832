"""The clerk page asks a wallet (OpenID4VP, issue 22) in Chromium: the clerk starts a request,
the QR code and the link show, a holder answers (the Python holder of the OpenID4VP API tests,
tests/node/openid4vp/conftest.py) and the page shows VALID without a reload; the same response
again is refused (409 ``replayed``). The panel fits a phone, speaks one language and passes axe
(the checks of test_pages_fit).

Stable hooks of the clerk page's panel (other tests, e.g. the done-when test, rely on them):

- ``#oid4vp`` the panel; ``#oid4vp-form`` its form (``name=licenceTypes`` checkboxes with type
  codes, FOOD-OPERATION ticked; ``name=fields`` checkboxes, name/number/validUntil ticked;
  ``name=responseMode`` radios ``direct_post`` (default) / ``direct_post.jwt``; ``name=flow``
  radios ``cross-device`` (default) / ``same-device``), submitted by ``#oid4vp-submit``;
- after submitting (``/clerk?request=<id>#oid4vp``): ``#oid4vp-qr`` (a figure holding the QR
  code's ``<svg>``, ``data-version`` its QR version), ``#oid4vp-url`` (a read-only input with
  the ``openid4vp://`` link), ``#oid4vp-link`` (the same link as ``<a href>``),
  ``#oid4vp-request-id`` (the request id);
- ``#oid4vp-status`` (``aria-live=polite``) holds ``[data-state]`` (``pending``,
  ``answering``, ``answered``, ``failed``, ``expired``); once answered
  ``#oid4vp-status [data-verdict]`` on the overall verdict (``h3``, e.g. ``VALID``,
  ``REFUSED``), a ``.card[data-verdict]`` per credential with ``[data-field=<name>]`` for each
  field disclosed, ``#oid4vp-receipt`` the verification record's receipt link; when failed or
  expired ``#oid4vp-new`` starts again; ``#oid4vp-refresh`` reloads the status without script.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc.jwk import ECKey

from credledger.node.core import sdjwt
from tests.browser.conftest import shot
from tests.browser.test_pages_fit import AXE, _check
from tests.node.credentials import conftest as credential_fixtures
from tests.node.openid4vp.conftest import TOKENS, Asked, CredEnv, held, present, respond

pytestmark = pytest.mark.chain

cred = credential_fixtures.cred  # the credentials tests' chain and node (SD-JWT VC issuance)


def _sign_in(page: Any, cred: CredEnv, lang: str) -> None:
    page.goto(f"{cred.node.url}/clerk?lang={lang}")
    page.fill("#token", TOKENS["market"])
    page.click("button[type=submit]")
    page.wait_for_selector("#oid4vp-form")


def _asked(cred: CredEnv, link: str) -> Asked:
    """What a wallet reads from the link: the signed request object behind ``request_uri``."""
    q = parse_qs(urlsplit(link).query)
    got = cred.node.client.get(q["request_uri"][0])
    assert got.status_code == 200, got.text
    header, claims = sdjwt.unverified(got.text)
    rid = q["request_uri"][0].rsplit("/", 2)[-2]
    return Asked(rid, {}, claims, header, got.text)


def test_the_clerk_page_asks_a_wallet_and_shows_the_verdict_without_reload(
    browser: Any, cred: CredEnv
) -> None:
    holder = ECKey.generate_key("P-256")
    lid, vc = held(cred, holder)
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-US", bypass_csp=True
    )  # fmt: skip  (only to inject axe-core)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        _sign_in(page, cred, "en")
        # the matter: the default type and fields; by keyboard
        assert page.is_checked("#oid4vp-form input[name=licenceTypes][value=FOOD-OPERATION]")
        for f in ("name", "number", "validUntil"):
            assert page.is_checked(f"#oid4vp-form input[name=fields][value={f}]")
        assert page.is_checked("#oid4vp-form input[name=responseMode][value=direct_post]")
        page.focus("#oid4vp-submit")
        page.keyboard.press("Enter")
        page.wait_for_selector("#oid4vp-qr svg")
        link = str(page.get_attribute("#oid4vp-link", "href"))
        assert link.startswith("openid4vp://?client_id=x509_hash%3A"), link
        assert page.input_value("#oid4vp-url") == link
        assert page.get_attribute("#oid4vp-qr", "aria-label")
        assert int(str(page.get_attribute("#oid4vp-qr", "data-version"))) <= 10
        box = page.locator("#oid4vp-qr svg").bounding_box()
        assert box is not None and box["width"] >= 240 and box["height"] >= 240, box
        assert page.get_attribute("#oid4vp-status", "aria-live") == "polite"
        assert page.get_attribute("#oid4vp-status [data-state]", "data-state") == "pending"
        _check(page, "en", "desktop", "oid4vp-clerk-pending", errors)

        # from here on, no navigation: the verdict comes through the long poll
        navigations: list[str] = []
        page.on("framenavigated", lambda f: navigations.append(f.url) if f == page.main_frame
                else None)  # fmt: skip
        page.evaluate("window.__stayed = 42")
        asked = _asked(cred, link)
        qid = asked.request["dcql_query"]["credentials"][0]["id"]
        vp = present(vc, holder, asked)
        r = respond(cred, asked, {qid: [vp]})
        assert r.status_code == 200 and r.json() == {}, r.text
        page.wait_for_selector("#oid4vp-status [data-verdict]", timeout=30_000)
        assert page.get_attribute("#oid4vp-status h3[data-verdict]", "data-verdict") == "VALID"
        assert page.evaluate("window.__stayed") == 42 and navigations == [], navigations
        card = page.locator("#oid4vp-status .card").first
        assert card.get_attribute("data-verdict") == "VALID"
        assert card.locator("[data-field=number]").inner_text().startswith("JY")
        receipt = page.get_attribute("#oid4vp-receipt", "href")
        assert receipt and receipt.startswith("/v1/verifications/vr_"), receipt
        assert "Food" in card.inner_text()
        assert lid  # the licence the card names is the one presented
        _check(page, "en", "desktop", "oid4vp-clerk-valid", errors)
        shot(page, "oid4vp-clerk-valid")

        # the same response again: refused, the verdict shown stays
        again = respond(cred, asked, {qid: [vp]})
        assert again.status_code == 409 and again.json()["error"] == "replayed", again.text
    finally:
        context.close()


def test_the_panel_fits_a_phone_in_chinese(browser: Any, cred: CredEnv) -> None:
    assert AXE.is_file(), "axe-core is missing: run `make setup`"
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                  bypass_csp=True)  # fmt: skip
    errors: list[str] = []
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        _sign_in(page, cred, "zh-CN")
        _check(page, "zh", "phone", "oid4vp-clerk-form", errors)
        page.check("#oid4vp-form input[name=flow][value=same-device]")
        page.check("#oid4vp-form input[name=responseMode][value='direct_post.jwt']")
        page.click("#oid4vp-submit")
        page.wait_for_selector("#oid4vp-qr svg")
        box = page.locator("#oid4vp-qr svg").bounding_box()
        assert box is not None and box["width"] >= 240 and box["x"] + box["width"] <= 390, box
        _check(page, "zh", "phone", "oid4vp-clerk-pending", errors)
        # without script the refresh link shows the same status
        page.click("#oid4vp-refresh")
        page.wait_for_selector("#oid4vp-status [data-state=pending]")
    finally:
        context.close()


def test_same_device_the_wallets_browser_comes_back_to_the_result(
    browser: Any, cred: CredEnv
) -> None:
    """The clerk's panel on the phone itself ("this device"): the wallet answers, the node's
    answer sends its browser to the result page with the response code in the fragment, and
    the page shows the verdict and the fields disclosed (the code moved to the query)."""
    holder = ECKey.generate_key("P-256")
    _, vc = held(cred, holder)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                  bypass_csp=True)  # fmt: skip
    errors: list[str] = []
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        _sign_in(page, cred, "zh-CN")
        page.check("#oid4vp-form input[name=flow][value=same-device]")
        page.click("#oid4vp-submit")
        page.wait_for_selector("#oid4vp-link")
        asked = _asked(cred, str(page.get_attribute("#oid4vp-link", "href")))
        qid = asked.request["dcql_query"]["credentials"][0]["id"]
        r = respond(cred, asked, {qid: [present(vc, holder, asked)]})
        assert r.status_code == 200, r.text
        back = r.json()["redirect_uri"]
        assert "#response_code=" in back
        page.wait_for_selector("#oid4vp-status h3[data-verdict=VALID]", timeout=30_000)
        done = context.new_page()
        done.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        done.goto(back)
        done.wait_for_selector("#oid4vp-done [data-verdict]")
        assert done.get_attribute("#oid4vp-done p[data-verdict]", "data-verdict") == "VALID"
        assert "response_code=" in urlsplit(done.url).query and not urlsplit(done.url).fragment
        assert done.locator("[data-field=number]").inner_text().startswith("JY")
        _check(done, "zh", "phone", "oid4vp-same-device-done", errors)
    finally:
        context.close()
