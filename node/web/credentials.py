"""The credential check page (``/credentials``, issue 21): anyone pastes a VC-JWT or an SD-JWT VC
presentation (with the nonce and audience they asked the holder for) and sees the verdict and the
fields the holder disclosed, each marked as disclosed — nothing else of the licence. The checks
are ``POST /v1/credentials/verify``'s (docs/credentials.md "Verifying")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from credledger.node.api.deps import Runtime
from credledger.node.core.errors import CredledgerError
from credledger.node.core.http.origin import cross_site
from credledger.node.credentials.export import SUBJECT_FIELDS
from credledger.node.web.pages import error_text, lang_of, render, translations

router = APIRouter(include_in_schema=False)
MAX_FORM = 96 * 1024


@router.get("/credentials", response_class=HTMLResponse)
async def credentials_page(request: Request, runtime: Runtime) -> Response:
    return render(request, "credentials.html", runtime=runtime)


@router.post("/credentials", response_class=HTMLResponse)
async def credentials_check(request: Request, runtime: Runtime) -> Response:
    """The verdict of the pasted credential, on the same page."""
    lang = lang_of(request)
    if cross_site(request):  # a public form, but only from this page
        message = translations(lang).get("clerk.csrf", "clerk.csrf")
        return render(request, "error.html", status=403, runtime=runtime, message=message)
    form = dict((await request.form(max_part_size=MAX_FORM)).multi_items())
    given = str(form.get("credential") or "").strip()
    nonce = str(form.get("nonce") or "").strip() or None
    audience = str(form.get("audience") or "").strip() or None
    view: dict[str, Any] = {"given": given, "nonce": nonce, "audience": audience}
    service = runtime.credentials
    status = 200
    try:
        if service is None:
            raise CredledgerError("credentials are off: the manifest has no LicenceRegistry")
        out = await run_in_threadpool(service.verify, given, nonce=nonce, audience=audience)
        view["result"] = result_view(out or {})
    except CredledgerError as exc:
        view["error"], status = error_text(lang, exc), exc.http_status
    return render(request, "credentials.html", status=status, runtime=runtime, **view)


def result_view(out: dict[str, Any]) -> dict[str, Any]:
    """The verdict with the disclosed fields in the standard's order, each marked disclosed, and
    how many of the licence's fields stayed hidden."""
    disclosed = out.get("disclosed") or {}
    fields = [{"name": f, "value": disclosed[f]} for f in SUBJECT_FIELDS if f in disclosed]
    hidden = len(SUBJECT_FIELDS) - len(fields) if out.get("format") == "sd-jwt" else 0
    return {**out, "fields": fields, "hidden": hidden if out.get("verdict") != "TAMPERED" else 0}
