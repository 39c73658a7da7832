"""What the node's pages share: language, clock, names, rendering, static files, the icon."""

from __future__ import annotations

import datetime as dt
import json
import os
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from credledger.node.api.deps import Runtime
from credledger.node.core.errors import CredledgerError, NotFoundError
from credledger.node.core.http import language
from credledger.node.core.http.headers import page_headers
from credledger.node.core.http.limits import BoundedStaticFiles
from credledger.node.counter.verify import PresentationVerifier
from credledger.node.licences.catalogue import load_catalogue
from credledger.node.licences.inputs import reasons
from credledger.node.licences.service import LicenceService

HERE = Path(__file__).parent
LANGS = ("zh-CN", "en")
LANG_COOKIE = "lang"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

router = APIRouter(include_in_schema=False)
# the pages' CSS, script and icon (Starlette's StaticFiles: types, ETag, Last-Modified, ranges)
# (bounded: a path too long for the file system is a 404, never a 500)
router.mount("/static", BoundedStaticFiles(directory=HERE / "static"), name="node-static")


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    """The pages' icon (an SVG; ``<link rel=icon>`` names it too)."""
    return Response(
        (HERE / "static" / "favicon.svg").read_bytes(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@cache
def translations(lang: str) -> dict[str, str]:
    table: dict[str, str] = json.loads((HERE / "i18n" / f"{lang}.json").read_text("utf-8"))
    return table


_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


# --- one clock ------------------------------------------------------------------------------


@cache
def zone(name: str | None = None) -> dt.tzinfo:
    """The zone the pages show times in: the ``timezone`` setting (``CREDLEDGER_TIMEZONE``),
    Asia/Shanghai by default."""
    try:
        return ZoneInfo(name or os.environ.get("CREDLEDGER_TIMEZONE") or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def zone_label(tz: dt.tzinfo | None = None) -> str:
    offset = dt.datetime.now(tz or zone()).utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def when(seconds: float | int | None, tz: dt.tzinfo | None = None) -> str:
    """A unix time as ``YYYY-MM-DD HH:MM:SS`` in the pages' zone (the page names the zone)."""
    if not seconds:
        return ""
    return dt.datetime.fromtimestamp(float(seconds), tz or zone()).strftime("%Y-%m-%d %H:%M:%S")


# --- language -------------------------------------------------------------------------------


def lang_of(request: Request) -> str:
    """``?lang=`` (then remembered), else the cookie, else ``Accept-Language``, else Chinese."""
    return language.choose(
        request,
        values=LANGS,
        by_subtag={"zh": "zh-CN", "en": "en"},
        cookie=LANG_COOKIE,
        default="zh-CN",
    )


def error_text(lang: str, exc: CredledgerError) -> str:
    table = translations(lang)
    return (
        table.get(f"error.{exc.code}")
        or table.get(f"error.status.{exc.http_status}")
        or table["error.generic"]
    )


# --- names instead of codes -----------------------------------------------------------------


@cache
def _types() -> dict[str, dict[str, str]]:
    cat = load_catalogue()
    return {
        t.code: {"code": t.code, "zh": t.zh, "en": t.en, "category": t.category} for t in cat.types
    }


@cache
def categories() -> list[dict[str, str]]:
    return [{"code": c.code, "zh": c.zh, "en": c.en} for c in load_catalogue().categories]


class Names:
    """Display names for one request's language: departments (by code or address) and types."""

    def __init__(self, runtime: Any, lang: str) -> None:
        self.lang = "zh" if lang == "zh-CN" else "en"
        self._depts: dict[str, dict[str, str]] = {}
        licences = getattr(runtime, "licences", None)
        for d in getattr(licences, "departments", None) or ():
            names = d.display_names()
            self._depts[d.name] = names
            self._depts[d.address.lower()] = names

    def dept(self, who: Any) -> str:
        """A department by its dict (``{address, name, displayName}``), code or address."""
        if not who:
            return ""
        if isinstance(who, dict):
            shown = (
                who.get("displayName")
                or self._depts.get(str(who.get("name")))
                or (self._depts.get(str(who.get("address", "")).lower()))
            )
            fallback = who.get("name") or who.get("address") or ""
        else:
            shown, fallback = self._depts.get(str(who)) or self._depts.get(str(who).lower()), who
        return str((shown or {}).get(self.lang) or fallback)

    def reason(self, code: Any) -> str:
        """A suspension or revocation reason by its code (the registry's reason table)."""
        try:
            r = reasons().get(int(code))
        except (TypeError, ValueError):
            r = None
        return str(getattr(r, self.lang)) if r else str(code or "")

    def type(self, t: Any) -> str:
        """A licence type by its dict (``{code, zh, en}``) or code."""
        if isinstance(t, dict):
            code = t.get("code")
            known = t if t.get(self.lang) else _types().get(str(code), {})
        else:
            code, known = t, _types().get(str(t), {})
        return str(known.get(self.lang) or code or "")


def render(
    request: Request, name: str, status: int = 200, runtime: Any = None, **view: Any
) -> HTMLResponse:
    lang = lang_of(request)
    table = translations(lang)

    def t(key: str) -> str:
        return table.get(key, key)

    tz = zone(getattr(getattr(runtime, "settings", None), "timezone", None))
    html = _env.get_template(name).render(
        t=t, lang=lang, langs=LANGS, path=request.url.path, when=lambda s: when(s, tz),
        zone=zone_label(tz), names=Names(runtime, lang), **view,
    )  # fmt: skip
    resp = HTMLResponse(html, status_code=status)
    secure_headers(resp)
    resp.headers["Vary"] = "Accept-Language, Cookie"
    if request.query_params.get("lang") in LANGS:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", httponly=True)
    return resp


def secure_headers(resp: Response) -> None:
    page_headers(resp, CSP)


def redirect(url: str) -> RedirectResponse:
    resp = RedirectResponse(url, status_code=303)
    secure_headers(resp)
    return resp


def licences_of(runtime: Runtime) -> LicenceService:
    if runtime.licences is None:
        raise NotFoundError("the licence service is off on this node")
    return runtime.licences


def counter_of(runtime: Runtime) -> PresentationVerifier:
    if runtime.counter is None:
        raise NotFoundError("presentation verification is off on this node")
    return runtime.counter
