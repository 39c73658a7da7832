"""The core's SD-JWT pieces (node/core/sdjwt.py) against RFC 9901's rules and the `sd-jwt`
reference implementation: nested and array disclosures it makes, refusals with reasons."""

from __future__ import annotations

import time

import pytest
from joserfc.jwk import ECKey
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer

from credledger.node.core import sdjwt
from credledger.node.core.sdjwt import SdJwtError


def _keys() -> tuple[ECKey, dict[str, str]]:
    k = ECKey.generate_key("P-256")
    return k, k.as_dict(private=False)


def test_reference_nested_and_array_disclosures_are_put_back() -> None:
    issuer = JWK.generate(kty="EC", crv="P-256")
    claims = {
        "iss": "x",
        SDObj("address"): {SDObj("city"): "上海", "country": "CN"},
        "scopes": [SDObj("food"), "retail"],
    }
    ref = SDJWTIssuer(claims, issuer, sign_alg="ES256", add_decoy_claims=True)
    parsed = sdjwt.parse(ref.sd_jwt_issuance)
    jwk = issuer.export_public(as_dict=True)
    _, payload = sdjwt.verify_compact(parsed.jwt, jwk)
    got, top = sdjwt.disclosed_claims(payload, parsed.disclosures)
    assert got == {"iss": "x", "address": {"city": "上海", "country": "CN"},
                   "scopes": ["food", "retail"]}  # fmt: skip
    assert top == ["address"]
    h = SDJWTHolder(ref.sd_jwt_issuance)
    h.create_presentation({"address": {"country": True}})
    p = sdjwt.parse(h.sd_jwt_presentation)
    got, _ = sdjwt.disclosed_claims(payload, p.disclosures)
    assert got == {"iss": "x", "address": {"country": "CN"}, "scopes": ["retail"]}


def test_refusals() -> None:
    key, jwk = _keys()
    sign = sdjwt.signer_of(key)
    token, _ds = sdjwt.issue({"alg": "ES256"}, {"a": 1, "b": 2}, ["a", "b"], sign)
    parsed = sdjwt.parse(token)
    _, payload = sdjwt.verify_compact(parsed.jwt, jwk)
    with pytest.raises(SdJwtError, match="twice"):
        sdjwt.disclosed_claims(payload, [parsed.disclosures[0]] * 2)
    stray = sdjwt.make_disclosure("c", 3).encoded
    with pytest.raises(SdJwtError, match="not referenced"):
        sdjwt.disclosed_claims(payload, [*parsed.disclosures, stray])
    with pytest.raises(SdJwtError, match="_sd_alg"):
        sdjwt.disclosed_claims({**payload, "_sd_alg": "sha-1"}, parsed.disclosures)
    with pytest.raises(SdJwtError, match="both in clear"):
        sdjwt.disclosed_claims({**payload, "a": 0}, parsed.disclosures)
    _other, other_jwk = _keys()
    with pytest.raises(SdJwtError, match="does not verify"):
        sdjwt.verify_compact(parsed.jwt, other_jwk)
    with pytest.raises(SdJwtError, match="algorithm"):
        sdjwt.verify_compact(sdjwt.sign_compact({"alg": "none"}, {}, sign), jwk)
    with pytest.raises(SdJwtError):
        sdjwt.parse("no tilde")
    with pytest.raises(SdJwtError):
        sdjwt.decode_disclosure("!!!")


def test_key_binding_checks() -> None:
    issuer, ijwk = _keys()
    holder, hjwk = _keys()
    token, _ = sdjwt.issue({"alg": "ES256"}, {"cnf": {"jwk": hjwk}, "a": 1}, ["a"],
                           sdjwt.signer_of(issuer))  # fmt: skip
    now = int(time.time())
    p = sdjwt.present(token, ["a"], sdjwt.signer_of(holder), nonce="n", aud="v", iat=now)
    parsed = sdjwt.parse(p)
    assert sdjwt.check_key_binding(parsed, hjwk, nonce="n", aud="v", now=now)["nonce"] == "n"
    for kw, match in (({"nonce": "m"}, "nonce"), ({"aud": "w"}, "audience")):
        with pytest.raises(SdJwtError, match=match):
            sdjwt.check_key_binding(parsed, hjwk, **{"nonce": "n", "aud": "v", **kw}, now=now)
    with pytest.raises(SdJwtError, match="iat"):
        sdjwt.check_key_binding(parsed, hjwk, nonce="n", aud="v", now=now + 3600)
    # a disclosure dropped after the KB-JWT was made: sd_hash no longer matches
    cut = sdjwt.SdJwt(parsed.jwt, (), parsed.kb_jwt)
    with pytest.raises(SdJwtError, match="sd_hash"):
        sdjwt.check_key_binding(cut, hjwk, nonce="n", aud="v", now=now)
    with pytest.raises(SdJwtError, match="does not verify"):
        sdjwt.check_key_binding(parsed, ijwk, nonce="n", aud="v", now=now)
