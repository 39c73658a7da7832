"""SD-JWT (RFC 9901) pieces both sides need: the issuer's disclosures, the holder's presentation
with a key-binding JWT, and the verifier's checks — in the core so the wallet can present.

* A **disclosure** is ``base64url(JSON [salt, name, value])``; its digest is
  ``base64url(SHA-256(ascii(disclosure)))`` and sits in an ``_sd`` array of the signed payload
  (``_sd_alg`` ``sha-256``). Array elements are ``[salt, value]`` behind ``{"...": digest}``.
* The **SD-JWT** is ``<issuer-signed JWT>~<disclosure>~…~`` (a presentation keeps only the
  disclosures it reveals); with **key binding** a KB-JWT follows the last ``~``: header
  ``typ: kb+jwt``, payload ``iat``, ``aud``, ``nonce`` and ``sd_hash`` = base64url(SHA-256 of the
  presentation up to and including the last ``~``), signed by the key in the payload's ``cnf.jwk``.

JWS verification is ES256 only (the algorithm HAIP requires) through ``cryptography``; every
refusal raises :class:`SdJwtError` (an InputError) with the reason.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jws
from joserfc.jwk import ECKey

from credledger.node.core.errors import InputError

SD_ALG = "sha-256"
KB_TYP = "kb+jwt"
ALG = "ES256"


class SdJwtError(InputError):
    """A JWT, SD-JWT or disclosure that does not hold: malformed, wrongly signed or altered."""

    code = "invalid_credential"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str) or not _B64URL.fullmatch(text):
        raise SdJwtError("not base64url text")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise SdJwtError("not base64url text") from None


def digest(disclosure: str) -> str:
    return b64url(hashlib.sha256(disclosure.encode("ascii")).digest())


def compact_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Disclosure:
    encoded: str
    salt: str
    name: str | None  # None for an array element
    value: Any

    @property
    def digest(self) -> str:
        return digest(self.encoded)


def make_disclosure(name: str | None, value: Any, salt: str | None = None) -> Disclosure:
    salt = salt or b64url(secrets.token_bytes(16))
    body = [salt, value] if name is None else [salt, name, value]
    return Disclosure(b64url(compact_json(body)), salt, name, value)


def decode_disclosure(encoded: str) -> Disclosure:
    try:
        body = json.loads(b64url_decode(encoded))
    except (ValueError, UnicodeDecodeError):
        raise SdJwtError("a disclosure is not base64url JSON") from None
    if not isinstance(body, list) or len(body) not in (2, 3) or not isinstance(body[0], str):
        raise SdJwtError("a disclosure is a JSON array [salt, name, value] or [salt, value]")
    if len(body) == 3:
        if not isinstance(body[1], str) or body[1] in ("_sd", "...", "_sd_alg"):
            raise SdJwtError("a disclosure's claim name must be a string other than _sd, ...")
        return Disclosure(encoded, body[0], body[1], body[2])
    return Disclosure(encoded, body[0], None, body[1])


# --- JWS ----------------------------------------------------------------------------------------


def sign_compact(
    header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    """A compact JWS; ``sign`` returns the raw ES256 r || s of the signing input."""
    signing_input = b64url(compact_json(header)) + "." + b64url(compact_json(payload))
    return signing_input + "." + b64url(sign(signing_input.encode("ascii")))


def signer_of(key: ECKey) -> Callable[[bytes], bytes]:
    """ES256 signing with a joserfc private EC key (a holder's key, in tests and the wallet)."""

    def sign(data: bytes) -> bytes:
        return bytes(jws.default_registry.get_alg(ALG).sign(data, key))

    return sign


def unverified(compact: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a compact JWS, unchecked (to find the key that checks it)."""
    parts = compact.split(".") if isinstance(compact, str) else []
    if len(parts) != 3:
        raise SdJwtError("not a compact JWS (three base64url parts separated by dots)")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        raise SdJwtError("the JWS header or payload is not JSON") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise SdJwtError("the JWS header and payload must be JSON objects")
    return header, payload


@functools.lru_cache(maxsize=4096)  # an issuer's key checks every credential it signed
def _public_key(kty: str, crv: str, x: str, y: str) -> ec.EllipticCurvePublicKey:
    if kty != "EC" or crv != "P-256":
        raise SdJwtError(f"the key must be an EC P-256 JWK, not {kty} {crv}")
    xi, yi = b64url_decode(x), b64url_decode(y)
    if len(xi) != 32 or len(yi) != 32:
        raise SdJwtError("a P-256 JWK's x and y are 32 bytes each")
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(xi, "big"), int.from_bytes(yi, "big"), ec.SECP256R1()
    )
    try:
        return numbers.public_key()
    except ValueError:
        raise SdJwtError("the JWK is not a point of P-256") from None


def verify_compact(compact: str, jwk: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check an ES256 compact JWS with the public ``jwk``; header and payload.

    ES256 (RFC 7518 3.4): ECDSA P-256 with SHA-256 over ``header.payload``, the signature the raw
    r || s; checked by ``cryptography`` (OpenSSL). joserfc and the ``sd-jwt`` reference
    implementation verify the same tokens in the tests."""
    header, payload = unverified(compact)
    if header.get("alg") != ALG:
        raise SdJwtError(f"the JWS algorithm must be {ALG}, not {header.get('alg')!r}")
    try:
        key = _public_key(str(jwk["kty"]), str(jwk["crv"]), str(jwk["x"]), str(jwk["y"]))
    except (KeyError, TypeError):
        raise SdJwtError("the signature does not verify (no usable P-256 key)") from None
    signing_input, _, sig = compact.rpartition(".")
    raw = b64url_decode(sig)
    if len(raw) != 64:
        raise SdJwtError("the signature does not verify (an ES256 signature is 64 bytes)")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SdJwtError("the signature does not verify (InvalidSignature)") from None
    return header, payload


# --- SD-JWT -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SdJwt:
    """A parsed SD-JWT or presentation: the issuer-signed JWT, its disclosures, the KB-JWT."""

    jwt: str
    disclosures: tuple[str, ...]
    kb_jwt: str | None

    def serialize(self) -> str:
        return "~".join((self.jwt, *self.disclosures)) + "~" + (self.kb_jwt or "")

    @property
    def sd_hash(self) -> str:
        """The digest a KB-JWT signs: of everything up to and including the last ``~``."""
        body = "~".join((self.jwt, *self.disclosures)) + "~"
        return b64url(hashlib.sha256(body.encode("ascii")).digest())


def parse(text: str) -> SdJwt:
    if not isinstance(text, str) or "~" not in text:
        raise SdJwtError("not an SD-JWT (<JWT>~<disclosure>~…~[<KB-JWT>])")
    parts = text.strip().split("~")
    kb = parts[-1] or None
    disclosures = tuple(parts[1:-1])
    if any(not d for d in disclosures):
        raise SdJwtError("an SD-JWT has an empty disclosure (two ~ in a row)")
    return SdJwt(parts[0], disclosures, kb)


def issue(
    header: dict[str, Any],
    claims: dict[str, Any],
    disclosable: Iterable[str],
    sign: Callable[[bytes], bytes],
) -> tuple[str, list[Disclosure]]:
    """An SD-JWT: the top-level ``disclosable`` claims of ``claims`` behind disclosures (each its
    own salt, digests sorted), the rest in clear; with every disclosure, ending in ``~``."""
    payload = dict(claims)
    disclosures = []
    for name in disclosable:
        if name in payload:
            disclosures.append(make_disclosure(name, payload.pop(name)))
    payload["_sd"] = sorted(d.digest for d in disclosures)
    payload["_sd_alg"] = SD_ALG
    jwt = sign_compact(header, payload, sign)
    return SdJwt(jwt, tuple(d.encoded for d in disclosures), None).serialize(), disclosures


def present(
    sd_jwt: str,
    keep: Iterable[str],
    holder_sign: Callable[[bytes], bytes] | None = None,
    *,
    nonce: str = "",
    aud: str = "",
    iat: int = 0,
) -> str:
    """The holder's presentation: only the disclosures of the top-level claims named in ``keep``,
    and a KB-JWT (nonce, audience, time) when ``holder_sign`` is given."""
    parsed = parse(sd_jwt)
    wanted = set(keep)
    chosen = tuple(d for d in parsed.disclosures if decode_disclosure(d).name in wanted)
    out = SdJwt(parsed.jwt, chosen, None)
    if holder_sign is None:
        return out.serialize()
    kb = sign_compact(
        {"alg": ALG, "typ": KB_TYP},
        {"iat": iat, "aud": aud, "nonce": nonce, "sd_hash": out.sd_hash},
        holder_sign,
    )
    return SdJwt(parsed.jwt, chosen, kb).serialize()


def disclosed_claims(
    payload: dict[str, Any], encoded: Iterable[str]
) -> tuple[dict[str, Any], list[str]]:
    """The payload with the disclosures put back (RFC 9901 7.1 steps 3-5): every disclosure must
    be referenced once by a digest of the payload, no claim may be disclosed twice or clash with
    a clear one; returns the claims and the names of the top-level claims disclosed."""
    alg = payload.get("_sd_alg", SD_ALG)
    if alg != SD_ALG:
        raise SdJwtError(f"_sd_alg {alg!r} is not supported (only sha-256)")
    by_digest: dict[str, Disclosure] = {}
    for e in encoded:
        d = decode_disclosure(e)
        if d.digest in by_digest:
            raise SdJwtError("the same disclosure is given twice")
        by_digest[d.digest] = d
    used: set[str] = set()
    top: list[str] = []

    def walk(value: Any, depth: int, is_top: bool) -> Any:
        if depth > 32:
            raise SdJwtError("claims nested too deep")
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                if k in ("_sd", "_sd_alg"):
                    continue
                out[k] = walk(v, depth + 1, False)
            sd = value.get("_sd", [])
            if not isinstance(sd, list):
                raise SdJwtError("_sd must be an array of digests")
            for h in sd:
                d = by_digest.get(h) if isinstance(h, str) else None
                if d is None:
                    continue  # a decoy or an undisclosed claim
                if h in used:
                    raise SdJwtError("a digest appears twice in the payload")
                used.add(h)
                if d.name is None:
                    raise SdJwtError("an array-element disclosure is referenced from _sd")
                if d.name in out:
                    raise SdJwtError(f"claim {d.name!r} is both in clear and disclosed")
                out[d.name] = walk(d.value, depth + 1, False)
                if is_top:
                    top.append(d.name)
            return out
        if isinstance(value, list):
            items: list[Any] = []
            for item in value:
                if isinstance(item, dict) and set(item) == {"..."}:
                    h = item["..."]
                    d = by_digest.get(h) if isinstance(h, str) else None
                    if d is None:
                        continue
                    if h in used:
                        raise SdJwtError("a digest appears twice in the payload")
                    used.add(h)
                    if d.name is not None:
                        raise SdJwtError("an object-property disclosure is an array element")
                    items.append(walk(d.value, depth + 1, False))
                else:
                    items.append(walk(item, depth + 1, False))
            return items
        return value

    claims = walk(payload, 0, True)
    if len(used) != len(by_digest):
        raise SdJwtError("a disclosure is not referenced by the signed payload (altered?)")
    return claims, top


def check_key_binding(
    presentation: SdJwt, holder_jwk: dict[str, Any], *, nonce: str, aud: str, now: int,
    max_age: int = 300,
) -> dict[str, Any]:  # fmt: skip
    """The KB-JWT's checks (RFC 9901 7.3): signed by ``holder_jwk``, ``typ`` kb+jwt, the expected
    nonce and audience, ``iat`` within ``max_age`` seconds, ``sd_hash`` of this presentation."""
    if presentation.kb_jwt is None:
        raise SdJwtError("the presentation has no key-binding JWT")
    header, payload = verify_compact(presentation.kb_jwt, holder_jwk)
    if header.get("typ") != KB_TYP:
        raise SdJwtError(f"the key-binding JWT's typ must be {KB_TYP}")
    if payload.get("nonce") != nonce:
        raise SdJwtError("the key-binding JWT's nonce is not the one asked for")
    if payload.get("aud") != aud:
        raise SdJwtError("the key-binding JWT's audience is not this verifier")
    iat = payload.get("iat")
    if not isinstance(iat, int) or iat > now + 60 or iat < now - max_age:
        raise SdJwtError("the key-binding JWT's iat is missing or not recent")
    if payload.get("sd_hash") != presentation.sd_hash:
        raise SdJwtError("the key-binding JWT's sd_hash does not match the presentation")
    return payload


__all__ = [
    "Disclosure",
    "SdJwt",
    "SdJwtError",
    "b64url",
    "b64url_decode",
    "check_key_binding",
    "decode_disclosure",
    "disclosed_claims",
    "issue",
    "make_disclosure",
    "parse",
    "present",
    "sign_compact",
    "signer_of",
    "unverified",
    "verify_compact",
]
