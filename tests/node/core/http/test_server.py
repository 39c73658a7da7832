"""How node and wallet run uvicorn (node/core/http/server.py): proxy headers only from the
configured proxies, and a protocol class with the header deadline (its effect on a real node is
tests/node/counter/test_header_timeout.py)."""

from __future__ import annotations

import socket
import time
from typing import Any

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


def _serve_in_thread(header_timeout: float) -> tuple[Any, int]:
    import threading

    import uvicorn

    from credledger.node.devnet import free_port

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            **uvicorn_options(header_timeout),
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return server, port


def _cut_after(sock: socket.socket, drip: bytes, limit: float) -> float:
    """Send ``drip`` one byte every 0.25 s until the server closes; the seconds it took."""
    t0 = time.monotonic()
    sock.settimeout(0.25)
    for i in range(10_000):
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - t0
        except TimeoutError:
            pass
        except OSError:
            return time.monotonic() - t0
        try:
            sock.send(drip[i % len(drip) : i % len(drip) + 1])
        except OSError:
            return time.monotonic() - t0
        assert time.monotonic() - t0 < limit, "never cut"
    raise AssertionError("unreachable")


def test_headers_are_timed_on_every_request_of_a_kept_alive_connection() -> None:
    server, port = _serve_in_thread(1.5)
    try:
        # a silent connection, then one trickling its first request: both cut
        silent = socket.create_connection(("127.0.0.1", port))
        silent.settimeout(4)
        t0 = time.monotonic()
        assert silent.recv(10) == b"" and 1.0 < time.monotonic() - t0 < 3.5
        first = socket.create_connection(("127.0.0.1", port))
        assert 1.0 < _cut_after(first, b"GET / HTTP/1.1\r\nX-A: b", 6) < 3.5
        # a fast request is answered, the kept-alive connection's next one trickles: cut
        kept = socket.create_connection(("127.0.0.1", port))
        kept.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        kept.settimeout(4)
        assert kept.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(2)  # longer than the deadline: an idle kept-alive connection is not cut by it
        kept.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert kept.recv(4096).startswith(b"HTTP/1.1 200")
        assert 1.0 < _cut_after(kept, b"GET / HTTP/1.1\r\nX-A: b", 6) < 3.5
        for s in (silent, first, kept):
            s.close()
    finally:
        server.should_exit = True
