"""The clerk page's "request from a wallet" panel (OpenID4VP, docs/openid4vp.md) and the
same-device result page.

- ``POST /clerk/presentation-requests`` (the panel's form: licence types, fields, response mode,
  flow; CSRF as every clerk form) starts a request through the verifier the API uses and
  redirects to ``/clerk?request=<id>``, which shows its QR code, its ``openid4vp://`` link and
  its status;
- ``GET /clerk/presentation-requests/<id>/status?wait=<s>`` answers the status as an HTML
  fragment (the verdict card once answered), waiting up to 25 s for the request to end (the
  page's script long-polls it; without script, the page's "refresh" link shows the same);
- ``GET /openid4vp/<id>/done?response_code=…`` is the page a same-device wallet sends its
  browser back to (``redirect_uri``, the code in the fragment, moved to the query by the page's
  script): the verdict, the licence types and the fields disclosed, to whoever holds the code.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from credledger.node.api.deps import Runtime
from credledger.node.api.routes.openid4vp import qr_svg
from credledger.node.auth import Principal
from credledger.node.core.errors import CredledgerError, NotFoundError
from credledger.node.openid4vp import dcql
from credledger.node.openid4vp.service import FLOWS, MODES, PresentationVerifierOID4VP
from credledger.node.openid4vp.store import FINAL
from credledger.node.web.pages import _types, lang_of, redirect, render

router = APIRouter(include_in_schema=False)
MAX_WAIT = 25  # seconds a status request may wait
#: the fields a clerk may ask, in the order shown, and those asked unless the clerk changes them
FIELDS = ("name", "number", "validUntil", "validFrom", "holderName", "holderCode", "authority",
          "issueDate", "identifier")  # fmt: skip
DEFAULT_TYPE = "FOOD-OPERATION"


def verifier(runtime: Runtime) -> PresentationVerifierOID4VP | None:
    return runtime.openid4vp


def panel(runtime: Runtime, who: Principal, rid: str | None, lang: str) -> dict[str, Any] | None:
    """The panel's view: the form's choices and, with ``rid``, that request (None: off)."""
    service = verifier(runtime)
    if service is None:
        return None
    view: dict[str, Any] = {
        "types": list(_types().values()),
        "default_type": DEFAULT_TYPE,
        "fields": FIELDS,
        "default_fields": dcql.DEFAULT_FIELDS,
        "modes": MODES,
        "flows": FLOWS,
        "request": None,
    }
    if rid:
        try:
            req = service.describe(rid, who)
        except CredledgerError:
            return view
        svg, version = qr_svg(req["authorizationRequest"], scale=1, omitsize=True)
        view["request"] = {**req, "qr": svg, "qrVersion": version, "status": status_view(req, lang)}
    return view


def status_view(req: dict[str, Any], lang: str) -> dict[str, Any]:
    """A request's status as the fragment shows it; once answered, the verdict as the CLP1
    scan result shows it (overall verdict, reasons by code, a card per licence, the record)."""
    out: dict[str, Any] = {"id": req["id"], "state": req["state"], "result": None}
    if req["state"] != "answered":
        return out
    detail = lang == "en"  # the verifier's own words are English: shown on the English page
    cards = []
    card_codes: set[str] = set()
    for c in req.get("credentials", []):
        codes = c.get("codes") or [str(c.get("verdict", "")).lower()]
        card_codes.update(codes)
        text = "; ".join(str(r) for r in c.get("reasons") or [])
        disclosed = c.get("disclosed") or {}
        vct = str(c.get("vct") or "")
        code = vct.rsplit(":", 1)[-1] if vct.startswith("urn:credledger:licence-type:") else None
        cards.append(
            {
                "verdict": c.get("verdict"),
                "kind": "credential",
                "type": {"code": code} if code else None,
                "assetId": c.get("licenceId"),
                "query": c.get("credentialQueryId"),
                "reasons": [
                    {"code": x, "detail": text if detail and i == 0 else None}
                    for i, x in enumerate(codes)
                ],
                "disclosed": [(k, v) for k, v in disclosed.items() if isinstance(k, str)],
                "holderBound": c.get("holderBound"),
            }
        )
    top = [x for x in req.get("reasonCodes", []) if x not in card_codes and x != "valid"]
    reasons = req.get("reasons") or []
    out["result"] = {
        "verdict": req.get("verdict"),
        "reasons": [
            {"code": x, "detail": "; ".join(reasons) if detail and not cards else None} for x in top
        ],
        "cards": cards,
        "verification": {"id": req["verificationId"]} if req.get("verificationId") else None,
    }
    return out


async def create(request: Request, runtime: Runtime, who: Principal, form: Any) -> Response:
    """The panel's form: a request for the licence types and fields chosen."""
    service = verifier(runtime)
    if service is None:
        return redirect("/clerk")
    types = [str(x) for x in form.getlist("licenceTypes")][: dcql.MAX_CREDENTIALS + 1]
    fields = [str(x) for x in form.getlist("fields")][: dcql.MAX_CLAIMS + 1]
    mode = str(form.get("responseMode") or "direct_post")
    flow = str(form.get("flow") or "cross-device")
    try:
        query = dcql.from_matter(types, fields or None, form.get("anyOf") == "1")
        rid = await run_in_threadpool(service.create, who, query, mode, None, flow)
    except CredledgerError:
        return redirect("/clerk?message=oid4vp.bad_matter#oid4vp")
    return redirect(f"/clerk?request={rid}#oid4vp")


async def status(
    request: Request, runtime: Runtime, who: Principal, rid: str, wait: float
) -> Response:
    """The status fragment; waits (no polling) up to ``wait`` seconds for the request to end."""
    service = verifier(runtime)
    if service is None:
        raise NotFoundError("OpenID4VP is off on this node")

    async def check() -> dict[str, Any]:
        return await run_in_threadpool(service.describe, rid, who)

    req = await service.waiters.wait(
        rid, max(0.0, min(wait, MAX_WAIT)), check, lambda r: r["state"] in FINAL
    )
    resp = render(
        request,
        "_oid4vp_status.html",
        runtime=runtime,
        st=status_view(req, lang_of(request)),
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


@router.get("/openid4vp/{rid}/done", response_class=HTMLResponse)
async def done_page(request: Request, runtime: Runtime, rid: str) -> Response:
    """Where a same-device wallet sends its browser back: the result for the response code."""
    code = request.query_params.get("response_code")
    service = verifier(runtime)
    view = None
    status = 200
    if code and service is not None and len(rid) <= 80 and len(code) <= 128:
        try:
            view = await run_in_threadpool(service.result_for_holder, rid, code)
        except NotFoundError:
            status = 404
    resp = render(
        request, "oid4vp_done.html", status=status, runtime=runtime, view=view,
        rid=rid, asked=bool(code),
        # the language links keep the response code, or the result is gone after a switch
        keep_query=urlencode({"response_code": code}) if view is not None and code else None,
    )  # fmt: skip
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp
