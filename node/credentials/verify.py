"""Verify a VC-JWT or an SD-JWT VC (presentation) against the chain, in the licence verdict
vocabulary (``licences/verdicts.py``): VALID, SUSPENDED, REVOKED, EXPIRED, NOT_YET_VALID,
SUPERSEDED, TAMPERED, UNKNOWN, with reasons.

The steps, each from the indexed chain (the read model), none from the node's own database:
1. the ``kid`` names a department key of this chain's LicenceRegistry (else UNKNOWN);
2. the key is a P-256 credential key (kind 2) and the JWS verifies with it (else TAMPERED); an
   ``x5c`` header's leaf certificate must hold that same key (else TAMPERED);
3. the credential's issuer is the key's department, and the key was in service when the
   credential says it was signed (``iat``; else TAMPERED);
4. SD-JWT: every disclosure is referenced by the signed payload; with a key-binding JWT, it is
   signed by ``cnf.jwk`` over this presentation with the verifier's nonce and audience;
5. the licence exists (else UNKNOWN), was issued by that same department — which the contract
   allowed only while the department was authorised for the type, so that is checked too — and
   is of the credential's type (else TAMPERED);
6. a credential of an earlier version than the licence's is SUPERSEDED; otherwise the licence's
   status now (REVOKED > SUSPENDED > EXPIRED > NOT_YET_VALID > VALID), and EXPIRED when the
   credential's own validity has ended.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from credledger.node.core import sdjwt
from credledger.node.core.contracts.department_keys import KEY_KIND_P256
from credledger.node.core.contracts.licence_registry import licence_id_of, serial_of
from credledger.node.core.errors import InputError
from credledger.node.credentials.certificates import key_raw
from credledger.node.credentials.export import SD_TYP, SUBJECT_FIELDS, VC_TYP
from credledger.node.credentials.ids import issuer_urn, parse_kid, vct_of
from credledger.node.credentials.keys import jwk_of_raw
from credledger.node.licences.verdicts import Status, Verdict, effective_status

_VERDICT = {
    Status.ACTIVE: Verdict.VALID,
    Status.SUSPENDED: Verdict.SUSPENDED,
    Status.REVOKED: Verdict.REVOKED,
    Status.EXPIRED: Verdict.EXPIRED,
    Status.NOT_YET_VALID: Verdict.NOT_YET_VALID,
}


class Refused(Exception):
    """A verdict short of VALID found on the way (carried to the answer)."""

    def __init__(self, verdict: Verdict, reason: str, *, unknown_key: bool = False) -> None:
        super().__init__(reason)
        self.verdict = verdict
        self.reason = reason
        self.unknown_key = unknown_key  # perhaps registered in a block not indexed yet


@dataclass
class Checked:
    """What the signature checks found (before the licence is judged)."""

    format: str
    header: dict[str, Any]
    claims: dict[str, Any]
    disclosed: dict[str, Any]
    licence_id: bytes
    version: int
    type_code: str | None
    issued_at: int
    valid_until: int | None  # the credential's own end (unix seconds), None for none
    holder_bound: bool
    key: Any
    reasons: list[str]


def _kid_key(header: dict[str, Any], model: Any, chain_id: int, registry: str) -> Any:
    try:
        ref = parse_kid(header.get("kid"))
    except InputError as exc:
        raise Refused(Verdict.UNKNOWN, exc.message) from None
    if ref.chain_id != chain_id or ref.registry != registry.lower():
        raise Refused(
            Verdict.UNKNOWN,
            f"the key is of chain {ref.chain_id} registry {ref.registry}, not this node's "
            f"(chain {chain_id}, registry {registry.lower()})",
        )
    key = model.department_key(ref.key_id)
    if key is None:
        raise Refused(Verdict.UNKNOWN, f"no department key {ref.key_id} on chain", unknown_key=True)
    if key.kind != KEY_KIND_P256:
        raise Refused(Verdict.TAMPERED, f"key {ref.key_id} is not a P-256 credential key")
    return key


def _verify_jws(compact: str, key: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        return sdjwt.verify_compact(compact, jwk_of_raw(key.public_key))
    except InputError as exc:
        raise Refused(
            Verdict.TAMPERED, f"not signed by department key {key.key_id}: {exc.message}"
        ) from None


MAX_X5C = 10


def _x5c_holds(header: dict[str, Any], key: Any) -> None:
    """An ``x5c`` (HAIP 1.0 §6.1.1) never widens trust: its leaf must hold the very key the
    ``kid`` names on chain, else TAMPERED. The chain's key registry stays the trust root, so
    the rest of the certificate chain is not ours to judge."""
    x5c = header.get("x5c")
    if x5c is None:
        return
    if not isinstance(x5c, list) or not x5c or len(x5c) > MAX_X5C:
        raise Refused(Verdict.TAMPERED, "x5c is not a list of 1 to 10 certificates")
    try:
        leaf = x509.load_der_x509_certificate(base64.b64decode(x5c[0], validate=True))
        raw = key_raw(leaf)
    except (ValueError, TypeError):
        raise Refused(
            Verdict.TAMPERED, "x5c: the leaf is not a DER certificate in base64"
        ) from None
    if raw != bytes(key.public_key):
        raise Refused(
            Verdict.TAMPERED,
            f"x5c: the leaf certificate's key is not department key {key.key_id}, which the kid "
            "names on chain",
        )


def _in_service(key: Any, iat: Any, issuer: Any, chain_id: int, registry: str) -> int:
    want = issuer_urn(chain_id, registry, key.department)
    if issuer != want:
        raise Refused(
            Verdict.TAMPERED,
            f"the credential names issuer {issuer!r} but key {key.key_id} is {want}'s",
        )
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise Refused(Verdict.TAMPERED, "the credential has no signing time (iat)")
    if iat < key.registered_at or (key.retired_at and iat > key.retired_at):
        raise Refused(
            Verdict.TAMPERED,
            f"signed at {iat}, outside key {key.key_id}'s service "
            f"({key.registered_at}–{key.retired_at or 'now'})",
        )
    return iat


def _licence_id(value: Any) -> bytes:
    if not isinstance(value, str) or len(value) != 66 or not value.startswith("0x"):
        raise Refused(Verdict.TAMPERED, "the credential names no licence id")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise Refused(Verdict.TAMPERED, "the credential's licence id is not hex") from None


def check_vc_jwt(text: str, model: Any, chain_id: int, registry: str) -> Checked:
    header, _ = sdjwt.unverified(text)
    if header.get("typ") not in (VC_TYP, "vc+ld+json+jwt", "JWT"):
        raise InputError(f"a VC-JWT's typ is {VC_TYP}, not {header.get('typ')!r}")
    key = _kid_key(header, model, chain_id, registry)
    header, vc = _verify_jws(text, key)
    _x5c_holds(header, key)
    issuer = vc.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    iat = _in_service(key, vc.get("iat"), issuer_id, chain_id, registry)
    subject = vc.get("credentialSubject")
    if not isinstance(subject, dict):
        raise Refused(Verdict.TAMPERED, "the credential has no credentialSubject")
    until = vc.get("validUntil")
    end = None
    if isinstance(until, str):
        import datetime as dt

        end = int(dt.datetime.fromisoformat(until.replace("Z", "+00:00")).timestamp()) + 1
    return Checked(
        "vc-jwt",
        header,
        vc,
        {k: subject[k] for k in SUBJECT_FIELDS if k in subject},
        _licence_id(subject.get("licenceId")),
        int(subject.get("version") or 1),
        subject.get("licenceType"),
        iat,
        end,
        False,
        key,
        [],
    )


def check_sd_jwt(
    text: str,
    model: Any,
    chain_id: int,
    registry: str,
    *,
    nonce: str | None,
    audience: str | None,
    now: int,
) -> Checked:
    parsed = sdjwt.parse(text)
    header, _ = sdjwt.unverified(parsed.jwt)
    if header.get("typ") not in (SD_TYP, "vc+sd-jwt"):
        raise InputError(f"an SD-JWT VC's typ is {SD_TYP}, not {header.get('typ')!r}")
    key = _kid_key(header, model, chain_id, registry)
    header, payload = _verify_jws(parsed.jwt, key)
    _x5c_holds(header, key)
    iat = _in_service(key, payload.get("iat"), payload.get("iss"), chain_id, registry)
    try:
        claims, disclosed_names = sdjwt.disclosed_claims(payload, parsed.disclosures)
    except InputError as exc:
        raise Refused(Verdict.TAMPERED, f"disclosures: {exc.message}") from None
    reasons = []
    holder = (claims.get("cnf") or {}).get("jwk") if isinstance(claims.get("cnf"), dict) else None
    bound = False
    if parsed.kb_jwt is not None or nonce is not None:
        if holder is None:
            raise Refused(
                Verdict.TAMPERED,
                "holder binding asked for (a key-binding JWT or a nonce) but the credential is "
                "bound to no holder key (no cnf.jwk)",
            )
        if nonce is None or audience is None:
            raise InputError("a presentation with key binding is checked with nonce and audience")
        try:
            sdjwt.check_key_binding(parsed, holder, nonce=nonce, aud=audience, now=now)
        except InputError as exc:
            raise Refused(Verdict.TAMPERED, f"key binding: {exc.message}") from None
        bound = True
        reasons.append("the holder's key signed this presentation for this nonce and audience")
    elif holder is not None:
        reasons.append("holder binding not checked: no key-binding JWT (send nonce and audience)")
    exp = claims.get("exp")
    vct = claims.get("vct")
    return Checked(
        "sd-jwt",
        header,
        claims,
        {k: claims[k] for k in disclosed_names if k in SUBJECT_FIELDS},
        _licence_id(claims.get("licence_id")),
        int(claims.get("version") or 1),
        vct,
        iat,
        int(exp) if isinstance(exp, int) else None,
        bound,
        key,
        reasons,
    )


def _names_licence(number: Any, type_id: bytes, licence_id: bytes) -> bool:
    """Whether the licence number, with the type, derives the licence id as the contract does:
    a disclosed number is checked by the chain itself, whoever signed it."""
    try:
        return bytes(licence_id_of(type_id, serial_of(str(number)))) == licence_id
    except ValueError:
        return False


def judge(c: Checked, model: Any, type_code_of: Any) -> tuple[Verdict, list[str], int]:
    """The licence's verdict for a credential whose signature held (inside a model snapshot)."""
    rec = model.licence(c.licence_id)
    lid = "0x" + c.licence_id.hex()
    if rec is None:
        return Verdict.UNKNOWN, [f"licence {lid} is not on chain"], model.height
    if rec.issuer.lower() != c.key.department.lower():
        return (
            Verdict.TAMPERED,
            [f"licence {lid} was issued by {rec.issuer}, not by the key's department"],
            model.height,
        )
    code = type_code_of(rec.type_id)
    expected = code if c.format == "vc-jwt" else vct_of(str(code))
    if c.type_code != expected:
        return Verdict.TAMPERED, [f"licence {lid} is a {code}, not {c.type_code}"], model.height
    number = c.disclosed.get("number")
    if number is not None and not _names_licence(number, rec.type_id, c.licence_id):
        return (
            Verdict.TAMPERED,
            [f"licence number {number!r} of this type is not licence {lid}"],
            model.height,
        )
    reasons = [
        f"signed by department key {c.key.key_id} of {rec.issuer} (in service at {c.issued_at})",
        f"{rec.issuer} issued licence {lid}, which the registry allows only while it is "
        "authorised for the type",
    ]
    if c.version > rec.version:
        return (
            Verdict.TAMPERED,
            [f"the credential claims version {c.version}; the licence is at {rec.version}"],
            model.height,
        )
    if c.version < rec.version:
        return (
            Verdict.SUPERSEDED,
            [
                *reasons,
                f"the credential is of version {c.version}; the licence is at {rec.version}",
            ],
            model.height,
        )
    now = model.now()
    status = effective_status(rec.status, rec.valid_from, rec.valid_until, now)
    verdict = _VERDICT[status]
    if verdict is Verdict.VALID and c.valid_until is not None and now >= c.valid_until:
        verdict = Verdict.EXPIRED
        reasons.append("the credential's own validity has ended")
    if status is Status.ACTIVE:
        reasons.append(f"licence {lid} is active on chain")
    else:
        why = f": {rec.status_reason}" if rec.status_reason else ""
        reasons.append(f"licence {lid} is {status.value.lower()}{why}")
    return verdict, reasons, model.height
