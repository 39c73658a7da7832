"""The verifier (docs/openid4vp.md): start a presentation request, serve its signed request
object, take the wallet's ``direct_post`` response once, judge each SD-JWT VC presentation with
the credential verifier (``node/credentials``) and the DCQL query, and write the verdict as a
verification record of the licence log, like the counter's."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from credledger.node.auth import Principal
from credledger.node.core import sdjwt
from credledger.node.core.errors import (
    ConflictError,
    CredledgerError,
    InputError,
    NotFoundError,
)
from credledger.node.core.identifiers import contains_citizen_id
from credledger.node.counter.records import PresentationRecords
from credledger.node.credentials.service import CredentialService
from credledger.node.openid4vp import dcql, encryption
from credledger.node.openid4vp.identity import VerifierIdentity
from credledger.node.openid4vp.store import PresentationRequest, RequestStore
from credledger.node.openid4vp.waiters import Waiters

log = logging.getLogger("credledger.node.openid4vp")

FORMAT = "credledger-openid4vp-verification-1"
LIFETIME = 600  # seconds a request may be answered
MAX_VP_TOKEN = 256 * 1024
WALLET_AUD = "https://self-issued.me/v2"  # a request object's aud (OpenID4VP 1.0 5.8, static)
ERROR_CODE = re.compile(r"^[\x20-\x21\x23-\x5B\x5D-\x7E]{1,64}$")  # RFC 6749 error
JWT_MODE = "direct_post.jwt"
MODES = ("direct_post", JWT_MODE)
FLOWS = ("cross-device", "same-device")
#: what a request whose judging failed (or was cut by a restart) answers
FAILED = {
    "verdict": None,
    "reasonCodes": ["verifier_error"],
    "reasons": ["the verifier failed while judging the response; start a new request"],
    "credentials": [],
}
VP_FORMATS = {"dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}}


#: the counter's list of a clerk's checks of today (``PresentationVerifier.note_check``):
#: (checked by, verification id, verdict, reason codes, assets, kind)
Listed = Callable[[str, str, str, list[str], list[dict[str, Any]], str], None]


class Replayed(ConflictError):
    code = "replayed"


class Expired(ConflictError):
    code = "expired"


class VerifierFailed(CredledgerError):
    code = "verifier_error"
    http_status = 500


class PresentationVerifierOID4VP:
    def __init__(
        self,
        credentials: CredentialService,
        identity: VerifierIdentity,
        store: RequestStore,
        records: PresentationRecords,
        *,
        base_url: str,
        listed: Listed | None = None,
    ) -> None:
        self.credentials = credentials
        self.listed = listed
        self.identity = identity
        self.store = store
        self.records = records
        self.base_url = base_url.rstrip("/")
        self.waiters = Waiters()
        cut = store.fail_unfinished({**FAILED, "answeredAt": int(time.time())})
        if cut:
            log.warning("%d presentation request(s) cut by the last stop are now failed", cut)

    # --- the request --------------------------------------------------------------------------

    def _urls(self, rid: str) -> tuple[str, str]:
        base = f"{self.base_url}/v1/presentation-requests/{rid}"
        return base + "/request", base + "/response"

    def authorization_request(self, rid: str) -> str:
        """``openid4vp://`` with the request by reference (OpenID4VP 1.0 section 5.7, RFC 9101)."""
        request_uri, _ = self._urls(rid)
        return (
            f"openid4vp://?client_id={quote(self.identity.client_id, safe='')}"
            f"&request_uri={quote(request_uri, safe='')}"
        )

    def create(
        self,
        who: Principal,
        query: dict[str, Any],
        mode: str = "direct_post",
        now: int | None = None,
        flow: str = "cross-device",
    ) -> str:
        """A new request; ``mode`` ``direct_post.jwt`` asks the response encrypted to a key of
        this request alone (ECDH-ES, HAIP 1.0); ``flow`` ``same-device`` sends the wallet's
        browser back to the result page (``redirect_uri``, OpenID4VP 1.0 section 8.2)."""
        if mode not in MODES:
            raise InputError(f"responseMode: one of {', '.join(MODES)}", field="responseMode")
        if flow not in FLOWS:
            raise InputError(f"flow: one of {', '.join(FLOWS)}", field="flow")
        at = int(time.time()) if now is None else now
        rid = "pr_" + sdjwt.b64url(secrets.token_bytes(12))
        enc = encryption.new_key() if mode == JWT_MODE else None
        self.store.add(
            PresentationRequest(
                rid, secrets.token_urlsafe(24), secrets.token_urlsafe(24), dcql.checked(query),
                who.label, who.department, at, at + LIFETIME, "pending", None, mode, enc, flow,
            )
        )  # fmt: skip
        return rid

    def _get(self, rid: str) -> PresentationRequest:
        req = self.store.get(rid) if isinstance(rid, str) and len(rid) <= 80 else None
        if req is None:
            raise NotFoundError(f"no presentation request {rid}")
        return req

    def request_object(self, rid: str, now: int | None = None) -> str:
        req = self._get(rid)
        at = int(time.time()) if now is None else now
        state = req.state_now(at)
        if state != "pending":
            raise Expired(f"presentation request {rid} is {state}; start a new one")
        _, response_uri = self._urls(rid)
        return self.identity.request_object(
            {
                "iss": self.identity.client_id,
                "aud": WALLET_AUD,
                "iat": at,
                "exp": req.expires_at,
                "response_type": "vp_token",
                "response_mode": req.mode,
                "response_uri": response_uri,
                "nonce": req.nonce,
                "state": req.state,
                "dcql_query": req.query,
                "client_metadata": encryption.client_metadata(req.enc_key, VP_FORMATS),
            }
        )

    def describe(self, rid: str, who: Principal | None = None) -> dict[str, Any]:
        """The request and, once answered, its verdict; ``who`` (a clerk or department) sees
        only its own department's requests (the others are 404)."""
        req = self._get(rid)
        if who is not None and who.department != req.department:
            raise NotFoundError(f"no presentation request {rid}")
        body: dict[str, Any] = {
            "id": req.id,
            "state": req.state_now(),
            "clientId": self.identity.client_id,
            "authorizationRequest": self.authorization_request(req.id),
            "dcqlQuery": req.query,
            "responseMode": req.mode,
            "flow": req.flow,
            "createdAt": req.created_at,
            "expiresAt": req.expires_at,
        }
        if req.result is not None:
            body.update(req.result)
        return body

    # --- the response -------------------------------------------------------------------------

    def _take(self, rid: str) -> int:
        now = int(time.time())
        if not self.store.take(rid, now):
            _refuse_unless_pending(self._get(rid), now)
            raise Replayed(f"presentation request {rid} was taken by another response")
        return now

    def declined(self, rid: str, error: Any, description: Any, state: Any) -> dict[str, Any]:
        """The wallet's error response (OpenID4VP 1.0 section 8.5, e.g. ``access_denied``):
        the request is answered REFUSED ``wallet_error`` (no credential, so no record)."""
        req = self._get(rid)
        if not isinstance(error, str) or not ERROR_CODE.match(error):
            raise InputError("error: an OAuth 2.0 error code", field="error")
        if not isinstance(state, str) or state != req.state:
            raise InputError("state: an error response carries this request's state", field="state")
        now = self._take(rid)
        why = f"the wallet answered {error}"
        if isinstance(description, str) and description and not contains_citizen_id(description):
            why += ": " + description[:300]  # stored: never with a personal ID number
        result = {
            "verdict": "REFUSED",
            "reasonCodes": ["wallet_error"],
            "reasons": [why],
            "credentials": [],
            "walletError": error,
            "answeredAt": now,
        }
        return self._answered(req, result)

    def _answered(self, req: PresentationRequest, result: dict[str, Any]) -> dict[str, Any]:
        """Store the verdict, wake the clerk page; the wallet's answer: ``{}``, or for the
        same-device flow the ``redirect_uri`` of the result page with a fresh response code
        (only its hash is kept)."""
        code = secrets.token_urlsafe(24) if req.flow == "same-device" else None
        self.store.answer(req.id, result, _sha256(code) if code else None)
        self.waiters.notify(req.id)
        if code is None:
            return {}
        return {"redirect_uri": f"{self.base_url}/openid4vp/{req.id}/done#response_code={code}"}

    def result_for_holder(self, rid: str, response_code: Any) -> dict[str, Any]:
        """What the same-device result page shows whoever holds the response code: the verdict,
        each licence's type and the fields disclosed (no record, no reasons in detail)."""
        req = self._get(rid)
        want = req.response_code_sha256
        if (
            not isinstance(response_code, str)
            or not want
            or not hmac.compare_digest(_sha256(response_code), want)
        ):
            raise NotFoundError(f"no answered presentation request {rid} for this response code")
        result = req.result or {}
        return {
            "id": req.id,
            "verdict": result.get("verdict"),
            "reasonCodes": result.get("reasonCodes", []),
            "credentials": [
                {
                    "licenceType": _type_of(c),
                    "verdict": c.get("verdict"),
                    "disclosed": c.get("disclosed") or {},
                }
                for c in result.get("credentials", [])
            ],
            "answeredAt": result.get("answeredAt"),
        }

    def respond(self, rid: str, vp_token: Any, state: Any, response: Any = None) -> dict[str, Any]:
        """Take the request (once), judge the presentations, record the verdict; the wallet's
        answer (``{}`` or ``{"redirect_uri"}``). ``response``: the encrypted authorization
        response of a ``direct_post.jwt`` request. A failure after the request was taken ends
        it ``failed`` (``verifier_error``) and is raised."""
        req = self._get(rid)
        _refuse_unless_pending(req, int(time.time()))  # a replay: 409 before anything is read
        if req.mode == JWT_MODE:
            if vp_token is not None or not isinstance(response, str):
                raise InputError(
                    "this request asks for an encrypted response (response_mode "
                    "direct_post.jwt): send 'response', a JWE",
                    field="response",
                )
            vp_token, state = encryption.opened(response, req.enc_key or {})
        elif response is not None:
            raise InputError("this request asks for direct_post: send vp_token", field="response")
        presented = _parse_vp_token(vp_token)
        if state is not None and (not isinstance(state, str) or state != req.state):
            raise InputError("state: not this request's state", field="state")
        now = self._take(rid)
        try:
            result = self._judged(req, presented, vp_token, now)
        except BaseException as exc:
            log.warning("presentation request %s failed while judging: %r", rid, exc)
            self.store.fail(rid, {**FAILED, "answeredAt": int(time.time())})
            self.waiters.notify(rid)
            if isinstance(exc, CredledgerError) or not isinstance(exc, Exception):
                raise
            raise VerifierFailed(f"presentation request {rid}: the verifier failed") from exc
        return self._answered(req, result)

    def _judged(
        self, req: PresentationRequest, presented: dict[str, str], vp_token: Any, now: int
    ) -> dict[str, Any]:
        sets = bool(req.query.get("credential_sets"))  # then only the answered are judged
        results = [
            self._judge(req, cq, presented.get(cq["id"]))
            for cq in req.query["credentials"]
            if not sets or cq["id"] in presented
        ]
        asked = {cq["id"] for cq in req.query["credentials"]}
        extra = sorted(set(presented) - asked)
        verdict, codes, why = _overall(results, extra, req.query)
        reasons = [f"{r['credentialQueryId']}: {x}" for r in results for x in r["reasons"]]
        reasons += why
        if extra:
            reasons.append(f"credentials not asked for: {', '.join(extra)}")
        vid = "vr_" + uuid.uuid4().hex
        lids = [r["licenceId"] for r in results if r.get("licenceId")]
        record = {
            "format": FORMAT,
            "id": vid,
            "checked": {
                "presentationRequest": req.id,
                "clientId": self.identity.client_id,
                "nonce": req.nonce,
                "dcqlQuery": req.query,
                "vpTokenSha256": "0x" + _sha256(str(vp_token)),
            },
            "verdict": verdict,
            "reasons": codes,
            "assets": [
                {"assetId": r.get("licenceId"), "verdict": r["verdict"], "reasons": r["codes"]}
                for r in results
            ],
            "checkedBy": req.created_by,
            "department": req.department,
            "checkedAt": now,
            "chainId": self.records.chain_id,
            "chainHead": max((r.get("judgedAtBlock") or 0 for r in results), default=0),
            "registry": self.records.registry_address,
        }
        receipt = self.records.write(vid, record, tuple(bytes.fromhex(x[2:]) for x in lids))
        if self.listed is not None:
            assets = [
                {"assetId": r["licenceId"], "verdict": r["verdict"], "type": _type_of(r)}
                for r in results
                if r.get("licenceId")
            ]
            self.listed(req.created_by, vid, verdict, codes, assets, "openid4vp")
        result = {
            "verdict": verdict,
            "reasonCodes": codes,
            "reasons": reasons,
            "credentials": results,
            "verificationId": vid,
            "record": receipt.model_dump(),
            "answeredAt": now,
        }
        return result

    def _judge(
        self, req: PresentationRequest, cq: dict[str, Any], vp: str | None
    ) -> dict[str, Any]:
        base: dict[str, Any] = {"credentialQueryId": cq["id"]}
        if vp is None:
            return _refused(base, "missing", "no presentation for this credential query")
        try:
            parsed = sdjwt.parse(vp)
            _, payload = sdjwt.unverified(parsed.jwt)
            kb = sdjwt.unverified(parsed.kb_jwt)[1] if parsed.kb_jwt else None
        except InputError as exc:
            return _refused(base, "malformed", f"not an SD-JWT VC presentation: {exc.message}")
        if kb is None:
            return _refused(base, "no_key_binding", "the presentation has no key-binding JWT")
        if kb.get("nonce") != req.nonce:
            return _refused(base, "wrong_nonce", "the key-binding JWT is not for this nonce")
        if kb.get("aud") != self.identity.client_id:
            return _refused(
                base,
                "wrong_audience",
                f"the presentation is for verifier {kb.get('aud')!r}, not this one "
                f"({self.identity.client_id})",
            )
        try:
            answer = self.credentials.verify(vp, nonce=req.nonce, audience=self.identity.client_id)
        except InputError as exc:
            return _refused(base, "malformed", exc.message)
        assert answer is not None  # wait=True always answers
        out = {**base, **answer, "codes": [str(answer["verdict"]).lower()]}
        if isinstance(payload.get("vct"), str):
            out["vct"] = payload["vct"]
        if answer["verdict"] in ("TAMPERED", "UNKNOWN"):
            return out
        claims, _ = sdjwt.disclosed_claims(payload, parsed.disclosures)
        if cq.get("claim_sets"):
            out["claimSet"] = dcql.claim_set_met(cq, claims)  # the first met, by index
        wrong = dcql.mismatches(cq, claims)
        if wrong:
            out.update(verdict="REFUSED", codes=["query_not_satisfied"])
            out["reasons"] = [*wrong, *answer["reasons"]]
        return out


def _refuse_unless_pending(req: PresentationRequest, now: int) -> None:
    current = req.state_now(now)
    if current == "expired":
        raise Expired(f"presentation request {req.id} has expired; start a new one")
    if current != "pending":
        raise Replayed(
            f"presentation request {req.id} was answered already: its nonce and state are "
            "single use (a replayed response is refused)"
        )


def _refused(base: dict[str, Any], code: str, reason: str) -> dict[str, Any]:
    return {**base, "verdict": "REFUSED", "codes": [code], "reasons": [reason], "disclosed": {}}


def _overall(
    results: list[dict[str, Any]], extra: list[str], query: dict[str, Any]
) -> tuple[str, list[str], list[str]]:
    """(verdict, reason codes, reasons beyond each credential's): REFUSED when one not asked was
    sent; with ``credential_sets``, each required set needs an option all VALID, a REFUSED
    presentation being discarded (``dcql.sets_judged``); without, every query VALID."""
    codes = [c for r in results for c in r["codes"] if c != "valid"]
    if extra:
        codes.append("not_asked")
    if query.get("credential_sets"):
        verdicts = {r["credentialQueryId"]: str(r["verdict"]) for r in results}
        verdict, more, why = dcql.sets_judged(query, verdicts)
        verdict = "REFUSED" if extra else verdict
        return verdict, [*codes, *more] if verdict != "VALID" else ["valid"], why
    if extra or any(r["verdict"] == "REFUSED" for r in results):
        return "REFUSED", codes, []
    for r in results:
        if r["verdict"] != "VALID":
            return str(r["verdict"]), codes, []
    return "VALID", ["valid"], []


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _type_of(credential: dict[str, Any]) -> str | None:
    """The licence type code of a judged credential (its ``vct``), if known."""
    vct = credential.get("vct") or (credential.get("disclosed") or {}).get("vct")
    prefix = "urn:credledger:licence-type:"
    if isinstance(vct, str) and vct.startswith(prefix):
        return vct[len(prefix) :]
    lt = credential.get("licenceType") or credential.get("type")
    if isinstance(lt, dict):
        return str(lt.get("code")) if lt.get("code") else None
    return lt if isinstance(lt, str) else None


def _parse_vp_token(text: Any) -> dict[str, str]:
    """The ``vp_token``: a JSON object keyed by credential query id, each a list of one
    presentation (OpenID4VP 1.0 section 8.1; a bare string is taken as a one-item list)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("vp_token: the presentations, a JSON object", field="vp_token")
    if len(text) > MAX_VP_TOKEN:
        raise InputError("vp_token: too long", field="vp_token")
    try:
        value = json.loads(text)
    except ValueError:
        raise InputError("vp_token: not JSON", field="vp_token") from None
    if not isinstance(value, dict) or not value or len(value) > dcql.MAX_CREDENTIALS:
        raise InputError("vp_token: an object keyed by credential query id", field="vp_token")
    out = {}
    for k, v in value.items():
        items = [v] if isinstance(v, str) else v
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], str):
            raise InputError(
                f"vp_token: {k!r} is one presentation (multiple is not supported)",
                field="vp_token",
            )
        out[str(k)] = "".join(items[0].split())
    return out
