"""A form on another site that posts to the wallet page, in a real Chromium: the browser sends
``Origin: http://evil.example`` and ``Sec-Fetch-Site: cross-site``, and the wallet refuses it
(403, the page's message in the browser's language) — besides the CSRF token (issue 19)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import shot
from tests.wallet.conftest import (  # noqa: F401  (session fixtures used below)
    Enterprise,
    enterprise,
    wallet,
    wenv,
)
from tests.wallet.harness import PASSWORD, Wallet

pytestmark = pytest.mark.chain


def test_a_form_from_another_site_is_refused(
    page: Any,
    wallet: Wallet,  # noqa: F811
    enterprise: Enterprise,  # noqa: F811
) -> None:
    seen: dict[str, str] = {}
    page.on(
        "request",
        lambda req: seen.update(req.headers) if req.url.endswith("/web/login") else None,
    )
    hostile = (
        f'<!doctype html><form id="f" method="post" action="{wallet.url}/web/login">'
        f'<input name="csrf" value="x"><input name="uscc" value="{enterprise.uscc}">'
        f'<input name="password" value="{PASSWORD}"><button>go</button></form>'
    )
    page.route(
        "http://evil.example/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=hostile),
    )
    page.goto("http://evil.example/")
    with page.expect_navigation() as nav:
        page.click("button")
    assert nav.value.status == 403
    assert seen.get("origin") == "http://evil.example", seen
    assert page.inner_text("#refused") == "表单已过期或并非来自本页面，请刷新页面后重试。"
    assert page.query_selector("#who") is None
    shot(page, "wallet-cross-site-form-refused")
    assert wallet.ok(wallet.get("/v1/grants", enterprise.token))["grants"] == []
