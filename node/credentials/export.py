"""A licence as a W3C VC 2.0 secured as ``vc+jwt`` and as an SD-JWT VC (``dc+sd-jwt``).

Both are signed ES256 by the issuing department's credential key (``kid`` names its on-chain key
id, ``credentials/ids.py``) and carry the licence's GB/T 36903 metadata as this node shows it (a
person's ID number masked, their name not kept), the e-licence identifier in it, and the licence
id the chain knows it by. docs/credentials.md "Formats" has a decoded example of each.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Protocol

from credledger.node.core import sdjwt
from credledger.node.core.errors import ConflictError, InputError
from credledger.node.core.gbt import METADATA_FIELDS
from credledger.node.credentials.ids import vct_of
from credledger.node.credentials.keys import CredentialKey

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
VC_TYPE = "ElectronicLicenceCredential"
VC_TYP = "vc+jwt"  # VC-JOSE-COSE: the media type application/vc+jwt
VC_CTY = "vc"
SD_TYP = "dc+sd-jwt"  # SD-JWT VC
# the GB/T 36903 fields (LicenceMetadata.json), each selectively disclosable in an SD-JWT VC
SUBJECT_FIELDS = METADATA_FIELDS


class NoMetadata(ConflictError):
    code = "no_credential_subject"


class StatusSource(Protocol):
    """H6's StatusLists (``credledger.node.status``): where a licence's status bits live."""

    def entry_for(self, licence_id: bytes) -> Any: ...


def iso_z(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def holder_jwk(text: str | None) -> dict[str, str] | None:
    """A holder's public P-256 JWK given as JSON (or base64url of the JSON); None for none."""
    if text is None or not text.strip():
        return None
    raw = text.strip()
    try:
        value = json.loads(raw if raw.startswith("{") else sdjwt.b64url_decode(raw))
    except (ValueError, UnicodeDecodeError, InputError):
        raise InputError("holderJwk: not a JSON Web Key (JSON or base64url JSON)") from None
    if not isinstance(value, dict) or value.get("kty") != "EC" or value.get("crv") != "P-256":
        raise InputError("holderJwk: a P-256 public key (kty EC, crv P-256) is needed")
    if "d" in value:
        raise InputError("holderJwk: send the public key only (no 'd')")
    out = {k: value[k] for k in ("kty", "crv", "x", "y")}
    if not all(isinstance(v, str) for v in out.values()):
        raise InputError("holderJwk: x and y are base64url strings")
    try:
        from joserfc.jwk import ECKey

        ECKey.import_key(out)
    except Exception:
        raise InputError("holderJwk: not a point of P-256") from None
    return out


def subject_of(detail: dict[str, Any]) -> dict[str, Any]:
    md = detail.get("metadata")
    if not md:
        raise NoMetadata(
            "the licence has no GB/T 36903 metadata here (its type has no GB/T 36902 code or its "
            "department's unified social credit code is not configured): no credential subject",
            licenceId=detail.get("licenceId"),
        )
    return {k: md[k] for k in SUBJECT_FIELDS if k in md}


def _status_entry(status: StatusSource | None, licence_id: bytes) -> Any:
    return status.entry_for(licence_id) if status is not None else None


def vc_payload(
    detail: dict[str, Any],
    key: CredentialKey,
    now: int,
    *,
    status: StatusSource | None,
    base_url: str,
) -> dict[str, Any]:
    """The VC 2.0 JSON (the JWT payload of a ``vc+jwt``)."""
    lid = detail["licenceId"]
    t = detail["type"]
    subject: dict[str, Any] = {}
    if detail.get("holderAddress"):
        subject["id"] = f"did:pkh:eip155:{key.chain_id}:{detail['holderAddress']}"
    subject.update(
        {
            "licenceId": lid,
            "licenceType": t.get("code"),
            "version": detail["version"],
            **subject_of(detail),
        }
    )
    issuer_name = (detail.get("issuer") or {}).get("displayName") or {}
    vc: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": f"urn:credledger:eip155:{key.chain_id}:{key.registry.lower()}:licence:{lid}"
        f":v{detail['version']}",
        "type": ["VerifiableCredential", VC_TYPE],
        "issuer": {"id": key.issuer(), "name": issuer_name.get("zh") or key.name},
        "validFrom": iso_z(int(detail["validFrom"])),
    }
    if detail.get("validUntilExclusive"):
        vc["validUntil"] = iso_z(int(detail["validUntilExclusive"]) - 1)
    vc["credentialSubject"] = subject
    entry = _status_entry(status, bytes.fromhex(lid[2:]))
    if entry is not None:
        vc["credentialStatus"] = [
            {
                "id": f"{entry.bitstring_url(base_url, purpose)}#{entry.index}",
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(entry.index),
                "statusListCredential": entry.bitstring_url(base_url, purpose),
            }
            for purpose in ("revocation", "suspension")
        ]
    vc["iat"] = now  # when the department signed it (its key must be in service then)
    return vc


def export_vc_jwt(
    detail: dict[str, Any],
    key: CredentialKey,
    now: int,
    *,
    status: StatusSource | None,
    base_url: str,
) -> str:
    payload = vc_payload(detail, key, now, status=status, base_url=base_url)
    header = key.header(VC_TYP, cty=VC_CTY)
    return sdjwt.sign_compact(header, payload, key.sign_es256)


def sd_claims(
    detail: dict[str, Any],
    key: CredentialKey,
    now: int,
    *,
    holder: dict[str, str] | None,
    status: StatusSource | None,
    base_url: str,
) -> dict[str, Any]:
    """The SD-JWT VC's claims before the subject fields go behind disclosures."""
    claims: dict[str, Any] = {
        "iss": key.issuer(),
        "iat": now,
        "nbf": int(detail["validFrom"]),
        "vct": vct_of(str(detail["type"].get("code"))),
        "licence_id": detail["licenceId"],
        "version": detail["version"],
    }
    if detail.get("validUntilExclusive"):
        claims["exp"] = int(detail["validUntilExclusive"])
    if holder is not None:
        claims["cnf"] = {"jwk": holder}
    entry = _status_entry(status, bytes.fromhex(detail["licenceId"][2:]))
    if entry is not None:  # never disclosable: a holder cannot hide the status
        claims["status"] = {
            "status_list": {"idx": entry.index, "uri": entry.token_list_url(base_url)}
        }
    claims.update(subject_of(detail))
    return claims


def export_sd_jwt(
    detail: dict[str, Any],
    key: CredentialKey,
    now: int,
    *,
    holder: dict[str, str] | None,
    status: StatusSource | None,
    base_url: str,
) -> str:
    claims = sd_claims(detail, key, now, holder=holder, status=status, base_url=base_url)
    header = key.header(SD_TYP)
    token, _ = sdjwt.issue(header, claims, SUBJECT_FIELDS, key.sign_es256)
    return token
