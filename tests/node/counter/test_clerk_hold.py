"""The clerk's sign-in and forms cannot be turned against the clerk (issue 19): the limit of
failed sign-ins is per real client address — a rotated ``X-Forwarded-For`` from an address that
is not a configured proxy (``api.trusted_proxies``, empty by default) changes nothing — another
address's failures do not refuse the right token, and the page's forms from another origin are
refused (403, the page's message) whatever their token."""

from __future__ import annotations

import re

import httpx

from tests.node.counter.conftest import TOKENS
from tests.node.licences.harness import Node


def _client(node: Node, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=node.url, timeout=60, transport=transport)


def _csrf(client: httpx.Client) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/clerk").text)
    assert found
    return found.group(1)


def _login(client: httpx.Client, token: str, **headers: str) -> httpx.Response:
    return client.post(
        "/clerk/login", data={"csrf": _csrf(client), "token": token}, headers=headers
    )


def test_rotated_forwarded_for_changes_nothing(counter_node: Node) -> None:
    with _client(counter_node, "127.0.0.3") as guesser:
        outcomes = [
            _login(
                guesser, "tok-wrong-" + "x" * 32, **{"X-Forwarded-For": f"203.0.113.{i}"}
            ).headers["location"]
            for i in range(8)
        ]
        assert [o.rsplit("=", 1)[-1] for o in outcomes] == ["login.bad"] * 5 + ["login.limited"] * 3
    # the guessing address's failures do not refuse the right token from another address
    with _client(counter_node, "127.0.0.4") as clerk:
        r = _login(clerk, TOKENS["clerk"])
        assert r.status_code == 303 and r.headers["location"] == "/clerk"


def test_forms_from_another_origin_are_refused(counter_node: Node) -> None:
    hostile = [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ]
    with _client(counter_node, "127.0.0.5") as c:
        for headers in hostile:
            for lang, words in (("en", "The form expired"), ("zh-CN", "表单已过期")):
                r = c.post(f"/clerk/login?lang={lang}",
                           data={"csrf": _csrf(c), "token": TOKENS["clerk"]},
                           headers=headers)  # fmt: skip
                assert r.status_code == 403 and words in r.text, (headers, r.status_code)
                assert "clerk_session" not in r.headers.get("set-cookie", "")
        # from the page's own origin (and with no such headers): signed in
        r = _login(c, TOKENS["clerk"], Origin=counter_node.url, **{"Sec-Fetch-Site": "same-origin"})
        assert r.status_code == 303 and r.headers["location"] == "/clerk"
        page = c.get("/clerk")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf
        for headers in hostile:
            r = c.post("/clerk/verify", data={"csrf": csrf.group(1), "token": "x"},
                       headers=headers)  # fmt: skip
            assert r.status_code == 403
            r = c.post("/clerk/logout", data={"csrf": csrf.group(1)}, headers=headers)
            assert r.status_code == 403
        assert 'name="token"' in c.get("/clerk").text and "logout" in c.get("/clerk").text
