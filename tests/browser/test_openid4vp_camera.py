"""The wallet page's "scan to present" (issue 22 item 2) in Chromium, at phone size, against what
`make run` starts (`credledger up` with the devnet demo and the wallet beside the node):

- the decoder the page serves is jsQR exactly as npm publishes it (provenance);
- a fake camera plays a recording of the QR code of a request the counter made through the API
  (``POST /v1/presentation-requests``): the page reads it with the camera, shows who asks what,
  the enterprise adds a field and presents, and the node says VALID with the fields disclosed;
- the scan view, the consent page and the result (presented, declined) pass the page rules in
  both languages: fit 390 px, one language, axe-core, visible keyboard focus, no console error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from credledger.node.core import paths
from credledger.node.core.demo import DEMO_ENTERPRISE_USCC
from credledger.node.demo.licences import CLERK_TOKEN
from credledger.node.devnet import DevnetInfo
from credledger.wallet.demo import DEMO_PASSWORD
from tests.browser.conftest import ARGS, CHROMIUM, OUTPUT, _ensure_chromium, demo_up
from tests.browser.test_keyboard import tab_to
from tests.browser.test_pages_fit import AXE, SIZES, _check
from tests.browser.test_wallet_page import until
from tests.support.node_process import UpProcess

VENDORED = paths.ROOT / "wallet" / "web" / "static" / "vendor" / "jsQR.js"
PUBLISHED = paths.ROOT / "hardhat-free-devnet" / "node_modules" / "jsqr" / "dist" / "jsQR.js"
MATTER = {"licenceTypes": ["FOOD-OPERATION"], "fields": ["name", "number", "validUntil"]}
CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
# six view tabs side by side: each one's text inside its box, none over the next
TABS_APART = """() => {
  const tabs = [...document.querySelectorAll("nav.views a")];
  return tabs.length === 6 && tabs.every((a, i) => a.scrollWidth <= a.clientWidth + 1 &&
    (i === 0 || tabs[i - 1].getBoundingClientRect().right <= a.getBoundingClientRect().left + 1));
}"""


def test_the_served_decoder_is_jsqr_as_published() -> None:
    """wallet/web/static/vendor/jsQR.js is byte for byte the dist file of the jsqr package
    pinned in hardhat-free-devnet/package.json (1.4.0, Apache-2.0, its licence beside it)."""
    import json

    if not PUBLISHED.is_file():
        pytest.skip("node_modules is not installed: run `make setup` (npm ci)")
    manifest = paths.ROOT / "hardhat-free-devnet" / "package.json"
    assert json.loads(manifest.read_text())["devDependencies"]["jsqr"] == "1.4.0"
    meta = json.loads((PUBLISHED.parent.parent / "package.json").read_text())
    assert (meta["version"], meta["license"]) == ("1.4.0", "Apache-2.0")
    assert VENDORED.read_bytes() == PUBLISHED.read_bytes()
    licence = VENDORED.with_name("jsQR.LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0" in licence


# --- the fake camera -------------------------------------------------------------------------


def qr_frames(
    text: str, path: Path, *, size: tuple[int, int] = (640, 480), frames: int = 30
) -> int:
    """A recording of the QR code of ``text`` for Chromium's fake camera (:func:`recording`):
    the code made by segno (level M, quiet zone of 4). Returns the code's version."""
    import segno
    from PIL import Image

    qr = segno.make(text, error="m", micro=False, boost_error=False)
    rows = [list(r) for r in qr.matrix_iter(scale=1, border=4)]
    code = Image.new("L", (len(rows), len(rows)), 255)
    code.putdata([0 if dark else 255 for row in rows for dark in row])
    recording(code, path, size=size, frames=frames)
    return int(qr.version)


def recording(
    picture: Any, path: Path, *, size: tuple[int, int] = (640, 480), frames: int = 30
) -> None:
    """``picture`` (a PIL image of a QR code, quiet zone included) scaled large on white, as a
    YUV4MPEG2 (C420) file of ``frames`` frames: what Chromium's fake camera plays, in a loop."""
    from PIL import Image

    w, h = size
    gray = picture.convert("L")
    side = min(w, h) * 85 // 100
    if max(gray.size) <= side // 2:  # one pixel per module: whole pixels each, sharp edges
        k = side // max(gray.size)
        big = gray.resize((gray.width * k, gray.height * k), Image.Resampling.NEAREST)
    else:  # a screenshot of a code on a screen
        big = gray.resize((side, side * gray.height // gray.width), Image.Resampling.LANCZOS)
    frame = Image.new("L", (w, h), 255)
    frame.paste(big, ((w - big.width) // 2, (h - big.height) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * ((w // 2) * (h // 2))  # no colour
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + luma + chroma + chroma)


def camera_browser(playwright: Any, video: Path) -> Any:
    """A Chromium whose camera plays ``video`` (read when it starts) and asks no one."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[*ARGS, *CAMERA_ARGS, f"--use-file-for-fake-video-capture={video}"],
    )


def phone(
    browser: Any, wallet_url: str, lang: str = "zh", size: str = "phone", **extra: Any
) -> Any:
    """A browser context at phone size (390×844, touch) or desktop size, camera allowed."""
    w, h = SIZES[size]
    context = browser.new_context(
        viewport={"width": w, "height": h}, locale={"zh": "zh-CN", "en": "en-US"}[lang],
        is_mobile=size == "phone", has_touch=size == "phone", **extra,
    )  # fmt: skip
    context.grant_permissions(["camera"], origin=wallet_url)
    return context


def sign_in(page: Any, wallet_url: str) -> None:
    page.goto(f"{wallet_url}/")
    page.fill("#uscc", DEMO_ENTERPRISE_USCC)
    page.fill("#password", DEMO_PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#who")


def start_request(node_url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = httpx.post(
        f"{node_url}/v1/presentation-requests", json=body or MATTER,
        headers={"Authorization": f"Bearer {CLERK_TOKEN}"}, timeout=30,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    answer: dict[str, Any] = r.json()
    return answer


def request_state(node_url: str, rid: str, until: str = "answered") -> dict[str, Any]:
    """The request as the counter reads it, once it is ``until`` (polled for a few seconds)."""
    deadline = time.monotonic() + 30
    while True:
        r = httpx.get(f"{node_url}/v1/presentation-requests/{rid}",
                      headers={"Authorization": f"Bearer {CLERK_TOKEN}"}, timeout=30)  # fmt: skip
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["state"] == until or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def consent_asks(page: Any) -> dict[str, Any]:
    """What the consent page shows: the verifier, the query ids and the fields asked."""
    page.wait_for_selector("#consent")
    queries = page.query_selector_all("#consent-form fieldset.query")
    return {
        "name": page.inner_text("#verifier-name").strip(),
        "host": page.inner_text("#verifier-host").strip(),
        "trusted": page.get_attribute("#verifier", "data-trusted"),
        "queries": [q.get_attribute("data-query") for q in queries],
        "asked": [
            e.get_attribute("data-field") for e in page.query_selector_all("input[data-asked=true]")
        ],
        "legend": [q.query_selector("legend").inner_text() for q in queries],
    }


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[UpProcess, str, DevnetInfo]]:
    tmp = tmp_path_factory.mktemp("oid4vp-camera")
    with demo_up(tmp) as up:
        yield up


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    if not _ensure_chromium():
        pytest.skip("Debian's chromium is not installed and apt-get cannot install it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.mark.chain
def test_the_phone_scans_the_counters_qr_and_presents_valid(
    playwright: Any, up: tuple[UpProcess, str, DevnetInfo], tmp_path: Path
) -> None:
    node, wallet_url, _ = up
    asked = start_request(node.url)
    link = asked["authorizationRequest"]
    assert link.startswith("openid4vp://")
    recording = tmp_path / "counter-qr.y4m"
    assert qr_frames(link, recording) <= 10

    browser = camera_browser(playwright, recording)
    errors: list[str] = []
    try:
        context = phone(browser, wallet_url)  # the pages' own CSP in force (no bypass)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, wallet_url)
        page.click("#tab-present")
        page.wait_for_selector("#tab-present[aria-current=page]")
        page.wait_for_selector("#scanner:not([hidden])")  # the script found a camera API
        page.click("#scan-start")
        # the camera reads the code, fills the link and submits: the consent page
        shown = consent_asks(page)
        verifier = httpx.get(f"{node.url}/v1/openid4vp/verifier", timeout=30).json()
        assert shown["trusted"] == "true", shown  # the wallet's own node's verifier
        assert shown["name"] == verifier["name"], (shown, verifier)
        assert shown["host"].startswith("127.0.0.1"), shown
        assert page.get_attribute("#consent", "data-client-id") == verifier["clientId"]
        assert shown["queries"] == ["food_operation"], shown
        assert shown["asked"] == ["name", "number", "validUntil"], shown
        assert "食品经营许可证" in shown["legend"][0], shown
        # asked fields cannot be unticked; the enterprise adds the issuing authority
        assert page.is_disabled("input[data-asked=true][data-field=name]")
        page.check("fieldset.query input[data-field=authority]")
        page.screenshot(path=str(OUTPUT / "oid4vp-camera-consent-phone-zh.png"), full_page=True)
        page.click("#consent-present")
        page.wait_for_selector("#present-done[data-status=sent]")
        assert page.get_attribute("#present-done", "data-verifier-status") == "200"
        page.screenshot(path=str(OUTPUT / "oid4vp-camera-sent-phone-zh.png"), full_page=True)
        assert errors == [], errors
    finally:
        browser.close()

    state = request_state(node.url, asked["id"])
    assert state["state"] == "answered" and state["verdict"] == "VALID", state
    [cred] = state["credentials"]
    assert cred["credentialQueryId"] == "food_operation" and cred["verdict"] == "VALID", cred
    assert {"name", "number", "validUntil", "authority"} <= set(cred["disclosed"]), cred


@pytest.mark.chain
@pytest.mark.parametrize(("lang", "size"), [("zh", "phone"), ("en", "phone"), ("zh", "desktop")])
def test_scan_consent_and_result_pass_the_page_rules(
    playwright: Any, up: tuple[UpProcess, str, DevnetInfo], lang: str, size: str, tmp_path: Path
) -> None:
    """The scan view, the consent page and the result at 390 px in each language, and on a
    desktop (the link pasted; the camera is the test above): fits, one language, axe, keyboard,
    no console error.
    In Chinese the enterprise presents; in English it declines (the counter sees REFUSED)."""
    assert AXE.is_file(), "axe-core is missing: run `make setup` (npm ci in hardhat-free-devnet)"
    node, wallet_url, _ = up
    OUTPUT.mkdir(parents=True, exist_ok=True)
    recording = tmp_path / "blank.y4m"
    qr_frames("not a request", recording, frames=2)
    browser = camera_browser(playwright, recording)
    errors: list[str] = []
    try:
        # bypass_csp only so that the test can inject axe-core (the camera test runs with it)
        context = phone(browser, wallet_url, lang, size, bypass_csp=True)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, wallet_url)
        page.click("#tab-present")
        page.wait_for_selector("#scanner:not([hidden])")
        _check(page, lang, size, "wallet-present", errors)
        assert page.evaluate(TABS_APART), f"the view tabs overlap ({size})"
        # a code that is not a request: said so, the camera keeps looking
        page.click("#scan-start")
        page.wait_for_selector("#scanner[data-result=scanning]")
        other = page.get_attribute("#scanner", "data-other")
        until(page, f"document.getElementById('scan-status').textContent === {other!r}")
        assert page.url.endswith("/present")  # nothing submitted
        page.click("#scan-stop")
        page.wait_for_selector("#scan-video[hidden]", state="attached")

        # a link that is not a request: the reason in the page's language, the link kept
        page.fill("#present-link", "openid4vp://?client_id=nobody")
        page.click("#present-submit")
        page.wait_for_selector("#error")
        assert page.input_value("#present-link") == "openid4vp://?client_id=nobody"
        # the browser logs the page's own 4xx status; nothing else may be there
        assert all("status of 422" in e for e in errors), errors
        errors.clear()
        _check(page, lang, size, "wallet-present-error", errors)
        # a post without the form's CSRF token does nothing
        bare = page.request.post(f"{wallet_url}/web/present", form={"link": "x"})
        assert bare.status == 403, bare.status

        asked = start_request(node.url)
        page.fill("#present-link", "")
        tab_to(page, "#present-link")
        page.keyboard.type(asked["authorizationRequest"])
        page.keyboard.press("Enter")
        page.wait_for_selector("#consent")
        _check(page, lang, size, "wallet-consent", errors)
        # (docs/img/wallet-consent-phone.png is this screenshot in Chinese)
        page.screenshot(path=str(OUTPUT / f"oid4vp-consent-{size}-{lang}.png"), full_page=True)
        button = "#consent-present" if lang == "zh" else "#consent-decline"
        tab_to(page, button)
        page.keyboard.press("Enter")
        page.wait_for_selector("#present-done")
        status = "sent" if lang == "zh" else "declined"
        assert page.get_attribute("#present-done", "data-status") == status
        _check(page, lang, size, f"wallet-present-{status}", errors)
    finally:
        browser.close()
    state = request_state(node.url, asked["id"])
    want = ("VALID", None) if lang == "zh" else ("REFUSED", "wallet_error")
    assert state["verdict"] == want[0], state
    if want[1]:
        assert want[1] in state["reasonCodes"], state


@pytest.mark.chain
def test_a_link_opened_on_the_phone_lands_on_the_scan_view(
    playwright: Any, up: tuple[UpProcess, str, DevnetInfo], tmp_path: Path
) -> None:
    """Same-device: ``openid4vp://?client_id=…&request_uri=…`` opened as the wallet's
    ``/openid4vp?client_id=…&request_uri=…``, before sign-in: sign-in lands on the scan view
    with the link filled in, one tap shows the request."""
    node, wallet_url, _ = up
    asked = start_request(node.url)
    query = asked["authorizationRequest"].split("?", 1)[1]
    recording = tmp_path / "blank.y4m"
    qr_frames("nothing", recording, frames=2)
    browser = camera_browser(playwright, recording)
    try:
        page = phone(browser, wallet_url, "en").new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{wallet_url}/openid4vp?{query}")
        page.fill("#uscc", DEMO_ENTERPRISE_USCC)
        page.fill("#password", DEMO_PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#present-form")
        assert page.url.endswith("/present")
        assert page.input_value("#present-link") == asked["authorizationRequest"]
        page.click("#present-submit")
        assert consent_asks(page)["queries"] == ["food_operation"]
        page.click("#consent-present")
        page.wait_for_selector("#present-done[data-status=sent]")
    finally:
        browser.close()
    assert request_state(node.url, asked["id"])["verdict"] == "VALID"


def test_the_consent_form_reads_back_as_the_holders_choices() -> None:
    """The consent page's fields become the holder's choices; a verifier's redirect_uri is a
    link only if it is http(s)."""
    from credledger.node.core.errors import InputError
    from credledger.wallet.web.openid4vp import choices_of, consent_view, link_of, safe_return

    form = {"csrf": "c", "link": "l", "licence.food_operation": "0xab",
            "disclose.food_operation": ["name", "number", "name", "authority"]}  # fmt: skip
    assert choices_of(form) == {
        "food_operation": {"licenceId": "0xab", "disclose": ["name", "number", "authority"]}
    }
    with pytest.raises(InputError):
        choices_of({"csrf": "c", "link": "l"})
    with pytest.raises(InputError):
        link_of("   ")
    assert safe_return("javascript:alert(1)") is None
    assert safe_return("https://counter.example/done#response_code=x") is not None
    view = consent_view({"verifier": {"trusted": True}, "mayAnswer": True, "queries": [
        {"id": "q", "asks": ["name"], "candidates": [
            {"licenceId": "0x1", "fields": ["name", "number"], "missing": [], "unavailable": None},
            {"licenceId": "0x2", "fields": ["name"], "missing": [["name"]]}]}]})  # fmt: skip
    [q] = view["queries"]
    assert q["asked"] == ["name"] and q["optional"] == ["number"]
    assert [c["licenceId"] for c in q["usable"]] == ["0x1"] and view["answerable"]
    assert not consent_view({"mayAnswer": False, "queries": view["queries"]})["answerable"]


def test_with_claim_sets_each_licence_discloses_its_own_field_group() -> None:
    """DCQL claim_sets: the licence chosen decides which field group is sent (its ``disclose``),
    not the first usable licence's group; the page shows each licence's group beside it."""
    from credledger.wallet.web.openid4vp import choices_of, consent_view

    view = consent_view({"verifier": {"trusted": True}, "queries": [
        {"id": "q", "asks": ["name", "number"], "claimSetFields": [["name", "number"],
                                                                   ["holderCode"]],
         "candidates": [
             {"licenceId": "0x1", "fields": ["name", "number"], "missing": [],
              "disclose": ["name", "number"]},
             {"licenceId": "0x2", "fields": ["holderCode", "name"], "missing": [],
              "disclose": ["holderCode"]}]}]})  # fmt: skip
    [q] = view["queries"]
    assert q["each"] and q["asked"] == [] and "holderCode" not in q["optional"]
    form = {"licence.q": "0x2", "asks.q.0x1": ["name", "number"], "asks.q.0x2": ["holderCode"]}
    assert choices_of(form) == {"q": {"licenceId": "0x2", "disclose": ["holderCode"]}}
    form["licence.q"] = "0x1"
    form["disclose.q"] = ["authority"]
    assert choices_of(form) == {"q": {"licenceId": "0x1",
                                      "disclose": ["name", "number", "authority"]}}  # fmt: skip


def _query(qid: str, code: str, claims: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": qid, "format": "dc+sd-jwt", "claims": claims, **extra,
            "meta": {"vct_values": [f"urn:credledger:licence-type:{code}"]}}  # fmt: skip


@pytest.mark.chain
def test_one_of_several_licences_and_one_of_several_field_groups(
    playwright: Any, up: tuple[UpProcess, str, DevnetInfo], tmp_path: Path
) -> None:
    """A request with DCQL ``credential_sets`` (a food business permit or a business licence)
    and ``claim_sets`` (name and number, or the holder's code): the page chooses the first
    option it can answer and leaves the other out (which the enterprise may change), names the
    groups of fields; what is sent is that option alone, VALID at the node."""
    node, wallet_url, _ = up
    food = _query("food", "FOOD-OPERATION", [
        {"id": "n", "path": ["name"]}, {"id": "no", "path": ["number"]},
        {"id": "h", "path": ["holderCode"]}], claim_sets=[["n", "no"], ["h"]])  # fmt: skip
    business = _query("business", "BL-BUSINESS", [{"path": ["name"]}])
    dcql = {
        "credentials": [food, business],
        "credential_sets": [{"options": [["food"], ["business"]]}],
    }
    asked = start_request(node.url, {"dcqlQuery": dcql})
    video = tmp_path / "blank.y4m"
    qr_frames("nothing", video, frames=2)
    browser = camera_browser(playwright, video)
    errors: list[str] = []
    try:
        page = phone(browser, wallet_url, "zh", bypass_csp=True).new_page()
        page.set_default_timeout(30_000)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        sign_in(page, wallet_url)
        page.goto(f"{wallet_url}/present")
        page.fill("#present-link", asked["authorizationRequest"])
        page.click("#present-submit")
        shown = consent_asks(page)
        assert shown["queries"] == ["food", "business"], shown
        assert page.query_selector("#credential-sets") is not None
        assert page.query_selector("#claim-sets-food") is not None
        # the first option is chosen, the other is left out (and could be chosen instead)
        assert page.is_checked("input[name='licence.food']:not([data-none])")
        assert page.is_checked("input[name='licence.business'][data-none]")
        # with claim sets each licence names the field group it would disclose
        groups = page.query_selector_all("fieldset[data-query=food] [data-discloses]")
        assert groups and all(g.get_attribute("data-discloses") == "name,number" for g in groups)
        _check(page, "zh", "phone", "wallet-consent-sets", errors)
        page.click("#consent-present")
        page.wait_for_selector("#present-done[data-status=sent]")
    finally:
        browser.close()
    state = request_state(node.url, asked["id"])
    assert state["verdict"] == "VALID", state
    assert [c["credentialQueryId"] for c in state["credentials"]] == ["food"], state
