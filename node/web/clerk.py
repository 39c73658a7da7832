"""The clerk's counter (``/clerk``): sign in with a clerk token, scan or upload a QR code, check a
document against a licence; verdict cards with names, reasons in the page's language, today's
checks as cards. Sessions are server-side (a restart signs clerks out)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import math
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from credledger.node.api.deps import Runtime
from credledger.node.auth import Principal
from credledger.node.core.errors import CredledgerError, InputError, NotFoundError
from credledger.node.core.gbt import looks_like_gbt_identifier
from credledger.node.core.http.origin import cross_site
from credledger.node.core.http.ratelimit import RateLimitedError, RateLimiter, client_key
from credledger.node.web import oid4vp
from credledger.node.web.pages import (
    counter_of,
    lang_of,
    licences_of,
    redirect,
    render,
    translations,
)

SESSION_COOKIE = "clerk_session"
PRE_CSRF_COOKIE = "csrf_pre"
SESSION_SECONDS = 8 * 3600
MAX_IMAGE_BYTES = 8 * 1024 * 1024
#: the only messages a redirect may name (``?error=…``, ``?message=…``)
MESSAGES = ("clerk.csrf", "login.bad", "login.limited", "clerk.image_none", "oid4vp.bad_matter")

router = APIRouter(include_in_schema=False)


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


# failed sign-ins per client address: at most 5 in any 10 s and 10 in any minute, counted
# exactly (successful sign-ins spend nothing; while the limit holds, every sign-in waits)
LOGIN_FAILURE_LIMITS = ("5/10 seconds", "10/minute")


def _login_failures(request: Request) -> RateLimiter:
    state = request.app.state
    if not hasattr(state, "clerk_login_failures"):
        state.clerk_login_failures = RateLimiter(
            *LOGIN_FAILURE_LIMITS, what="failed sign-ins", exact=True
        )
    limiter: RateLimiter = state.clerk_login_failures
    return limiter


# --- clerk --------------------------------------------------------------------------------------


def _session(request: Request) -> Session | None:
    return _sessions(request).get(request.cookies.get(SESSION_COOKIE))


async def _form(request: Request, limit: int) -> FormData:
    return await request.form(max_part_size=limit)


def _cross_site(request: Request) -> Response | None:
    """403 with the page's message when the browser says the form came from another site
    (``Origin`` not ours, ``Origin: null``, ``Sec-Fetch-Site: cross-site``), before the body is
    read; None otherwise (the CSRF token is checked next)."""
    if not cross_site(request):
        return None
    message = translations(lang_of(request)).get("clerk.csrf", "clerk.csrf")
    return render(request, "error.html", status=403, message=message)


def _csrf_ok(session: Session, form: FormData) -> bool:
    return hmac.compare_digest(str(form.get("csrf", "")), session.csrf)


async def _clerk_form(request: Request, limit: int) -> tuple[Session, FormData] | Response:
    """A signed-in clerk's form post, or the answer to give instead: 403 from another site,
    back to the page without a session or with a stale CSRF token."""
    if (refusal := _cross_site(request)) is not None:
        return refusal
    session = _session(request)
    if session is None:
        return redirect("/clerk")
    form = await _form(request, limit)
    if not _csrf_ok(session, form):
        return redirect("/clerk?message=clerk.csrf")
    return session, form


@router.get("/clerk", response_class=HTMLResponse)
async def clerk_page(request: Request, runtime: Runtime) -> Response:
    session = _session(request)
    if session is None:
        pre = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(24)
        error = request.query_params.get("error")
        resp = render(request, "login.html", runtime=runtime, csrf=pre,
                      error=error if error in MESSAGES else None)  # fmt: skip
        resp.set_cookie(PRE_CSRF_COOKIE, pre, httponly=True, samesite="strict", path="/clerk")
        return resp
    counter = counter_of(runtime)
    result = session.results.get(request.query_params.get("result", ""))
    today = await run_in_threadpool(counter.today, session.principal)
    message = request.query_params.get("message")
    # off the event loop: a request's QR code is ~12 ms of CPU
    panel = await run_in_threadpool(
        oid4vp.panel,
        runtime,
        session.principal,
        request.query_params.get("request"),
        lang_of(request),
    )
    return render(
        request,
        "clerk.html",
        runtime=runtime,
        csrf=session.csrf,
        who=session.principal,
        result=_result_view(result) if result else None,
        today=today,
        verifier=counter.audience(),
        message=message if message in MESSAGES else None,
        oid4vp=panel,
    )


@router.post("/clerk/login")
async def clerk_login(request: Request, runtime: Runtime) -> Response:
    if (refusal := _cross_site(request)) is not None:
        return refusal
    form = await _form(request, 64 * 1024)
    pre = request.cookies.get(PRE_CSRF_COOKIE, "")
    if not pre or not hmac.compare_digest(str(form.get("csrf", "")), pre):
        return redirect("/clerk?error=clerk.csrf")
    token = str(form.get("token", "")).strip()
    failures, who = _login_failures(request), client_key(request)
    if failures.wait_time(who) > 0:
        resp = redirect("/clerk?error=login.limited")
        resp.headers["Retry-After"] = str(max(1, math.ceil(failures.wait_time(who))))
        return resp
    try:
        principal = licences_of(runtime).departments.tokens.authenticate(f"Bearer {token}")
    except CredledgerError:
        principal = None
    if principal is None or principal.kind not in ("clerk", "department"):
        with contextlib.suppress(RateLimitedError):
            failures.take(who)
        return redirect("/clerk?error=login.bad")
    sid = _sessions(request).create(principal)
    resp = redirect("/clerk")
    resp.set_cookie(
        SESSION_COOKIE, sid, httponly=True, samesite="strict", max_age=SESSION_SECONDS, path="/"
    )
    resp.delete_cookie(PRE_CSRF_COOKIE, path="/clerk")
    return resp


@router.post("/clerk/logout")
async def clerk_logout(request: Request) -> Response:
    if (refusal := _cross_site(request)) is not None:
        return refusal
    session = _session(request)
    form = await _form(request, 64 * 1024)
    if session is not None and _csrf_ok(session, form):
        _sessions(request).drop(request.cookies.get(SESSION_COOKIE))
    resp = redirect("/clerk")
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


async def _verified(
    request: Request, session: Session, body: dict[str, Any], kind: str
) -> Response:
    vid = body.get("verification", {}).get("id") or secrets.token_hex(8)
    session.results[vid] = {"kind": kind, **body}
    while len(session.results) > 50:
        session.results.pop(next(iter(session.results)))
    return redirect(f"/clerk?result={vid}")


@router.post("/clerk/verify")
async def clerk_verify(request: Request, runtime: Runtime) -> Response:
    """The scan gun's Enter (a token), or an uploaded picture of the QR code (``image``)."""
    got = await _clerk_form(request, MAX_IMAGE_BYTES)
    if isinstance(got, Response):
        return got
    session, form = got
    token = str(form.get("token") or "")
    image = form.get("image")
    if isinstance(image, UploadFile) and image.filename:
        data = await image.read(MAX_IMAGE_BYTES + 1)
        decoded = await run_in_threadpool(read_qr, data)
        if decoded is None:
            return redirect("/clerk?message=clerk.image_none")
        token = decoded
    if not token.strip():
        return redirect("/clerk")
    if is_licence_ref(token.strip()):  # a licence id or GB/T 36904 identifier: look it up
        found = await run_in_threadpool(lookup, licences_of(runtime), token.strip())
        return await _verified(request, session, found, "lookup")
    verdict = await run_in_threadpool(counter_of(runtime).verify, session.principal, token)
    return await _verified(request, session, verdict.body(), "presentation")


@router.post("/clerk/document")
async def clerk_document(request: Request, runtime: Runtime) -> Response:
    """A document checked against a licence (the same check as ``POST /v1/verify/document``)."""
    got = await _clerk_form(request, runtime.settings.api.max_upload_bytes)
    if isinstance(got, Response):
        return got
    session, form = got
    doc = form.get("document")
    if not isinstance(doc, UploadFile):
        return redirect("/clerk")
    h = hashlib.sha256()
    while chunk := await doc.read(1 << 20):
        h.update(chunk)
    service = licences_of(runtime)
    try:
        lid, _ = service.resolve(str(form.get("licenceId", "")))
    except CredledgerError:
        return redirect("/clerk")
    answer = await run_in_threadpool(service.verify_document, session.principal, h.digest(), lid)
    await run_in_threadpool(counter_of(runtime).note_document_check, session.principal, answer)
    return await _verified(request, session, answer.body(), "document")


@router.post("/clerk/presentation-requests")
async def clerk_presentation_request(request: Request, runtime: Runtime) -> Response:
    """The panel "request from a wallet" (OpenID4VP): start a request, show its QR code."""
    got = await _clerk_form(request, 64 * 1024)
    if isinstance(got, Response):
        return got
    session, form = got
    return await oid4vp.create(request, runtime, session.principal, form)


@router.get("/clerk/presentation-requests/{rid}/status")
async def clerk_presentation_status(request: Request, runtime: Runtime, rid: str) -> Response:
    """The request's status as an HTML fragment (``?wait=`` seconds, at most 25: answered as
    soon as the request ends); 401 without a clerk session, 404 for another department's."""
    session = _session(request)
    if session is None:
        return Response("", status_code=401)
    try:
        wait = float(request.query_params.get("wait") or 0)
    except ValueError:
        wait = 0.0
    try:
        return await oid4vp.status(request, runtime, session.principal, rid[:80], wait)
    except CredledgerError:
        return Response("", status_code=404)


def is_licence_ref(text: str) -> bool:
    """A licence id (``0x`` + 64 hex digits) or a GB/T 36904 identifier (digits and dots first,
    perhaps mistyped: it is answered with the reason), not a presentation (``CLP1…``, or a JWT,
    which starts with a letter)."""
    folded = unicodedata.normalize("NFKC", text).strip()
    if folded[:1].isdigit() and looks_like_gbt_identifier(folded):
        return True
    body = text[2:] if text[:2].lower() == "0x" else ""
    return len(body) == 64 and all(c in "0123456789abcdefABCDEF" for c in body)


def lookup(service: Any, ref: str) -> dict[str, Any]:
    """The clerk's search: the licence a reference names, or why there is none (a malformed
    identifier or a wrong check character, with the reason)."""
    try:
        lid, ident = service.resolve(ref)
        licence = service.get(lid).body()
        service.check_identifier(licence, ident)
    except (InputError, NotFoundError) as exc:
        return {"error": {"code": exc.code, "detail": exc.message, "ref": ref}}
    return {"licence": licence}


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
    """The verdict cards: one per asset (presentation) or per licence (document, lookup)."""
    if result.get("kind") == "lookup":
        return _lookup_view(result)
    if result.get("kind") == "document":
        cards = []
        for i, lic in enumerate(result.get("licences") or [{}]):
            cards.append(
                {
                    "verdict": result["verdict"],
                    "reasons": [
                        {"code": result["verdict"], "message": m} for m in result["reasons"]
                    ],
                    "kind": "licence",
                    "assetId": lic.get("licenceId"),
                    "identifier": lic.get("identifier"),
                    "type": lic.get("type"),
                    "issuer": lic.get("issuer"),
                    "status": lic.get("status"),
                    "statusReason": lic.get("statusReason"),
                    "validFromIso": lic.get("validFromIso"),
                    "validUntilIso": lic.get("validUntilIso"),
                    "validLastDay": lic.get("validUntil"),  # the last valid day
                    "serialNumber": lic.get("serialNumber"),
                    # the e-seal of the licence judged (the verdict's first licence)
                    "seal": result.get("seal") if i == 0 else None,
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


def _lookup_view(result: dict[str, Any]) -> dict[str, Any]:
    """A licence found by the clerk's search: its card with status, identifier and GB/T 36903
    metadata (no verification record: nothing was checked against a document)."""
    error = result.get("error")
    if error is not None:
        return {
            "verdict": "INVALID",
            "reasons": [{"code": error["code"], "detail": error["detail"]}],
            "cards": [],
            "verification": None,
        }
    lic = result["licence"]
    status = lic.get("status")
    verdict = "VALID" if status == "ACTIVE" else str(status)
    card = {
        "verdict": verdict,
        "reasons": [],
        "kind": "licence",
        "assetId": lic.get("licenceId"),
        "identifier": lic.get("identifier"),
        "metadata": lic.get("metadata"),
        "type": lic.get("type"),
        "issuer": lic.get("issuer"),
        "status": status,
        "statusReason": lic.get("statusReason"),
        "validFromIso": lic.get("validFromIso"),
        "validUntilIso": lic.get("validUntilIso"),
        "validLastDay": lic.get("validUntil"),
        "serialNumber": lic.get("serialNumber"),
    }
    return {"verdict": verdict, "reasons": [], "cards": [card], "verification": None}
