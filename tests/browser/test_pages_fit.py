"""Pages II's "done when", in Chromium against what `make run` starts (`credledger up` with the
devnet demo and the wallet beside the node):

- on a phone (390×844) the QR code for the demo enterprise's licences is one tap from sign-in,
  at least 240 CSS px with its quiet zone, and zxing-cpp reads the token from a screenshot;
- every page of the node and the wallet, in Chinese and English (chosen by the browser's
  ``Accept-Language``), at 390×844 and 1280×900: no horizontal overflow, no string of the other
  language, axe-core (from the project's npm folder) finds nothing serious or critical, no console
  error, and a screenshot lands in tests/output/browser/.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from credledger.node.core import paths
from credledger.node.core.demo import DEMO_ENTERPRISE_USCC
from credledger.node.demo.licences import CLERK_TOKEN
from credledger.node.devnet import DevnetInfo
from credledger.wallet.demo import DEMO_PASSWORD
from tests.browser.conftest import OUTPUT, demo_up
from tests.support.node_process import UpProcess

pytestmark = pytest.mark.chain

AXE = paths.ROOT / "hardhat-free-devnet" / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"phone": (390, 844), "desktop": (1280, 900)}
LOCALES = {"zh": "zh-CN", "en": "en-US"}
#: ASCII words a Chinese page may show outside data: abbreviations people use in Chinese too
ZH_ALLOWED = {"USCC", "CSV", "Excel", "QR", "UTC", "PDF", "ETH", "JWT"}  # names of formats
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")

# the visible text of the page's own strings: data rendered from the user's records (class
# "data"), code, hashes ("mono"), and the other language's name in the switcher (lang=…) left out
VISIBLE_TEXT = """() => {
  const skip = ".data, code, .mono, textarea, script, style, [lang]:not(html)";
  const out = [];
  const walk = (node) => {
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) { out.push(child.textContent); continue; }
      if (child.nodeType !== Node.ELEMENT_NODE || child.matches(skip)) { continue; }
      walk(child);
    }
  };
  walk(document.body);
  out.push(document.title);
  for (const el of document.querySelectorAll("[aria-label], [alt], [placeholder]")) {
    if (!el.closest(".data")) {
      out.push(el.getAttribute("aria-label") || "", el.getAttribute("alt") || "");
    }
  }
  return out.join(" ");
}"""

AXE_RUN = """async () => {
  const tags = ["wcag2a", "wcag2aa", "wcag21aa"];
  const r = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => v.id + ": " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | "));
}"""


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[UpProcess, str, DevnetInfo]]:
    tmp = tmp_path_factory.mktemp("fit")
    with demo_up(tmp) as up:
        yield up


def _context(browser: Any, lang: str, size: str) -> Any:
    w, h = SIZES[size]
    # bypass_csp: only so that the test can inject axe-core; the pages' own CSP is tested apart
    return browser.new_context(
        viewport={"width": w, "height": h}, locale=LOCALES[lang], bypass_csp=True
    )


def _sign_in(page: Any, wallet_url: str) -> None:
    page.goto(f"{wallet_url}/")
    page.fill("#uscc", DEMO_ENTERPRISE_USCC)
    page.fill("#password", DEMO_PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#who")


def _qr_token(page: Any) -> str:
    page.wait_for_selector("#qr-box svg")
    token = str(page.input_value("#qr-token"))
    assert token.startswith("CLP1"), token[:40]
    return token


def test_the_qr_code_is_one_tap_from_sign_in_on_a_phone_and_reads_back(
    browser: Any, up: tuple[UpProcess, str, DevnetInfo]
) -> None:
    import zxingcpp
    from PIL import Image

    _, wallet_url, _ = up
    context = _context(browser, "zh", "phone")
    try:
        page = context.new_page()
        _sign_in(page, wallet_url)
        # sign-in lands on the licences view with the bound licences ticked: one tap
        taps = 0
        page.click("#qr-submit")
        taps += 1
        token = _qr_token(page)
        assert taps <= 2
        box = page.locator("#qr-code svg").bounding_box()
        assert box is not None and box["width"] >= 240 and box["height"] >= 240, box
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        # the quiet zone (segno's border of 4 modules) is inside the measured square
        png = page.locator("#qr-code").screenshot()
        OUTPUT.mkdir(parents=True, exist_ok=True)
        (OUTPUT / "fit-qr-one-tap-code.png").write_bytes(png)
        page.screenshot(path=str(OUTPUT / "fit-qr-one-tap-phone-zh.png"))
        read = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))]
        assert read == [token]
    finally:
        context.close()


def _check(page: Any, lang: str, size: str, name: str, errors: list[str]) -> None:
    """One page: fits, one language, axe, no console errors; its screenshot."""
    page.wait_for_load_state("load")
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert width <= inner, f"{name} {lang} {size}: {width} px wide in {inner}"
    text = page.evaluate(VISIBLE_TEXT)
    if lang == "en":
        found = CJK.findall(text)
        assert not found, f"{name} en {size}: Chinese {''.join(found)[:40]!r} in {text[:300]!r}"
    else:
        tokens = [t for t in re.split(r"[\s（）()：:·,，;；/]+", text) if not re.search(r"\d", t)]
        words = {w for t in tokens for w in re.findall(r"[A-Za-z]{3,}", t)} - ZH_ALLOWED
        assert not words, f"{name} zh {size}: English {sorted(words)}"
    page.add_script_tag(path=str(AXE))
    bad = page.evaluate(AXE_RUN)
    assert bad == [], f"{name} {lang} {size}: {bad}"
    assert errors == [], f"{name} {lang} {size}: console {errors}"
    page.screenshot(path=str(OUTPUT / f"fit-{name}-{size}-{lang}.png"), full_page=True)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", list(LOCALES))
def test_every_page_fits_speaks_one_language_and_passes_axe(
    browser: Any, up: tuple[UpProcess, str, DevnetInfo], lang: str, size: str
) -> None:
    assert AXE.is_file(), "axe-core is missing: run `make setup` (npm ci in hardhat-free-devnet)"
    node, wallet_url, _ = up
    OUTPUT.mkdir(parents=True, exist_ok=True)
    context = _context(browser, lang, size)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        html_lang = {"zh": "zh-CN", "en": "en"}[lang]

        # the wallet: sign-in, then each view; the browser's language chooses the page's
        page.goto(f"{wallet_url}/")
        assert page.get_attribute("html", "lang") == html_lang
        _check(page, lang, size, "wallet-sign-in", errors)
        _sign_in(page, wallet_url)
        _check(page, lang, size, "wallet-licences", errors)
        page.click("#qr-submit")
        token = _qr_token(page)
        _check(page, lang, size, "wallet-qr-shown", errors)
        for view in ("materials", "grants", "qr", "history"):
            page.click(f"#tab-{view}")
            page.wait_for_selector(f"#tab-{view}[aria-current=page]")
            _check(page, lang, size, f"wallet-{view}", errors)

        # the clerk: sign-in, a verdict with cards, today's checks
        page.goto(f"{node.url}/clerk")
        assert page.get_attribute("html", "lang") == html_lang
        _check(page, lang, size, "clerk-sign-in", errors)
        page.fill("#token", CLERK_TOKEN)
        page.click("button[type=submit]")
        page.wait_for_selector("#scan-form")
        page.fill("#scan-form #token", token)
        page.keyboard.press("Enter")
        page.wait_for_selector("#result")
        _check(page, lang, size, "clerk-verdict", errors)
        page.fill("#scan-form #token", token)  # again: refused, its reason in the language
        page.keyboard.press("Enter")
        page.wait_for_selector("#result li[data-code=REPLAYED]")
        _check(page, lang, size, "clerk-refused", errors)

        # the enterprise-code page: its name under the page's title
        page.goto(f"{node.url}/e/{DEMO_ENTERPRISE_USCC}")
        assert page.inner_text(".brand") == {"zh": "企业码公示", "en": "Enterprise code"}[lang]
        assert page.inner_text("#ent-name").strip()
        _check(page, lang, size, "enterprise", errors)
        qr = page.locator("figure.qr").bounding_box()
        first = page.locator("article.card").first.bounding_box()
        assert qr and first and (qr["y"] + qr["height"] <= first["y"] or
                                 qr["x"] >= first["x"] + first["width"]), (qr, first)  # fmt: skip

        # ?lang= overrides the browser and is remembered
        other = "en" if lang == "zh" else "zh-CN"
        page.goto(f"{node.url}/e/{DEMO_ENTERPRISE_USCC}?lang={other}")
        page.goto(f"{node.url}/e/{DEMO_ENTERPRISE_USCC}")
        assert page.get_attribute("html", "lang") == other
    finally:
        context.close()
    assert httpx.get(f"{node.url}/favicon.ico", timeout=10).status_code == 200
    assert httpx.get(f"{wallet_url}/favicon.ico", timeout=10).status_code == 200
