"""How the node and the wallet serve HTTP: uvicorn with a request-header deadline and
``X-Forwarded-For`` honoured only from configured proxies.

**Header deadline.** uvicorn waits for a request's headers as long as they trickle in (one byte a
second holds a connection for ever; a thousand such connections hold a thousand sockets). The
protocol classes here arm a timer when a connection is made, and on a kept-alive connection when
a read ends inside a request's headers; they disarm it when the headers are complete and close
the connection when it fires: a request's headers must be complete within ``header_timeout``
seconds of the connection (or of the read that began the request). A request whose headers come
in one read costs two attribute writes; bodies are bounded by the body timeouts of
:class:`~credledger.node.core.http.limits.BodyLimitMiddleware`, idle kept-alive connections by
uvicorn's keep-alive timeout.

**Proxies.** uvicorn trusts ``X-Forwarded-For`` from 127.0.0.1 by default, so any local process
(or a proxy that passes the header on unchanged) picks its own client address — and with it the
rate-limit key. :func:`serve` turns proxy headers on only for ``trusted_proxies`` (addresses or
CIDRs); with none, the client address is the connection's peer, whatever the headers say.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
from typing import Any

#: seconds a request's headers may take (``api.header_timeout``)
DEFAULT_HEADER_TIMEOUT = 10.0


class _HeaderDeadline:
    """Mixin for a uvicorn HTTP protocol: close the connection when a request's headers are not
    complete ``header_timeout`` seconds after the connection (or the request) began."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    _header_timer: asyncio.TimerHandle | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


@functools.cache
def _deadline_protocol() -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol (h11's when httptools is missing) with the deadline; built on
    first use, so that importing the settings does not import uvicorn."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is a dependency
        return _h11_protocol()

    class HttpToolsHeaderDeadline(_HeaderDeadline, HttpToolsProtocol):
        """uvicorn's httptools protocol with the header deadline. A request whose headers come
        in one read (the usual case) costs two attribute writes: the timer is armed only at
        the connection and when a read ends inside a request's headers."""

        _in_headers = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._in_headers:  # a request began and its headers are not complete yet
                self._arm_header_timer()

        def on_message_begin(self) -> None:
            self._in_headers = True
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._in_headers = False
            self._disarm_header_timer()
            super().on_headers_complete()

    return HttpToolsHeaderDeadline


def _h11_protocol() -> type[asyncio.Protocol]:  # pragma: no cover - the fallback
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class H11HeaderDeadline(_HeaderDeadline, H11Protocol):
        """uvicorn's h11 protocol with the header deadline."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self.conn.their_state is h11.IDLE:  # waiting for a request's headers
                self._arm_header_timer()
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm_header_timer()

    return H11HeaderDeadline


def protocol_class(header_timeout: float = DEFAULT_HEADER_TIMEOUT) -> type[asyncio.Protocol]:
    """uvicorn's fastest available HTTP protocol, with a ``header_timeout`` deadline."""
    base = _deadline_protocol()
    return type(base.__name__, (base,), {"header_timeout": float(header_timeout)})


def check_proxies(proxies: list[str]) -> list[str]:
    """``api.trusted_proxies`` checked: each an IP address or a CIDR network (ValueError)."""
    out = []
    for p in proxies:
        p = p.strip()
        try:
            ipaddress.ip_network(p, strict=False)
        except ValueError:
            raise ValueError(f"{p!r} is not an IP address or CIDR network") from None
        out.append(p)
    return out


def uvicorn_options(
    header_timeout: float = DEFAULT_HEADER_TIMEOUT, trusted_proxies: list[str] | None = None
) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run`` / ``uvicorn.Config`` that apply both rules."""
    proxies = [p.strip() for p in trusted_proxies or [] if p.strip()]
    return {
        "http": protocol_class(header_timeout),
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or [],
    }


def serve(
    app: Any,
    host: str,
    port: int,
    *,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    trusted_proxies: list[str] | None = None,
    log_level: str = "warning",
) -> None:
    """Run ``app`` under uvicorn until it is stopped (Ctrl-C, SIGTERM), with both rules."""
    import uvicorn

    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        **uvicorn_options(header_timeout, trusted_proxies),
    )
