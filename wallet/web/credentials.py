"""The page's open credential (issue 21): an SD-JWT VC presentation of a bound licence with the
fields the enterprise ticks, for a verifier's nonce and audience (``wallet/credentials.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from credledger.node.core.errors import CredledgerError, InputError
from credledger.wallet.credentials import CredentialPresenter
from credledger.wallet.web.actions import _signed_in_form
from credledger.wallet.web.common import caller_of, error_text, many, runtime_of, text
from credledger.wallet.web.views import page, refused

router = APIRouter(include_in_schema=False)


@router.post("/web/credentials")
async def web_credential(request: Request) -> Response:
    """The assets view with the presentation under its licence (or the reason it was refused)."""
    got = await _signed_in_form(request)
    if isinstance(got, Response):
        return got
    runtime, who, form = got
    licence = text(form, "licence")
    disclose = many(form, "disclose")
    nonce, audience = text(form, "nonce"), text(form, "audience")

    def make() -> dict[str, Any]:
        if not nonce or not audience:
            raise InputError("the verifier's nonce and audience are needed", field="nonce")
        presenter = CredentialPresenter(runtime.presentations, runtime.accounts, runtime.node)
        return presenter.present(who[0], licence, disclose, nonce, audience)

    cred: dict[str, Any] | None = None
    error: str | None = None
    status = 200
    try:
        cred = await run_in_threadpool(make)
    except CredledgerError as exc:
        error, status = error_text(request, exc), exc.http_status
    return await page(
        request, runtime, who, "assets", status, cred=cred, cred_error=error, cred_for=licence
    )


@router.get("/web/credentials/{licence}/{fmt}")
async def web_credential_file(request: Request, licence: str, fmt: str) -> Response:
    """The licence as a credential file to save (``vc-jwt`` or ``sd-jwt``)."""
    runtime = runtime_of(request)
    who = await run_in_threadpool(caller_of, request, runtime)
    if who is None:
        return refused(request)
    presenter = CredentialPresenter(runtime.presentations, runtime.accounts, runtime.node)
    try:
        text_ = await run_in_threadpool(presenter.export, who[0], licence, fmt)
    except CredledgerError as exc:
        return await page(request, runtime, who, "assets", exc.http_status,
                          cred_error=error_text(request, exc), cred_for=licence)  # fmt: skip
    ext = "vc.jwt" if fmt == "vc-jwt" else "sd-jwt"
    return Response(
        text_,
        media_type="application/vc+jwt" if fmt == "vc-jwt" else "application/dc+sd-jwt",
        headers={"Content-Disposition": f'attachment; filename="licence-{licence[2:14]}.{ext}"'},
    )
