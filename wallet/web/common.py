"""What every view of the wallet page shares: language, clock, rendering, session and CSRF."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from functools import cache
from importlib.machinery import ModuleSpec
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from credledger.node.core.errors import CredledgerError
from credledger.node.core.http import language
from credledger.node.core.http.headers import page_headers
from credledger.node.core.http.origin import cross_site
from credledger.wallet.accounts import Caller
from credledger.wallet.runtime import WalletRuntime

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
#: the node pages' icon, served by the wallet too (``/favicon.ico``, ``/static/favicon.svg``)
FAVICON = Path(str((find_spec("credledger.node.web") or ModuleSpec("", None)).origin)).parent / (
    "static/favicon.svg"
)
#: ``?lang=`` values and the label table each one selects
LANGS = {"zh": "zh-CN", "en": "en"}
SESSION_COOKIE = "wallet_session"
PRE_CSRF_COOKIE = "wallet_csrf_pre"
LANG_COOKIE = "wallet_lang"
FORM_FIELD_BYTES = 64 * 1024
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: the only messages a redirect may name (``?done=…``)
DONE = ("msg.filed", "msg.confirmed", "msg.granted", "msg.revoked", "msg.signed_out",
        "msg.grantee_added", "msg.grantee_removed")  # fmt: skip
#: the fragment requests of the page's script (upload with progress, QR refresh)
SCRIPT_HEADER = "x-requested-with"
#: the views of the signed-in page, in the order of its tabs
VIEWS = ("assets", "materials", "grants", "qr", "present", "history")
VIEW_PATHS = {"assets": "/", "materials": "/materials", "grants": "/grants", "qr": "/qr",
              "present": "/present", "history": "/history"}  # fmt: skip


@cache
def zone() -> dt.tzinfo:
    """The zone every time is shown in: ``CREDLEDGER_TIMEZONE`` (default Asia/Shanghai)."""
    name = os.environ.get("CREDLEDGER_TIMEZONE") or "Asia/Shanghai"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def zone_label() -> str:
    """``UTC+08:00``: the zone as the pages, the CLI and the CSV print it."""
    offset = dt.datetime.now(zone()).utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def when(seconds: float | int | None, zone_shown: bool = False) -> str:
    """A unix time in the configured zone, ``YYYY-MM-DD HH:MM:SS`` (and the zone if asked)."""
    if not seconds:
        return ""
    text = dt.datetime.fromtimestamp(float(seconds), zone()).strftime("%Y-%m-%d %H:%M:%S")
    return f"{text} {zone_label()}" if zone_shown else text


def last_day(lic: dict[str, Any]) -> str:
    """A licence's last valid day, ``YYYY-MM-DD`` (empty: open-ended). The node gives it as a
    day; older answers give the exclusive end as seconds (the day before that instant)."""
    end = lic.get("validUntilExclusive", lic.get("validUntil"))
    if isinstance(end, str):
        return end[:10]
    if not end:
        return ""
    return when(int(end) - 1)[:10]


def today() -> dt.date:
    return dt.datetime.now(zone()).date()


@cache
def translations(table: str) -> dict[str, str]:
    labels: dict[str, str] = json.loads((HERE / "i18n" / f"{table}.json").read_text("utf-8"))
    return labels


_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def runtime_of(request: Request) -> WalletRuntime:
    runtime: WalletRuntime = request.app.state.runtime
    return runtime


def lang_of(request: Request) -> str:
    """``?lang=``, else the remembered choice (cookie), else ``Accept-Language``, else zh."""
    return language.choose(
        request,
        values=LANGS,
        by_subtag={"zh": "zh", "en": "en"},
        cookie=LANG_COOKIE,
        default="zh",
    )


def label(request: Request, key: str) -> str:
    return translations(LANGS[lang_of(request)]).get(key, key)


def error_text(request: Request, exc: CredledgerError) -> str:
    """An error in the page's language: by its code, else by its HTTP status; never English
    on a Chinese page (the service's message is for developers and logs)."""
    table = translations(LANGS[lang_of(request)])
    text = table.get(f"error.{exc.code}") or table.get(f"error.status.{exc.http_status}")
    text = text or table["error.generic"]
    field = exc.details.get("field") if isinstance(exc.details, dict) else None
    if field and f"field.{field}" in table:
        text = f"{text} ({table[f'field.{field}']})"
    return text


def secure_headers(resp: Response) -> None:
    page_headers(resp, CSP)


def render(request: Request, name: str, status: int = 200, **view: Any) -> HTMLResponse:
    lang = lang_of(request)
    table = translations(LANGS[lang])

    def t(key: str) -> str:
        return table.get(key, key)

    html = _env.get_template(name).render(
        t=t, lang=lang, html_lang=LANGS[lang], langs=list(LANGS), when=when, last_day=last_day,
        zone=zone_label(), path=request.url.path, view_paths=VIEW_PATHS, views=VIEWS, **view,
    )  # fmt: skip
    resp = HTMLResponse(html, status_code=status)
    secure_headers(resp)
    if request.query_params.get("lang") in LANGS:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", httponly=True)
    resp.headers["Vary"] = "Accept-Language, Cookie"
    return resp


def redirect(url: str) -> RedirectResponse:
    resp = RedirectResponse(url, status_code=303)
    secure_headers(resp)
    return resp


def csrf_of(token: str) -> str:
    """The CSRF token bound to a wallet session (only who holds the session token can make it)."""
    return hmac.new(token.encode(), b"credledger-wallet-page-csrf", hashlib.sha256).hexdigest()


def caller_of(request: Request, runtime: WalletRuntime) -> tuple[Caller, str] | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return runtime.accounts.authenticate(f"Bearer {token}"), token
    except CredledgerError:
        return None


def csrf_ok(expected: str, form: dict[str, Any]) -> bool:
    return bool(expected) and hmac.compare_digest(str(form.get("csrf", "")), expected)


async def read_form(request: Request) -> dict[str, Any]:
    """The POSTed form; empty — so no CSRF token, and the caller refuses it (403, ``msg.csrf``)
    — when the browser says it came from another site (``Origin`` not ours, ``Origin: null``,
    ``Sec-Fetch-Site: cross-site``: :func:`~credledger.node.core.http.origin.cross_site`)."""
    if cross_site(request):
        return {}
    form = await request.form(max_part_size=FORM_FIELD_BYTES, max_files=1, max_fields=200)
    items: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key in items:
            prev = items[key]
            items[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            items[key] = value
    return items


def text(form: dict[str, Any], key: str) -> str:
    value = form.get(key)
    if isinstance(value, list):
        value = value[0] if value else ""
    return value.strip() if isinstance(value, str) else ""


def many(form: dict[str, Any], key: str) -> list[str]:
    value = form.get(key)
    values = value if isinstance(value, list) else [] if value is None else [value]
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def by_script(request: Request) -> bool:
    return request.headers.get(SCRIPT_HEADER, "").lower() in ("fetch", "xmlhttprequest")
