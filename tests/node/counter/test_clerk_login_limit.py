"""Clerk sign-in is rate-limited per client address (node/core/http/ratelimit.py): five failed
sign-ins pass as failures, the next is refused as limited (also with a right token), and once
the bucket refills a right token signs in. Successful sign-ins spend nothing."""

from __future__ import annotations

import re
import time

import httpx

from tests.node.counter.conftest import TOKENS
from tests.node.licences.harness import Node


def _login(client: httpx.Client, token: str) -> str:
    page = client.get("/clerk")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text
    r = client.post("/clerk/login", data={"csrf": csrf.group(1), "token": token})
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def test_failed_sign_ins_are_limited_per_address(counter_node: Node) -> None:
    with httpx.Client(base_url=counter_node.url, timeout=60) as client:
        assert _login(client, TOKENS["clerk"]) == "/clerk"  # a success spends nothing
        client.cookies.clear()
        for _ in range(5):
            assert _login(client, "tok-wrong-" + "x" * 32).endswith("error=login.bad")
        assert _login(client, "tok-wrong-" + "y" * 32).endswith("error=login.limited")
        assert _login(client, TOKENS["clerk"]).endswith("error=login.limited")
        limited = client.get("/clerk?error=login.limited")
        assert "wait a minute" in limited.text or "稍候" in limited.text
        deadline = time.monotonic() + 20
        while (where := _login(client, TOKENS["clerk"])) != "/clerk":
            assert where.endswith("error=login.limited")
            assert time.monotonic() < deadline, "the limit never lifted"
            time.sleep(1)
