"""Credentials through a real node: a VC-JWT checked by joserfc with only the chain's key, SD-JWT
VCs checked both ways with the `sd-jwt` reference implementation (which we did not write),
selective disclosure, tampering and a suspension."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlparse

import pytest
from joserfc import jws
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from credledger.node.core import sdjwt
from credledger.node.credentials.ids import parse_kid
from credledger.node.credentials.keys import jwk_of_raw
from tests.node.credentials.conftest import ENTERPRISE, TOKENS, USCC, CredEnv, issue

AUD = "https://bank.example/verifier"


def _export(env: CredEnv, lid: str, fmt: str, holder: dict[str, Any] | None = None,
            token: str | None = None) -> str:  # fmt: skip
    params = {"format": fmt}
    if holder is not None:
        params["holderJwk"] = json.dumps(holder)
    r = env.node.get(f"/v1/licences/{lid}/credential", token, params=params)
    assert r.status_code == 200, r.text
    return r.text


def _verify(env: CredEnv, credential: str, **extra: Any) -> dict[str, Any]:
    return env.node.ok(env.node.post("/v1/credentials/verify", json={"credential": credential,
                                                                    **extra}))  # fmt: skip


def _chain_jwk(env: CredEnv, kid: str) -> dict[str, str]:
    """The issuer's public key from the chain alone: the kid names the key id."""
    ref = parse_kid(kid)
    assert ref.registry == env.registry.address.lower()
    key = env.registry.department_key(ref.key_id)
    assert key is not None and key.kind == 2 and key.department == env.market
    assert key.in_service_at(int(time.time()))
    return jwk_of_raw(key.public_key)


def test_vc_jwt_verifies_with_joserfc_and_the_chain_key(cred: CredEnv) -> None:
    issued = issue(cred)
    token = _export(cred, issued["licenceId"], "vc-jwt")
    header, _ = sdjwt.unverified(token)
    assert header["typ"] == "vc+jwt" and header["alg"] == "ES256"
    # joserfc refuses a JWS header over 512 bytes by default (a DoS guard); one carrying an x5c
    # certificate (HAIP 1.0 §6.1.1) is about 1.4 KB, so a verifier of such tokens raises it
    registry = JWSRegistry(algorithms=["ES256"])
    registry.max_header_length = 8192
    obj = jws.deserialize_compact(
        token, ECKey.import_key(_chain_jwk(cred, header["kid"])), registry=registry
    )
    vc = json.loads(obj.payload)
    assert vc["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    assert vc["type"] == ["VerifiableCredential", "ElectronicLicenceCredential"]
    assert vc["issuer"]["id"].endswith(f":dept:{cred.market.lower()}")
    assert vc["validFrom"].startswith("2023-12-31T16:00:00")  # 2024-01-01 Beijing
    assert vc["validUntil"] == "2036-12-31T15:59:59Z"
    subject = vc["credentialSubject"]
    assert subject["licenceId"] == issued["licenceId"]
    assert subject["identifier"] == issued["identifier"]
    assert subject["holderCode"] == ENTERPRISE
    assert subject["identifier"].split(".")[6] == USCC
    # the status: two BitstringStatusListEntry into the department's lists (never per licence)
    revocation, suspension = vc["credentialStatus"]
    assert (revocation["statusPurpose"], suspension["statusPurpose"]) == (
        "revocation",
        "suspension",
    )
    assert revocation["type"] == suspension["type"] == "BitstringStatusListEntry"
    assert revocation["statusListCredential"].endswith("/revocation")
    assert issued["licenceId"][2:] not in revocation["statusListCredential"]
    assert revocation["statusListIndex"] == suspension["statusListIndex"]
    assert revocation["statusListCredential"].startswith(cred.node.url)
    listed = cred.node.get(urlparse(revocation["statusListCredential"]).path)
    assert listed.status_code == 200, listed.text
    out = _verify(cred, token)
    assert out["verdict"] == "VALID", out
    assert out["format"] == "vc-jwt"
    # by its GB/T 36904 identifier too
    by_ident = sdjwt.unverified(_export(cred, issued["identifier"], "vc-jwt"))[1]
    assert by_ident["credentialSubject"]["licenceId"] == issued["licenceId"]
    assert out["key"]["keyId"] == cred.key_id
    assert out["disclosed"]["holderCode"] == ENTERPRISE


def test_reference_implementation_verifies_our_sd_jwt_vc_and_presentation(cred: CredEnv) -> None:
    issued = issue(cred)
    holder = JWK.generate(kty="EC", crv="P-256")
    # binding to a holder key needs the issuing department's (or the wallet's) token
    r = cred.node.get(
        f"/v1/licences/{issued['licenceId']}/credential",
        params={"format": "sd-jwt", "holderJwk": holder.export_public()},
    )
    assert r.status_code == 403, r.text
    text = _export(cred, issued["licenceId"], "sd-jwt", holder.export_public(as_dict=True),
                   TOKENS["wallet"])  # fmt: skip
    assert r.headers  # (the refusal above had headers too)
    header, payload = sdjwt.unverified(text.split("~")[0])
    assert header["typ"] == "dc+sd-jwt"
    assert payload["vct"] == "urn:credledger:licence-type:FOOD-OPERATION"
    assert "holderCode" not in payload and len(payload["_sd"]) == 11  # every subject field hidden
    assert payload["status"]["status_list"]["uri"].endswith("/token")  # in clear, always
    assert isinstance(payload["status"]["status_list"]["idx"], int)
    assert payload["cnf"]["jwk"]["x"] == holder.export_public(as_dict=True)["x"]

    def issuer_key(iss: str, hdr: dict[str, Any]) -> JWK:
        assert iss.endswith(cred.market.lower())
        return JWK(**_chain_jwk(cred, hdr["kid"]))

    # the reference verifier: the issuance as a whole
    full = SDJWTVerifier(text, issuer_key).get_verified_payload()
    assert full["holderCode"] == ENTERPRISE and full["licence_id"] == issued["licenceId"]
    # the reference holder presents two fields with a KB-JWT; the reference verifier accepts it
    h = SDJWTHolder(text)
    h.create_presentation(
        {"name": True, "validUntil": True}, nonce="n-123", aud=AUD, holder_key=holder,
        sign_alg="ES256",
    )  # fmt: skip
    presentation = h.sd_jwt_presentation
    got = SDJWTVerifier(
        presentation, issuer_key, expected_aud=AUD, expected_nonce="n-123"
    ).get_verified_payload()
    assert got["name"] == "食品经营许可证" and "holderCode" not in got
    # and so do we: VALID, showing only those two fields as disclosed
    out = _verify(cred, presentation, nonce="n-123", audience=AUD)
    assert out["verdict"] == "VALID", out
    assert out["holderBound"] is True
    assert out["disclosedFields"] == ["name", "validUntil"]
    assert out["disclosed"] == {"name": "食品经营许可证", "validUntil": "2036-12-31"}
    # a wrong nonce or audience is refused
    assert _verify(cred, presentation, nonce="other", audience=AUD)["verdict"] == "TAMPERED"
    assert _verify(cred, presentation, nonce="n-123", audience="x")["verdict"] == "TAMPERED"


def test_we_verify_an_sd_jwt_vc_the_reference_implementation_issued(cred: CredEnv) -> None:
    issued = issue(cred)
    detail = cred.node.ok(cred.node.get(f"/v1/licences/{issued['licenceId']}"))
    md = detail["metadata"]
    kid = sdjwt.unverified(_export(cred, issued["licenceId"], "vc-jwt"))[0]["kid"]
    issuer_key = JWK.from_pyca(cred.key)
    claims: dict[Any, Any] = {
        "iss": f"urn:credledger:eip155:{cred.chain.chain_id}:"
        f"{cred.registry.address.lower()}:dept:{cred.market.lower()}",
        "iat": int(time.time()),
        "vct": "urn:credledger:licence-type:FOOD-OPERATION",
        "licence_id": issued["licenceId"],
        "version": 1,
    }
    for k, v in md.items():
        claims[SDObj(k)] = v
    ref = SDJWTIssuer(
        claims, issuer_key, sign_alg="ES256",
        extra_header_parameters={"typ": "dc+sd-jwt", "kid": kid}, add_decoy_claims=True,
    )  # fmt: skip
    h = SDJWTHolder(ref.sd_jwt_issuance)
    h.create_presentation({"number": True, "holderName": True})
    out = _verify(cred, h.sd_jwt_presentation)
    assert out["verdict"] == "VALID", out
    assert out["disclosed"] == {"number": md["number"], "holderName": md["holderName"]}


def test_tampered_disclosure_or_signature_is_tampered(cred: CredEnv) -> None:
    issued = issue(cred)
    text = _export(cred, issued["licenceId"], "sd-jwt")
    parsed = sdjwt.parse(text)
    # a disclosure with another value: its digest is not in the signed payload
    forged = [
        sdjwt.make_disclosure(d.name, "伪造公司").encoded
        if (d := sdjwt.decode_disclosure(x)).name == "holderName"
        else x
        for x in parsed.disclosures
    ]
    bad = sdjwt.SdJwt(parsed.jwt, tuple(forged), None).serialize()
    out = _verify(cred, bad)
    assert out["verdict"] == "TAMPERED" and "disclosure" in out["reasons"][0], out
    assert out["disclosed"] == {}
    # a flipped signature
    head, body, sig = parsed.jwt.split(".")
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    out = _verify(cred, sdjwt.SdJwt(f"{head}.{body}.{flipped}", parsed.disclosures, None)
                  .serialize())  # fmt: skip
    assert out["verdict"] == "TAMPERED", out
    vc = _export(cred, issued["licenceId"], "vc-jwt")
    _, p = sdjwt.unverified(vc)
    p["credentialSubject"]["holderCode"] = "91440300708461136T"
    forged_vc = ".".join([vc.split(".")[0], sdjwt.b64url(sdjwt.compact_json(p)), vc.split(".")[2]])
    assert _verify(cred, forged_vc)["verdict"] == "TAMPERED"


def test_suspended_licence_credential_is_suspended(cred: CredEnv) -> None:
    issued = issue(cred)
    lid = issued["licenceId"]
    vc = _export(cred, lid, "vc-jwt")
    sd = _export(cred, lid, "sd-jwt")
    assert _verify(cred, vc)["verdict"] == "VALID"
    cred.node.ok(
        cred.node.post(f"/v1/licences/{lid}/suspend", TOKENS["enforcement"],
                       json={"reasonCode": 1, "note": "inspection"})
    )  # fmt: skip
    out = _verify(cred, vc)
    assert out["verdict"] == "SUSPENDED", out
    assert _verify(cred, sd)["verdict"] == "SUSPENDED"


@pytest.mark.parametrize("bad", ["", "not a jwt", "a.b.c", "x~y~", "eyJhbGciOiJFUzI1NiJ9.e30.AA~"])
def test_malformed_credentials_get_a_4xx_or_a_verdict(cred: CredEnv, bad: str) -> None:
    r = cred.node.post("/v1/credentials/verify", json={"credential": bad})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        assert r.json()["verdict"] in ("TAMPERED", "UNKNOWN")


def test_signed_subject_that_contradicts_the_chain_is_tampered(cred: CredEnv) -> None:
    """Even the department's own key cannot make the chain vouch for a number that is not the
    licence's (the contract derives the licence id from the type and the number)."""
    from credledger.node.credentials.keys import CredentialKey, public_raw

    issued = issue(cred)
    key = CredentialKey(
        cred.market, cred.key_id, cred.chain.chain_id, cred.registry.address, "market",
        public_raw(cred.key.public_key()), cred.key,
    )  # fmt: skip
    text = _export(cred, issued["licenceId"], "sd-jwt")
    _, payload = sdjwt.unverified(sdjwt.parse(text).jwt)
    claims = {k: v for k, v in payload.items() if not k.startswith("_sd")}
    claims.update({"number": "JY99999999999999", "name": "食品经营许可证"})
    header = {"alg": "ES256", "typ": "dc+sd-jwt", "kid": key.kid()}
    forged, _ = sdjwt.issue(header, claims, ["number", "name"], key.sign_es256)
    out = _verify(cred, forged)
    assert out["verdict"] == "TAMPERED" and "JY99999999999999" in out["reasons"][0], out
    detail = cred.node.ok(cred.node.get(f"/v1/licences/{issued['licenceId']}"))
    claims["number"] = detail["metadata"]["number"]
    honest, _ = sdjwt.issue(header, claims, ["number", "name"], key.sign_es256)
    assert _verify(cred, honest)["verdict"] == "VALID"


def test_a_key_registered_a_moment_ago_is_found_and_an_unknown_one_is_unknown(
    cred: CredEnv,
) -> None:
    from credledger.node.core.contracts.licence_registry import KEY_KIND_P256
    from credledger.node.credentials.keys import CredentialKey, generate_p256, public_raw

    issued = issue(cred)
    text = _export(cred, issued["licenceId"], "sd-jwt")
    _, payload = sdjwt.unverified(sdjwt.parse(text).jwt)
    claims = {k: v for k, v in payload.items() if not k.startswith("_sd")}
    fresh = generate_p256()
    key_id, receipt = cred.registry.register_department_key(
        cred.market, KEY_KIND_P256, public_raw(fresh.public_key())
    )
    key = CredentialKey(cred.market, key_id, cred.chain.chain_id, cred.registry.address,
                        "market", public_raw(fresh.public_key()), fresh)  # fmt: skip
    registered = cred.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    claims["iat"] = int(registered)  # signed in the very second of the registration
    header = {"alg": "ES256", "typ": "dc+sd-jwt", "kid": key.kid()}
    token, _ = sdjwt.issue(header, claims, [], key.sign_es256)
    out = _verify(cred, token)
    assert out["verdict"] == "VALID", out
    assert out["key"]["keyId"] == key_id
    unknown = CredentialKey(cred.market, 4_000_000, cred.chain.chain_id, cred.registry.address,
                            "market", public_raw(fresh.public_key()), fresh)  # fmt: skip
    token, _ = sdjwt.issue({**header, "kid": unknown.kid()}, claims, [], unknown.sign_es256)
    out = _verify(cred, token)
    assert out["verdict"] == "UNKNOWN" and "no department key 4000000" in out["reasons"][0]


def test_amended_licence_supersedes_its_credentials_and_revoked_is_revoked(cred: CredEnv) -> None:
    import hashlib

    issued = issue(cred)
    lid = issued["licenceId"]
    old_vc, old_sd = _export(cred, lid, "vc-jwt"), _export(cred, lid, "sd-jwt")
    new_doc = "0x" + hashlib.sha256(f"amended {lid}".encode()).hexdigest()
    cred.node.ok(cred.node.post(f"/v1/licences/{lid}/amend", TOKENS["market"],
                                json={"documentHash": new_doc}))  # fmt: skip
    for old in (old_vc, old_sd):
        out = _verify(cred, old)
        assert out["verdict"] == "SUPERSEDED", out
        assert "version 1; the licence is at 2" in out["reasons"][-1]
    fresh = _export(cred, lid, "vc-jwt")
    subject = sdjwt.unverified(fresh)[1]["credentialSubject"]
    assert subject["version"] == 2 and subject["identifier"].split(".")[-2] == "002"
    assert _verify(cred, fresh)["verdict"] == "VALID"
    cred.node.ok(cred.node.post(f"/v1/licences/{lid}/revoke", TOKENS["market"],
                                json={"reasonCode": 1, "note": "revoked"}))  # fmt: skip
    out = _verify(cred, fresh)
    assert out["verdict"] == "REVOKED", out
    assert _verify(cred, old_sd)["verdict"] == "SUPERSEDED"  # an old version stays superseded
