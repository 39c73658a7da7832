"""Verification of a presentation token at a counter (``POST /v1/verify/presentation``).

Token checks first (format, signature, validity window, audience, single use), then per asset:
the presenter's authority (the holder itself, or an agent/device with an active on-chain
COUNTER-PRESENTATION grant), the issuer's current authorisation for the type, status, validity
and — when the clerk uploads it — the document. Every check, accepted or refused, becomes a
verification record anchored like a document check. Licence facts come from the licence
service's public reads (``get``, ``verify_document``) and contract views; nothing is cached
across blocks.

Verdicts: ``VALID`` (every asset valid), ``INVALID`` (the token is sound but an asset is not),
``REFUSED`` (the token itself is refused). Reason codes are listed in ``REASONS`` and
``docs/counter.md``; the clerk page translates them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address
from web3.types import RPCEndpoint

from credledger.node.anchoring.service import AnchoringService
from credledger.node.auth import Principal, require
from credledger.node.core import presentation as pr
from credledger.node.core.chain import Chain
from credledger.node.core.contracts import licence_events as ev
from credledger.node.core.contracts.consent_registry import ConsentRegistry, purpose_of
from credledger.node.core.errors import ForbiddenError, NotFoundError
from credledger.node.departments import Departments
from credledger.node.groupcommit import Verification, VerificationLog
from credledger.node.licences.catalogue import Catalogue
from credledger.node.licences.context import LicenceContext
from credledger.node.licences.inputs import decode_serial, iso, reason_text
from credledger.node.licences.verdicts import Status, effective_status
from credledger.node.readmodel import ReadModel

from .store import CounterStore

log = logging.getLogger("credledger.node.counter")

COUNTER_PURPOSE = purpose_of("COUNTER-PRESENTATION")
ROLE_ISSUER = 1  # LicenceRegistry authorisation bit
CHAIN_STATUS = {1: "ACTIVE", 2: "SUSPENDED", 3: "REVOKED", 4: "EXPIRED"}
FORMAT = "credledger-presentation-verification-1"

# code -> what it means (the API's English sentence is built per case; the page translates)
REASONS = {
    "TOKEN_MALFORMED": "the text is not a presentation token",
    "BAD_SIGNATURE": "the signature does not match the token (altered, damaged or forged)",
    "TOKEN_EXPIRED": "the token is older than its validity",
    "TOKEN_NOT_YET_VALID": "the token was issued in the future (the phone's clock is wrong)",
    "REPLAYED": "the token was already presented once",
    "WRONG_AUDIENCE": "the token is meant for another department or counter",
    "NOT_HOLDER": "the presenter is not the asset's holder and has no grant from it",
    "AGENT_NOT_AUTHORISED": "the presenter's COUNTER-PRESENTATION grant is not active",
    "ISSUER_NOT_AUTHORISED": "the issuing department is not authorised for this licence type",
    "SUSPENDED": "the licence is suspended",
    "REVOKED": "the licence is revoked",
    "EXPIRED": "the licence has expired",
    "NOT_YET_VALID": "the licence is not valid yet",
    "SUPERSEDED": "the document is an earlier version of the licence",
    "TAMPERED": "the document does not match the asset",
    "UNKNOWN_ASSET": "no licence or anchored material has this id",
    "DOCUMENT_NEEDED": "a material is checked against its document; upload it",
    "VALID": "the asset is valid",
}
# precedence of asset verdicts: the first one found wins
_ORDER = [
    "UNKNOWN_ASSET",
    "NOT_HOLDER",
    "AGENT_NOT_AUTHORISED",
    "ISSUER_NOT_AUTHORISED",
    "REVOKED",
    "SUSPENDED",
    "EXPIRED",
    "NOT_YET_VALID",
    "TAMPERED",
    "SUPERSEDED",
    "DOCUMENT_NEEDED",
]


def material_asset_id(holder: str, doc_hash: bytes) -> bytes:
    """A material's asset id: ``keccak256(abi.encode(holder, docHash))`` (Contracts II)."""
    return keccak(abi_encode(["address", "bytes32"], [to_checksum_address(holder), doc_hash]))


def _reason(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}


def _hash_json(obj: Any) -> bytes:
    return hashlib.sha256(
        json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).digest()


def _abi_type(entry: dict[str, Any]) -> str:
    if entry["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in entry["components"])
        return f"({inner})" + str(entry["type"])[len("tuple") :]
    return str(entry["type"])


class ViewCaller:
    """Raw ``eth_call`` of a contract's view functions: the selector and ABI types computed once,
    no web3 contract-function machinery per call (which costs more than the call itself)."""

    def __init__(self, chain: Chain, address: str, abi: list[dict[str, Any]]) -> None:
        self.chain = chain
        self.address = to_checksum_address(address)
        self._fns: dict[str, tuple[bytes, list[str], list[str]]] = {}
        for f in abi:
            if f.get("type") != "function" or f.get("stateMutability") not in ("view", "pure"):
                continue
            ins = [_abi_type(i) for i in f["inputs"]]
            outs = [_abi_type(o) for o in f["outputs"]]
            selector = keccak(f"{f['name']}({','.join(ins)})".encode())[:4]
            self._fns[f["name"]] = (selector, ins, outs)

    def has(self, name: str) -> bool:
        return name in self._fns

    def call(self, name: str, *args: Any, block: int | None = None) -> tuple[Any, ...]:
        selector, ins, outs = self._fns[name]
        data = "0x" + (selector + abi_encode(ins, list(args))).hex()
        tag = hex(block) if block is not None else "latest"
        answer = self.chain.provider.make_request(
            RPCEndpoint("eth_call"),
            [{"to": self.address, "data": data}, tag],
        )
        if "error" in answer:
            raise RuntimeError(f"eth_call {name} failed: {answer['error']}")
        raw = bytes.fromhex(str(answer["result"])[2:])
        return tuple(abi_decode(outs, raw))


def last_valid_day(lic: dict[str, Any]) -> str | None:
    """The last valid day (validity ends at the start of the exclusive end second)."""
    end = lic.get("validUntilExclusive", lic.get("validUntil"))
    if isinstance(end, str):  # already the last valid day
        return end
    return (iso(int(end) - 1) or "")[:10] if end else None


def _summary(reasons: list[dict[str, Any]], assets: list[dict[str, Any]]) -> dict[str, Any]:
    """What the clerk's list of today's checks shows."""
    return {
        "reasons": [r["code"] for r in reasons],
        "assets": [
            {
                "assetId": a["assetId"],
                "verdict": a["verdict"],
                "type": (a.get("type") or {}).get("code"),
            }
            for a in assets
        ],
    }


@dataclass
class AssetCheck:
    asset_id: bytes
    kind: str = "unknown"
    reasons: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        codes = {r["code"] for r in self.reasons}
        return next((c for c in _ORDER if c in codes), "VALID")

    def to_json(self) -> dict[str, Any]:
        return {
            "assetId": "0x" + self.asset_id.hex(),
            "kind": self.kind,
            "verdict": self.verdict,
            "reasons": self.reasons,
            **self.details,
        }


class LicenceReads(Protocol):
    """What the verifier reads from the licence service (its public methods)."""

    def get(self, licence_id: bytes) -> Any: ...

    def verify_document(
        self, principal: Principal | None, doc_hash: bytes, licence_id: bytes | None = None
    ) -> Any: ...


class RecordStore(Protocol):
    """Where verification records are kept (the licence store's ``add_verification``)."""

    def serial_of(self, licence_id: bytes) -> str | None: ...

    def add_verification(
        self, vid: str, record_hash: bytes, record: dict[str, Any], licence_ids: list[bytes]
    ) -> None: ...


class EventSource(Protocol):
    def events(
        self, contract: str | None = None, event: str | None = None, where: Any = None
    ) -> list[Any]: ...


def as_dict(value: Any) -> dict[str, Any]:
    """A licence-service answer as its JSON dict (a dict today, a pydantic model with ``body()``
    after the service split)."""
    if isinstance(value, dict):
        return value
    body = getattr(value, "body", None)
    out: dict[str, Any] = body() if callable(body) else value.model_dump(mode="json", by_alias=True)
    return out


class PresentationVerifier:
    """Every dependency is given: licence reads, the records' store, the contracts, anchoring and
    the event indexer (None when that component does not run on this node)."""

    def __init__(
        self,
        chain: Chain,
        licences: LicenceReads,
        records: RecordStore,
        registry_address: str,
        consent: ConsentRegistry | None,
        store: CounterStore,
        anchoring: AnchoringService | None = None,
        indexer: EventSource | None = None,
        catalogue: Catalogue | None = None,
        departments: Departments | None = None,
    ) -> None:
        self.chain = chain
        self.chain_id = chain.chain_id
        self.licences = licences
        self.records = records
        self.registry_address = registry_address
        self.registry = chain.contract("LicenceRegistry", registry_address)
        self.consent = consent
        self.store = store
        self.anchoring = anchoring
        self.indexer = indexer
        self.catalogue = catalogue
        self.departments = departments
        self.views = ViewCaller(chain, registry_address, [dict(f) for f in self.registry.abi])
        self._has_holder_of = self.views.has("holderOf")
        # the licence service's read model (node/readmodel.py): licence state, holder and issuer
        # authorisations consistent to one indexed block, no contract views per request; without
        # it (a bare licence reader) the verifier reads the contract at the chain head
        ctx = getattr(licences, "ctx", None)
        self._ctx: LicenceContext | None = ctx if isinstance(ctx, LicenceContext) else None
        self._model: ReadModel | None = self._ctx.model if self._ctx is not None else None
        # the licence service's group-committed record log (durable before the answer, anchored
        # on its own thread): concurrent checks share one fsync instead of queueing for three
        log = getattr(getattr(licences, "verifier", None), "records", None)
        self._log: VerificationLog | None = log if isinstance(log, VerificationLog) else None

    # --- the check ----------------------------------------------------------------------------

    def verify(
        self,
        principal: Principal | None,
        token: str,
        doc_hash: bytes | None = None,
        doc_asset: bytes | None = None,
    ) -> dict[str, Any]:
        p_ = require(principal, "clerk", "department", action="verify presentations")
        if p_.kind == "department" and p_.department is None:  # pragma: no cover
            raise ForbiddenError("a department principal without a department")
        # token validity is wall-clock time (the phone's clock); licence status is chain time
        now = int(time.time())
        model = self._model
        if model is not None and self._ctx is not None:
            self._ctx.own_writes_indexed()  # this node's own writes are in every later answer
            chain_head, chain_now = model.height, model.now()
        else:
            head = self._head()
            chain_head = int(head["number"], 16)
            chain_now = max(now, int(head["timestamp"], 16))
        vid = "vr_" + uuid.uuid4().hex
        token_reasons: list[dict[str, Any]] = []
        p: pr.Presentation | None = None
        presenter: str | None = None
        statement: bytes | None = None
        try:
            p = pr.decode(token)
        except pr.TokenFormatError as exc:
            token_reasons.append(_reason("TOKEN_MALFORMED", exc.message))
        if p is not None:
            statement = p.statement_hash(self.chain_id)
            try:
                presenter = pr.presenter(p, self.chain_id)
            except pr.BadSignature:
                token_reasons.append(
                    _reason(
                        "BAD_SIGNATURE",
                        "the signature does not match the token's content: it was altered, "
                        "damaged in scanning, signed for another network or forged",
                    )
                )
            token_reasons += self._token_checks(p, p_, now)
        # a statement is taken (single use) once its signature is good and it is in its window
        consume = presenter is not None and not any(
            r["code"] in ("TOKEN_EXPIRED", "TOKEN_NOT_YET_VALID", "TOKEN_MALFORMED")
            for r in token_reasons
        )
        checks: list[AssetCheck] = []
        if p is not None and not token_reasons:
            assert presenter is not None
            if model is not None and self._ctx is not None:
                if any(model.licence(a) is None for a in p.asset_ids):
                    self._ctx.catch_up()  # a licence in a block not indexed yet, or a material
                # every asset judged at one block: the licences read under one snapshot, the
                # rest of the checks after it (they may read the indexer, whose lock is taken
                # before the model's when it feeds it: never the other way round)
                with model.snapshot() as chain_head:
                    chain_now = model.now()
                    views = {a: self._licence_view(a, chain_now) for a in p.asset_ids}
                checks = [
                    self._check_asset(a, presenter, p, doc_hash, doc_asset, chain_now, views[a])
                    for a in p.asset_ids
                ]
            else:
                checks = [
                    self._check_asset(a, presenter, p, doc_hash, doc_asset, chain_now)
                    for a in p.asset_ids
                ]
        outcome: dict[str, Any] = {}

        def decide(first: tuple[str, float] | None) -> tuple[str, dict[str, Any]]:
            reasons = list(token_reasons)
            if first is not None:
                reasons.append(
                    _reason(
                        "REPLAYED",
                        f"this token was already presented at {iso(int(first[1]))} "
                        f"(verification {first[0]}); ask the holder to show a fresh code",
                        firstVerification=first[0],
                        firstAt=int(first[1]),
                    )
                )
            if reasons:
                verdict = "REFUSED"
                assets = [
                    {**AssetCheck(a, "not-checked").to_json(), "verdict": "NOT_CHECKED"}
                    for a in (p.asset_ids if p is not None else ())
                ]
            else:
                verdict = "VALID" if all(c.verdict == "VALID" for c in checks) else "INVALID"
                assets = [c.to_json() for c in checks]
            outcome.update(verdict=verdict, reasons=reasons, assets=assets)
            return verdict, _summary(reasons, assets)

        self.store.settle(
            statement if consume else None,
            (p.expires_at + pr.CLOCK_SKEW) if p is not None else 0,
            vid,
            p_.label,
            decide,
        )
        body: dict[str, Any] = {
            "verdict": outcome["verdict"],
            "reasons": outcome["reasons"],
            "presentation": self._presentation_json(p, presenter, statement),
            "assets": outcome["assets"],
            "documentHash": "0x" + doc_hash.hex() if doc_hash else None,
            "checkedAt": now,
        }
        body["verification"] = self._record(
            vid, p_, p, presenter, statement, outcome["verdict"], outcome["reasons"],
            outcome["assets"], doc_hash, chain_head,
        )  # fmt: skip
        verdict = outcome["verdict"]
        log.info(
            "presentation verified",
            extra={"event": "presentation_verified", "verdict": verdict, "by": p_.label},
        )
        return body

    def _head(self) -> dict[str, Any]:
        """The latest block's number and time (raw JSON-RPC: web3's block formatting is slow)."""
        answer = self.chain.provider.make_request(
            RPCEndpoint("eth_getBlockByNumber"), ["latest", False]
        )
        if "error" in answer:
            raise RuntimeError(f"eth_getBlockByNumber failed: {answer['error']}")
        head: dict[str, Any] = answer["result"]
        return head

    def _token_checks(self, p: pr.Presentation, who: Principal, now: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if p.ttl == 0 or p.ttl > pr.MAX_TTL:
            out.append(
                _reason(
                    "TOKEN_MALFORMED",
                    f"the token claims a validity of {p.ttl} s; at most {pr.MAX_TTL} s is allowed",
                )
            )
        if p.issued_at > now + pr.CLOCK_SKEW:
            out.append(
                _reason(
                    "TOKEN_NOT_YET_VALID",
                    f"the token was issued at {iso(p.issued_at)}, in the future; "
                    "the presenting phone's clock is wrong",
                    issuedAt=p.issued_at,
                )
            )
        elif now >= p.expires_at + pr.CLOCK_SKEW:
            out.append(
                _reason(
                    "TOKEN_EXPIRED",
                    f"the token expired at {iso(p.expires_at)} ({now - p.expires_at} s ago); "
                    "ask the holder to show a fresh code",
                    expiresAt=p.expires_at,
                )
            )
        if p.audience_tag is not None:
            mine = [who.department or who.name]
            if who.kind == "clerk" and who.department:
                mine.append(f"{who.department}/{who.name}")
            if p.audience_tag not in {pr.audience_tag(m) for m in mine}:
                out.append(
                    _reason(
                        "WRONG_AUDIENCE",
                        f"the token is meant for another department or counter, not {mine[-1]}",
                    )
                )
        return out

    # --- one asset ------------------------------------------------------------------------

    def _check_asset(
        self,
        asset: bytes,
        presenter: str,
        p: pr.Presentation,
        doc_hash: bytes | None,
        doc_asset: bytes | None,
        chain_now: int,
        view: dict[str, Any] | bool | None = False,
    ) -> AssetCheck:
        """``view``: the licence view read under the caller's snapshot (None: not a licence);
        False: read it here."""
        check = AssetCheck(asset)
        # the document applies to the asset it names, or to the only asset of the token
        doc = (
            doc_hash
            if (doc_asset == asset or (doc_asset is None and len(p.asset_ids) == 1))
            else None
        )
        lic = self._licence_view(asset, chain_now) if view is False else view
        if isinstance(lic, dict):
            check.kind = "licence"
            self._check_licence(check, lic, presenter, doc)
        else:
            self._check_material(check, presenter, doc)
        if not check.reasons:
            check.reasons.append(_reason("VALID", "the asset is valid"))
        return check

    def _licence_view(self, lid: bytes, chain_now: int) -> dict[str, Any] | None:
        """The licence as the cards need it: the contract's current record (one call) joined
        with its indexed events; when the indexer has not caught up with the contract, the
        licence service's ``get`` (which waits for it). With the read model: its record alone
        (the caller holds its snapshot)."""
        rec = None
        if self._model is not None:
            rec = self._model.licence(lid)
            if rec is None:
                return None
            issuer, tid, version = to_checksum_address(rec.issuer), rec.type_id, rec.version
            valid_until, doc, stored = rec.valid_until, rec.doc_hash, rec.status
        else:
            ((issuer, tid, status_code, version, valid_until, doc),) = self.views.call(
                "getLicence", lid
            )
            if int(status_code) == 0:
                return None
            stored = CHAIN_STATUS[int(status_code)]
            issuer = to_checksum_address(issuer)  # eth_abi decodes addresses in lower case
        if rec is None and self.indexer is not None:
            evs = self.indexer.events(ev.CONTRACT, None, {"licenceId": ev.hexb(lid)})
            issued = [e for e in evs if e.event == "LicenceIssued"]
            rest = [e for e in evs if e.event in ev.LIFECYCLE]
            rec = ev.build_records(issued, rest).get(lid)
        fresh = (
            rec is not None
            and rec.version == int(version)
            and rec.doc_hash == bytes(doc)
            and (stored == "EXPIRED" or rec.status == stored)
        )
        if rec is None or not fresh:
            try:
                return as_dict(self.licences.get(lid))
            except NotFoundError:
                return None
        status = effective_status(
            stored if stored != "EXPIRED" else rec.status,
            rec.valid_from,
            int(valid_until),
            chain_now,
        )
        t = self.catalogue.by_id(bytes(tid)) if self.catalogue is not None else None
        dept = self.departments.by_address(str(issuer)) if self.departments is not None else None
        body: dict[str, Any] = {
            "licenceId": ev.hexb(lid),
            "type": t.to_json() if t else {"typeId": ev.hexb(bytes(tid)), "code": None},
            "serialNumber": decode_serial(rec.serial)
            if rec.serial
            else self.records.serial_of(lid),
            "issuer": {"address": str(issuer), "name": dept.name if dept else None},
            "holderAddress": rec.holder_address,
            "documentHash": ev.hexb(bytes(doc)),
            "validFrom": rec.valid_from,
            "validUntil": int(valid_until) or None,
            "validFromIso": iso(rec.valid_from),
            "validUntilIso": iso(int(valid_until)),
            "version": int(version),
            "status": status.value,
        }
        if self._model is not None:  # the issuer's roles as of the same block
            body["_issuerRoles"] = self._model.authorisation(bytes(tid), str(issuer))
        if status in (Status.SUSPENDED, Status.REVOKED) and rec.status_reason is not None:
            by = (
                self.departments.by_address(rec.status_by)
                if self.departments and rec.status_by
                else None
            )
            body["statusReason"] = {
                "code": rec.status_reason,
                "text": reason_text(rec.status_reason),
                "since": rec.status_since,
                "by": {"address": rec.status_by, "name": by.name if by else None},
            }
        return body

    def _holder_of(self, licence_id: bytes, lic: dict[str, Any]) -> str | None:
        if self._has_holder_of and self._model is None:
            h = str(self.views.call("holderOf", licence_id)[0])
            return None if int(h, 16) == 0 else to_checksum_address(h)
        bound = lic.get("holderAddress")
        return to_checksum_address(bound) if bound else None

    def _authority(self, check: AssetCheck, holder: str | None, presenter: str, what: str) -> None:
        aid = "0x" + check.asset_id.hex()
        if holder is None:
            check.reasons.append(
                _reason(
                    "NOT_HOLDER",
                    f"{what} {aid} is not bound to a holder address on chain, so nobody can "
                    "present it; ask the issuing department to bind it",
                )
            )
            return
        check.details["holder"] = holder
        if holder.lower() == presenter.lower():
            check.details["presentedBy"] = "holder"
            return
        check.details["presentedBy"] = "agent"
        if self.consent is not None and self.consent.is_authorized(
            holder, check.asset_id, presenter, COUNTER_PURPOSE
        ):
            return
        grant = (
            self.consent.get_grant(holder, check.asset_id, presenter, COUNTER_PURPOSE)
            if self.consent is not None
            else None
        )
        now = int(time.time())
        if (
            grant is not None
            and grant.expires_at > now
            and (grant.max_uses == 0 or grant.uses < grant.max_uses)
        ):
            # a live grant that isAuthorized refuses: paused by the licence's status (Contracts
            # II pauses grants of suspended or expired licences); the status reason says why
            check.details["grant"] = "paused"
            return
        revoked = self._revoked(holder, check.asset_id, presenter)
        if grant is not None or revoked:
            why = (
                "was revoked"
                if grant is None
                else ("has expired" if grant.expires_at <= int(time.time()) else "is used up")
            )
            check.reasons.append(
                _reason(
                    "AGENT_NOT_AUTHORISED",
                    f"{presenter}'s COUNTER-PRESENTATION grant from holder {holder} for {what} "
                    f"{aid} {why}",
                    presenter=presenter,
                )
            )
        else:
            check.reasons.append(
                _reason(
                    "NOT_HOLDER",
                    f"{presenter} is not the holder of {what} {aid} (the holder is {holder}) "
                    "and holds no COUNTER-PRESENTATION grant from it",
                    presenter=presenter,
                )
            )

    def _revoked(self, holder: str, asset: bytes, grantee: str) -> bool:
        idx = self.indexer
        if idx is None or self.consent is None:
            return False
        for e in idx.events("ConsentRegistry", "ConsentRevoked", {"assetId": "0x" + asset.hex()}):
            a = e.args
            if (
                str(a.get("holder", "")).lower() == holder.lower()
                and str(a.get("grantee", "")).lower() == grantee.lower()
                and str(a.get("purpose", "")).lower() == "0x" + COUNTER_PURPOSE.hex()
            ):
                return True
        return False

    def _check_licence(
        self, check: AssetCheck, lic: dict[str, Any], presenter: str, doc: bytes | None
    ) -> None:
        lid = check.asset_id
        t = lic.get("type") or {}
        issuer = (lic.get("issuer") or {}).get("address")
        check.details.update(
            {
                "type": {k: t.get(k) for k in ("code", "zh", "en")},
                "serialNumber": lic.get("serialNumber"),
                "issuer": lic.get("issuer"),
                "status": lic.get("status"),
                "statusReason": lic.get("statusReason"),
                "validFrom": lic.get("validFrom"),
                "validUntil": lic.get("validUntil"),
                "validFromIso": lic.get("validFromIso"),
                "validUntilIso": lic.get("validUntilIso"),
                "validLastDay": last_valid_day(lic),
                "version": lic.get("version"),
                "documentHash": lic.get("documentHash"),
            }
        )
        self._authority(check, self._holder_of(lid, lic), presenter, "licence")
        if issuer and t.get("typeId"):
            type_id = bytes.fromhex(t["typeId"][2:])
            if "_issuerRoles" in lic:
                bits = int(lic["_issuerRoles"])
            else:
                bits = int(
                    self.views.call("authorisationOf", type_id, to_checksum_address(issuer))[0]
                )
            if not bits & ROLE_ISSUER:
                name = (lic.get("issuer") or {}).get("name") or issuer
                check.reasons.append(
                    _reason(
                        "ISSUER_NOT_AUTHORISED",
                        f"the issuing department {name} is not (or no longer) authorised on "
                        f"chain to issue {t.get('code')}",
                    )
                )
        status = str(lic.get("status"))
        sr = lic.get("statusReason") or {}
        if status in ("SUSPENDED", "REVOKED"):
            since = sr.get("since")
            check.reasons.append(
                _reason(
                    status,
                    f"licence 0x{lid.hex()} is {status.lower()}"
                    + (f" since {iso(since)}" if since else "")
                    + (f": {sr.get('text')}" if sr.get("text") else ""),
                    reason=sr.get("text"),
                    reasonCode=sr.get("code"),
                    since=since,
                )
            )
        elif status == "EXPIRED":
            check.reasons.append(
                _reason(
                    "EXPIRED", f"licence 0x{lid.hex()} expired at {iso(lic.get('validUntil') or 0)}"
                )
            )
        elif status == "NOT_YET_VALID":
            check.reasons.append(
                _reason(
                    "NOT_YET_VALID",
                    f"licence 0x{lid.hex()} is valid from {lic.get('validFromIso')}",
                )
            )
        if doc is not None:
            current = bytes.fromhex(str(lic.get("documentHash", "0x"))[2:])
            match = doc == current
            check.details["document"] = {"hash": "0x" + doc.hex(), "match": match}
            if not match:
                judged = as_dict(self.licences.verify_document(None, doc, lid))
                code = "SUPERSEDED" if judged.get("verdict") == "SUPERSEDED" else "TAMPERED"
                check.details["document"]["verdict"] = code
                check.reasons.append(_reason(code, "; ".join(judged.get("reasons") or [])))

    def _check_material(self, check: AssetCheck, presenter: str, doc: bytes | None) -> None:
        aid = "0x" + check.asset_id.hex()
        record = None
        if self.anchoring is not None:
            try:
                record = self.anchoring.get(check.asset_id)
            except NotFoundError:
                record = None
        if record is None or record.status != "confirmed" or not record.receipt:
            check.reasons.append(
                _reason(
                    "UNKNOWN_ASSET",
                    f"no licence on chain and no anchored material known to this node has id {aid}"
                    + (" (its anchoring is not confirmed yet)" if record is not None else ""),
                )
            )
            return
        check.kind = "material"
        receipt = record.receipt
        anchored_at = int(receipt.get("blockTime") or receipt.get("anchoredAt") or 0)
        check.details["anchoredAt"] = anchored_at
        if doc is None:
            check.reasons.append(
                _reason(
                    "DOCUMENT_NEEDED",
                    f"material {aid} was anchored at {iso(anchored_at)}; its holder and content "
                    "are checked against its document: upload it",
                )
            )
            return
        # the holder: the presenter, or a holder who granted the presenter this asset
        candidates = [presenter, *self._grantors(check.asset_id, presenter)]
        holder = next((h for h in candidates if material_asset_id(h, doc) == check.asset_id), None)
        check.details["document"] = {"hash": "0x" + doc.hex(), "match": holder is not None}
        if holder is None:
            check.reasons.append(
                _reason(
                    "TAMPERED",
                    f"the document (sha256 0x{doc.hex()}) is not material {aid} of the presenter "
                    "or of a holder who granted the presenter its use",
                )
            )
            return
        self._authority(check, holder, presenter, "material")

    def _grantors(self, asset: bytes, grantee: str) -> list[str]:
        idx = self.indexer
        if idx is None:
            return []
        found = []
        for e in idx.events("ConsentRegistry", "ConsentGranted", {"assetId": "0x" + asset.hex()}):
            if str(e.args.get("grantee", "")).lower() == grantee.lower():
                found.append(to_checksum_address(e.args["holder"]))
        return list(dict.fromkeys(found))

    # --- records ----------------------------------------------------------------------------

    def _presentation_json(
        self, p: pr.Presentation | None, presenter: str | None, statement: bytes | None
    ) -> dict[str, Any] | None:
        if p is None:
            return None
        return {
            "statementHash": "0x" + statement.hex() if statement else None,
            "presenter": presenter,
            "keyKind": p.kind,
            "issuedAt": p.issued_at,
            "expiresAt": p.expires_at,
            "audienceTag": "0x" + p.audience_tag.hex() if p.audience_tag else None,
            "assetIds": ["0x" + a.hex() for a in p.asset_ids],
        }

    def _record(
        self,
        vid: str,
        who: Principal,
        p: pr.Presentation | None,
        presenter: str | None,
        statement: bytes | None,
        verdict: str,
        token_reasons: list[dict[str, Any]],
        assets: list[dict[str, Any]],
        doc_hash: bytes | None,
        chain_head: int,
    ) -> dict[str, Any]:
        record = {
            "format": FORMAT,
            "id": vid,
            "checked": {
                "presentation": self._presentation_json(p, presenter, statement),
                "documentHash": "0x" + doc_hash.hex() if doc_hash else None,
            },
            "verdict": verdict,
            "reasons": [r["code"] for r in token_reasons],
            "assets": [
                {
                    "assetId": a["assetId"],
                    "verdict": a["verdict"],
                    "reasons": [r["code"] for r in a["reasons"]],
                }
                for a in assets
            ],
            "checkedBy": who.label,
            "department": who.department,
            "checkedAt": int(time.time()),
            "chainId": self.chain_id,
            "chainHead": chain_head,
            "registry": self.registry_address,
        }
        record_hash = _hash_json(record)
        licence_ids = [
            bytes.fromhex(a["assetId"][2:]) for a in assets if a.get("kind") == "licence"
        ]
        if self._log is not None:
            status = self._log.write(Verification(vid, record_hash, record, tuple(licence_ids)))
        else:
            self.records.add_verification(vid, record_hash, record, licence_ids)
            status = "not-anchored"
            if self.anchoring is not None:
                status = self.anchoring.submit([record_hash])[0].status
        return {"id": vid, "recordHash": "0x" + record_hash.hex(), "anchorStatus": status}

    def note_document_check(self, principal: Principal, answer: dict[str, Any]) -> None:
        """List a document check made from the clerk page (``verify_document``, recorded by the
        licence service) among the clerk's checks of today."""
        vid = (answer.get("verification") or {}).get("id")
        if not vid:
            return
        verdict = str(answer.get("verdict"))
        assets = [
            {"assetId": lid, "verdict": verdict, "type": None}
            for lid in answer.get("licenceIds") or []
        ]
        summary = {"reasons": [], "assets": assets, "kind": "document"}
        self.store.settle(None, 0, vid, principal.label, lambda _first: (verdict, summary))

    def today(self, principal: Principal | None) -> list[dict[str, Any]]:
        """This clerk's checks since local midnight (the clerk page's list)."""
        who = require(principal, "clerk", "department", action="list verifications")
        t = time.localtime()
        midnight = time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))
        return self.store.checks_by(who.label, midnight)

    def of_statement(self, statement: bytes) -> list[dict[str, Any]]:
        """The checks of one presentation: the holder's side of the receipt."""
        return self.store.checks_of(statement)
