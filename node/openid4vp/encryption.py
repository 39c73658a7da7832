"""``direct_post.jwt`` (OpenID4VP 1.0 section 8.3, HAIP 1.0): the wallet encrypts its
authorization response to a key the request names in ``client_metadata.jwks`` — here a P-256 key
of that request alone, ECDH-ES (direct key agreement) with A128GCM or A256GCM."""

from __future__ import annotations

import json
import secrets
from typing import Any

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from credledger.node.core.errors import InputError

ALG = "ECDH-ES"
ENCS = ["A128GCM", "A256GCM"]
MAX_JWE = 512 * 1024


def new_key() -> dict[str, Any]:
    """A fresh private P-256 JWK (kept with the request until it is answered)."""
    key = ECKey.generate_key("P-256", private=True)
    return {**key.as_dict(private=True), "kid": secrets.token_urlsafe(8)}


def client_metadata(key: dict[str, Any] | None, formats: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"vp_formats_supported": formats}
    if key is not None:
        public = {k: key[k] for k in ("kty", "crv", "x", "y", "kid")}
        meta["jwks"] = {"keys": [{**public, "use": "enc", "alg": ALG}]}
        meta["encrypted_response_enc_values_supported"] = ENCS
    return meta


def opened(response: str, key: dict[str, Any]) -> tuple[Any, Any]:
    """``vp_token`` (as JSON text) and ``state`` of an encrypted authorization response."""
    text = "".join(response.split())
    if len(text) > MAX_JWE:
        raise InputError("response: too long", field="response")
    try:
        plain = jwe.decrypt_compact(text, ECKey.import_key(key), algorithms=[ALG, *ENCS]).plaintext
        body = json.loads(plain or b"")
    except (JoseError, ValueError, TypeError) as exc:
        raise InputError(
            f"response: not a JWE this request's key opens ({type(exc).__name__})",
            field="response",
        ) from None
    if not isinstance(body, dict):
        raise InputError("response: the encrypted response is not a JSON object", field="response")
    token = body.get("vp_token")
    return (json.dumps(token) if isinstance(token, dict) else token), body.get("state")
