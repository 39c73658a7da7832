"""Routes of the web pages (see the package docstring)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from credledger.node.api.deps import Runtime
from credledger.node.auth import Principal
from credledger.node.core.errors import CredledgerError, InputError, NotFoundError
from credledger.node.core.http.ratelimit import RateLimitedError, RateLimiter, client_key
from credledger.node.core.identifiers import normalise_uscc
from credledger.node.counter.verify import PresentationVerifier, as_dict, last_valid_day
from credledger.node.licences.inputs import iso, parse_licence_id
from credledger.node.licences.service import LicenceService

HERE = Path(__file__).parent
LANGS = ("zh-CN", "en")
SESSION_COOKIE = "clerk_session"
LANG_COOKIE = "lang"
PRE_CSRF_COOKIE = "csrf_pre"
SESSION_SECONDS = 8 * 3600
MAX_IMAGE_BYTES = 8 * 1024 * 1024
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}

router = APIRouter(include_in_schema=False)


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


@dataclass
class Session:
    principal: Principal
    csrf: str
    expires: float
    results: dict[str, dict[str, Any]] = field(default_factory=dict)


class Sessions:
    """Server-side clerk sessions (a restart signs clerks out)."""

    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, principal: Principal) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            self._by_id = {k: v for k, v in self._by_id.items() if v.expires > now}
            self._by_id[sid] = Session(principal, secrets.token_urlsafe(24), now + SESSION_SECONDS)
        return sid

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            s = self._by_id.get(sid)
            if s is None or s.expires < time.time():
                self._by_id.pop(sid, None)
                return None
            return s

    def drop(self, sid: str | None) -> None:
        with self._lock:
            self._by_id.pop(sid or "", None)


def _sessions(request: Request) -> Sessions:
    state = request.app.state
    if not hasattr(state, "clerk_sessions"):
        state.clerk_sessions = Sessions()
    s: Sessions = state.clerk_sessions
    return s


# failed sign-ins per client address: 5 at once, then one every 6 s (successful sign-ins spend
# nothing; while the limit holds, every sign-in from that address waits)
LOGIN_FAILURES_PER_MINUTE = 10
LOGIN_FAILURE_BURST = 5


def _login_failures(request: Request) -> RateLimiter:
    state = request.app.state
    if not hasattr(state, "clerk_login_failures"):
        state.clerk_login_failures = RateLimiter.per_minute(
            LOGIN_FAILURES_PER_MINUTE, burst=LOGIN_FAILURE_BURST, what="failed sign-ins"
        )
    limiter: RateLimiter = state.clerk_login_failures
    return limiter


def _lang(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get(LANG_COOKIE)
    return c if c in LANGS else "zh-CN"


def render(request: Request, name: str, status: int = 200, **view: Any) -> HTMLResponse:
    lang = _lang(request)
    table = translations(lang)

    def t(key: str) -> str:
        return table.get(key, key)

    html = _env.get_template(name).render(
        t=t, lang=lang, langs=LANGS, path=request.url.path, iso=iso, **view
    )
    resp = HTMLResponse(html, status_code=status)
    secure_headers(resp)
    if request.query_params.get("lang") in LANGS:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", httponly=True)
    return resp


def secure_headers(resp: Response) -> None:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Cache-Control"] = "no-store"


def _redirect(url: str) -> RedirectResponse:
    resp = RedirectResponse(url, status_code=303)
    secure_headers(resp)
    return resp


def _licences(runtime: Runtime) -> LicenceService:
    if runtime.licences is None:
        raise NotFoundError("the licence service is off on this node")
    return runtime.licences


def _counter(runtime: Runtime) -> PresentationVerifier:
    if runtime.counter is None:
        raise NotFoundError("presentation verification is off on this node")
    return runtime.counter


# --- static -------------------------------------------------------------------------------------


@router.get("/static/{name}")
async def static(name: str) -> Response:
    path = HERE / "static" / name
    if "/" in name or name.startswith(".") or not path.is_file() or path.suffix not in STATIC_TYPES:
        return Response(status_code=404)
    return Response(
        path.read_bytes(),
        media_type=STATIC_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


# --- clerk --------------------------------------------------------------------------------------


def _session(request: Request) -> Session | None:
    return _sessions(request).get(request.cookies.get(SESSION_COOKIE))


async def _form(request: Request, limit: int) -> dict[str, Any]:
    form = await request.form(max_part_size=limit)
    return dict(form.multi_items())


def _csrf_ok(session: Session, form: dict[str, Any]) -> bool:
    return hmac.compare_digest(str(form.get("csrf", "")), session.csrf)


@router.get("/clerk", response_class=HTMLResponse)
async def clerk_page(request: Request, runtime: Runtime) -> Response:
    session = _session(request)
    if session is None:
        pre = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(24)
        resp = render(request, "login.html", csrf=pre, error=request.query_params.get("error"))
        resp.set_cookie(PRE_CSRF_COOKIE, pre, httponly=True, samesite="strict", path="/clerk")
        return resp
    counter = _counter(runtime)
    result = session.results.get(request.query_params.get("result", ""))
    today = await run_in_threadpool(counter.today, session.principal)
    message = request.query_params.get("message")
    return render(
        request,
        "clerk.html",
        csrf=session.csrf,
        who=session.principal,
        result=_result_view(result) if result else None,
        today=today,
        message=message,
    )


@router.post("/clerk/login")
async def clerk_login(request: Request, runtime: Runtime) -> Response:
    form = await _form(request, 64 * 1024)
    pre = request.cookies.get(PRE_CSRF_COOKIE, "")
    if not pre or not hmac.compare_digest(str(form.get("csrf", "")), pre):
        return _redirect("/clerk?error=clerk.csrf")
    token = str(form.get("token", "")).strip()
    failures, who = _login_failures(request), client_key(request)
    if failures.wait_time(who) > 0:
        resp = _redirect("/clerk?error=login.limited")
        resp.headers["Retry-After"] = str(max(1, math.ceil(failures.wait_time(who))))
        return resp
    try:
        principal = _licences(runtime).departments.tokens.authenticate(f"Bearer {token}")
    except CredledgerError:
        principal = None
    if principal is None or principal.kind not in ("clerk", "department"):
        with contextlib.suppress(RateLimitedError):
            failures.take(who)
        return _redirect("/clerk?error=login.bad")
    sid = _sessions(request).create(principal)
    resp = _redirect("/clerk")
    resp.set_cookie(
        SESSION_COOKIE, sid, httponly=True, samesite="strict", max_age=SESSION_SECONDS, path="/"
    )
    resp.delete_cookie(PRE_CSRF_COOKIE, path="/clerk")
    return resp


@router.post("/clerk/logout")
async def clerk_logout(request: Request) -> Response:
    session = _session(request)
    form = await _form(request, 64 * 1024)
    if session is not None and _csrf_ok(session, form):
        _sessions(request).drop(request.cookies.get(SESSION_COOKIE))
    resp = _redirect("/clerk")
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


async def _verified(
    request: Request, session: Session, body: dict[str, Any], kind: str
) -> Response:
    vid = body.get("verification", {}).get("id") or secrets.token_hex(8)
    session.results[vid] = {"kind": kind, **body}
    while len(session.results) > 50:
        session.results.pop(next(iter(session.results)))
    return _redirect(f"/clerk?result={vid}")


@router.post("/clerk/verify")
async def clerk_verify(request: Request, runtime: Runtime) -> Response:
    """The scan gun's Enter (a token), or an uploaded picture of the QR code (``image``)."""
    session = _session(request)
    if session is None:
        return _redirect("/clerk")
    form = await _form(request, MAX_IMAGE_BYTES)
    if not _csrf_ok(session, form):
        return _redirect("/clerk?message=clerk.csrf")
    token = str(form.get("token") or "")
    image = form.get("image")
    if isinstance(image, UploadFile) and image.filename:
        data = await image.read(MAX_IMAGE_BYTES + 1)
        decoded = await run_in_threadpool(read_qr, data)
        if decoded is None:
            return _redirect("/clerk?message=clerk.image_none")
        token = decoded
    if not token.strip():
        return _redirect("/clerk")
    body = await run_in_threadpool(_counter(runtime).verify, session.principal, token)
    return await _verified(request, session, body, "presentation")


@router.post("/clerk/document")
async def clerk_document(request: Request, runtime: Runtime) -> Response:
    """A document checked against a licence (the same check as ``POST /v1/verify/document``)."""
    session = _session(request)
    if session is None:
        return _redirect("/clerk")
    limit = runtime.settings.api.max_upload_bytes
    form = await _form(request, limit)
    if not _csrf_ok(session, form):
        return _redirect("/clerk?message=clerk.csrf")
    doc = form.get("document")
    if not isinstance(doc, UploadFile):
        return _redirect("/clerk")
    h = hashlib.sha256()
    while chunk := await doc.read(1 << 20):
        h.update(chunk)
    try:
        lid = parse_licence_id(str(form.get("licenceId", "")))
    except InputError:
        return _redirect("/clerk")
    service = _licences(runtime)
    body = as_dict(
        await run_in_threadpool(service.verify_document, session.principal, h.digest(), lid)
    )
    await run_in_threadpool(_counter(runtime).note_document_check, session.principal, body)
    return await _verified(request, session, body, "document")


def read_qr(data: bytes) -> str | None:
    """The text of the first QR code in an image (PNG, JPEG …), decoded with zxing-cpp."""
    if len(data) > MAX_IMAGE_BYTES:
        return None
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    for result in zxingcpp.read_barcodes(img.convert("L")):
        if result.text:
            return str(result.text)
    return None


def _result_view(result: dict[str, Any]) -> dict[str, Any]:
    """The verdict cards: one per asset (presentation) or per licence (document)."""
    if result.get("kind") == "document":
        cards = []
        for lic in result.get("licences") or [{}]:
            cards.append(
                {
                    "verdict": result["verdict"],
                    "reasons": [
                        {"code": result["verdict"], "message": m} for m in result["reasons"]
                    ],
                    "kind": "licence",
                    "assetId": lic.get("licenceId"),
                    "type": lic.get("type"),
                    "issuer": lic.get("issuer"),
                    "status": lic.get("status"),
                    "statusReason": lic.get("statusReason"),
                    "validFromIso": lic.get("validFromIso"),
                    "validUntilIso": lic.get("validUntilIso"),
                    "validLastDay": last_valid_day(lic),
                    "serialNumber": lic.get("serialNumber"),
                    "document": {
                        "hash": result.get("documentHash"),
                        "match": result["verdict"] not in ("TAMPERED", "SUPERSEDED", "UNKNOWN"),
                    },
                }
            )
        return {
            "verdict": "VALID" if result["verdict"] == "VALID" else "INVALID",
            "reasons": [],
            "cards": cards,
            "verification": result.get("verification"),
        }
    return {
        "verdict": result["verdict"],
        "reasons": result.get("reasons") or [],
        "cards": result.get("assets") or [],
        "verification": result.get("verification"),
        "presentation": result.get("presentation"),
    }


# --- enterprise code page ----------------------------------------------------------------------


@router.get("/e/{uscc}", response_class=HTMLResponse)
async def enterprise_page(uscc: str, request: Request, runtime: Runtime) -> Response:
    service = _licences(runtime)
    try:
        code = normalise_uscc(uscc)
    except InputError as exc:
        return render(request, "error.html", status=422, message=exc.message)
    view = await run_in_threadpool(_enterprise_view, service, code)
    return render(request, "enterprise.html", ent=view)


def _enterprise_view(service: LicenceService, code: str) -> dict[str, Any]:
    ent = as_dict(service.enterprise(code))
    licences = []
    for lic in ent["licences"]:
        try:
            full = as_dict(service.get(bytes.fromhex(lic["licenceId"][2:])))
        except NotFoundError:
            full = lic
        licences.append({**full, "validLastDay": last_valid_day(full)})
    return {**ent, "licences": licences}
