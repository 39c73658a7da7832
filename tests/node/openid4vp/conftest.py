"""The credentials tests' chain and node (the market department's credential key registered),
and helpers for a wallet that presents to the node's OpenID4VP verifier."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from joserfc.jwk import ECKey

from credledger.node.core import sdjwt
from tests.node.credentials.conftest import TOKENS, CredEnv, cred, issue

__all__ = ["TOKENS", "CredEnv", "cred", "issue"]

MATTER = {"licenceTypes": ["FOOD-OPERATION"], "fields": ["name", "number", "validUntil"]}


def public(key: ECKey) -> dict[str, str]:
    d = key.as_dict(private=False)
    return {k: str(d[k]) for k in ("kty", "crv", "x", "y")}


@dataclass
class Asked:
    id: str
    answer: dict[str, Any]
    request: dict[str, Any]  # the request object's claims
    header: dict[str, Any]
    jwt: str


def start(env: CredEnv, body: dict[str, Any] | None = None) -> Asked:
    r = env.node.post("/v1/presentation-requests", TOKENS["market"], json=body or MATTER)
    answer = env.node.ok(r, 201)
    q = parse_qs(urlsplit(answer["authorizationRequest"]).query)
    uri = q["request_uri"][0]
    got = env.node.client.get(uri)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("application/oauth-authz-req+jwt")
    header, claims = sdjwt.unverified(got.text)
    return Asked(answer["id"], answer, claims, header, got.text)


def held(env: CredEnv, holder: ECKey, **extra: Any) -> tuple[str, str]:
    """A licence issued and exported as an SD-JWT VC bound to ``holder``: (licence id, VC)."""
    lid = issue(env, **extra)["licenceId"]
    params = {"format": "sd-jwt", "holderJwk": json.dumps(public(holder))}
    r = env.node.get(f"/v1/licences/{lid}/credential", TOKENS["wallet"], params=params)
    assert r.status_code == 200, r.text
    return lid, r.text


def present(
    vc: str, holder: ECKey, asked: Asked, *, keep: tuple[str, ...] = ("name", "number",
    "validUntil"), nonce: str | None = None, aud: str | None = None,
) -> str:  # fmt: skip
    return sdjwt.present(
        vc,
        keep,
        sdjwt.signer_of(holder),
        nonce=asked.request["nonce"] if nonce is None else nonce,
        aud=asked.request["client_id"] if aud is None else aud,
        iat=int(time.time()),
    )


def respond(env: CredEnv, asked: Asked, vp_token: dict[str, Any], **extra: str) -> Any:
    data = {"vp_token": json.dumps(vp_token), "state": asked.request["state"], **extra}
    return env.node.client.post(asked.request["response_uri"], data=data)


def verdict(env: CredEnv, asked: Asked) -> dict[str, Any]:
    return env.node.ok(env.node.get(f"/v1/presentation-requests/{asked.id}", TOKENS["market"]))
