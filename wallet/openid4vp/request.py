"""An OpenID4VP 1.0 authorization request as the holder reads it: the link (``openid4vp://``,
``haip-vp://``, an https URL or the bare query), the signed request object fetched from
``request_uri`` (size- and time-bounded, no redirects) and checked — ``typ``
``oauth-authz-req+jwt``, ES256 by the ``x5c`` leaf, ``client_id`` ``x509_hash:`` of that leaf,
``exp``, ``response_type`` ``vp_token``, ``response_mode`` ``direct_post`` or
``direct_post.jwt`` with an encryption key — and the DCQL query in it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from credledger.node.core import sdjwt
from credledger.node.core.errors import ConflictError, CredledgerError, InputError

JAR_TYP = "oauth-authz-req+jwt"
MODES = ("direct_post", "direct_post.jwt")
ENCS = ("A128GCM", "A256GCM")
SCHEMES = ("openid4vp", "haip-vp", "haip", "eudi-openid4vp", "mdoc-openid4vp")
MAX_LINK = 4096
SKEW = 60  # seconds of clock difference allowed on exp / iat


class InvalidRequest(InputError):
    """The authorization request cannot be answered: a bad link or request object."""

    code = "invalid_request"


class RequestExpired(ConflictError):
    code = "request_expired"


class VerifierError(CredledgerError):
    """The verifier did not answer, or answered with an error (its status and code kept)."""

    code = "verifier_error"
    http_status = 502
    exit_code = 2


class VerifierConflict(ConflictError):
    """The verifier refused with 409: the request was answered already (``replayed``) or
    expired."""

    code = "verifier_refused"


@dataclass(frozen=True)
class Link:
    client_id: str
    request_uri: str
    text: str


@dataclass(frozen=True)
class AuthorizationRequest:
    link: Link
    claims: dict[str, Any]
    chain: list[x509.Certificate]  # x5c: the leaf first
    client_id: str
    response_uri: str
    response_mode: str
    nonce: str
    state: str | None
    expires_at: int | None
    dcql: dict[str, Any]
    enc_key: dict[str, Any] | None  # direct_post.jwt: the verifier's public JWK (with kid)
    enc: str | None

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def host(self) -> str:
        return urlsplit(self.response_uri).hostname or ""

    @property
    def name(self) -> str:
        """The certificate subject's organisation or common name."""
        subject = self.leaf.subject
        for oid in (x509.NameOID.ORGANIZATION_NAME, x509.NameOID.COMMON_NAME):
            found = subject.get_attributes_for_oid(oid)
            if found:
                return str(found[0].value)
        return subject.rfc4514_string() or self.host


def parse_link(text: str) -> Link:
    """``client_id`` and ``request_uri`` of a link (or its bare query)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest("link: an openid4vp:// link (or its query) is needed", field="link")
    text = text.strip()
    if len(text) > MAX_LINK:
        raise InvalidRequest(f"link: at most {MAX_LINK} characters", field="link")
    scheme, sep, _ = text.partition("://")
    if sep and scheme.lower() in (*SCHEMES, "https", "http"):
        query = urlsplit(text).query
    elif "client_id=" in text and not sep:
        query = text.lstrip("?")
    else:
        raise InvalidRequest(
            "link: not an OpenID4VP authorization request (openid4vp://?client_id=…&request_uri=…)",
            field="link",
        )
    try:
        q = parse_qs(query, keep_blank_values=True, strict_parsing=False, max_num_fields=30)
    except ValueError:
        raise InvalidRequest("link: its query cannot be read", field="link") from None
    for name, values in q.items():
        if len(values) != 1:
            raise InvalidRequest(f"link: {name} is given {len(values)} times", field="link")
    params = {k: v[0] for k, v in q.items()}
    if not {"client_id", "request_uri", "request"} & set(params):
        raise InvalidRequest(
            "link: not an OpenID4VP authorization request (no client_id, no request_uri)",
            field="link",
        )
    if "client_id" not in params or not params["client_id"]:
        raise InvalidRequest("link: client_id is missing", field="link")
    if params.get("request_uri_method", "get").lower() == "post":
        raise InvalidRequest(
            "link: request_uri_method=post is not supported by this wallet (only GET)",
            field="link",
        )
    if "request_uri" not in params or not params["request_uri"]:
        if "request" in params or "dcql_query" in params:
            raise InvalidRequest(
                "link: this wallet answers only signed requests passed by reference "
                "(request_uri); this one is passed by value",
                field="link",
            )
        raise InvalidRequest("link: request_uri is missing", field="link")
    return Link(params["client_id"], params["request_uri"], text)


@dataclass(frozen=True)
class UrlPolicy:
    """Which verifier URLs the wallet calls: https only, and not to private, loopback or
    link-local addresses, unless on a devnet or allowed by settings."""

    http: bool = False
    private: bool = False


def _private(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False  # unresolvable: the call itself fails with a clear error
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if (
            ip.is_private
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_reserved
            or (ip.is_multicast or ip.is_unspecified)
        ):
            return True
    return False


def check_url(url: Any, what: str, policy: UrlPolicy) -> str:
    if not isinstance(url, str) or not url:
        raise InvalidRequest(f"{what}: missing")
    parts = urlsplit(url)
    if not (parts.scheme == "https" or (parts.scheme == "http" and policy.http)) or not (
        parts.hostname
    ):
        allowed = "https (or http on a devnet)" if not policy.http else "http(s)"
        raise InvalidRequest(f"{what}: must be an {allowed} URL, not {url[:80]!r}")
    if not policy.private and _private(parts.hostname):
        raise InvalidRequest(
            f"{what}: {parts.hostname} is a private or local address; the wallet calls such "
            "verifiers only on a devnet or with openid4vp.allow_private_hosts"
        )
    return url


def fetch(http: httpx.Client, link: Link, policy: UrlPolicy, max_bytes: int) -> str:
    """The request object at ``request_uri`` (GET, no redirects, at most ``max_bytes``)."""
    url = check_url(link.request_uri, "request_uri", policy)
    headers = {"Accept": f"application/{JAR_TYP}, application/jwt"}
    try:
        with http.stream("GET", url, headers=headers, follow_redirects=False) as r:
            body = b""
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise VerifierError(
                        f"the request object at {url} is over {max_bytes} bytes",
                        status=r.status_code,
                    )
            status, ctype = r.status_code, r.headers.get("content-type", "")
    except httpx.HTTPError as exc:
        raise VerifierError(
            f"the verifier at {urlsplit(url).netloc} does not answer ({type(exc).__name__})"
        ) from None
    if status >= 300:
        raise_for_verifier(status, body, f"fetching the request object from {url}")
    if ctype.split(";")[0].strip().lower() not in (f"application/{JAR_TYP}", "application/jwt"):
        raise InvalidRequest(
            f"the request object is served as {ctype or 'no content type'}, "
            f"not application/{JAR_TYP}"
        )
    try:
        return body.decode("ascii").strip()
    except UnicodeDecodeError:
        raise InvalidRequest("the request object is not a compact JWS") from None


def raise_for_verifier(status: int, body: bytes, doing: str) -> None:
    """A verifier's error answer as a wallet error naming its code and message."""
    import json

    code, message = "", ""
    try:
        data = json.loads(body)
        if isinstance(data, dict):
            code = str(data.get("error") or "")[:64]
            message = str(data.get("message") or data.get("error_description") or "")[:300]
    except ValueError:
        message = ""
    said = f"{code}: {message}" if code and message else (code or message or "no reason given")
    text = f"the verifier refused ({status} {said}) {doing}"
    if status == 409:
        raise VerifierConflict(text, verifierStatus=status, verifierError=code or None)
    raise VerifierError(text, verifierStatus=status, verifierError=code or None)


def _certificates(header: dict[str, Any]) -> list[x509.Certificate]:
    x5c = header.get("x5c")
    if not isinstance(x5c, list) or not x5c or len(x5c) > 8:
        raise InvalidRequest("the request object has no x5c certificate chain")
    chain = []
    for item in x5c:
        try:
            chain.append(x509.load_der_x509_certificate(base64.b64decode(item, validate=True)))
        except (TypeError, ValueError, binascii.Error):
            raise InvalidRequest("an x5c entry is not a base64 DER certificate") from None
    return chain


def client_id_of(cert: x509.Certificate) -> str:
    """``x509_hash:`` + base64url(SHA-256(DER)) (OpenID4VP 1.0 section 5.9.3)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    return "x509_hash:" + sdjwt.b64url(hashlib.sha256(cert.public_bytes(Encoding.DER)).digest())


def verify(link: Link, jwt: str, policy: UrlPolicy, now: int | None = None) -> AuthorizationRequest:
    """The request object checked against the link (see the module's docstring)."""
    header, claims = sdjwt.unverified(jwt)
    if header.get("typ") != JAR_TYP:
        raise InvalidRequest(f"the request object's typ is {header.get('typ')!r}, not {JAR_TYP}")
    if header.get("alg") != "ES256":
        raise InvalidRequest(f"the request object's alg is {header.get('alg')!r}, not ES256")
    chain = _certificates(header)
    key = chain[0].public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise InvalidRequest("the x5c leaf certificate's key is not a P-256 key")
    jwk = {k: str(v) for k, v in ECKey.import_key(key).as_dict(private=False).items()}
    try:
        sdjwt.verify_compact(jwt, jwk)
    except sdjwt.SdJwtError:
        raise InvalidRequest(
            "the request object's signature does not verify with its x5c certificate"
        ) from None
    if not link.client_id.startswith("x509_hash:"):
        raise InvalidRequest(
            f"client_id {link.client_id[:60]!r}: this wallet answers only the x509_hash client "
            "identifier prefix (HAIP 1.0)"
        )
    if claims.get("client_id") != link.client_id:
        raise InvalidRequest("the request object's client_id is not the link's client_id")
    if client_id_of(chain[0]) != link.client_id:
        raise InvalidRequest(
            "client_id is not the x509_hash of the request object's certificate (another "
            "verifier's request?)"
        )
    at = int(time.time()) if now is None else now
    exp = claims.get("exp")
    if exp is not None:
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise InvalidRequest("the request object's exp is not a number")
        if exp + SKEW < at:
            raise RequestExpired("the request has expired: ask the verifier for a new one")
    if claims.get("response_type") != "vp_token":
        raise InvalidRequest(
            f"response_type {claims.get('response_type')!r}: this wallet answers vp_token"
        )
    mode = claims.get("response_mode")
    if mode not in MODES:
        raise InvalidRequest(f"response_mode {mode!r}: this wallet answers {' or '.join(MODES)}")
    response_uri = check_url(claims.get("response_uri"), "response_uri", policy)
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise InvalidRequest("the request object has no nonce")
    state = claims.get("state")
    if state is not None and (not isinstance(state, str) or not state):
        raise InvalidRequest("the request object's state is not a string")
    dcql = claims.get("dcql_query")
    if not isinstance(dcql, dict) or not isinstance(dcql.get("credentials"), list):
        raise InvalidRequest(
            "the request has no DCQL query (dcql_query.credentials); presentation definitions "
            "are not supported"
        )
    enc_key, enc = (None, None)
    if mode == "direct_post.jwt":
        enc_key, enc = _encryption(claims.get("client_metadata"))
    return AuthorizationRequest(
        link, claims, chain, link.client_id, response_uri, str(mode), nonce, state,
        int(exp) if exp is not None else None, dcql, enc_key, enc,
    )  # fmt: skip


def _encryption(meta: Any) -> tuple[dict[str, Any], str]:
    """The verifier's P-256 ECDH-ES key (``use`` ``enc``) and the content encryption to use."""
    keys = (meta or {}).get("jwks", {}).get("keys") if isinstance(meta, dict) else None
    if not isinstance(keys, list):
        raise InvalidRequest("direct_post.jwt: client_metadata.jwks has no keys")
    for k in keys:
        if not isinstance(k, dict) or k.get("kty") != "EC" or k.get("crv") != "P-256":
            continue
        if k.get("use", "enc") != "enc" or k.get("alg", "ECDH-ES") != "ECDH-ES":
            continue
        offered = meta.get("encrypted_response_enc_values_supported") or ["A128GCM"]
        enc = next((e for e in offered if e in ENCS), None) if isinstance(offered, list) else None
        if enc is None:
            raise InvalidRequest(
                f"direct_post.jwt: none of the verifier's enc values is {' or '.join(ENCS)}"
            )
        try:
            ECKey.import_key({x: k[x] for x in ("kty", "crv", "x", "y")})
        except (KeyError, ValueError):
            raise InvalidRequest(
                "direct_post.jwt: the verifier's key is not a P-256 point"
            ) from None
        return {x: k[x] for x in ("kty", "crv", "x", "y", "kid") if x in k}, enc
    raise InvalidRequest("direct_post.jwt: client_metadata.jwks has no P-256 ECDH-ES key")
