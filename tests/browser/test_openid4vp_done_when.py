"""Issue 22's "done when", in Chromium against what `make run` starts (`credledger up` with the
devnet demo and the wallet beside the node), the node reached at its public URL through a
reverse proxy (as deployed; the proxy also keeps what the wallet posted, for the replay):

- the clerk page (desktop) starts a request for a food business permit; its QR code, read back
  from the screen with zxing-cpp, holds the page's ``openid4vp://`` link at version ≤ 10, level M;
- a screenshot of that code becomes the fake camera's recording; the wallet page at phone size
  scans it, shows who asks what, the enterprise adds a field to those asked and presents;
- the clerk page shows VALID without a reload, with the fields disclosed and a receipt link that
  answers;
- the same response posted again (the very bytes the wallet sent) is refused 409 ``replayed``,
  and the wallet's second "present" of the same request is refused with the verifier's reason.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from PIL import Image

from credledger.node.core.demo import DEMO_ENTERPRISE_USCC
from credledger.node.demo.licences import CLERK_TOKEN
from credledger.node.devnet import DevnetInfo, free_port
from credledger.wallet.demo import DEMO_PASSWORD
from tests.browser.conftest import ARGS, CHROMIUM, OUTPUT, demo_up
from tests.browser.test_openid4vp_camera import (
    camera_browser,
    consent_asks,
    phone,
    playwright,  # noqa: F401  (module fixture)
    recording,
    request_state,
    sign_in,
)
from tests.support.node_process import UpProcess

pytestmark = pytest.mark.chain


class RecordingProxy:
    """A reverse proxy in front of the node (its ``licences.public_url``): every request is
    passed on as it came; the bodies POSTed to a presentation request's response URI are kept."""

    def __init__(self) -> None:
        self.port = free_port()
        self.target = ""
        self.posts: list[tuple[str, str, bytes]] = []  # path, content type, body
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _pass(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                ctype = self.headers.get("Content-Type", "")
                if self.command == "POST" and self.path.endswith("/response"):
                    proxy.posts.append((self.path, ctype, body))
                skip = ("host", "content-length", "connection")
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                r = httpx.request(self.command, proxy.target + self.path, content=body,
                                  headers=headers, timeout=60)  # fmt: skip
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                         "content-encoding", "date", "server"):  # fmt: skip
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = _pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, target: str) -> None:
        self.target = target
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():  # shutdown() waits for a serve_forever that never began
            self.server.shutdown()
        self.server.server_close()


def receipt_of(node_url: str, path: str) -> dict[str, Any]:
    """The verification's receipt, once its record is anchored (a 409 until then)."""
    deadline = time.monotonic() + 60
    while True:
        got = httpx.get(f"{node_url}{path}", timeout=30,
                        headers={"Authorization": f"Bearer {CLERK_TOKEN}"})  # fmt: skip
        if got.status_code != 409 or time.monotonic() > deadline:
            assert got.status_code == 200, got.text
            body: dict[str, Any] = got.json()
            return body
        time.sleep(0.5)


@pytest.fixture(scope="module")
def up(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[UpProcess, str, RecordingProxy, DevnetInfo]]:
    tmp_path = tmp_path_factory.mktemp("oid4vp-done-when")
    proxy = RecordingProxy()
    try:
        env = {"CREDLEDGER_LICENCES__PUBLIC_URL": proxy.url}
        with demo_up(tmp_path, env=env, before_start=lambda n: proxy.start(n.url)) as up:
            node, wallet_url, chain = up
            yield node, wallet_url, proxy, chain
    finally:
        proxy.stop()


def clerk_asks(clerk: Any, node_url: str, flow: str, mode: str = "direct_post") -> tuple[str, str]:
    """The clerk signs in and starts a request for a food business permit: (id, link)."""
    clerk.goto(f"{node_url}/clerk?lang=en")
    clerk.fill("#token", CLERK_TOKEN)
    clerk.click("button[type=submit]")
    clerk.wait_for_selector("#oid4vp-form")
    assert clerk.is_checked("#oid4vp-form input[name=licenceTypes][value=FOOD-OPERATION]")
    clerk.check(f"#oid4vp-form input[name=flow][value={flow}]")
    clerk.check(f"#oid4vp-form input[name=responseMode][value='{mode}']")
    clerk.click("#oid4vp-submit")
    clerk.wait_for_selector("#oid4vp-qr svg")
    return clerk.inner_text("#oid4vp-request-id").strip(), str(
        clerk.get_attribute("#oid4vp-link", "href")
    )


def test_clerk_asks_phone_scans_and_discloses_clerk_sees_valid_and_replay_is_refused(
    playwright: Any,  # noqa: F811
    up: tuple[UpProcess, str, RecordingProxy, DevnetInfo],
    tmp_path: Path,
) -> None:
    import zxingcpp

    node, wallet_url, proxy, _ = up
    OUTPUT.mkdir(parents=True, exist_ok=True)
    desk = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    clerk_errors: list[str] = []
    try:
        clerk = desk.new_context(viewport={"width": 1280, "height": 900}, locale="en-US").new_page()
        clerk.set_default_timeout(30_000)
        clerk.on("console", lambda m: clerk_errors.append(m.text) if m.type == "error" else None)
        clerk.on("pageerror", lambda e: clerk_errors.append(str(e)))
        # the clerk signs in and asks a wallet for a food business permit (the default matter)
        rid, link = clerk_asks(clerk, node.url, "cross-device")
        assert link.startswith("openid4vp://") and quote(proxy.url, safe="") in link, link

        # the code on the screen: the link, version <= 10 at level M
        assert int(str(clerk.get_attribute("#oid4vp-qr", "data-version"))) <= 10
        png = clerk.locator("#oid4vp-qr svg").screenshot()
        (OUTPUT / "oid4vp-done-when-clerk-qr.png").write_bytes(png)
        shown = Image.open(io.BytesIO(png))
        [read] = zxingcpp.read_barcodes(shown.convert("L"))
        assert read.text == link
        extra: dict[str, Any] = dict(read.extra)  # type: ignore[call-overload]
        assert int(extra["Version"]) <= 10 and extra["ECLevel"] == "M", extra
        clerk.screenshot(path=str(OUTPUT / "oid4vp-done-when-clerk-asks.png"), full_page=True)
        clerk.evaluate("window.__notReloaded = true")

        # that screen, filmed: the phone's camera plays it
        video = tmp_path / "clerk-screen.y4m"
        recording(shown, video)
        phone_browser = camera_browser(playwright, video)
        phone_errors: list[str] = []
        try:
            page = phone(phone_browser, wallet_url).new_page()
            page.set_default_timeout(30_000)
            page.on("console", lambda m: phone_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: phone_errors.append(str(e)))
            sign_in(page, wallet_url)
            page.click("#tab-present")
            page.wait_for_selector("#scanner:not([hidden])")
            page.click("#scan-start")
            asks = consent_asks(page)
            assert asks["trusted"] == "true" and asks["queries"] == ["food_operation"], asks
            assert asks["asked"] == ["name", "number", "validUntil"], asks
            assert asks["host"] == f"127.0.0.1:{proxy.port}" or asks["host"] == "127.0.0.1", asks
            page.check("fieldset.query input[data-field=authority]")
            # the consent form as it is sent, for the second "present" below
            form = page.evaluate("() => [...new FormData(document.getElementById('consent-form'))]")
            page.screenshot(path=str(OUTPUT / "oid4vp-done-when-phone-consent.png"),
                            full_page=True)  # fmt: skip
            page.click("#consent-present")
            page.wait_for_selector("#present-done[data-status=sent]")
            page.screenshot(path=str(OUTPUT / "oid4vp-done-when-phone-sent.png"), full_page=True)

            # the clerk's page turns VALID by itself, with a receipt
            clerk.wait_for_selector("#oid4vp-result [data-verdict]")
            assert clerk.get_attribute("#oid4vp-result [data-verdict]", "data-verdict") == "VALID"
            assert clerk.evaluate("window.__notReloaded === true"), "the clerk page reloaded"
            receipt = str(clerk.get_attribute("#oid4vp-receipt", "href"))
            assert re.match(r"^/v1/verifications/vr_\w+/receipt$", receipt), receipt
            clerk.screenshot(path=str(OUTPUT / "oid4vp-done-when-clerk-valid.png"), full_page=True)
            vid = receipt.split("/")[3]
            assert vid in json.dumps(receipt_of(node.url, receipt)), vid
            state = request_state(node.url, rid)
            assert state["verdict"] == "VALID", state
            [cred] = state["credentials"]
            assert {"name", "number", "validUntil", "authority"} <= set(cred["disclosed"]), cred

            # the same response again, byte for byte: refused, nothing judged
            [(path, ctype, body)] = [p for p in proxy.posts if rid in p[0]]
            assert path == f"/v1/presentation-requests/{rid}/response", path
            again = httpx.post(f"{node.url}{path}", content=body,
                               headers={"Content-Type": ctype}, timeout=30)  # fmt: skip
            assert again.status_code == 409 and again.json()["error"] == "replayed", again.text
            assert request_state(node.url, rid)["verificationId"] == state["verificationId"]

            # the wallet's second "present" of the same request: the verifier refuses it
            second = page.request.post(
                f"{wallet_url}/web/present/respond", data=urlencode([(k, v) for k, v in form]),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )  # fmt: skip
            assert second.status == 409, second.text()
            assert 'id="error"' in second.text()
            assert phone_errors == [], phone_errors
        finally:
            phone_browser.close()
        assert clerk.get_attribute("#oid4vp-result [data-verdict]", "data-verdict") == "VALID"
        assert clerk_errors == [], clerk_errors
    finally:
        desk.close()


def test_same_device_the_link_opens_the_wallet_and_the_wallet_returns_to_the_verifier(
    playwright: Any,  # noqa: F811
    up: tuple[UpProcess, str, RecordingProxy, DevnetInfo],
    tmp_path: Path,
) -> None:
    """The ``openid4vp://`` link opened on the phone (for this web wallet: its query after the
    wallet's ``/openid4vp``), sign-in, the request, present; the verifier's ``redirect_uri``
    is the result page's "return" link, and the verifier's page it opens shows VALID with the
    fields disclosed; the clerk's page shows it too, without a reload. The clerk asks for the
    encrypted response (``direct_post.jwt``, HAIP): what the wallet posted is a JWE."""
    node, wallet_url, _, _ = up
    desk = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    try:
        clerk = desk.new_context(viewport={"width": 1280, "height": 900}, locale="en-US").new_page()
        clerk.set_default_timeout(30_000)
        rid, link = clerk_asks(clerk, node.url, "same-device", "direct_post.jwt")
        video = tmp_path / "nothing.y4m"
        recording(Image.new("L", (64, 64), 255), video, frames=2)
        phone_browser = camera_browser(playwright, video)
        try:
            page = phone(phone_browser, wallet_url, "en").new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{wallet_url}/openid4vp?{link.split('?', 1)[1]}")
            page.fill("#uscc", DEMO_ENTERPRISE_USCC)
            page.fill("#password", DEMO_PASSWORD)
            page.click("#login-form button[type=submit]")
            page.wait_for_selector("#present-form")
            assert page.input_value("#present-link") == link
            page.click("#present-submit")
            assert consent_asks(page)["queries"] == ["food_operation"]
            page.click("#consent-present")
            page.wait_for_selector("#present-done[data-status=sent]")
            back = str(page.get_attribute("#present-return", "href"))
            assert back.startswith(f"{up[2].url}/openid4vp/{rid}/done#response_code="), back
            page.screenshot(path=str(OUTPUT / "oid4vp-same-device-phone-sent-en.png"),
                            full_page=True)  # fmt: skip
            page.click("#present-return")
            page.wait_for_selector("#oid4vp-done [data-verdict]")
            assert page.get_attribute("#oid4vp-done > [data-verdict]", "data-verdict") == "VALID"
            fields = {e.get_attribute("data-field")
                      for e in page.query_selector_all("#oid4vp-done dd[data-field]")}  # fmt: skip
            assert {"name", "number", "validUntil"} <= fields, fields
            page.screenshot(path=str(OUTPUT / "oid4vp-same-device-verifier-page-en.png"),
                            full_page=True)  # fmt: skip
        finally:
            phone_browser.close()
        clerk.wait_for_selector("#oid4vp-result [data-verdict=VALID]")
    finally:
        desk.close()
    assert request_state(node.url, rid)["verdict"] == "VALID"
    [(_, _, body)] = [p for p in up[2].posts if rid in p[0]]
    assert body.startswith(b"response=ey") and b"vp_token" not in body, body[:80]
