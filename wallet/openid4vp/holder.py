"""The wallet as an OpenID4VP 1.0 holder (issue 22 item 2): resolve a verifier's link into what
is asked and by whom, answer it with SD-JWT VC presentations of the licences the enterprise holds
(each with a KB-JWT: ``nonce`` the request's, ``aud`` the client_id, OpenID4VP 1.0 section
B.3.6), or decline it. ``respond`` and ``decline`` answer the request ``resolve`` read and checked
(kept until it expires, ``cache.py``), or fetch and check it then.
docs/openid4vp.md, "Holder: our wallet"."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import httpx
from joserfc import jwe
from joserfc.jwk import ECKey
from pydantic import BaseModel, ConfigDict, Field

from credledger.node.core import sdjwt
from credledger.node.core.errors import CredledgerError, ForbiddenError, InputError
from credledger.wallet.accounts import Caller
from credledger.wallet.credentials import CredentialPresenter
from credledger.wallet.node_client import NodeClient
from credledger.wallet.openid4vp import sets
from credledger.wallet.openid4vp.cache import RequestCache
from credledger.wallet.openid4vp.request import (
    AuthorizationRequest,
    InvalidRequest,
    UrlPolicy,
    VerifierError,
    fetch,
    parse_link,
    raise_for_verifier,
    verify,
)
from credledger.wallet.openid4vp.trust import Trust
from credledger.wallet.settings import WalletSettings

FORMAT = "dc+sd-jwt"
VCT_PREFIX = "urn:credledger:licence-type:"
MAX_CANDIDATES = 20
MAX_QUERIES = 16
MAX_ANSWER = 64 * 1024  # bytes of a verifier's answer read

AskedView = dict[str, Any]
Answered = dict[str, Any]


class Choice(BaseModel):
    """The licence chosen for one credential query and the fields it discloses (every field the
    query asks, and any more the holder adds)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    licence_id: str = Field(alias="licenceId", max_length=66)
    disclose: list[str] = Field(default_factory=list, max_length=32)


class OpenID4VPHolder:
    def __init__(
        self,
        presenter: CredentialPresenter,
        settings: WalletSettings,
        node: NodeClient,
        http: httpx.Client | None = None,
    ) -> None:
        self.presenter = presenter
        self.node = node
        self.cfg = settings.openid4vp
        devnet = settings.chain.kind == "devnet"
        self.policy = UrlPolicy(
            http=self.cfg.allow_http or devnet, private=self.cfg.allow_private_hosts or devnet
        )
        self.http = http or httpx.Client(timeout=self.cfg.timeout, follow_redirects=False)
        self.trust = Trust(node, self.cfg.trusted_verifiers, self.cfg.trust_anchors)
        self.requests = RequestCache()
        self.store = presenter.presentations.store

    def close(self) -> None:
        self.http.close()

    # --- what is asked --------------------------------------------------------------------------

    def _load(self, caller: Caller, link: str) -> AuthorizationRequest:
        """The request checked by ``resolve`` (kept until it expires), else fetched and checked
        now: a verifier may serve its request object once."""
        parsed = parse_link(link)

        def load() -> AuthorizationRequest:
            jwt = fetch(self.http, parsed, self.policy, self.cfg.max_request_bytes)
            return verify(parsed, jwt, self.policy)

        req = self.requests.get_or_load(caller.enterprise_id, parsed, load)
        return req if req.link == parsed else replace(req, link=parsed)

    def resolve(self, caller: Caller, link: str) -> AskedView:
        """Who asks (and whether the wallet trusts it) and what, with the held licences that
        can answer each credential query."""
        caller.require("present")
        req = self._load(caller, link)
        return self._view(caller, req, {})

    def _view(
        self, caller: Caller, req: AuthorizationRequest, fields: dict[str, dict[str, Any]]
    ) -> AskedView:
        trusted, why = self.trust.judge(req.client_id, req.chain)
        held = self._held(caller)
        if len(req.dcql["credentials"]) > MAX_QUERIES:
            raise InvalidRequest(f"the DCQL query has over {MAX_QUERIES} credential queries")
        queries = [self._query(cq, i, held, fields) for i, cq in enumerate(req.dcql["credentials"])]
        ids = {q["id"] for q in queries}
        csets = sets.credential_sets(req.dcql, ids)  # None: every query is required
        required = sets.required_ids(csets, ids)
        for q in queries:
            q["required"] = q["id"] in required
        view: AskedView = {
            "verifier": {
                "clientId": req.client_id,
                "name": req.name,
                "host": req.host,
                "trusted": trusted,
                "trustReason": why,
            },
            "mayAnswer": trusted or not self.cfg.only_trusted,
            "responseMode": req.response_mode,
            "expiresAt": req.expires_at,
            "link": req.link.text,
            "queries": queries,
        }
        if csets is not None:
            satisfiable = {q["id"]: q["satisfiable"] for q in queries}
            view["credentialSets"] = sets.sets_view(csets, satisfiable)
        return view

    def _held(self, caller: Caller) -> list[dict[str, Any]]:
        """The licences bound to the caller's address that it may present."""
        view = self.node.enterprise(caller.uscc)
        out = []
        for lic in view.get("licences", []):
            lid = str(lic.get("licenceId", "")).lower()
            bound = str(lic.get("holderAddress") or "").lower()
            if bound == caller.address.lower() and caller.may("present", lid):
                out.append(lic)
        # the licences in force first, the newest first: at most MAX_CANDIDATES of a type are
        # offered, and a new licence must not be the one left out
        out.sort(key=lambda lic: int(lic.get("issuedAt") or 0), reverse=True)
        out.sort(key=lambda lic: lic.get("status") != "ACTIVE")
        return out

    def _fields(self, lid: str, cache: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The claims of the licence's SD-JWT VC: the disclosable ones and those in clear (none,
        with ``error``, when the node cannot issue it as a credential)."""
        if lid not in cache:
            try:
                issued = sdjwt.parse(self.node.credential(lid, "sd-jwt", None))
            except CredledgerError as exc:  # e.g. its department has no credential key
                cache[lid] = {"clear": {}, "disclosable": {}, "error": str(exc)[:200]}
                return cache[lid]
            _, payload = sdjwt.unverified(issued.jwt)
            claims = {k: v for k, v in payload.items() if k not in ("_sd", "_sd_alg")}
            disclosable = {}
            for d in issued.disclosures:
                one = sdjwt.decode_disclosure(d)
                if one.name is not None:
                    disclosable[one.name] = one.value
            cache[lid] = {"clear": claims, "disclosable": disclosable}
        return cache[lid]

    def _query(
        self,
        cq: Any,
        index: int,
        held: list[dict[str, Any]],
        cache: dict[str, dict[str, Any]],
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(cq.get("id")) if isinstance(cq, dict) else f"#{index}",
            "format": cq.get("format") if isinstance(cq, dict) else None,
            "licenceTypes": [], "vctValues": [], "claims": [], "asks": [],
            "required": True, "candidates": [], "satisfiable": False, "reason": None,
        }  # fmt: skip
        if not isinstance(cq, dict) or not isinstance(cq.get("id"), str):
            out["reason"] = "a credential query without an id"
            return out
        if cq.get("format") != FORMAT:
            out["reason"] = f"format {cq.get('format')!r}: this wallet presents only {FORMAT}"
            return out
        meta = cq.get("meta")
        meta = meta if isinstance(meta, dict) else {}
        vcts = meta.get("vct_values")
        if not isinstance(vcts, list) or not all(isinstance(v, str) for v in vcts):
            out["reason"] = "the query names no credential type (meta.vct_values)"
            return out
        out["vctValues"] = vcts
        out["licenceTypes"] = [v[len(VCT_PREFIX) :] for v in vcts if v.startswith(VCT_PREFIX)]
        claims = cq.get("claims", [])
        if not isinstance(claims, list) or not all(
            isinstance(c, dict) and isinstance(c.get("path"), list) and c["path"]
            and isinstance(c["path"][0], str) for c in claims
        ):  # fmt: skip
            out["reason"] = "claims: each a path starting with a claim name"
            return out
        try:
            csets = sets.claim_sets(cq)
        except ValueError as exc:
            out["reason"] = str(exc)
            return out
        out["claims"] = [c["path"] for c in claims]
        out["asks"] = sorted({c["path"][0] for c in claims})
        if csets is not None:  # one of these sets of claims is enough
            out["claimSets"] = csets
            out["claimSetFields"] = sets.names_of_sets(cq, csets)
            out["asks"] = out["claimSetFields"][0]
        types = set(out["licenceTypes"])
        for lic in held:
            code = (lic.get("type") or {}).get("code")
            if code not in types or len(out["candidates"]) >= MAX_CANDIDATES:
                continue
            lid = str(lic["licenceId"]).lower()
            got = self._fields(lid, cache)
            met, disclose, missing = sets.claim_set_of(cq, csets, partial(_has, got))
            t = lic.get("type") or {}
            out["candidates"].append({
                "licenceId": lid, "licenceType": code, "title": t.get("zh") or t.get("en") or code,
                "titleEn": t.get("en"), "number": lic.get("serialNumber"),
                "status": lic.get("status"), "validUntil": lic.get("validUntil"),
                "fields": sorted(got["disclosable"]), "missing": missing,
                "unavailable": got.get("error"), "disclose": disclose, "claimSet": met,
            })  # fmt: skip
        usable = [c for c in out["candidates"] if not c["missing"] and not c["unavailable"]]
        out["satisfiable"] = bool(usable)
        if usable and csets is not None:
            out["asks"] = usable[0]["disclose"]  # the claim set of the first usable licence
        if not out["candidates"]:
            out["reason"] = "no licence of the asked type is held (bound to this enterprise)"
        elif not out["satisfiable"]:
            out["reason"] = "no held licence has every asked claim"
        return out

    # --- answering ------------------------------------------------------------------------------

    def respond(
        self, caller: Caller, link: str, choices: Mapping[str, Choice | Mapping[str, Any]]
    ) -> Answered:
        """One presentation per chosen credential query, posted to the verifier."""
        caller.require("present")
        req = self._load(caller, link)
        fields: dict[str, dict[str, Any]] = {}
        view = self._view(caller, req, fields)
        self._may_answer(view)
        picked = {k: v if isinstance(v, Choice) else Choice.model_validate(v)
                  for k, v in choices.items()}  # fmt: skip
        by_id = {q["id"]: q for q in view["queries"]}
        unknown = sorted(set(picked) - set(by_id))
        if unknown:
            raise InputError(f"choices: {', '.join(unknown)} is not a query of this request",
                             field="choices")  # fmt: skip
        # with credential_sets: per set the first option fully chosen, the other choices unsent
        keep = sets.sent(view.get("credentialSets"), set(picked))
        vp: dict[str, list[str]] = {}
        shown: dict[str, dict[str, Any]] = {}
        for qid, q in by_id.items():
            choice = picked.get(qid) if qid in keep else None
            if choice is None:
                if q["required"]:
                    raise InputError(
                        f"choices: the verifier asks for {qid}; choose a licence for it",
                        field="choices",
                    )
                continue
            lid = choice.licence_id.lower()
            cand = next((c for c in q["candidates"] if c["licenceId"] == lid), None)
            if cand is None:
                raise InputError(
                    f"choices.{qid}: licence {lid[:66]} does not answer this query (it asks "
                    f"{', '.join(q['licenceTypes']) or 'another credential'} held by this "
                    "enterprise)",
                    field="choices",
                )
            if cand["unavailable"]:
                raise InputError(f"choices.{qid}: {cand['unavailable']}", field="choices")
            if cand["missing"]:
                raise InputError(f"choices.{qid}: the licence lacks {cand['missing']}",
                                 field="choices")  # fmt: skip
            clear = set(fields[lid]["clear"])  # in clear: always shown, nothing to disclose
            if q.get("claimSets") is not None:
                self._one_claim_set(req, q, fields[lid], set(choice.disclose) | clear)
            lacking = [] if q.get("claimSets") else sorted(set(q["asks"]) - set(choice.disclose)
                                                           - clear)  # fmt: skip
            if lacking:
                raise InputError(
                    f"choices.{qid}.disclose: the verifier asks {', '.join(lacking)} too; "
                    "disclose every asked field or decline",
                    field="choices",
                )
            made = self.presenter.present(
                caller,
                lid,
                [d for d in choice.disclose if d not in clear],
                nonce=req.nonce,
                audience=req.client_id,
            )
            vp[qid] = [made["presentation"]]
            shown[qid] = {"licenceId": lid, "disclosed": made["disclosed"]}
        if not vp:
            raise InputError("choices: choose a licence for at least one query", field="choices")
        body: dict[str, Any] = {"vp_token": vp}
        if req.state is not None:
            body["state"] = req.state
        status, answer = self._post(req, body)
        self._record(caller, req, view, "openid4vp.presented", status, credentials=shown)
        return {"status": "sent", "verifierStatus": status,
                "redirectUri": _redirect(answer)}  # fmt: skip

    def _one_claim_set(
        self, req: AuthorizationRequest, q: dict[str, Any], got: dict[str, Any], shown: set[str]
    ) -> None:
        """The fields disclosed (with those in clear) make one of the query's claim sets."""
        cq = next(c for c in req.dcql["credentials"] if c.get("id") == q["id"])
        if not sets.covers(cq, q["claimSets"], shown, partial(_has, got)):
            alternatives = " or ".join("[" + ", ".join(f) + "]" for f in q["claimSetFields"])
            raise InputError(
                f"choices.{q['id']}.disclose: the verifier asks one of {alternatives}; disclose "
                "one of them in full (fields the licence has) or decline",
                field="choices",
            )

    def decline(self, caller: Caller, link: str) -> Answered:
        """The error response ``access_denied`` (with the request's state): the verifier learns
        the holder said no, nothing else."""
        caller.require("present")
        req = self._load(caller, link)
        body: dict[str, Any] = {
            "error": "access_denied",
            "error_description": "the holder declined to present",
        }
        if req.state is not None:
            body["state"] = req.state
        status, answer = self._post(req, body, plain=True)
        trusted, _ = self.trust.judge(req.client_id, req.chain)
        view = {"verifier": {"name": req.name, "host": req.host, "trusted": trusted}}
        self._record(caller, req, view, "openid4vp.declined", status)
        return {"status": "declined", "verifierStatus": status,
                "redirectUri": _redirect(answer)}  # fmt: skip

    def _may_answer(self, view: AskedView) -> None:
        if not view["mayAnswer"]:
            raise ForbiddenError(
                f"the wallet answers only trusted verifiers (openid4vp.only_trusted); "
                f"{view['verifier']['name']} is not: {view['verifier']['trustReason']}"
            )

    def _post(
        self, req: AuthorizationRequest, body: dict[str, Any], plain: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """direct_post: the form; direct_post.jwt: ``response``, a JWE to the verifier's key.
        An error response is sent as a form in both modes (it holds no credential)."""
        if req.response_mode == "direct_post.jwt" and not plain:
            assert req.enc_key is not None and req.enc is not None
            protected = {"alg": "ECDH-ES", "enc": req.enc}
            if "kid" in req.enc_key:
                protected["kid"] = req.enc_key["kid"]
            key = ECKey.import_key({k: v for k, v in req.enc_key.items() if k != "kid"})
            form = {"response": jwe.encrypt_compact(protected, sdjwt.compact_json(body), key)}
        else:
            form = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in body.items()}
        try:
            r = self.http.post(req.response_uri, data=form, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise VerifierError(
                f"the verifier at {req.host} does not answer ({type(exc).__name__})"
            ) from None
        content = r.content[:MAX_ANSWER]
        if r.status_code >= 300:
            raise_for_verifier(r.status_code, content, "the response")
        try:
            answer = json.loads(content) if content.strip() else {}
        except ValueError:
            answer = {}
        return r.status_code, answer if isinstance(answer, dict) else {}

    def _record(
        self, caller: Caller, req: AuthorizationRequest, view: AskedView, action: str,
        status: int, **extra: Any,
    ) -> None:  # fmt: skip
        """The answer in the enterprise's history (wallet events)."""
        v = view["verifier"]
        lids = [c["licenceId"] for c in extra.get("credentials", {}).values()]
        with self.store.tx() as c:
            self.store.event(
                c, caller.enterprise_id, caller.label, action, clientId=req.client_id,
                verifier=v["name"], host=v["host"], trusted=v["trusted"],
                verifierStatus=status, assetId=lids[0] if lids else None, **extra,
            )  # fmt: skip


def _has(fields: dict[str, Any], claim: dict[str, Any]) -> bool:
    """The credential has the claim's first path element (and, if ``values`` is given and the
    path is one name, one of those values)."""
    name = claim["path"][0]
    if name in fields["disclosable"]:
        value = fields["disclosable"][name]
    elif name in fields["clear"]:
        value = fields["clear"][name]
    else:
        return False
    values = claim.get("values")
    if isinstance(values, list) and len(claim["path"]) == 1:
        return value in values
    return True


def _redirect(answer: dict[str, Any]) -> str | None:
    uri = answer.get("redirect_uri")
    if isinstance(uri, str) and urlsplit(uri).scheme in ("https", "http"):
        return uri
    return None
