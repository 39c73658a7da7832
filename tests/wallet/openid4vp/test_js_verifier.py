"""Proven with code we did not write (issue 22 item 4, second half): our wallet presents to an
independent verifier. js_verifier.mjs is a verifier built on @openid4vc/openid4vp 0.4.6
(OpenWallet Foundation oid4vc-ts: its Openid4vpVerifier makes the signed request — JAR, x509_hash,
x5c — and parses and validates the response) and @sd-jwt/sd-jwt-vc 0.19 (issuer signature,
disclosures, status list, KB-JWT signature, nonce, sd_hash); it trusts the department's credential
key as read from the chain, and a self-signed certificate made here.

Our wallet answers it through its own API (``/v1/openid4vp/resolve``, ``respond``, ``decline``),
in both response modes and when the request object is served only once; the verifier accepts
exactly the disclosed claims and refuses the same response replayed. Presentations our wallet made
(``/v1/credentials/presentations``, with the request's nonce and the verifier's client_id) and
then altered — a disclosure's value changed, another verifier's audience, another request's
nonce, another state, fewer fields, no array — are each refused, and the unaltered one accepted
afterwards; so are a suspended licence and a credential signed by a key the verifier does not
trust. The library's own holder passes the same verifier. Given no issuer key but only the
node's devnet issuer CA as trust anchor, the verifier checks the x5c chains (HAIP 1.0 §6.1.1) of
the credential and the status list token and still accepts our wallet's presentation, and refuses
a credential whose x5c does not reach the anchor or whose leaf names another issuer. Node and the
npm packages are required: without them this fails, it does not skip."""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from joserfc.jwk import ECKey

from credledger.node.core import sdjwt
from credledger.node.credentials.ids import key_urn
from credledger.node.credentials.keys import jwk_of_raw
from tests.conftest import ROOT
from tests.node.credentials.conftest import USCC
from tests.support.reaper import tied
from tests.wallet.openid4vp.conftest import TOKENS, CredEnv, Holder

pytestmark = pytest.mark.chain
MODULES = ROOT / "hardhat-free-devnet" / "node_modules"
SCRIPT = Path(__file__).with_name("js_verifier.mjs")
FIELDS = ["name", "number", "validUntil"]
QUERY = {
    "credentials": [{
        "id": "food_licence", "format": "dc+sd-jwt",
        "meta": {"vct_values": ["urn:credledger:licence-type:FOOD-OPERATION"]},
        "claims": [{"path": [f]} for f in FIELDS],
    }]
}  # fmt: skip
QID = "food_licence"


def _certificate() -> tuple[str, str]:
    """A P-256 key (PKCS#8 PEM) and a self-signed certificate for it (base64 DER, for x5c)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "Independent test verifier"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "oid4vc-ts test bench"),
    ])  # fmt: skip
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()  # fmt: skip
    return pem, base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


class JsVerifier:
    """js_verifier.mjs running: its JSON-line events, and new requests on demand."""

    def __init__(self, config: dict[str, Any], log: Path) -> None:
        self._log = log.open("wb")
        self.proc = subprocess.Popen(["node", str(SCRIPT), str(MODULES)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log,
                                     preexec_fn=tied())  # fmt: skip
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(config).encode())
        self.proc.stdin.close()
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        stdout = self.proc.stdout
        threading.Thread(target=self._read, args=(stdout,), daemon=True).start()
        self.first = self.event("ready", timeout=60)
        self.base = self.first["requestUri"].split("/requests/")[0]
        self.http = httpx.Client(timeout=30)

    def _read(self, stdout: Any) -> None:
        for line in stdout:
            self.events.put(json.loads(line))

    def event(self, kind: str, request_id: str | None = None, timeout: float = 30) -> Any:
        """The next event of ``kind`` (for ``request_id``): its body."""
        deadline = time.monotonic() + timeout
        while True:
            for e in self.seen:
                body = e.get(kind)
                if body is not None and request_id in (None, body.get("requestId")):
                    self.seen.remove(e)
                    return body
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise AssertionError(f"no {kind} event from js_verifier: {self.seen}\n{self.log()}")
            with contextlib.suppress(queue.Empty):
                self.seen.append(self.events.get(timeout=min(left, 0.5)))

    def quiet(self, request_id: str, wait: float = 1.0) -> None:
        """Nothing reached the verifier for ``request_id``."""
        time.sleep(wait)
        while not self.events.empty():
            self.seen.append(self.events.get())
        got = [e for e in self.seen if any(isinstance(v, dict) and v.get("requestId") ==
                                           request_id for v in e.values())]  # fmt: skip
        assert not got, got

    def no_verdict(self, request_id: str, wait: float = 1.0) -> None:
        """No verdict for ``request_id`` came (what reached the verifier, if anything, it
        refused as a replay)."""
        time.sleep(wait)
        while not self.events.empty():
            self.seen.append(self.events.get())
        mine = [e for e in self.seen if any(isinstance(v, dict) and v.get("requestId") ==
                                            request_id for v in e.values())]  # fmt: skip
        assert all("replayed" in e.get("error", {}).get("message", "") for e in mine), mine
        for e in mine:
            self.seen.remove(e)

    def new(
        self, mode: str = "direct_post", query: dict[str, Any] | None = None, once: bool = False
    ) -> Any:
        """A new request; ``once``: its request object is served once (as the EU reference
        verifier does: a request moves to "retrieved" on the first GET)."""
        body = {"responseMode": mode, "dcqlQuery": query or QUERY, "serveOnce": once}
        r = self.http.post(f"{self.base}/requests", json=body)
        assert r.status_code == 201, r.text
        ready = self.event("ready", r.json()["requestId"])
        assert ready == r.json()
        return ready

    def post(self, ready: dict[str, Any], form: dict[str, str]) -> httpx.Response:
        return self.http.post(ready["responseUri"], data=form)

    def log(self) -> str:
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()
        self.http.close()


@pytest.fixture(scope="module")
def verifier(cred: CredEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsVerifier]:
    key = cred.registry.department_key(cred.key_id)
    assert key is not None
    # the issuer key the verifier trusts: the department's, read from the chain
    issuer = {**jwk_of_raw(key.public_key),
              "kid": key_urn(cred.chain.chain_id, cred.registry.address, cred.key_id)}  # fmt: skip
    pem, der = _certificate()
    config = {"keyPem": pem, "x5c": [der], "issuerJwks": [issuer], "dcqlQuery": QUERY,
              "responseMode": "direct_post", "clientName": "Independent test verifier"}  # fmt: skip
    v = JsVerifier(config, tmp_path_factory.mktemp("js-verifier") / "stderr.log")
    try:
        yield v
    finally:
        v.stop()


def _request(ready: dict[str, Any]) -> dict[str, Any]:
    """The signed request object, as any wallet fetches it (claims; the header checked)."""
    got = httpx.get(ready["requestUri"], timeout=10)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("application/oauth-authz-req+jwt")
    header, claims = sdjwt.unverified(got.text)
    assert header["alg"] == "ES256" and header["typ"] == "oauth-authz-req+jwt" and header["x5c"]
    return claims


def _ours(holder: Holder, lid: str, nonce: str, aud: str, disclose: list[str] = FIELDS) -> str:
    """Our wallet's SD-JWT VC presentation of ``lid`` with a KB-JWT for ``nonce`` and ``aud``."""
    r = holder.wallet.post("/v1/credentials/presentations", holder.token, json={
        "licenceId": lid, "disclose": disclose, "nonce": nonce, "audience": aud})  # fmt: skip
    presentation: str = holder.wallet.ok(r, 201)["presentation"]
    return presentation


def _form(presentation: str, state: str) -> dict[str, str]:
    return {"vp_token": json.dumps({QID: [presentation]}), "state": state}


def _refused(verifier: JsVerifier, ready: dict[str, Any], form: dict[str, str], why: str) -> None:
    r = verifier.post(ready, form)
    assert r.status_code == 400, r.text
    assert why in r.json()["error_description"], r.text
    assert why in verifier.event("error", ready["requestId"])["message"]


def test_the_verifiers_request_is_signed_with_x509_hash(verifier: JsVerifier) -> None:
    ready = verifier.new()
    q = parse_qs(urlsplit(ready["link"]).query)
    assert ready["link"].startswith("openid4vp://")
    assert q["client_id"] == [ready["clientId"]] and q["request_uri"] == [ready["requestUri"]]
    claims = _request(ready)
    x5c = sdjwt.unverified(httpx.get(ready["requestUri"]).text)[0]["x5c"]
    digest = base64.urlsafe_b64encode(hashlib.sha256(base64.b64decode(x5c[0])).digest())
    assert claims["client_id"] == ready["clientId"] == f"x509_hash:{digest.rstrip(b'=').decode()}"
    assert claims["response_mode"] == "direct_post" and claims["response_type"] == "vp_token"
    assert claims["nonce"] == ready["nonce"] and claims["dcql_query"] == QUERY
    assert claims["aud"] == "https://self-issued.me/v2" and claims["exp"] > time.time()


def test_our_wallets_presentation_verifies_and_altered_ones_are_refused(
    verifier: JsVerifier, holder: Holder
) -> None:
    lid = holder.licence()
    ready = verifier.new()
    req = _request(ready)
    good = _ours(holder, lid, req["nonce"], req["client_id"])
    form = _form(good, req["state"])
    # a disclosure's value changed: the KB-JWT's sd_hash (over the issuer JWT and the disclosures
    # sent) no longer holds
    jwt, *discs, kb = good.split("~")
    flipped = sdjwt.decode_disclosure(discs[0])
    forged = base64.urlsafe_b64encode(json.dumps(
        [flipped.salt, flipped.name, "假的 forged"]).encode()).rstrip(b"=").decode()  # fmt: skip
    tampered = "~".join([jwt, forged, *discs[1:], kb])
    _refused(verifier, ready, _form(tampered, req["state"]), "Invalid sd_hash")
    # made for another verifier (KB-JWT aud), for another nonce, for another state
    other = _ours(holder, lid, req["nonce"], "x509_hash:another-verifier")
    _refused(verifier, ready, _form(other, req["state"]), "not our client_id")
    stale = _ours(holder, lid, "a-nonce-of-another-request", req["client_id"])
    _refused(verifier, ready, _form(stale, req["state"]), "Invalid Nonce")
    _refused(verifier, ready, _form(good, "another-state"), "state mismatch")
    # fewer fields than asked, and a vp_token value that is not an array (OpenID4VP 1.0 §8.1)
    fewer = _ours(holder, lid, req["nonce"], req["client_id"], ["name"])
    _refused(
        verifier, ready, _form(fewer, req["state"]), "claims not disclosed: number, validUntil"
    )
    bare = {"vp_token": json.dumps({QID: good}), "state": req["state"]}
    _refused(verifier, ready, bare, "not an array")
    # the unaltered presentation: accepted, exactly the three fields
    r = verifier.post(ready, form)
    assert r.status_code == 200 and r.json() == {}, r.text
    got = verifier.event("verdict", ready["requestId"])
    assert got["ok"] is True
    one = got["credentials"][QID]
    assert set(one["disclosed"]) == set(FIELDS)
    assert one["disclosed"]["name"] == "食品经营许可证"
    assert one["vct"] == "urn:credledger:licence-type:FOOD-OPERATION"
    assert one["kb"]["aud"] == ready["clientId"] and one["kb"]["nonce"] == ready["nonce"]
    # and the same response again: refused
    _refused(verifier, ready, form, "replayed")


def test_an_encrypted_response_and_a_suspended_licence(
    verifier: JsVerifier, holder: Holder
) -> None:
    from joserfc import jwe

    lid = holder.licence()
    ready = verifier.new("direct_post.jwt")
    req = _request(ready)
    (enc,) = req["client_metadata"]["jwks"]["keys"]
    assert enc["use"] == "enc" and enc["alg"] == "ECDH-ES" and "d" not in enc
    payload = {"vp_token": {QID: [_ours(holder, lid, req["nonce"], req["client_id"])]},
               "state": req["state"]}  # fmt: skip
    _refused(verifier, ready, {k: json.dumps(v) if isinstance(v, dict) else v
                               for k, v in payload.items()}, "Expected jarm response")  # fmt: skip
    header = {"alg": "ECDH-ES", "enc": "A256GCM", "kid": enc["kid"]}
    sealed = jwe.encrypt_compact(header, json.dumps(payload), ECKey.import_key(enc))
    r = verifier.post(ready, {"response": sealed})
    assert r.status_code == 200, r.text
    assert set(verifier.event("verdict", ready["requestId"])["credentials"][QID]["disclosed"]) \
        == set(FIELDS)  # fmt: skip
    # a suspended licence: the library reads its entry in the node's status list
    lid = holder.licence()
    holder.cred.node.ok(holder.cred.node.post(f"/v1/licences/{lid}/suspend", TOKENS[
        "enforcement"], json={"reasonCode": 1, "note": "test"}))  # fmt: skip
    ready = verifier.new()
    req = _request(ready)
    _refused(verifier, ready, _form(_ours(holder, lid, req["nonce"], req["client_id"]),
                                    req["state"]), "Status is not valid")  # fmt: skip


def _link(holder: Holder, route: str, ready: dict[str, Any], **extra: Any) -> httpx.Response:
    body = {"link": ready["link"], **extra}
    return holder.wallet.post(f"/v1/openid4vp/{route}", holder.token, json=body)


@pytest.mark.parametrize(("mode", "once"), [("direct_post", False), ("direct_post.jwt", False),
                                           ("direct_post", True)])  # fmt: skip
def test_our_wallet_answers_an_independent_verifier(
    verifier: JsVerifier, holder: Holder, mode: str, once: bool
) -> None:
    """The wallet's own API: resolve shows who asks what, respond presents; the verifier built on
    oid4vc-ts and sd-jwt-js accepts exactly the fields chosen, and refuses the same response
    again. ``once``: the verifier serves its request object once (as the EU reference verifier
    does), so respond must answer the request resolve read."""
    lid = holder.licence()
    ready = verifier.new(mode, once=once)
    req = _request(ready) if not once else None
    asked = holder.wallet.ok(_link(holder, "resolve", ready))
    who = asked["verifier"]
    assert who["clientId"] == ready["clientId"] and who["trusted"] is False, who
    assert who["name"] == "oid4vc-ts test bench" and who["host"] == "127.0.0.1"
    assert asked["responseMode"] == mode
    (q,) = asked["queries"]
    assert q["id"] == QID and q["licenceTypes"] == ["FOOD-OPERATION"] and q["satisfiable"]
    assert q["claims"] == [[f] for f in FIELDS]
    assert lid in [c["licenceId"] for c in q["candidates"]]
    choices = {QID: {"licenceId": lid, "disclose": FIELDS}}
    out = holder.wallet.ok(_link(holder, "respond", ready, choices=choices))
    assert out == {"status": "sent", "verifierStatus": 200, "redirectUri": None}, out
    got = verifier.event("verdict", ready["requestId"])
    assert got["ok"] is True
    one = got["credentials"][QID]
    assert sorted(one["disclosed"]) == sorted(FIELDS), one
    assert one["kb"]["aud"] == ready["clientId"] and one["kb"]["nonce"] == ready["nonce"]
    sent = got["body"]  # what our wallet posted
    assert set(sent) == ({"response"} if mode == "direct_post.jwt" else {"vp_token", "state"})
    if req is not None and mode == "direct_post.jwt":  # to the request's key, as HAIP 1.0 asks
        (enc,) = req["client_metadata"]["jwks"]["keys"]
        header = json.loads(base64.urlsafe_b64decode(sent["response"].split(".")[0] + "=="))
        assert header["alg"] == "ECDH-ES" and header["enc"] in ("A128GCM", "A256GCM"), header
        assert header["kid"] == enc["kid"] and header["epk"]["crv"] == "P-256"
    # the same response again, and our wallet answering the answered request again: refused
    _refused(verifier, ready, sent, "replayed")
    again = _link(holder, "respond", ready, choices=choices)
    assert again.status_code in (409, 502), again.text
    verifier.no_verdict(ready["requestId"])


def test_our_wallet_refuses_to_disclose_less_than_asked_and_declines(
    verifier: JsVerifier, holder: Holder
) -> None:
    lid = holder.licence()
    ready = verifier.new()
    fewer = {QID: {"licenceId": lid, "disclose": ["name"]}}
    r = _link(holder, "respond", ready, choices=fewer)
    assert r.status_code == 422 and "number" in r.text and "validUntil" in r.text, r.text
    verifier.quiet(ready["requestId"])  # nothing was sent
    out = holder.wallet.ok(_link(holder, "decline", ready))
    assert out["status"] == "declined" and out["verifierStatus"] == 200, out
    said = verifier.event("declined", ready["requestId"])
    assert said["error"] == "access_denied" and set(said["body"]) <= {
        "error", "error_description", "state"}  # fmt: skip


@pytest.mark.parametrize(("mode", "once"), [("direct_post", False), ("direct_post.jwt", True)])
def test_the_librarys_own_holder_agrees_with_this_verifier(
    verifier: JsVerifier, holder: Holder, tmp_path: Path, mode: str, once: bool
) -> None:
    """The verifier itself is conformant as the library sees it: oid4vc-ts's Openid4vpClient
    (tests/node/openid4vp/js_holder.mjs) resolves its request (its own x509_hash and x5c checks)
    and answers it with an sd-jwt-js presentation, which the verifier accepts — also when the
    request object is served only once (the library's holder fetches it once)."""
    key, vc = _bound_vc(holder)
    ready = verifier.new(mode, once=once)
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"authorizationRequest": ready["link"], "credential": vc,
                               "holderPrivateJwk": key.as_dict(private=True)}))  # fmt: skip
    script = ROOT / "tests" / "node" / "openid4vp" / "js_holder.mjs"
    run = subprocess.run(["node", str(script), str(MODULES), str(job)], capture_output=True,
                         text=True, timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["client"] == {"prefix": "x509_hash",
                             "identifier": ready["clientId"].split(":", 1)[1]}  # fmt: skip
    assert out["jarSigner"] == "x5c" and out["responseMode"] == mode
    assert out["status"] == 200, out
    got = verifier.event("verdict", ready["requestId"])
    assert sorted(got["credentials"][QID]["disclosed"]) == sorted(FIELDS)


def _bound_vc(holder: Holder) -> tuple[ECKey, str]:
    """A key of our own and a licence's SD-JWT VC the node binds to it (every disclosure)."""
    key = ECKey.generate_key("P-256")
    public = {k: str(v) for k, v in key.as_dict(private=False).items()
              if k in ("kty", "crv", "x", "y")}  # fmt: skip
    lid = holder.licence()
    params = {"format": "sd-jwt", "holderJwk": json.dumps(public)}
    vc = holder.cred.node.get(f"/v1/licences/{lid}/credential", TOKENS["wallet"], params=params)
    assert vc.status_code == 200, vc.text
    return key, vc.text


def test_a_credential_signed_by_a_key_it_does_not_trust_is_refused(
    verifier: JsVerifier, holder: Holder
) -> None:
    """The same claims and kid as the department's credential, signed by another key: the
    verifier trusts only the issuer key it was given (the chain's)."""
    key, vc = _bound_vc(holder)
    header, payload = sdjwt.unverified(sdjwt.parse(vc).jwt)
    claims = {k: v for k, v in payload.items() if not k.startswith("_sd")}
    claims.update(name="食品经营许可证", number="JY-FORGED", validUntil="2099-12-31")
    forged, _ = sdjwt.issue(header, claims, FIELDS, sdjwt.signer_of(ECKey.generate_key("P-256")))
    ready = verifier.new()
    req = _request(ready)
    shown = sdjwt.present(forged, FIELDS, sdjwt.signer_of(key), nonce=req["nonce"],
                          aud=req["client_id"], iat=int(time.time()))  # fmt: skip
    _refused(verifier, ready, _form(shown, req["state"]), "Invalid JWT Signature")
    # the genuine credential, presented the same way: accepted
    genuine = sdjwt.present(vc, FIELDS, sdjwt.signer_of(key), nonce=req["nonce"],
                            aud=req["client_id"], iat=int(time.time()))  # fmt: skip
    assert verifier.post(ready, _form(genuine, req["state"])).status_code == 200
    assert verifier.event("verdict", ready["requestId"])["ok"] is True


def test_a_disclosure_the_issuer_did_not_sign_is_refused(
    verifier: JsVerifier, holder: Holder
) -> None:
    """A holder slips in a disclosure of its own (no digest of it in the issuer-signed payload)
    and signs its KB-JWT over it: sd-jwt-js alone would ignore it; the verifier refuses it."""
    key, vc = _bound_vc(holder)
    extra = sdjwt.make_disclosure("licensedActivities", "全部经营项目").encoded
    ready = verifier.new()
    req = _request(ready)
    keep = [*FIELDS, "licensedActivities"]
    shown = sdjwt.present(vc + extra + "~", keep, sdjwt.signer_of(key), nonce=req["nonce"],
                          aud=req["client_id"], iat=int(time.time()))  # fmt: skip
    assert extra in shown
    _refused(verifier, ready, _form(shown, req["state"]), "a disclosure is not referenced")


# --- trust anchors instead of an issuer key (HAIP 1.0 §6.1.1: x5c) ------------------------------


@pytest.fixture(scope="module")
def anchored(cred: CredEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsVerifier]:
    """The same verifier given NO issuer key: only the node's devnet issuer CA, fetched from
    ``/v1/credentials/issuer-ca.pem``, as its trust anchor."""
    ca = httpx.get(f"{cred.node.url}/v1/credentials/issuer-ca.pem", timeout=10)
    assert ca.status_code == 200, ca.text
    assert x509.load_pem_x509_certificate(ca.content).extensions.get_extension_for_class(
        x509.BasicConstraints).value.ca  # fmt: skip
    pem, der = _certificate()
    config = {"keyPem": pem, "x5c": [der], "trustAnchors": [ca.text], "dcqlQuery": QUERY,
              "responseMode": "direct_post", "clientName": "Independent test verifier"}  # fmt: skip
    v = JsVerifier(config, tmp_path_factory.mktemp("js-anchored") / "stderr.log")
    try:
        yield v
    finally:
        v.stop()


def test_our_wallet_passes_a_verifier_that_trusts_only_the_issuer_ca(
    anchored: JsVerifier, holder: Holder
) -> None:
    """The verifier takes the issuer's key from the credential's x5c leaf once the chain reached
    the CA; the status list token it fetches is checked the same way (its x5c), so a suspended
    licence is still seen."""
    holder.licence()
    ready = anchored.new()
    (q,) = holder.wallet.ok(_link(holder, "resolve", ready))["queries"]
    # one the wallet offers (it lists at most 20: the enterprise holds more by now)
    lid = next(c["licenceId"] for c in q["candidates"] if c["status"] == "ACTIVE"
               and not c["missing"] and not c["unavailable"])  # fmt: skip
    choices = {QID: {"licenceId": lid, "disclose": FIELDS}}
    out = holder.wallet.ok(_link(holder, "respond", ready, choices=choices))
    assert out["status"] == "sent" and out["verifierStatus"] == 200, out
    got = anchored.event("verdict", ready["requestId"])
    one = got["credentials"][QID]
    assert got["ok"] is True and sorted(one["disclosed"]) == sorted(FIELDS), one
    # the leaf of the market department's key: its code in serialNumber, its id in OU
    assert USCC in one["issuerCertificate"] and "OU=market" in one["issuerCertificate"]
    # a suspended licence: the library read the status list token, verified by its x5c too
    lid = holder.licence()
    holder.cred.node.ok(holder.cred.node.post(f"/v1/licences/{lid}/suspend", TOKENS[
        "enforcement"], json={"reasonCode": 1, "note": "test"}))  # fmt: skip
    ready = anchored.new()
    req = _request(ready)
    _refused(anchored, ready, _form(_ours(holder, lid, req["nonce"], req["client_id"]),
                                    req["state"]), "Status is not valid")  # fmt: skip


def _foreign_leaf(key: ECKey) -> str:
    """A CA of our own and a leaf it issues for ``key``: the leaf's x5c entry."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Another issuer CA")])
    now = datetime.datetime.now(datetime.UTC)
    public = serialization.load_pem_public_key(key.as_pem(private=False))

    def build(subject: x509.Name, public: Any, ca: bool) -> x509.Certificate:
        return (
            x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name)
            .public_key(public).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip

    build(ca_name, ca_key.public_key(), True)
    leaf = build(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "市场监督管理局")]),
                 public, False)  # fmt: skip
    return base64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode()


def test_a_credential_whose_x5c_does_not_reach_the_anchor_is_refused(
    anchored: JsVerifier, holder: Holder
) -> None:
    """The department's claims and kid signed by another key: with a chain of another CA it is
    refused for the chain, with no x5c for the lack of one, and with the department's genuine x5c
    for the signature (the leaf's key is what verifies); the genuine credential is accepted."""
    key, vc = _bound_vc(holder)
    header, payload = sdjwt.unverified(sdjwt.parse(vc).jwt)
    assert len(header["x5c"]) == 1  # the leaf; the CA is the anchor, not sent
    claims = {k: v for k, v in payload.items() if not k.startswith("_sd")}
    claims.update(name="食品经营许可证", number="JY-FORGED", validUntil="2099-12-31")
    other = ECKey.generate_key("P-256")
    bare = {k: v for k, v in header.items() if k != "x5c"}
    for x5c, why in (([_foreign_leaf(other)], "does not reach a trust anchor"),
                     (None, "has no certificate chain"),
                     (header["x5c"], "Invalid JWT Signature")):  # fmt: skip
        forged_header = bare if x5c is None else {**bare, "x5c": x5c}
        forged, _ = sdjwt.issue(forged_header, claims, FIELDS, sdjwt.signer_of(other))
        ready = anchored.new()
        req = _request(ready)
        shown = sdjwt.present(forged, FIELDS, sdjwt.signer_of(key), nonce=req["nonce"],
                              aud=req["client_id"], iat=int(time.time()))  # fmt: skip
        _refused(anchored, ready, _form(shown, req["state"]), why)
    # the genuine credential, presented the same way: accepted
    genuine = sdjwt.present(vc, FIELDS, sdjwt.signer_of(key), nonce=req["nonce"],
                            aud=req["client_id"], iat=int(time.time()))  # fmt: skip
    assert anchored.post(ready, _form(genuine, req["state"])).status_code == 200
    assert anchored.event("verdict", ready["requestId"])["ok"] is True


def test_a_leaf_of_the_anchor_that_names_another_issuer_is_refused(
    anchored: JsVerifier, holder: Holder
) -> None:
    """A leaf the devnet CA itself issued for the department's key (the test signs it with the
    CA's key from the node's data dir) but naming another issuer in its URI SAN: the chain reaches
    the anchor and the signature holds, yet the leaf does not name the credential's iss."""
    cred = holder.cred
    folder = cred.node.data_dir / "credentials"
    ca_key = serialization.load_pem_private_key((folder / "issuer-ca-key.pem").read_bytes(), None)
    ca = x509.load_pem_x509_certificate((folder / "issuer-ca.pem").read_bytes())
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key, vc = _bound_vc(holder)
    header, payload = sdjwt.unverified(sdjwt.parse(vc).jwt)
    genuine = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    now = datetime.datetime.now(datetime.UTC)
    other_issuer = payload["iss"][:-40] + "00" * 20
    leaf = (
        x509.CertificateBuilder().subject_name(genuine.subject).issuer_name(ca.subject)
        .public_key(cred.key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(
            other_issuer)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    claims = {k: v for k, v in payload.items() if not k.startswith("_sd")}
    claims.update(name="食品经营许可证", number="JY13101050000001", validUntil="2036-12-31")
    der = base64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode()
    pem = cred.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())  # fmt: skip
    department = sdjwt.signer_of(ECKey.import_key(pem))
    forged, _ = sdjwt.issue({**header, "x5c": [der]}, claims, FIELDS, department)
    ready = anchored.new()
    req = _request(ready)
    shown = sdjwt.present(forged, FIELDS, sdjwt.signer_of(key), nonce=req["nonce"],
                          aud=req["client_id"], iat=int(time.time()))  # fmt: skip
    _refused(anchored, ready, _form(shown, req["state"]), "does not name the issuer")
