"""The clerk page and the enterprise-code page in a real Chromium, as a clerk uses them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import segno

from tests.browser.conftest import scan, shot
from tests.node.counter.conftest import TOKENS, Parties, lid
from tests.node.licences.conftest import ENTERPRISE, document


def sign_in(page: Any, parties: Parties) -> None:
    page.goto(parties.node.url + "/clerk?lang=en")
    page.fill("#token", TOKENS["clerk"])
    page.click("button[type=submit]")
    page.wait_for_selector("#scan-form")


def card_verdicts(page: Any) -> list[str]:
    return [c.get_attribute("data-verdict") for c in page.query_selector_all("#result .card")]


def test_clerk_scans_uploads_and_sees_refusals(page: Any, parties: Parties, tmp_path: Path) -> None:
    doc = document("browser")
    food, business = parties.issue(doc=doc), parties.issue("BL-BUSINESS")
    assets = [lid(food), lid(business)]
    sign_in(page, parties)
    shot(page, "clerk-signed-in")

    token = parties.token(assets).encode()
    assert scan(page, token) == "VALID"
    assert card_verdicts(page) == ["VALID", "VALID"]
    first_card = page.locator("#result .card").first.inner_text()
    assert "market" in first_card and "2024-01-01 – 2036-12-31" in first_card
    shot(page, "clerk-valid")

    # the same code a second time
    assert scan(page, token) == "REFUSED"
    assert page.query_selector("#result .token-reasons li[data-code=REPLAYED]") is not None
    shot(page, "clerk-replayed")

    # a code older than its validity, and one with a character changed
    old = parties.token(assets, ttl=60, issued_at=int(time.time()) - 200).encode()
    assert scan(page, old) == "REFUSED"
    assert page.query_selector("#result li[data-code=TOKEN_EXPIRED]") is not None
    fresh = parties.token(assets).encode()
    tampered = fresh[:80] + ("A" if fresh[80] != "A" else "B") + fresh[81:]
    assert scan(page, tampered) == "REFUSED"
    codes = [
        e.get_attribute("data-code") for e in page.query_selector_all("#result .token-reasons li")
    ]
    assert codes[0] in ("BAD_SIGNATURE", "TOKEN_MALFORMED")
    shot(page, "clerk-tampered")

    # a PNG of the QR code, decoded on the server
    png = tmp_path / "qr.png"
    segno.make(fresh, error="m", boost_error=False).save(str(png), scale=6)
    page.set_input_files("input[name=image]", str(png))
    page.click("form[enctype='multipart/form-data'] button")
    page.wait_for_selector("#result")
    assert page.get_attribute("#result h2", "data-verdict") == "VALID"
    shot(page, "clerk-qr-upload")

    # the licence's document against its card
    page.set_input_files("#result .card:first-child input[name=document]", _file(tmp_path, doc))
    page.click("#result .card:first-child form button")
    page.wait_for_selector("#result .doc-match")
    shot(page, "clerk-document")

    # today's verifications with receipt links: the document check is the latest
    record_link = page.get_attribute("#result .record a", "href")
    assert record_link and record_link.startswith("/v1/verifications/vr_")
    latest = page.query_selector("#today li a")
    assert latest is not None and latest.get_attribute("href") == record_link
    assert len(page.query_selector_all("#today li")) >= 6


def test_suspension_is_shown_with_reason_and_time(page: Any, parties: Parties) -> None:
    issued = parties.issue()
    path = f"/v1/licences/{issued['licenceId']}"
    sign_in(page, parties)
    assert scan(page, parties.token([lid(issued)]).encode()) == "VALID"
    parties.node.ok(parties.node.post(f"{path}/suspend", TOKENS["market"], json={"reasonCode": 1}))
    assert scan(page, parties.token([lid(issued)]).encode()) == "INVALID"
    assert card_verdicts(page) == ["SUSPENDED"]
    assert page.inner_text("#result .card .status-reason")
    assert page.inner_text("#result .card .status-since").startswith("20")
    shot(page, "clerk-suspended")
    # in Chinese too
    page.goto(parties.node.url + "/clerk?lang=zh-CN")
    page.fill("#token", parties.token([lid(issued)]).encode())
    page.keyboard.press("Enter")
    page.wait_for_selector("#result")
    assert "已暂停" in page.inner_text("#result .card .badge")
    shot(page, "clerk-suspended-zh")


def test_enterprise_code_page(page: Any, parties: Parties) -> None:
    issued = parties.issue()
    r = parties.node.get(f"/v1/enterprises/{ENTERPRISE}/qr.svg")
    url = r.headers["x-enterprise-code-url"]
    assert url.endswith(f"/e/{ENTERPRISE}")
    page.goto(parties.node.url + f"/e/{ENTERPRISE}?lang=en")
    assert ENTERPRISE in page.inner_text("h1")
    assert issued["serialNumber"] in page.inner_text("main")
    assert page.query_selector("img[src$='qr.svg']") is not None
    shot(page, "enterprise-page")


def test_pages_send_a_strict_csp_and_forms_need_csrf(parties: Parties) -> None:
    r = parties.node.get("/clerk")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert 'name="csrf"' in r.text
    # a login without the CSRF cookie is refused
    r = parties.node.post("/clerk/login", data={"token": TOKENS["clerk"], "csrf": "x"})
    assert r.status_code == 303 and "error=clerk.csrf" in r.headers["location"]


def _file(tmp_path: Path, data: bytes) -> str:
    p = tmp_path / "licence.pdf"
    p.write_bytes(data)
    return str(p)


def test_the_counter_shows_its_verifier_audience_and_a_code_bound_to_it_passes_once(
    page: Any, parties: Parties
) -> None:
    """The clerk page names this node's verifier audience (text and a QR image the node serves);
    a code bound to it is VALID here once (docs/counter.md: the fast path)."""
    issued = parties.issue()
    sign_in(page, parties)
    audience = page.inner_text("#verifier-audience").strip()
    assert audience == parties.node.ok(parties.node.get("/v1/verify/audience"))["audience"]
    assert audience.startswith("verifier:0x")
    page.wait_for_function("document.querySelector('section.verifier img').naturalWidth > 0")
    token = parties.token([lid(issued)], audience=audience).encode()
    assert scan(page, token) == "VALID"
    assert scan(page, token) == "REFUSED"
    assert page.query_selector("#result .token-reasons li[data-code=REPLAYED]") is not None
