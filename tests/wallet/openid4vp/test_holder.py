"""Our wallet as an OpenID4VP 1.0 holder (issue 22 item 2), against the node's verifier on a real
node process and anvil: resolve shows who asks what and which held licences answer; respond is
judged VALID at the node (direct_post and direct_post.jwt); decline answers REFUSED
wallet_error; a tampered, misattributed or expired request, a licence that is not a candidate, a
missing disclosure and a replay are refused with a clear error. Through the HTTP API and the
CLI."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from credledger.node.core import sdjwt
from credledger.wallet.openid4vp.request import client_id_of
from tests.wallet.harness import run_wallet_cli
from tests.wallet.openid4vp.conftest import TOKENS, Holder

pytestmark = pytest.mark.chain
MATTER = {"licenceTypes": ["FOOD-OPERATION"], "fields": ["name", "number", "validUntil"]}


def start(h: Holder, **body: Any) -> tuple[str, str]:
    """A presentation request at the node: (its id, the openid4vp:// link)."""
    r = h.cred.node.post("/v1/presentation-requests", TOKENS["market"], json={**MATTER, **body})
    answer = h.cred.node.ok(r, 201)
    return answer["id"], answer["authorizationRequest"]


def state_of(h: Holder, rid: str) -> dict[str, Any]:
    return h.cred.node.ok(h.cred.node.get(f"/v1/presentation-requests/{rid}", TOKENS["market"]))


def call(h: Holder, what: str, **body: Any) -> Any:
    return h.wallet.post(f"/v1/openid4vp/{what}", h.token, json=body)


def choose(lid: str, *disclose: str) -> dict[str, Any]:
    return {"food_operation": {"licenceId": lid, "disclose": list(disclose)}}


ASKED = ("name", "number", "validUntil")


def test_resolve_shows_the_verifier_what_it_asks_and_the_candidates(holder: Holder) -> None:
    lid = holder.licence()
    rid, link = start(holder)
    asked = holder.wallet.ok(call(holder, "resolve", link=link))
    v = asked["verifier"]
    node_id = holder.cred.node.client.get("/v1/openid4vp/verifier")
    assert v["clientId"] == state_of(holder, rid)["clientId"]
    assert v["host"] == "127.0.0.1" and v["name"].startswith("credledger counter")
    if node_id.status_code == 200:  # the wallet's own node's verifier is trusted
        assert v["trusted"] is True and "this wallet's node" in v["trustReason"], v
    assert asked["responseMode"] == "direct_post" and asked["expiresAt"] > time.time()
    (q,) = asked["queries"]
    assert q["id"] == "food_operation" and q["licenceTypes"] == ["FOOD-OPERATION"]
    assert q["claims"] == [["name"], ["number"], ["validUntil"]] and q["required"] is True
    assert q["satisfiable"] is True
    found = [c for c in q["candidates"] if c["licenceId"] == lid]
    assert found and found[0]["licenceType"] == "FOOD-OPERATION" and found[0]["number"]
    assert found[0]["missing"] == [] and {"name", "number", "holderName"} <= set(found[0]["fields"])
    # the bare query and an https link with the same query read the same
    query = urlsplit(link).query
    for other in (query, "https://wallet.example/present?" + query):
        assert holder.wallet.ok(call(holder, "resolve", link=other))["verifier"] == v
    # a type the enterprise does not hold: shown, not satisfiable
    _, none = start(holder, licenceTypes=["PUBLIC-HEALTH"])
    (q,) = holder.wallet.ok(call(holder, "resolve", link=none))["queries"]
    assert q["satisfiable"] is False and q["candidates"] == [] and q["reason"]
    assert state_of(holder, rid)["state"] == "pending"  # resolving answers nothing


def test_respond_is_valid_at_the_node_and_a_replay_is_refused(holder: Holder) -> None:
    lid = holder.licence()
    rid, link = start(holder)
    out = holder.wallet.ok(call(holder, "respond", link=link,
                                choices=choose(lid, *ASKED, "holderName")))  # fmt: skip
    assert out == {"status": "sent", "verifierStatus": 200, "redirectUri": None}, out
    got = state_of(holder, rid)
    assert got["state"] == "answered" and got["verdict"] == "VALID", got
    (one,) = got["credentials"]
    assert one["licenceId"] == lid and one["holderBound"] is True
    assert set(one["disclosed"]) == {*ASKED, "holderName"}
    # answering again: the node's 409 as a clear wallet error, the first verdict stands
    again = call(holder, "respond", link=link, choices=choose(lid, *ASKED))
    assert again.status_code == 409, again.text
    assert again.json()["error"] == "verifier_refused" and "409" in again.json()["message"]
    assert state_of(holder, rid)["verificationId"] == got["verificationId"]
    # the answer is in the enterprise's history
    events = holder.wallet.ok(holder.wallet.get("/v1/history", holder.token))["events"]
    mine = [e for e in events if e["action"] == "openid4vp.presented" and e["assetId"] == lid]
    assert mine and mine[-1]["verifierStatus"] == 200 and mine[-1]["host"] == "127.0.0.1"


def test_an_encrypted_response_direct_post_jwt_is_valid(holder: Holder) -> None:
    lid = holder.licence()
    rid, link = start(holder, responseMode="direct_post.jwt")
    asked = holder.wallet.ok(call(holder, "resolve", link=link))
    assert asked["responseMode"] == "direct_post.jwt"
    out = holder.wallet.ok(call(holder, "respond", link=link, choices=choose(lid, *ASKED)))
    assert out["status"] == "sent" and out["verifierStatus"] == 200
    got = state_of(holder, rid)
    assert got["verdict"] == "VALID", got


def test_decline_answers_refused_wallet_error(holder: Holder) -> None:
    for mode in ("direct_post", "direct_post.jwt"):
        rid, link = start(holder, responseMode=mode)
        out = holder.wallet.ok(call(holder, "decline", link=link))
        assert out["status"] == "declined" and out["verifierStatus"] == 200
        got = state_of(holder, rid)
        assert got["verdict"] == "REFUSED" and got["reasonCodes"] == ["wallet_error"], got
        assert "access_denied" in got["reasons"][0]


def test_wrong_choices_are_refused_and_the_request_stays_pending(holder: Holder) -> None:
    lid = holder.licence()
    rid, link = start(holder)
    # a licence the enterprise does not hold
    from tests.node.credentials.conftest import issue

    other = issue(holder.cred)["licenceId"]
    r = call(holder, "respond", link=link, choices=choose(other, *ASKED))
    assert r.status_code == 422 and "does not answer this query" in r.json()["message"], r.text
    # a field the verifier asks is not disclosed
    r = call(holder, "respond", link=link, choices=choose(lid, "name", "number"))
    assert r.status_code == 422 and "validUntil" in r.json()["message"], r.text
    # a field the credential does not have
    r = call(holder, "respond", link=link, choices=choose(lid, *ASKED, "shoeSize"))
    assert r.status_code == 422 and "shoeSize" in r.json()["message"], r.text
    # a query that is not asked, no choice at all
    r = call(holder, "respond", link=link, choices={"other": {"licenceId": lid, "disclose": []}})
    assert r.status_code == 422 and "not a query" in r.json()["message"], r.text
    r = call(holder, "respond", link=link, choices={})
    assert r.status_code == 422, r.text
    assert state_of(holder, rid)["state"] == "pending"
    # not signed in
    assert holder.wallet.post("/v1/openid4vp/resolve", None, json={"link": link}).status_code == 401


def test_bad_links_are_422(holder: Holder) -> None:
    for link, why in (
        ("https://example.org/?q=1", "not an OpenID4VP"), ("mailto:x", "not an OpenID4VP"),
        ("openid4vp://?request_uri=https%3A%2F%2Fx.example%2Fr", "client_id is missing"),
        ("openid4vp://?client_id=x509_hash%3Aabc", "request_uri is missing"),
        ("openid4vp://?client_id=x509_hash%3Aabc&request=eyJ", "passed by value"),
        ("openid4vp://?client_id=a&request_uri=https%3A%2F%2Fx.example&request_uri_method=post",
         "request_uri_method=post"),
    ):  # fmt: skip
        r = call(holder, "resolve", link=link)
        assert r.status_code == 422 and why in r.json()["message"], (link, r.text)
    # a verifier that does not answer: 502, said in a sentence
    r = call(holder, "resolve", link="openid4vp://?client_id=x509_hash%3Aa&request_uri="
             + quote("http://127.0.0.1:9/req", safe=""))  # fmt: skip
    assert r.status_code == 502 and "does not answer" in r.json()["message"], r.text


# --- a verifier of our own making: tampered, misattributed and expired requests ----------------


def self_signed(key: ec.EllipticCurvePrivateKey, cn: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256())
    )  # fmt: skip


class FakeVerifier:
    """A small real HTTP server serving request objects we sign (or spoil) ourselves."""

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey | None = None,
        chain: list[x509.Certificate] | None = None,
    ) -> None:
        self.key = key or ec.generate_private_key(ec.SECP256R1())
        self.chain = chain or [self_signed(self.key, "Fake counter")]
        self.cert = self.chain[0]
        self.client_id = client_id_of(self.cert)
        self.objects: dict[str, str] = {}
        self.once: set[str] = set()  # request objects served once (as the EU reference does)
        self.fetched: list[str] = []
        self.posted: list[dict[str, list[str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                got = fake.objects.pop if self.path in fake.once else fake.objects.get
                body = got(self.path, "").encode()
                fake.fetched.append(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/oauth-authz-req+jwt")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", "0"))
                fake.posted.append(parse_qs(self.rfile.read(n).decode()))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def sign(self, claims: dict[str, Any]) -> str:
        import base64

        def es256(data: bytes) -> bytes:
            r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")

        x5c = [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in self.chain]
        header = {"alg": "ES256", "typ": "oauth-authz-req+jwt", "x5c": x5c}
        return sdjwt.sign_compact(header, claims, es256)

    def claims(self, **over: Any) -> dict[str, Any]:
        base = {
            "client_id": self.client_id, "response_type": "vp_token",
            "response_mode": "direct_post", "response_uri": self.url + "/response",
            "nonce": "fake-nonce-123", "state": "fake-state", "exp": int(time.time()) + 300,
            "dcql_query": {"credentials": [{"id": "food_operation", "format": "dc+sd-jwt",
                "meta": {"vct_values": ["urn:credledger:licence-type:FOOD-OPERATION"]},
                "claims": [{"path": ["name"]}]}]},
        }  # fmt: skip
        return {**base, **over}

    def serve(self, path: str, jwt: str, client_id: str | None = None, once: bool = False) -> str:
        self.objects[path] = jwt
        if once:
            self.once.add(path)
        return (f"openid4vp://?client_id={quote(client_id or self.client_id, safe='')}"
                f"&request_uri={quote(self.url + path, safe='')}")  # fmt: skip


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeVerifier]:
    f = FakeVerifier()
    try:
        yield f
    finally:
        f.server.shutdown()
        f.server.server_close()


def _refused(h: Holder, link: str, status: int, words: str) -> None:
    r = call(h, "resolve", link=link)
    assert r.status_code == status and words in r.json()["message"], r.text


def test_tampered_misattributed_and_expired_requests_are_refused(
    holder: Holder, fake: FakeVerifier
) -> None:
    rid, link = start(holder)
    q = parse_qs(urlsplit(link).query)
    node_jwt = holder.cred.node.client.get(q["request_uri"][0]).text
    head, payload, sig = node_jwt.split(".")
    claims = json.loads(sdjwt.b64url_decode(payload))
    claims["response_uri"] = fake.url + "/steal"  # tampered: the signature no longer holds
    spoiled = ".".join((head, sdjwt.b64url(sdjwt.compact_json(claims)), sig))
    _refused(holder, fake.serve("/tampered", spoiled, q["client_id"][0]), 422,
             "signature does not verify")  # fmt: skip
    # the node's genuine request under another verifier's client_id
    other = link.replace(quote(q["client_id"][0], safe=""), quote(fake.client_id, safe=""))
    _refused(holder, other, 422, "not the link's client_id")
    # a request signed by us claiming the node's client_id
    lying = fake.sign(fake.claims(client_id=q["client_id"][0]))
    _refused(holder, fake.serve("/lying", lying, q["client_id"][0]), 422,
             "not the x509_hash of the request object's certificate")  # fmt: skip
    expired = fake.sign(fake.claims(exp=int(time.time()) - 3600))
    _refused(holder, fake.serve("/expired", expired), 409, "expired")
    unsigned_alg = fake.sign(fake.claims())
    h2 = json.loads(sdjwt.b64url_decode(unsigned_alg.split(".")[0]))
    h2["typ"] = "JWT"
    wrong_typ = sdjwt.b64url(sdjwt.compact_json(h2)) + "." + ".".join(unsigned_alg.split(".")[1:])
    _refused(holder, fake.serve("/typ", wrong_typ), 422, "typ")
    mode = fake.sign(fake.claims(response_mode="fragment"))
    _refused(holder, fake.serve("/mode", mode), 422, "response_mode")
    assert state_of(holder, rid)["state"] == "pending" and not fake.posted


def test_an_unknown_verifier_is_shown_untrusted_and_gets_a_bound_presentation(
    holder: Holder, fake: FakeVerifier
) -> None:
    """Another verifier (not the wallet's node, no trust anchor): shown untrusted; answered, it
    receives a presentation whose KB-JWT names it and its nonce; unsupported queries are shown,
    not a crash."""
    lid = holder.licence()
    dcql = fake.claims()["dcql_query"]
    dcql["credentials"].append({"id": "mdl", "format": "mso_mdoc", "meta": {"doctype_value": "x"}})
    link = fake.serve("/ok", fake.sign(fake.claims(dcql_query=dcql)))
    asked = holder.wallet.ok(call(holder, "resolve", link=link))
    assert asked["verifier"]["trusted"] is False and asked["verifier"]["name"] == "Fake counter"
    assert asked["mayAnswer"] is True
    ok, mdl = asked["queries"]
    assert ok["satisfiable"] is True and mdl["satisfiable"] is False and "mso_mdoc" in mdl["reason"]
    r = call(holder, "respond", link=link, choices=choose(lid, "name"))
    assert r.status_code == 422 and "mdl" in r.json()["message"], r.text  # required, unanswerable
    dcql["credentials"].pop()
    link = fake.serve("/ok2", fake.sign(fake.claims(dcql_query=dcql)))
    out = holder.wallet.ok(call(holder, "respond", link=link, choices=choose(lid, "name")))
    assert out["verifierStatus"] == 200
    posted = fake.posted[-1]
    assert posted["state"] == ["fake-state"]
    (vp,) = json.loads(posted["vp_token"][0])["food_operation"]
    parsed = sdjwt.parse(vp)
    assert [sdjwt.decode_disclosure(d).name for d in parsed.disclosures] == ["name"]
    assert parsed.kb_jwt is not None
    _, kb = sdjwt.unverified(parsed.kb_jwt)
    assert kb["aud"] == fake.client_id and kb["nonce"] == "fake-nonce-123"
    assert kb["sd_hash"] == parsed.sd_hash


def test_the_cli_shows_and_presents(holder: Holder, tmp_path: Any) -> None:
    lid = holder.licence()
    rid, link = start(holder)
    env = {"CREDLEDGER_WALLET_URL": holder.wallet.url, "CREDLEDGER_WALLET_TOKEN": holder.token,
           "CREDLEDGER_WALLET_SESSION": str(tmp_path / "session.json")}  # fmt: skip
    out = run_wallet_cli("openid4vp", "show", link, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "credledger counter" in out.stdout and lid in out.stdout
    assert "asks name, number, validUntil" in out.stdout
    bad = run_wallet_cli("openid4vp", "present", link, "--licence", lid, "--disclose", "name",
                         env=env)  # fmt: skip
    assert bad.returncode != 0 and "Traceback" not in bad.stderr, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "validUntil" in bad.stderr
    out = run_wallet_cli("openid4vp", "present", link, "--licence", lid, "--disclose",
                         "name,number,validUntil", env=env)  # fmt: skip
    assert out.returncode == 0 and "answered 200" in out.stdout, out.stdout + out.stderr
    assert state_of(holder, rid)["verdict"] == "VALID"
    again = run_wallet_cli("openid4vp", "present", link, "--licence", lid, env=env)
    assert again.returncode != 0 and "Traceback" not in again.stderr
    assert "409" in again.stderr and len(again.stderr.strip().splitlines()) == 1, again.stderr


def test_same_device_gives_the_verifiers_redirect_uri(holder: Holder) -> None:
    """The link opened on the phone: the node's direct_post answer carries the result page the
    wallet's browser goes to; the wallet hands it back as redirectUri."""
    lid = holder.licence()
    rid, link = start(holder, flow="same-device")
    out = holder.wallet.ok(call(holder, "respond", link=link, choices=choose(lid, *ASKED)))
    assert out["redirectUri"], out
    assert out["redirectUri"].startswith(f"{holder.cred.node.url}/openid4vp/{rid}/done"), out
    assert state_of(holder, rid)["verdict"] == "VALID"


def test_a_request_object_served_once_is_answered(holder: Holder, fake: FakeVerifier) -> None:
    """A verifier that serves its request object once (the EU reference verifier): respond and
    decline answer the request resolve read, without fetching it again."""
    lid = holder.licence()
    link = fake.serve("/once", fake.sign(fake.claims(nonce="once-nonce")), once=True)
    assert holder.wallet.ok(call(holder, "resolve", link=link))["queries"][0]["satisfiable"]
    out = holder.wallet.ok(call(holder, "respond", link=link, choices=choose(lid, "name")))
    assert out["verifierStatus"] == 200 and fake.fetched.count("/once") == 1
    (vp,) = json.loads(fake.posted[-1]["vp_token"][0])["food_operation"]
    assert sdjwt.unverified(sdjwt.parse(vp).kb_jwt or "")[1]["nonce"] == "once-nonce"
    link = fake.serve("/once-no", fake.sign(fake.claims()), once=True)
    holder.wallet.ok(call(holder, "resolve", link=link))
    assert holder.wallet.ok(call(holder, "decline", link=link))["status"] == "declined"
    assert fake.posted[-1]["error"] == ["access_denied"] and fake.fetched.count("/once-no") == 1
    # respond straight away (no resolve first) fetches it then
    link = fake.serve("/once-direct", fake.sign(fake.claims()), once=True)
    out = holder.wallet.ok(call(holder, "respond", link=link, choices=choose(lid, "name")))
    assert out["verifierStatus"] == 200 and fake.fetched.count("/once-direct") == 1
