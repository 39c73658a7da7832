"""The page's actions (POST → redirect → GET): file, confirm, grant (to an address or a name of
the address book), revoke, add to / remove from the address book, show a QR code."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from credledger.node.core.errors import CredledgerError, InputError
from credledger.wallet.accounts import Caller
from credledger.wallet.grants import GrantInput
from credledger.wallet.materials import Filer
from credledger.wallet.runtime import WalletRuntime
from credledger.wallet.web.common import (
    by_script,
    caller_of,
    csrf_of,
    csrf_ok,
    error_text,
    many,
    read_form,
    redirect,
    render,
    runtime_of,
    secure_headers,
    text,
)
from credledger.wallet.web.views import page, refused

router = APIRouter(include_in_schema=False)
ADDRESS = re.compile(r"^0[xX][0-9a-fA-F]{40}$")


async def _signed_in_form(
    request: Request,
) -> tuple[WalletRuntime, tuple[Caller, str], dict[str, Any]] | Response:
    runtime = runtime_of(request)
    who = await run_in_threadpool(caller_of, request, runtime)
    form = await read_form(request)
    if who is None or not csrf_ok(csrf_of(who[1]), form):
        return refused(request)
    return runtime, who, form


async def _act(
    request: Request,
    runtime: WalletRuntime,
    who: tuple[Caller, str],
    fn: Callable[[], Any],
    done: str,
    view: str,
) -> Response:
    """Run one service call; redirect with ``done`` or show the view with the error."""
    try:
        await run_in_threadpool(fn)
    except CredledgerError as exc:
        return await page(
            request, runtime, who, view, exc.http_status, error=error_text(request, exc)
        )
    path = "/" if view == "assets" else f"/{view}"
    return redirect(f"{path}?done={done}")


def _json(request: Request, body: dict[str, Any], status: int) -> Response:
    resp = JSONResponse(body, status_code=status)
    secure_headers(resp)
    return resp


@router.post("/web/materials")
async def web_file_material(request: Request) -> Response:
    """File a material (the page's script sends it with XMLHttpRequest and gets JSON)."""
    got = await _signed_in_form(request)
    if isinstance(got, Response):
        return got
    runtime, who, form = got
    caller = who[0]
    upload = form.get("file")
    folder = text(form, "folder") or None

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
        message = error_text(request, exc)
        if by_script(request):
            return _json(request, {"error": exc.code, "message": message}, exc.http_status)
        return await page(request, runtime, who, "materials", exc.http_status, error=message)
    nxt = "/materials?done=msg.filed"
    if by_script(request):
        return _json(
            request,
            {"material": material, "created": created, "next": nxt},
            201 if created else 200,
        )
    return redirect(nxt)


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
        raw_uses = text(form, "maxUses") or "0"
        if not raw_uses.isdigit():
            raise InputError("maxUses: a whole number (0: no limit)", field="maxUses")
        grantee = text(form, "grantee")
        if not ADDRESS.match(grantee):  # a name from the address book
            grantee = runtime.grantees.name_of(who[0], grantee) or grantee
        item = GrantInput(
            text(form, "assetId"), grantee, text(form, "purpose"), text(form, "until"),
            int(raw_uses),
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


@router.post("/web/address-book")
async def web_book_add(request: Request) -> Response:
    """Add a grantee to the enterprise's address book."""
    got = await _signed_in_form(request)
    if isinstance(got, Response):
        return got
    runtime, who, form = got
    return await _act(
        request, runtime, who,
        lambda: runtime.grantees.add(who[0], text(form, "name"), text(form, "address"),
                                     text(form, "note") or None),
        "msg.grantee_added", "grants",
    )  # fmt: skip


@router.post("/web/address-book/{address}/remove")
async def web_book_remove(address: str, request: Request) -> Response:
    got = await _signed_in_form(request)
    if isinstance(got, Response):
        return got
    runtime, who, _ = got
    return await _act(
        request, runtime, who, lambda: runtime.grantees.remove(who[0], address),
        "msg.grantee_removed", "grants",
    )  # fmt: skip


@router.post("/web/qr")
async def web_qr(request: Request) -> Response:
    """A presentation QR code for the chosen assets: an HTML fragment for the page's script
    (which asks again shortly before it expires), the QR view without script."""
    got = await _signed_in_form(request)
    if isinstance(got, Response):
        return got
    runtime, who, form = got
    assets = many(form, "asset")
    audience = text(form, "audience") or None
    raw_ttl = text(form, "ttl")
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
        error, status = error_text(request, exc), exc.http_status
    view = {"qr": qr_view(qr) if qr else None, "qr_error": error, "now": int(time.time())}
    if by_script(request):
        return render(request, "_qr.html", status=status, **view)
    return await page(
        request, runtime, who, "qr", status, chosen=assets, audience=audience, ttl=ttl, **view
    )


def qr_view(qr: dict[str, Any]) -> dict[str, Any]:
    svg = str(qr.get("qrSvg") or "")
    start = svg.find("<svg")
    # the service's own segno output; anything else is not put on the page
    ok = start >= 0 and "<script" not in svg.lower() and "<foreignobject" not in svg.lower()
    svg = svg[start:]
    size = re.match(r'<svg[^>]*?\swidth="(\d+)" height="(\d+)"', svg)
    if size and "viewBox" not in svg[: svg.find(">")]:  # so that CSS scales the drawing too
        svg = svg.replace("<svg ", f'<svg viewBox="0 0 {size[1]} {size[2]}" ', 1)
    return {**qr, "svg": Markup(svg) if ok else None}
