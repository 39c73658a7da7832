"""The verifier at the counter through the API (issue 22 item 1): a signed request object passed
by reference, a direct_post response with an SD-JWT VC presentation, the verdict and its record,
single use — and each refusal with its reason (item 5)."""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import segno
from cryptography import x509
from joserfc.jwk import ECKey

from credledger.node.core import sdjwt
from credledger.node.credentials.keys import jwk_of_raw
from tests.node.openid4vp.conftest import (
    MATTER,
    TOKENS,
    CredEnv,
    held,
    present,
    respond,
    start,
    verdict,
)


def test_request_is_signed_by_reference_and_fits_a_small_qr(cred: CredEnv) -> None:
    asked = start(cred)
    url = asked.answer["authorizationRequest"]
    assert url.startswith("openid4vp://?client_id=x509_hash%3A")
    q = parse_qs(urlsplit(url).query)
    assert set(q) == {"client_id", "request_uri"}
    qr = segno.make(url, error="m", micro=False, boost_error=False)
    assert qr.version <= 10 and asked.answer["qr"]["version"] == qr.version
    assert asked.answer["qr"]["svg"].startswith("<svg")
    # the JAR: typ, x5c whose hash is the client_id, signature by the certificate's key
    assert asked.header["typ"] == "oauth-authz-req+jwt" and asked.header["alg"] == "ES256"
    der = base64.b64decode(asked.header["x5c"][0])
    digest = sdjwt.b64url(hashlib.sha256(der).digest())
    assert asked.request["client_id"] == q["client_id"][0] == "x509_hash:" + digest
    cert = x509.load_der_x509_certificate(der)
    from cryptography.hazmat.primitives import serialization

    raw = cert.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )[1:]
    sdjwt.verify_compact(asked.jwt, jwk_of_raw(raw))
    r = asked.request
    assert r["response_type"] == "vp_token" and r["response_mode"] == "direct_post"
    assert r["response_uri"].endswith(f"/v1/presentation-requests/{asked.id}/response")
    assert len(r["nonce"]) >= 22 and r["state"]
    cq = r["dcql_query"]["credentials"][0]
    assert cq["format"] == "dc+sd-jwt"
    assert cq["meta"]["vct_values"] == ["urn:credledger:licence-type:FOOD-OPERATION"]
    assert [c["path"] for c in cq["claims"]] == [["name"], ["number"], ["validUntil"]]
    assert verdict(cred, asked)["state"] == "pending"
    # another department's token does not see it
    other = cred.node.get(f"/v1/presentation-requests/{asked.id}", TOKENS["enforcement"])
    assert other.status_code == 404


def test_a_presentation_verifies_once_and_is_recorded(cred: CredEnv) -> None:
    holder = ECKey.generate_key("P-256")
    lid, vc = held(cred, holder)
    asked = start(cred)
    qid = asked.request["dcql_query"]["credentials"][0]["id"]
    vp = present(vc, holder, asked)
    r = respond(cred, asked, {qid: [vp]})
    assert r.status_code == 200 and r.json() == {}, r.text
    out = verdict(cred, asked)
    assert out["state"] == "answered" and out["verdict"] == "VALID", out
    (one,) = out["credentials"]
    assert one["licenceId"] == lid and one["holderBound"] is True
    assert set(one["disclosed"]) == {"name", "number", "validUntil"}
    record = cred.node.ok(cred.node.get(f"/v1/verifications/{out['verificationId']}"))
    assert record["record"]["format"] == "credledger-openid4vp-verification-1", record
    assert record["record"]["verdict"] == "VALID"
    assert record["record"]["assets"] == [
        {"assetId": lid, "verdict": "VALID", "reasons": ["valid"]}
    ]
    # anchored like every clerk check: the receipt comes
    deadline = time.time() + 60
    while True:
        got = cred.node.get(f"/v1/verifications/{out['verificationId']}/receipt")
        if got.status_code == 200 or time.time() > deadline:
            break
        time.sleep(0.5)
    assert got.status_code == 200, got.text
    assert got.json()["record"]["format"] == "credledger-openid4vp-verification-1"
    # the same response again: refused, the first verdict stands
    again = respond(cred, asked, {qid: [vp]})
    assert again.status_code == 409 and again.json()["error"] == "replayed", again.text
    assert verdict(cred, asked)["verificationId"] == out["verificationId"]
    # a request already answered is not served again
    assert cred.node.client.get(asked.request["response_uri"][: -len("response")] + "request")\
        .status_code == 409  # fmt: skip


def _refused(cred: CredEnv, asked, vp_token, code: str) -> dict:  # type: ignore[no-untyped-def]
    r = respond(cred, asked, vp_token)
    assert r.status_code == 200, r.text
    out = verdict(cred, asked)
    assert out["verdict"] != "VALID" and code in out["reasonCodes"], out
    return out


def test_wrong_nonce_and_another_verifier_are_refused(cred: CredEnv) -> None:
    holder = ECKey.generate_key("P-256")
    _, vc = held(cred, holder)
    first = start(cred)
    qid = first.request["dcql_query"]["credentials"][0]["id"]
    second = start(cred)
    # a presentation made for the first request, posted to the second: another nonce
    out = _refused(cred, second, {qid: [present(vc, holder, first)]}, "wrong_nonce")
    assert out["verdict"] == "REFUSED" and "nonce" in out["reasons"][0]
    other = start(cred)
    vp = present(vc, holder, other, aud="x509_hash:someone-else")
    out = _refused(cred, other, {qid: [vp]}, "wrong_audience")
    assert "someone-else" in out["reasons"][0]


def test_a_credential_that_does_not_match_the_query_is_refused(cred: CredEnv) -> None:
    holder = ECKey.generate_key("P-256")
    _, vc = held(cred, holder)
    asked = start(cred)
    qid = asked.request["dcql_query"]["credentials"][0]["id"]
    out = _refused(cred, asked, {qid: [present(vc, holder, asked, keep=("name",))]},
                   "query_not_satisfied")  # fmt: skip
    assert any("['number'] is not disclosed" in x for x in out["reasons"]), out
    other = start(cred, {"licenceTypes": ["PUBLIC-HEALTH"], "fields": ["name"]})
    qid = other.request["dcql_query"]["credentials"][0]["id"]
    out = _refused(cred, other, {qid: [present(vc, holder, other)]}, "query_not_satisfied")
    assert any("FOOD-OPERATION" in x for x in out["reasons"]), out


def test_suspended_and_revoked_licences_are_refused(cred: CredEnv) -> None:
    holder = ECKey.generate_key("P-256")
    for action, token, want in (("suspend", "enforcement", "SUSPENDED"),
                                ("revoke", "market", "REVOKED")):  # fmt: skip
        lid, vc = held(cred, holder)
        cred.node.ok(cred.node.post(f"/v1/licences/{lid}/{action}", TOKENS[token],
                                    json={"reasonCode": 1, "note": "test"}))  # fmt: skip
        asked = start(cred)
        qid = asked.request["dcql_query"]["credentials"][0]["id"]
        out = _refused(cred, asked, {qid: [present(vc, holder, asked)]}, want.lower())
        assert out["verdict"] == want, out


def test_an_unknown_issuer_key_is_refused(cred: CredEnv) -> None:
    from credledger.node.credentials.keys import CredentialKey, generate_p256, public_raw

    holder = ECKey.generate_key("P-256")
    _, vc = held(cred, holder)
    _, payload = sdjwt.unverified(sdjwt.parse(vc).jwt)
    claims = {k: v for k, v in payload.items() if not k.startswith("_sd")}
    claims.update(name="食品经营许可证", number="JY0", validUntil="2036-12-31")
    fresh = generate_p256()
    unknown = CredentialKey(cred.market, 4_000_000, cred.chain.chain_id, cred.registry.address,
                            "market", public_raw(fresh.public_key()), fresh)  # fmt: skip
    header = {"alg": "ES256", "typ": "dc+sd-jwt", "kid": unknown.kid()}
    token, _ = sdjwt.issue(header, claims, [], unknown.sign_es256)
    asked = start(cred)
    qid = asked.request["dcql_query"]["credentials"][0]["id"]
    out = _refused(cred, asked, {qid: [present(token, holder, asked)]}, "unknown")
    assert out["verdict"] == "UNKNOWN" and "no department key 4000000" in out["reasons"][0]


def test_a_json_body_is_taken_too(cred: CredEnv) -> None:
    holder = ECKey.generate_key("P-256")
    _, vc = held(cred, holder)
    asked = start(cred, {"licenceTypes": ["FOOD-OPERATION"], "fields": ["holderName"]})
    qid = asked.request["dcql_query"]["credentials"][0]["id"]
    vp = present(vc, holder, asked, keep=("holderName",))
    body = {"vp_token": {qid: vp}, "state": asked.request["state"]}
    r = cred.node.client.post(asked.request["response_uri"], json=body)
    assert r.status_code == 200, r.text
    out = verdict(cred, asked)
    assert out["verdict"] == "VALID" and list(out["credentials"][0]["disclosed"]) == ["holderName"]


def test_bad_input_is_a_4xx(cred: CredEnv) -> None:
    node = cred.node
    assert node.post("/v1/presentation-requests", None, json={}).status_code == 401
    assert node.post("/v1/presentation-requests", TOKENS["wallet"], json={}).status_code == 403
    for body in ({}, {"licenceTypes": []}, {"licenceTypes": ["x y"]},
                 {"licenceTypes": ["FOOD-OPERATION"], "fields": ["password"]},
                 {"dcqlQuery": {"credentials": [{"id": "a", "format": "mso_mdoc"}]}},
                 {"dcqlQuery": {"credentials": []}, "fields": ["name"]},
                 {"dcqlQuery": {"credentials": [{"id": "a", "format": "dc+sd-jwt",
                  "meta": {"vct_values": ["x"]},
                  "claims": [{"path": ["holderName"], "values": ["11010519491231002X"]}]}]}},
                 ):  # fmt: skip
        r = node.post("/v1/presentation-requests", TOKENS["market"], json=body)
        assert r.status_code == 422 and r.json()["error"], (body, r.text)
    assert node.get("/v1/presentation-requests/pr_nothere", TOKENS["market"]).status_code == 404
    asked = start(cred)
    url = asked.request["response_uri"]
    for data in ({}, {"vp_token": "not json"}, {"vp_token": "[]"}, {"vp_token": '{"a": 1}'}):
        r = node.client.post(url, data=data)
        assert r.status_code == 422 and r.json()["error"] == "invalid_input", (data, r.text)
    r = node.client.post(url, data={"vp_token": '{"a": "x~"}', "state": "other"})
    assert r.status_code == 422 and "state" in r.text
    assert verdict(cred, asked)["state"] == "pending"  # none of these took the request
    assert time.time() < asked.request["exp"]


def test_an_encrypted_response_direct_post_jwt(cred: CredEnv) -> None:
    import json

    from joserfc import jwe

    holder = ECKey.generate_key("P-256")
    lid, vc = held(cred, holder)
    asked = start(cred, {**MATTER, "responseMode": "direct_post.jwt"})
    r = asked.request
    assert r["response_mode"] == "direct_post.jwt"
    (enc,) = r["client_metadata"]["jwks"]["keys"]
    assert enc["use"] == "enc" and enc["alg"] == "ECDH-ES" and "d" not in enc
    assert r["client_metadata"]["encrypted_response_enc_values_supported"] == ["A128GCM", "A256GCM"]
    qid = r["dcql_query"]["credentials"][0]["id"]
    payload = {"vp_token": {qid: [present(vc, holder, asked)]}, "state": r["state"]}
    # a plain vp_token is refused for this request, and so is a JWE to another key
    plain = respond(cred, asked, payload["vp_token"])
    assert plain.status_code == 422 and "encrypted" in plain.json()["message"]
    header = {"alg": "ECDH-ES", "enc": "A128GCM", "kid": enc["kid"]}
    other = jwe.encrypt_compact(header, json.dumps(payload), ECKey.generate_key("P-256"))
    bad = cred.node.client.post(r["response_uri"], data={"response": other})
    assert bad.status_code == 422 and bad.json()["details"]["field"] == "response"
    assert verdict(cred, asked)["state"] == "pending"
    sealed = jwe.encrypt_compact(header, json.dumps(payload), ECKey.import_key(enc))
    ok = cred.node.client.post(r["response_uri"], data={"response": sealed})
    assert ok.status_code == 200, ok.text
    out = verdict(cred, asked)
    assert out["verdict"] == "VALID" and out["responseMode"] == "direct_post.jwt", out
    assert out["credentials"][0]["licenceId"] == lid
    again = cred.node.client.post(r["response_uri"], data={"response": sealed})
    assert again.status_code == 409 and again.json()["error"] == "replayed"


def test_the_wallets_error_response_answers_refused(cred: CredEnv) -> None:
    asked = start(cred)
    url = asked.request["response_uri"]
    r = cred.node.client.post(url, data={"error": "access_denied"})  # no state: not taken
    assert r.status_code == 422 and r.json()["details"]["field"] == "state"
    data = {"error": "access_denied", "error_description": "the holder declined",
            "state": asked.request["state"]}  # fmt: skip
    assert cred.node.client.post(url, data=data).status_code == 200
    out = verdict(cred, asked)
    assert out["state"] == "answered" and out["verdict"] == "REFUSED", out
    assert out["reasonCodes"] == ["wallet_error"] and "declined" in out["reasons"][0]
    assert cred.node.client.post(url, data=data).status_code == 409
