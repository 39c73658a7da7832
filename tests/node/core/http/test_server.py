"""How node and wallet run uvicorn (node/core/http/server.py): proxy headers only from the
configured proxies, and a protocol class with the header deadline (its effect on a real node is
tests/node/counter/test_header_timeout.py)."""

from __future__ import annotations

import pytest

from credledger.node.core.errors import ConfigError
from credledger.node.core.http.server import protocol_class, uvicorn_options
from credledger.node.settings import load_settings


def test_proxy_headers_only_from_configured_proxies() -> None:
    none = uvicorn_options(10, [])
    assert none["proxy_headers"] is False and none["forwarded_allow_ips"] == []
    some = uvicorn_options(10, ["10.0.0.5", " 192.168.0.0/16 "])
    assert some["proxy_headers"] is True
    assert some["forwarded_allow_ips"] == ["10.0.0.5", "192.168.0.0/16"]


def test_the_protocol_carries_its_deadline() -> None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    cls = protocol_class(3.5)
    assert issubclass(cls, HttpToolsProtocol) and cls.header_timeout == 3.5  # type: ignore[attr-defined]
    assert uvicorn_options(7)["http"].header_timeout == 7.0


def test_node_settings_check_the_proxies() -> None:
    api = load_settings(api={"trusted_proxies": ["10.0.0.0/8"]}).api
    assert api.trusted_proxies == ["10.0.0.0/8"] and api.header_timeout == 10.0
    with pytest.raises(ConfigError):
        load_settings(api={"trusted_proxies": ["not-an-address"]})
