"""The page language both services negotiate (node/core/http/language.py), pure logic."""

from __future__ import annotations

from starlette.requests import Request

from credledger.node.core.http.language import accepted, choose

NODE = {"zh": "zh-CN", "en": "en"}


def _request(query: str = "", cookie: str = "", accept: str = "") -> Request:
    headers = []
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    if accept:
        headers.append((b"accept-language", accept.encode()))
    return Request({"type": "http", "query_string": query.encode(), "headers": headers})


def test_accept_language_by_q_values_then_order() -> None:
    assert accepted("en-US,en;q=0.9,zh;q=0.8", NODE) == "en"
    assert accepted("fr, zh-TW;q=0.5, en;q=0.4", NODE) == "zh-CN"
    assert accepted("en;q=0.5, zh;q=0.5", NODE) == "en"  # a tie: the earlier one
    assert accepted("fr, de;q=0.9", NODE) is None
    assert accepted("en;q=0, zh;q=bad", NODE) is None


def test_query_then_cookie_then_header_then_default() -> None:
    kw = {"values": ("zh-CN", "en"), "by_subtag": NODE, "cookie": "lang", "default": "zh-CN"}
    assert choose(_request("lang=en", "lang=zh-CN", "zh"), **kw) == "en"  # type: ignore[arg-type]
    assert choose(_request("lang=xx", "lang=en", "zh"), **kw) == "en"  # type: ignore[arg-type]
    assert choose(_request("", "lang=xx", "en-GB"), **kw) == "en"  # type: ignore[arg-type]
    assert choose(_request(), **kw) == "zh-CN"  # type: ignore[arg-type]
