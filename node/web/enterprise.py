"""The enterprise-code page (``/e/<USCC>``): what an enterprise's QR code opens.

Like the Shanghai enterprise code: the enterprise's name and code, its business licence, its
e-licences grouped by the six categories, abnormal-operation listings and administrative
penalties — names everywhere, no codes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from credledger.node.api.deps import Runtime
from credledger.node.core.errors import InputError, NotFoundError
from credledger.node.core.identifiers import normalise_uscc
from credledger.node.licences.service import LicenceService
from credledger.node.web.pages import _types, categories, error_text, lang_of, licences_of, render

router = APIRouter(include_in_schema=False)

ABNORMAL = ("ABNORMAL_OPERATION_LISTED", "ABNORMAL_OPERATION_REMOVED")
PENALTY = ("ADMINISTRATIVE_PENALTY",)


@router.get("/e/{uscc}", response_class=HTMLResponse)
async def enterprise_page(uscc: str, request: Request, runtime: Runtime) -> Response:
    service = licences_of(runtime)
    try:
        code = normalise_uscc(uscc)
    except InputError as exc:
        message = error_text(lang_of(request), exc)
        return render(request, "error.html", status=422, runtime=runtime, message=message)
    view = await run_in_threadpool(enterprise_view, service, code)
    return render(request, "enterprise.html", runtime=runtime, ent=view)


def enterprise_view(service: LicenceService, code: str) -> dict[str, Any]:
    ent = service.enterprise(code).body()
    licences = []
    for lic in ent["licences"]:
        try:
            full = service.get(bytes.fromhex(lic["licenceId"][2:])).body()
        except NotFoundError:
            full = lic
        licences.append({**full, "validLastDay": full.get("validUntil")})  # the last valid day
    # the name the issuing department recorded: the holder's display, else the issuance's
    # metadata (``holderName``), the business licence's first
    name = next(
        (
            str(shown)
            for lic in sorted(licences, key=lambda x: _category(x) != "BL")
            if (shown := (lic.get("holder") or {}).get("display")
                or (lic.get("metadata") or {}).get("holderName"))
        ),
        None,
    )  # fmt: skip
    groups = []
    for cat in categories():
        inside = [lic for lic in licences if _category(lic) == cat["code"]]
        if inside:
            groups.append({**cat, "licences": inside})
    supervision = ent.get("supervision") or []
    return {
        **ent,
        "name": name,
        "business": [lic for lic in licences if _category(lic) == "BL"],
        "groups": [g for g in groups if g["code"] != "BL"],
        "abnormal": [s for s in supervision if s.get("kind") in ABNORMAL],
        "penalties": [s for s in supervision if s.get("kind") in PENALTY],
        "licences": licences,
    }


def _category(lic: dict[str, Any]) -> str:
    t = lic.get("type") or {}
    return str(t.get("category") or _types().get(str(t.get("code")), {}).get("category") or "")
