"""The page's "scan to present" view (issue 22): the wallet as an OpenID4VP holder.

``GET /present`` shows the camera scanner (``static/scan.js`` with jsQR, served by the wallet
itself) and a field for the link; ``GET /openid4vp?client_id=…&request_uri=…`` is the same view
with the link filled in (an ``openid4vp://`` link opened on the phone, its query put after the
wallet's address: same-device). Not signed in, the link is kept in a cookie for ten minutes and
sign-in lands back here. The link is only fetched on a POST (``/web/present``, CSRF): the
consent page says who asks (the verifier's name, host, trusted or not) and what (per credential
query: licence types and fields), with a choice of licence and of the fields to disclose; then
``/web/present/respond`` or ``/web/present/decline`` answer the verifier and the result page
links back to it when the verifier gave a ``redirect_uri``. Every call goes to the wallet's
:class:`~credledger.wallet.openid4vp.OpenID4VPHolder` (server-rendered, not through the API).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from credledger.node.core.errors import CredledgerError, InputError
from credledger.node.core.gbt import METADATA_FIELDS
from credledger.wallet.accounts import Caller
from credledger.wallet.openid4vp import OpenID4VPHolder
from credledger.wallet.runtime import WalletRuntime
from credledger.wallet.web.actions import _signed_in_form
from credledger.wallet.web.common import (
    caller_of,
    error_text,
    many,
    redirect,
    runtime_of,
    text,
)
from credledger.wallet.web.views import login_page, page

router = APIRouter(include_in_schema=False)
#: the link of a request opened before sign-in (same-device), kept until sign-in
LINK_COOKIE = "wallet_oid4vp_link"
LINK_MAX = 2048
#: the GB/T 36903 fields of a licence credential, each selectively disclosable
FIELDS = METADATA_FIELDS


def holder_of(runtime: WalletRuntime) -> OpenID4VPHolder:
    """The wallet's OpenID4VP holder service (``wallet/openid4vp/``)."""
    return runtime.openid4vp


def link_of(raw: str) -> str:
    """The link as typed or scanned (an ``openid4vp://`` or ``haip-vp://`` link, an https link
    or just its query); its shape and all else are checked by the holder."""
    link = raw.strip()
    if not link:
        raise InputError("scan the verifier's QR code or paste its link", field="link")
    if len(link) > LINK_MAX:
        raise InputError("link: too long", field="link")
    return link


def _fields(query: dict[str, Any]) -> list[str]:
    """The claim names a credential query asks (top-level paths; others shown as they are)."""
    names: list[str] = []
    for path in query.get("claims") or []:
        parts = [str(p) for p in path if p is not None] if isinstance(path, list) else [str(path)]
        name = ".".join(parts)
        if name and name not in names:
            names.append(name)
    return names


def consent_view(asked: dict[str, Any]) -> dict[str, Any]:
    """The holder's AskedView as the consent page shows it: per query, the fields asked (always
    disclosed) and the others of the held licences the enterprise may add, and whether it is
    chosen at first. A query the verifier does not require (DCQL ``credential_sets``: one of
    several options, or an optional set) may be left out; of each set, the first option the
    enterprise can answer in full is chosen at first, the others are not."""
    queries = []
    for q in asked.get("queries") or []:
        wanted = [str(f) for f in q.get("asks") or []] or _fields(q)
        held = {str(f) for c in q.get("candidates") or [] for f in c.get("fields") or []}
        extra = [f for f in FIELDS if f not in wanted and (f in held or not held)]
        usable = [c for c in q.get("candidates") or []
                  if not c.get("missing") and not c.get("unavailable")]  # fmt: skip
        # DCQL claim_sets: each licence discloses the first field group it has in full (its
        # own ``disclose``), shown and sent with that licence, not the query's first group
        each = len(q.get("claimSetFields") or []) > 1
        if each:
            groups = {str(f) for c in usable for f in c.get("disclose") or []}
            wanted, extra = [], [f for f in FIELDS if f not in groups and (f in held or not held)]
        queries.append({**q, "asked": wanted, "optional": extra, "usable": usable, "each": each,
                        "required": q.get("required", True) is not False})  # fmt: skip
    answerable = {q["id"] for q in queries if q["usable"]}
    sets = asked.get("credentialSets")
    if sets:
        first = set()
        for cs in sets:
            option = next((o for o in cs.get("options") or [] if set(o) <= answerable), None)
            first |= set(option or [])
        able = all(cs.get("satisfiable", True) for cs in sets if cs.get("required", True))
    else:
        first = answerable
        able = True
    for q in queries:
        q["chosen"] = q["usable"] and (q["required"] or q["id"] in first)
    able = able and bool(queries) and all(q["usable"] for q in queries if q["required"])
    return {**asked, "queries": queries, "verifier": asked.get("verifier") or {},
            "answerable": able and asked.get("mayAnswer", True) is not False}  # fmt: skip


def safe_return(uri: Any) -> str | None:
    """A verifier's ``redirect_uri``, if it is an http(s) address (a link may not run script)."""
    if not isinstance(uri, str) or len(uri) > LINK_MAX:
        return None
    parts = urlsplit(uri)
    return uri if parts.scheme in ("https", "http") and parts.netloc else None


def _types(runtime: WalletRuntime, caller: Caller) -> dict[str, Any]:
    """The licence types' names by code, from the enterprise's own licences."""
    try:
        licences = runtime.assets.assets(caller).get("licences", [])
    except CredledgerError:
        return {}
    out: dict[str, Any] = {}
    for lic in licences:
        ty = lic.get("type") or {}
        if ty.get("code"):
            out[str(ty["code"])] = ty
    return out


@router.get("/present")
async def present_view(request: Request) -> Response:
    return await _present(request, request.query_params.get("link", ""))


@router.get("/openid4vp")
async def same_device(request: Request) -> Response:
    """An ``openid4vp://?client_id=…&request_uri=…`` link opened on the phone, its query after
    the wallet's address: the scan view with the link filled in (one tap to see the request)."""
    query = request.url.query
    if "lang" in request.query_params:
        query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "lang"])
    return await _present(request, f"openid4vp://?{query}" if query else "")


async def _present(request: Request, link: str) -> Response:
    runtime = runtime_of(request)
    who = await run_in_threadpool(caller_of, request, runtime)
    link = link[:LINK_MAX]
    if who is None:
        resp = login_page(request)
        if link:
            resp.set_cookie(LINK_COOKIE, link, max_age=600, path="/", httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")  # fmt: skip
        return resp
    kept = request.cookies.get(LINK_COOKIE, "")
    resp = await page(request, runtime, who, "present", link=link or kept[:LINK_MAX])
    if kept:
        resp.delete_cookie(LINK_COOKIE, path="/")
    return resp


@router.post("/web/present")
async def web_resolve(request: Request) -> Response:
    """The link, scanned or typed: the consent page (who asks what), or the view with why not."""
    got = await _signed_in_form(request)
    if isinstance(got, Response):
        return got
    runtime, who, form = got
    raw = text(form, "link")

    def resolve() -> tuple[dict[str, Any], dict[str, Any]]:
        link = link_of(raw)
        asked = holder_of(runtime).resolve(who[0], link)
        return consent_view({**asked, "link": link}), _types(runtime, who[0])

    try:
        asked, types = await run_in_threadpool(resolve)
    except CredledgerError as exc:
        return await page(request, runtime, who, "present", exc.http_status,
                          link=raw[:LINK_MAX], error=error_text(request, exc))  # fmt: skip
    return await page(request, runtime, who, "present_consent", tab="present", asked=asked,
                      types=types)  # fmt: skip


def choices_of(form: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``licence.<query id>`` (a radio) and ``disclose.<query id>`` (checkboxes) per query."""
    out: dict[str, dict[str, Any]] = {}
    for key in form:
        if key.startswith("licence.") and len(key) > len("licence."):
            qid = key[len("licence.") :]
            if not text(form, key):  # "do not present" (a query the verifier does not require)
                continue
            # the chosen licence's own field group (claim_sets), then the fields asked and added
            fields = many(form, f"asks.{qid}.{text(form, key)}") + many(form, f"disclose.{qid}")
            out[qid] = {"licenceId": text(form, key), "disclose": list(dict.fromkeys(fields))}
    if not out:
        raise InputError("choose a licence for each request", field="licence")
    return out


@router.post("/web/present/respond")
async def web_respond(request: Request) -> Response:
    return await _answer(request, "respond")


@router.post("/web/present/decline")
async def web_decline(request: Request) -> Response:
    return await _answer(request, "decline")


async def _answer(request: Request, how: str) -> Response:
    got = await _signed_in_form(request)
    if isinstance(got, Response):
        return got
    runtime, who, form = got
    raw = text(form, "link")

    def answer() -> dict[str, Any]:
        link = link_of(raw)
        holder = holder_of(runtime)
        if how == "decline":
            return holder.decline(who[0], link)
        return holder.respond(who[0], link, choices_of(form))

    try:
        answered = await run_in_threadpool(answer)
    except CredledgerError as exc:
        return await page(request, runtime, who, "present", exc.http_status,
                          link=raw[:LINK_MAX], error=error_text(request, exc))  # fmt: skip
    back = safe_return(answered.get("redirectUri"))
    return await page(request, runtime, who, "present_done", tab="present",
                      answered=answered, back=back)  # fmt: skip


@router.get("/web/present")
async def web_resolve_get() -> Response:
    """A reload of the consent page's address: back to the scan view."""
    return redirect("/present")
