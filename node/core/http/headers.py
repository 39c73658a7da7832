"""The security headers every server-rendered page of the node and the wallet carries; each
service passes its own Content-Security-Policy."""

from __future__ import annotations

from starlette.responses import Response


def page_headers(resp: Response, csp: str) -> None:
    resp.headers["Content-Security-Policy"] = csp
    resp.headers["X-Content-Type-Options"] = "nosniff"
    # same-origin, not no-referrer: nothing leaves for other sites either way, and under
    # no-referrer a browser sends "Origin: null" with our own form POSTs (Fetch spec), which
    # the cross-site check (core/http/origin.py) refuses
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Cache-Control"] = "no-store"
