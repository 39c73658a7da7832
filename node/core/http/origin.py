"""Cross-site form posts, refused besides the CSRF token (the node's clerk page, the wallet page).

A page's form POST is refused when the browser says it came from elsewhere:

- ``Origin`` is present and is not the service's own origin (scheme, host and port of the
  request, as the client addressed it) — ``Origin: null`` (sandboxed frames, ``data:`` pages,
  some redirects) included;
- ``Sec-Fetch-Site`` is present and is ``cross-site``.

Requests without either header (non-browser clients, which must still send the CSRF token) are
not refused here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_of(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not scheme or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS.get(scheme, 0)


def own_origin(conn: HTTPConnection) -> tuple[str, str, int] | None:
    """The origin the client addressed: the request's scheme and its ``Host``."""
    return _origin_of(f"{conn.url.scheme}://{conn.url.netloc}")


def cross_site(conn: HTTPConnection) -> bool:
    """True when the browser's headers say this request did not come from the service's own
    pages (see the module's text)."""
    headers = conn.headers
    if headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
        return True
    origin = headers.get("origin")
    if origin is None:
        return False
    mine = own_origin(conn)
    return mine is None or _origin_of(origin) != mine
