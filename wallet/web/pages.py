"""Routes of the wallet page (see the package docstring)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import secrets
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.staticfiles import StaticFiles

from credledger.node.core.errors import CredledgerError, InputError
from credledger.wallet import folders
from credledger.wallet.accounts import Caller
from credledger.wallet.grants import GrantInput
from credledger.wallet.materials import Filer
from credledger.wallet.runtime import WalletRuntime

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
#: ``?lang=`` values and the label table each one selects
LANGS = {"zh": "zh-CN", "en": "en"}
SESSION_COOKIE = "wallet_session"
PRE_CSRF_COOKIE = "wallet_csrf_pre"
LANG_COOKIE = "wallet_lang"
FORM_FIELD_BYTES = 64 * 1024
CHINA = dt.timezone(dt.timedelta(hours=8))
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: the only messages a redirect may name (``/?done=…``)
DONE = ("msg.filed", "msg.confirmed", "msg.granted", "msg.revoked", "msg.signed_out")
#: the fragment requests of the page's script (upload with progress, QR refresh)
SCRIPT_HEADER = "x-requested-with"

router = APIRouter(include_in_schema=False)
T = TypeVar("T")


def static_files() -> StaticFiles:
    """The wallet's static files, and the node's pages' ``style.css`` beside them."""
    return StaticFiles(directory=STATIC_DIR, packages=[("credledger.node.web", "static")])


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


def _runtime(request: Request) -> WalletRuntime:
    runtime: WalletRuntime = request.app.state.runtime
    return runtime


def _lang(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get(LANG_COOKIE)
    return c if c in LANGS else "zh"


def when(seconds: float | int | None) -> str:
    """A unix time as China time, ``YYYY-MM-DD HH:MM:SS``."""
    if not seconds:
        return ""
    return dt.datetime.fromtimestamp(float(seconds), CHINA).strftime("%Y-%m-%d %H:%M:%S")


def secure_headers(resp: Response) -> None:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Cache-Control"] = "no-store"


def render(request: Request, name: str, status: int = 200, **view: Any) -> HTMLResponse:
    lang = _lang(request)
    table = translations(LANGS[lang])

    def t(key: str) -> str:
        return table.get(key, key)

    html = _env.get_template(name).render(
        t=t, lang=lang, html_lang=LANGS[lang], langs=list(LANGS), when=when, **view
    )
    resp = HTMLResponse(html, status_code=status)
    secure_headers(resp)
    if request.query_params.get("lang") in LANGS:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", httponly=True)
    return resp


def _redirect(url: str) -> RedirectResponse:
    resp = RedirectResponse(url, status_code=303)
    secure_headers(resp)
    return resp


# --- session and CSRF ---------------------------------------------------------------------------


def csrf_of(token: str) -> str:
    """The CSRF token bound to a wallet session (only who holds the session token can make it)."""
    return hmac.new(token.encode(), b"credledger-wallet-page-csrf", hashlib.sha256).hexdigest()


def _caller(request: Request, runtime: WalletRuntime) -> tuple[Caller, str] | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return runtime.accounts.authenticate(f"Bearer {token}"), token
    except CredledgerError:
        return None


def _csrf_ok(expected: str, form: dict[str, Any]) -> bool:
    return bool(expected) and hmac.compare_digest(str(form.get("csrf", "")), expected)


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form(max_part_size=FORM_FIELD_BYTES, max_files=1, max_fields=200)
    items: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key in items:
            prev = items[key]
            items[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            items[key] = value
    return items


def _text(form: dict[str, Any], key: str) -> str:
    value = form.get(key)
    if isinstance(value, list):
        value = value[0] if value else ""
    return value.strip() if isinstance(value, str) else ""


def _many(form: dict[str, Any], key: str) -> list[str]:
    value = form.get(key)
    values = value if isinstance(value, list) else [] if value is None else [value]
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def _by_script(request: Request) -> bool:
    return request.headers.get(SCRIPT_HEADER, "").lower() in ("fetch", "xmlhttprequest")


def _message(exc: CredledgerError) -> str:
    return exc.message


# --- the page -----------------------------------------------------------------------------------


def _section(fn: Callable[[], T]) -> tuple[T | None, str | None]:
    """One section's data, or the domain error that keeps it empty (an agent without history)."""
    try:
        return fn(), None
    except CredledgerError as exc:
        return None, _message(exc)


def _history_rows(
    history: dict[str, Any] | None, presented: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Events, uses on chain and presentations as one list, newest first."""
    rows: list[dict[str, Any]] = []
    for e in (history or {}).get("events", []):
        if e.get("action") == "presented" and presented is not None:
            continue  # the presentation's own row below says the same, with its checks
        details = {k: v for k, v in e.items() if k not in ("at", "actor", "action")}
        asset = details.get("assetId") or details.get("id") or details.get("assetIds") or ""
        rows.append(
            {
                "at": e.get("at"),
                "kind": "event",
                "action": e.get("action", ""),
                "asset": " ".join(asset) if isinstance(asset, list) else str(asset),
                "actor": e.get("actor", ""),
                "detail": _detail(details),
            }
        )
    for u in (history or {}).get("uses", []):
        rows.append(
            {
                "at": u.get("time"),
                "kind": "use",
                "action": "use",
                "asset": str(u.get("assetId", "")),
                "actor": str(u.get("grantee", "")),
                "detail": _detail(
                    {
                        "purpose": u.get("purpose"),
                        "uses": u.get("uses"),
                        "transactionHash": u.get("transactionHash"),
                        "redeemedAt": when(u.get("redeemedAt")) or None,
                    }
                ),
            }
        )
    for p in presented or []:
        checks = p.get("checks") or []
        verdicts = ", ".join(
            f"{when(c.get('checkedAt'))} {c.get('verdict', '')}".strip() for c in checks
        )
        rows.append(
            {
                "at": p.get("createdAt"),
                "kind": "presentation",
                "action": "presentation",
                "asset": " ".join(str(a) for a in p.get("assetIds", [])),
                "actor": str(p.get("createdBy", "")),
                "detail": _detail(
                    {
                        "statementHash": p.get("statementHash"),
                        "audience": p.get("audience"),
                        "checks": len(checks) if p.get("checks") is not None else None,
                        "verdicts": verdicts or None,
                    }
                ),
            }
        )
    rows.sort(key=lambda r: float(r["at"] or 0), reverse=True)
    return rows


def _detail(details: dict[str, Any]) -> str:
    skip = ("id", "assetId", "assetIds")
    return "; ".join(
        f"{k}={' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in details.items()
        if k not in skip and v not in (None, "", [])
    )


def _page_view(runtime: WalletRuntime, caller: Caller) -> dict[str, Any]:
    assets, assets_error = _section(lambda: runtime.assets.assets(caller))
    grants, grants_error = _section(lambda: runtime.grants.list(caller))
    history, history_error = _section(lambda: runtime.assets.history(caller))
    presented: list[dict[str, Any]] | None = None
    if history_error is None:
        presented, history_error = _section(lambda: runtime.presentations.list(caller))
    licences = (assets or {}).get("licences", [])
    materials = (assets or {}).get("materials", [])
    choices = [{"id": m["assetId"], "label": m["name"], "kind": "material"} for m in materials] + [
        {
            "id": lic["assetId"],
            "label": (lic.get("type") or {}).get("code") or lic["assetId"][:12],
            "type": lic.get("type") or {},
            "kind": "licence",
        }
        for lic in licences
        if lic.get("binding") == "bound"
    ]
    names = {c["id"]: c for c in choices}
    return {
        "caller": caller,
        "licences": licences,
        "materials": materials,
        "assets_error": assets_error,
        "grants": grants or [],
        "grants_error": grants_error,
        "history": _history_rows(history, presented),
        "history_error": history_error,
        "choices": choices,
        "names": names,
        "purposes": runtime.grants.purposes(),
        "folders": folders.FOLDERS,
        "today": dt.datetime.now(CHINA).date().isoformat(),
        "default_until": (dt.datetime.now(CHINA).date() + dt.timedelta(days=30)).isoformat(),
    }


async def _page(
    request: Request,
    runtime: WalletRuntime,
    who: tuple[Caller, str],
    status: int = 200,
    **extra: Any,
) -> HTMLResponse:
    caller, token = who
    view = await run_in_threadpool(_page_view, runtime, caller)
    done = request.query_params.get("done")
    return render(
        request,
        "wallet.html",
        status=status,
        csrf=csrf_of(token),
        done=done if done in DONE else None,
        **{**view, **extra},
    )


def _login_page(request: Request, status: int = 200, error: str | None = None) -> HTMLResponse:
    pre = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(24)
    done = request.query_params.get("done")
    resp = render(
        request,
        "login.html",
        status=status,
        csrf=pre,
        error=error,
        done=done if done in DONE else None,
    )
    resp.set_cookie(PRE_CSRF_COOKIE, pre, httponly=True, samesite="strict", path="/")
    return resp


@router.get("/", response_class=HTMLResponse)
async def wallet_page(request: Request) -> Response:
    runtime = _runtime(request)
    who = await run_in_threadpool(_caller, request, runtime)
    if who is None:
        resp = _login_page(request)
        if request.cookies.get(SESSION_COOKIE):
            resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp
    return await _page(request, runtime, who)


def _refused(request: Request, status: int = 403) -> Response:
    """A POST without its CSRF token (or not signed in)."""
    label = translations(LANGS[_lang(request)]).get("msg.csrf", "msg.csrf")
    if _by_script(request):
        resp: Response = JSONResponse({"error": "csrf", "message": label}, status_code=status)
        secure_headers(resp)
        return resp
    return render(request, "refused.html", status=status, message=label)


# --- sign in / out ------------------------------------------------------------------------------


@router.post("/web/login")
async def web_login(request: Request) -> Response:
    runtime = _runtime(request)
    form = await _form(request)
    if not _csrf_ok(request.cookies.get(PRE_CSRF_COOKIE, ""), form):
        return _refused(request)
    client = request.client.host if request.client else "?"
    try:
        session = await run_in_threadpool(
            runtime.accounts.login,
            _text(form, "uscc"),
            str(form.get("password") or ""),
            _text(form, "login") or None,
            client,
        )
    except CredledgerError as exc:
        return _login_page(request, status=exc.http_status, error=_message(exc))
    resp = _redirect("/")
    resp.set_cookie(
        SESSION_COOKIE,
        session["token"],
        max_age=max(1, int(session["expiresAt"] - time.time())),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    resp.delete_cookie(PRE_CSRF_COOKIE, path="/")
    return resp


@router.post("/web/logout")
async def web_logout(request: Request) -> Response:
    runtime = _runtime(request)
    who = await run_in_threadpool(_caller, request, runtime)
    form = await _form(request)
    if who is None:
        return _redirect("/")
    if not _csrf_ok(csrf_of(who[1]), form):
        return _refused(request)
    await run_in_threadpool(runtime.accounts.logout, who[0])
    resp = _redirect("/?done=msg.signed_out")
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


# --- actions ------------------------------------------------------------------------------------


async def _signed_in_form(
    request: Request,
) -> tuple[WalletRuntime, tuple[Caller, str], dict[str, Any]] | Response:
    runtime = _runtime(request)
    who = await run_in_threadpool(_caller, request, runtime)
    form = await _form(request)
    if who is None or not _csrf_ok(csrf_of(who[1]), form):
        return _refused(request)
    return runtime, who, form


async def _act(
    request: Request,
    runtime: WalletRuntime,
    who: tuple[Caller, str],
    fn: Callable[[], Any],
    done: str,
    anchor: str,
) -> Response:
    """Run one service call; redirect with ``done`` or show the page with the error."""
    try:
        await run_in_threadpool(fn)
    except CredledgerError as exc:
        return await _page(request, runtime, who, status=exc.http_status, error=_message(exc))
    return _redirect(f"/?done={done}#{anchor}")


@router.post("/web/materials")
async def web_file_material(request: Request) -> Response:
    """File a material (the page's script sends it with XMLHttpRequest and gets JSON)."""
    got = await _signed_in_form(request)
    if isinstance(got, Response):
        return got
    runtime, who, form = got
    caller = who[0]
    upload = form.get("file")
    folder = _text(form, "folder") or None

    def file() -> tuple[dict[str, Any], bool]:
        caller.require("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InputError("choose a file to file", field="file")
        limit = runtime.materials.settings.max_bytes
        data = upload.file.read(limit + 1)
        runtime.materials.check_size(len(data))
        enterprise = runtime.accounts.enterprise_row(caller.enterprise_id)
        return runtime.materials.file(
            enterprise, Filer("person", caller.label), upload.filename, data, folder,
            upload.content_type,
        )  # fmt: skip

    try:
        material, created = await run_in_threadpool(file)
    except CredledgerError as exc:
        if _by_script(request):
            resp: Response = JSONResponse(exc.to_json(), status_code=exc.http_status)
            secure_headers(resp)
            return resp
        return await _page(request, runtime, who, status=exc.http_status, error=_message(exc))
    if _by_script(request):
        resp = JSONResponse(
            {"material": material, "created": created, "next": "/?done=msg.filed#materials"},
            status_code=201 if created else 200,
        )
        secure_headers(resp)
        return resp
    return _redirect("/?done=msg.filed#materials")


@router.post("/web/materials/{material_id}/confirm")
async def web_confirm(material_id: str, request: Request) -> Response:
    got = await _signed_in_form(request)
    if isinstance(got, Response):
        return got
    runtime, who, _ = got
    return await _act(
        request, runtime, who, lambda: runtime.materials.confirm(who[0], material_id),
        "msg.confirmed", "materials",
    )  # fmt: skip


@router.post("/web/grants")
async def web_grant(request: Request) -> Response:
    got = await _signed_in_form(request)
    if isinstance(got, Response):
        return got
    runtime, who, form = got

    def grant() -> dict[str, Any]:
        raw_uses = _text(form, "maxUses") or "0"
        if not raw_uses.isdigit():
            raise InputError("maxUses: a whole number (0: no limit)", field="maxUses")
        item = GrantInput(
            _text(form, "assetId"), _text(form, "grantee"), _text(form, "purpose"),
            _text(form, "until"), int(raw_uses),
        )  # fmt: skip
        return runtime.grants.grant(who[0], item)

    return await _act(request, runtime, who, grant, "msg.granted", "grants")


@router.post("/web/grants/{grant_id}/revoke")
async def web_revoke(grant_id: str, request: Request) -> Response:
    got = await _signed_in_form(request)
    if isinstance(got, Response):
        return got
    runtime, who, _ = got
    return await _act(
        request, runtime, who, lambda: runtime.grants.revoke(who[0], grant_id),
        "msg.revoked", "grants",
    )  # fmt: skip


@router.post("/web/qr")
async def web_qr(request: Request) -> Response:
    """A presentation QR code for the chosen assets: an HTML fragment for the page's script
    (which asks again shortly before it expires), the whole page without script."""
    got = await _signed_in_form(request)
    if isinstance(got, Response):
        return got
    runtime, who, form = got
    assets = _many(form, "asset")
    audience = _text(form, "audience") or None
    raw_ttl = _text(form, "ttl")
    ttl = int(raw_ttl) if raw_ttl.isdigit() and len(raw_ttl) < 6 else None

    def create() -> dict[str, Any]:
        if not assets:
            raise InputError("choose at least one asset for the code", field="asset")
        return runtime.presentations.create(who[0], assets, audience, ttl)

    qr: dict[str, Any] | None = None
    error: str | None = None
    status = 200
    try:
        qr = await run_in_threadpool(create)
    except CredledgerError as exc:
        error, status = _message(exc), exc.http_status
    view = {"qr": _qr_view(qr) if qr else None, "qr_error": error, "now": int(time.time())}
    if _by_script(request):
        return render(request, "_qr.html", status=status, **view)
    return await _page(
        request, runtime, who, status=status, chosen=assets, audience=audience, ttl=ttl, **view
    )


def _qr_view(qr: dict[str, Any]) -> dict[str, Any]:
    svg = str(qr.get("qrSvg") or "")
    start = svg.find("<svg")
    # the service's own segno output; anything else is not put on the page
    ok = start >= 0 and "<script" not in svg.lower() and "<foreignobject" not in svg.lower()
    return {**qr, "svg": Markup(svg[start:]) if ok else None}


# --- history export -----------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    s = "" if value is None else str(value)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


@router.get("/history.csv")
async def history_csv(request: Request) -> Response:
    runtime = _runtime(request)
    who = await run_in_threadpool(_caller, request, runtime)
    if who is None:
        return _redirect("/")
    caller = who[0]

    def rows() -> list[dict[str, Any]]:
        history = runtime.assets.history(caller)
        return _history_rows(history, runtime.presentations.list(caller))

    try:
        found = await run_in_threadpool(rows)
    except CredledgerError as exc:
        return await _page(request, runtime, who, status=exc.http_status, error=_message(exc))
    t = translations(LANGS[_lang(request)])
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow([t.get(f"history.{c}", c) for c in ("at", "kind", "action", "asset", "actor",
                                                       "detail")])  # fmt: skip
    for r in found:
        out.writerow(
            [_cell(when(r["at"])), _cell(t.get(f"kind.{r['kind']}", r["kind"])),
             _cell(t.get(f"action.{r['action']}", r["action"])), _cell(r["asset"]),
             _cell(r["actor"]), _cell(r["detail"])]
        )  # fmt: skip
    resp = Response(
        ("\ufeff" + buf.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="history-{caller.uscc}.csv"'},
    )
    secure_headers(resp)
    return resp
