"""The signed-in page's views (assets, materials, grants, show QR, history) and sign in / out.

Sign-in lands on the assets view, which opens with the "show QR" form for the bound licences
already ticked: the QR code is one tap from sign-in (two with a choice of assets)."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from credledger.node.core.errors import CredledgerError
from credledger.wallet import folders
from credledger.wallet.accounts import Caller
from credledger.wallet.runtime import WalletRuntime
from credledger.wallet.web.common import (
    DONE,
    PRE_CSRF_COOKIE,
    SESSION_COOKIE,
    by_script,
    caller_of,
    csrf_of,
    csrf_ok,
    error_text,
    label,
    read_form,
    redirect,
    render,
    runtime_of,
    secure_headers,
    text,
    today,
)
from credledger.wallet.web.history import history_rows

router = APIRouter(include_in_schema=False)
T = TypeVar("T")


def _section(
    fn: Callable[[], T], say: Callable[[CredledgerError], str]
) -> tuple[T | None, str | None]:
    """One section's data, or the domain error that keeps it empty (an agent without history)."""
    try:
        return fn(), None
    except CredledgerError as exc:
        return None, say(exc)


def names_of(licences: list[dict[str, Any]], materials: list[dict[str, Any]]) -> dict[str, Any]:
    """What each asset is called: a material by its file name, a licence by its type's name."""
    names: dict[str, Any] = {
        m["assetId"]: {"kind": "material", "label": m["name"]} for m in materials
    }
    for lic in licences:
        names[lic["assetId"]] = {
            "kind": "licence",
            "type": lic.get("type") or {},
            "label": lic.get("serialNumber") or lic["assetId"][:12],
            "serial": lic.get("serialNumber"),
        }
    return names


def _view_data(
    runtime: WalletRuntime, caller: Caller, view: str, say: Callable[[CredledgerError], str]
) -> dict[str, Any]:
    assets, assets_error = _section(lambda: runtime.assets.assets(caller), say)
    licences = (assets or {}).get("licences", [])
    materials = (assets or {}).get("materials", [])
    bound = [lic for lic in licences if lic.get("binding") == "bound"]
    choices = [{"id": lic["assetId"], "kind": "licence"} for lic in bound] + [
        {"id": m["assetId"], "kind": "material"} for m in materials
    ]
    data: dict[str, Any] = {
        "caller": caller,
        "licences": licences,
        "materials": materials,
        "assets_error": assets_error,
        "choices": choices,
        "quick": [lic["assetId"] for lic in bound],
        "names": names_of(licences, materials),
    }
    book, data["book_error"] = _section(lambda: runtime.grantees.list(caller), say)
    data["book"] = book or []
    data["grantees"] = {str(e["address"]).lower(): str(e["name"]) for e in data["book"]}
    if view == "grants":
        grants, data["grants_error"] = _section(lambda: runtime.grants.list(caller), say)
        data["grants"] = grants or []
        data["purposes"] = runtime.grants.purposes()
        data["today"] = today().isoformat()
        data["default_until"] = (today() + dt.timedelta(days=30)).isoformat()
    if view == "materials":
        data["folders"] = folders.FOLDERS
    if view == "history":
        history, error = _section(lambda: runtime.assets.history(caller), say)
        presented: list[dict[str, Any]] | None = None
        if error is None:
            presented, error = _section(lambda: runtime.presentations.list(caller), say)
        data["history"] = history_rows(history, presented)
        data["named"] = {
            "purpose": {p["code"]: p for p in runtime.grants.purposes()},
            "folder": {f.code: f for f in folders.FOLDERS},
        }
        data["history_error"] = error
    return data


async def page(
    request: Request,
    runtime: WalletRuntime,
    who: tuple[Caller, str],
    view: str,
    status: int = 200,
    **extra: Any,
) -> HTMLResponse:
    caller, token = who
    data = await run_in_threadpool(
        _view_data, runtime, caller, view, lambda exc: error_text(request, exc)
    )
    done = request.query_params.get("done")
    return render(
        request,
        f"view_{view}.html",
        status=status,
        view=view,
        csrf=csrf_of(token),
        done=done if done in DONE else None,
        **{**data, **extra},
    )


def login_page(request: Request, status: int = 200, error: str | None = None) -> HTMLResponse:
    pre = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(24)
    done = request.query_params.get("done")
    resp = render(
        request, "login.html", status=status, csrf=pre, error=error,
        done=done if done in DONE else None,
    )  # fmt: skip
    resp.set_cookie(PRE_CSRF_COOKIE, pre, httponly=True, samesite="strict", path="/")
    return resp


async def _view(request: Request, view: str) -> Response:
    runtime = runtime_of(request)
    who = await run_in_threadpool(caller_of, request, runtime)
    if who is None:
        resp = login_page(request)
        if request.cookies.get(SESSION_COOKIE):
            resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp
    return await page(request, runtime, who, view)


@router.get("/", response_class=HTMLResponse)
async def assets_view(request: Request) -> Response:
    return await _view(request, "assets")


@router.get("/materials", response_class=HTMLResponse)
async def materials_view(request: Request) -> Response:
    return await _view(request, "materials")


@router.get("/grants", response_class=HTMLResponse)
async def grants_view(request: Request) -> Response:
    return await _view(request, "grants")


@router.get("/qr", response_class=HTMLResponse)
async def qr_view(request: Request) -> Response:
    return await _view(request, "qr")


@router.get("/history", response_class=HTMLResponse)
async def history_view(request: Request) -> Response:
    return await _view(request, "history")


def refused(request: Request, status: int = 403) -> Response:
    """A POST without its CSRF token (or not signed in)."""
    message = label(request, "msg.csrf")
    if by_script(request):
        resp: Response = JSONResponse({"error": "csrf", "message": message}, status_code=status)
        secure_headers(resp)
        return resp
    return render(request, "refused.html", status=status, message=message)


@router.post("/web/login")
async def web_login(request: Request) -> Response:
    runtime = runtime_of(request)
    form = await read_form(request)
    if not csrf_ok(request.cookies.get(PRE_CSRF_COOKIE, ""), form):
        return refused(request)
    client = request.client.host if request.client else "?"
    try:
        session = await run_in_threadpool(
            runtime.accounts.login, text(form, "uscc"), str(form.get("password") or ""),
            text(form, "login") or None, client,
        )  # fmt: skip
    except CredledgerError as exc:
        return login_page(request, status=exc.http_status, error=error_text(request, exc))
    # a verifier's link opened before sign-in (wallet/web/openid4vp.py) lands back on it
    resp = redirect("/present" if request.cookies.get("wallet_oid4vp_link") else "/")
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
    runtime = runtime_of(request)
    who = await run_in_threadpool(caller_of, request, runtime)
    form = await read_form(request)
    if who is None:
        return redirect("/")
    if not csrf_ok(csrf_of(who[1]), form):
        return refused(request)
    await run_in_threadpool(runtime.accounts.logout, who[0])
    resp = redirect("/?done=msg.signed_out")
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    """The node's icon (an SVG: every browser the wallet supports shows it)."""
    from credledger.wallet.web.common import FAVICON

    return Response(
        FAVICON.read_bytes(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
