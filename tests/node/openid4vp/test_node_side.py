"""The verifier's node side (issue 22): the same-device flow (``redirect_uri`` with a response
code, the result page), the verifier's identity route, a configured certificate chain, a request
that fails while judged ends ``failed`` (also across a restart), and the clerk page's panel
over HTTP. Real node processes on the credentials tests' anvil chain."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from joserfc.jwk import ECKey

from credledger.node.core import sdjwt
from credledger.node.devnet import free_port
from credledger.node.openid4vp.store import PresentationRequest, RequestStore
from tests.node.licences.harness import Node
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

pytestmark = pytest.mark.chain


def _code_of(redirect_uri: str) -> str:
    frag = urlsplit(redirect_uri).fragment
    return parse_qs(frag)["response_code"][0]


def test_same_device_answers_a_redirect_uri_and_the_result_page_shows_the_verdict(
    cred: CredEnv,
) -> None:
    holder = ECKey.generate_key("P-256")
    _, vc = held(cred, holder)
    asked = start(cred, {**MATTER, "flow": "same-device"})
    assert asked.answer["flow"] == "same-device"
    qid = asked.request["dcql_query"]["credentials"][0]["id"]
    r = respond(cred, asked, {qid: [present(vc, holder, asked)]})
    assert r.status_code == 200, r.text
    uri = r.json()["redirect_uri"]
    assert uri.startswith(f"{cred.node.url}/openid4vp/{asked.id}/done#response_code="), uri
    code = _code_of(uri)
    assert len(code) >= 32
    # only its hash is kept
    db = cred.node.data_dir / "openid4vp.sqlite3"
    with sqlite3.connect(db) as conn:
        (kept,) = conn.execute(
            "SELECT response_code_sha256 FROM requests WHERE id=?", (asked.id,)
        ).fetchone()
    assert kept == hashlib.sha256(code.encode()).hexdigest()
    # the holder's result: the verdict, the licence type, the fields disclosed; nothing more
    url = f"/v1/presentation-requests/{asked.id}/result"
    got = cred.node.ok(cred.node.get(url, params={"response_code": code}))
    assert got["verdict"] == "VALID", got
    (one,) = got["credentials"]
    assert one["licenceType"] == "FOOD-OPERATION"
    assert set(one["disclosed"]) == {"name", "number", "validUntil"}
    assert "verificationId" not in got and "record" not in got
    for bad in ("x" * 32, code[:-1] + ("A" if code[-1] != "A" else "B")):
        assert cred.node.get(url, params={"response_code": bad}).status_code == 404
    assert cred.node.get(url).status_code == 422  # no code
    # the page the wallet's browser is sent to: the code from the fragment, then the verdict
    page = cred.node.get(f"/openid4vp/{asked.id}/done")
    assert page.status_code == 200 and 'data-need-code="1"' in page.text
    page = cred.node.get(f"/openid4vp/{asked.id}/done", params={"response_code": code,
                                                                 "lang": "en"})  # fmt: skip
    assert page.status_code == 200 and 'data-verdict="VALID"' in page.text, page.text
    assert 'data-field="number"' in page.text and "Food" in page.text
    # switching language keeps the result (the link carries the code, which the page just had)
    zh = re.search(r'href="([^"]*lang=zh-CN)"', page.text)
    assert zh and f"response_code={code}" in zh.group(1).replace("&amp;", "&"), page.text[:400]
    switched = cred.node.get(zh.group(1).replace("&amp;", "&"))
    assert switched.status_code == 200 and 'data-verdict="VALID"' in switched.text
    wrong = cred.node.get(f"/openid4vp/{asked.id}/done", params={"response_code": "nope"})
    assert wrong.status_code == 404 and "data-verdict" not in wrong.text
    # the clerk's view is the full one, with the record
    assert verdict(cred, asked)["verificationId"].startswith("vr_")
    # a replay is refused as for cross-device
    again = respond(cred, asked, {qid: [present(vc, holder, asked)]})
    assert again.status_code == 409 and again.json()["error"] == "replayed"


def test_a_cross_device_answer_has_no_redirect_and_a_declined_same_device_one_has(
    cred: CredEnv,
) -> None:
    asked = start(cred, {**MATTER, "flow": "same-device"})
    data = {"error": "access_denied", "state": asked.request["state"]}
    r = cred.node.client.post(asked.request["response_uri"], data=data)
    assert r.status_code == 200 and "redirect_uri" in r.json(), r.text
    got = cred.node.get(
        f"/v1/presentation-requests/{asked.id}/result",
        params={"response_code": _code_of(r.json()["redirect_uri"])},
    )
    assert got.json()["verdict"] == "REFUSED" and got.json()["reasonCodes"] == ["wallet_error"]
    bad = cred.node.post("/v1/presentation-requests", TOKENS["market"], json={**MATTER,
                         "flow": "sideways"})  # fmt: skip
    assert bad.status_code == 422


def test_the_verifier_route_names_the_client_id_and_certificate(cred: CredEnv) -> None:
    got = cred.node.ok(cred.node.get("/v1/openid4vp/verifier"))
    asked = start(cred)
    assert got["clientId"] == asked.request["client_id"]
    assert got["x5c"] == asked.header["x5c"] and len(got["x5c"]) == 1
    assert got["name"].startswith("credledger counter ")


# --- a second node on the same chain, for a configured certificate, restarts and failures -----


def _second(cred: CredEnv, tmp: Path, extra: str = "", env: dict[str, str] | None = None,
            rpc: str | None = None) -> Node:  # fmt: skip
    config = (cred.node.workdir / "config.toml").read_text(encoding="utf-8") + extra
    node = Node("V", rpc or cred.info.rpc_url, tmp, cred.manifest, config, 6)
    node.env.update(env or {})
    return node


def _cert(key: ec.EllipticCurvePrivateKey, subject: str, issuer: x509.Name,
          signer: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )


def _pem(c: x509.Certificate) -> bytes:
    return c.public_bytes(serialization.Encoding.PEM)


def _key_pem(k: ec.EllipticCurvePrivateKey) -> bytes:
    return k.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_a_configured_certificate_chain_is_used_and_a_wrong_key_refuses_to_start(
    cred: CredEnv, tmp_path: Path
) -> None:
    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = _cert(ca_key, "Test Access CA", x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
               "Test Access CA")]), ca_key, True)  # fmt: skip
    leaf = _cert(leaf_key, "Counter of Example District", ca.subject, ca_key, False)
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    chain.write_bytes(_pem(leaf) + _pem(ca))
    key.write_bytes(_key_pem(leaf_key))
    section = f'\n[openid4vp]\ncertificate_chain = "{chain}"\nkey = "{key}"\n'
    node = _second(cred, tmp_path / "ok", section)
    node.start()
    try:
        got = node.ok(node.get("/v1/openid4vp/verifier"))
        leaf_der = leaf.public_bytes(serialization.Encoding.DER)
        want = "x509_hash:" + sdjwt.b64url(hashlib.sha256(leaf_der).digest())
        assert got["clientId"] == want and got["name"] == "Counter of Example District"
        assert len(got["x5c"]) == 2
        answer = node.ok(node.post("/v1/presentation-requests", TOKENS["market"], json=MATTER), 201)
        assert want.replace(":", "%3A") in answer["authorizationRequest"]
        q = parse_qs(urlsplit(answer["authorizationRequest"]).query)
        jar = node.client.get(q["request_uri"][0]).text
        header, claims = sdjwt.unverified(jar)
        assert header["x5c"] == got["x5c"] and claims["client_id"] == want
    finally:
        node.stop()
    # the CA's key is not the leaf's: the node does not start, and says why in one line
    key.write_bytes(_key_pem(ca_key))
    bad = _second(cred, tmp_path / "bad", section)
    with pytest.raises(AssertionError) as exc:
        bad.start(timeout=60)
    bad.stop()
    out = bad.output()
    assert "does not match the leaf" in out and "Traceback" not in out, out[-2000:]
    line = next(x for x in out.splitlines() if "does not match the leaf" in x)
    assert str(key) in line and str(chain) in line
    assert "exited with" in str(exc.value)


def test_a_request_left_taken_by_a_stop_is_failed_at_the_next_start(
    cred: CredEnv, tmp_path: Path
) -> None:
    node = _second(cred, tmp_path / "n")
    node.start()
    asked = node.ok(node.post("/v1/presentation-requests", TOKENS["market"], json=MATTER), 201)
    node.stop()
    # the node stopped between taking the request and judging it (the store's own transition)
    store = RequestStore(node.data_dir / "openid4vp.sqlite3")
    assert store.take(asked["id"], int(time.time()))
    store.close()
    again = _second(cred, tmp_path / "n")
    again.start()
    try:
        got = again.ok(again.get(f"/v1/presentation-requests/{asked['id']}", TOKENS["market"]))
        assert got["state"] == "failed" and got["reasonCodes"] == ["verifier_error"], got
        r = again.client.post(
            f"/v1/presentation-requests/{asked['id']}/response",
            data={"vp_token": '{"a": "x~"}'},
        )
        assert r.status_code == 409 and r.json()["error"] == "replayed"
    finally:
        again.stop()


def test_the_certificate_settings_go_together() -> None:
    from credledger.node.core.errors import ConfigError
    from credledger.node.settings import load_settings

    with pytest.raises(ConfigError, match="both certificate_chain and key"):
        load_settings(openid4vp={"key": "/x/key.pem"})
    both = load_settings(openid4vp={"key": "k.pem", "certificate_chain": "c.pem"})
    assert both.openid4vp.key == Path("k.pem")
    assert load_settings().openid4vp.certificate_chain is None


def test_the_store_ends_taken_requests(tmp_path: Path) -> None:
    store = RequestStore(tmp_path / "r.sqlite3")
    now = int(time.time())
    for rid in ("pr_a", "pr_b", "pr_c"):
        store.add(PresentationRequest(rid, "n" + rid, "s" + rid, {"credentials": []}, "clerk",
                                      None, now, now + 600, "pending", None))  # fmt: skip
    assert store.take("pr_a", now) and store.take("pr_b", now)
    assert not store.take("pr_a", now)
    assert store.fail("pr_a", {"reasonCodes": ["verifier_error"]})
    assert not store.fail("pr_c", {})  # only a taken request can fail
    assert store.fail_unfinished({"reasonCodes": ["verifier_error"]}) == 1  # pr_b
    states = {rid: store.get(rid).state_now(now) for rid in ("pr_a", "pr_b", "pr_c")}  # type: ignore[union-attr]
    assert states == {"pr_a": "failed", "pr_b": "failed", "pr_c": "pending"}
    store.close()


class Relay:
    """A TCP relay to the chain's RPC port that can be cut: the node's chain goes away."""

    def __init__(self, target: str) -> None:
        u = urlsplit(target)
        self.target = (u.hostname or "127.0.0.1", u.port or 80)
        self.port = free_port()
        self.sock = socket.create_server(("127.0.0.1", self.port))
        self.open: list[socket.socket] = []
        self.cut_ = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.cut_:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if self.cut_:
                client.close()
                return
            upstream = socket.create_connection(self.target)
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.cut_ = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() under way (Linux)
        self.sock.close()
        for s in self.open:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


@pytest.fixture
def relay(cred: CredEnv) -> Iterator[Relay]:
    r = Relay(cred.info.rpc_url)
    try:
        yield r
    finally:
        r.cut()


def test_a_request_whose_judging_fails_ends_failed(
    cred: CredEnv, tmp_path: Path, relay: Relay
) -> None:
    """The chain goes away while a presentation is judged (its issuer key is not known, so the
    verifier asks the chain for its head): the request ends ``failed``, the clerk sees why."""
    from credledger.node.credentials.keys import CredentialKey, generate_p256, public_raw

    node = _second(cred, tmp_path / "n", env={"CREDLEDGER_CHAIN__REQUEST_TIMEOUT": "2"},
                   rpc=relay.url)  # fmt: skip
    node.start()
    try:
        holder = ECKey.generate_key("P-256")
        fresh = generate_p256()
        unknown = CredentialKey(cred.market, 4_000_001, cred.chain.chain_id,
                                cred.registry.address, "market", public_raw(fresh.public_key()),
                                fresh)  # fmt: skip
        _, vc = held(cred, holder)  # a real credential's claims, signed by an unknown key
        _, payload = sdjwt.unverified(sdjwt.parse(vc).jwt)
        claims = {k: v for k, v in payload.items() if not k.startswith("_sd")}
        claims.update(name="食品经营许可证", number="JY0", validUntil="2036-12-31")
        header = {"alg": "ES256", "typ": "dc+sd-jwt", "kid": unknown.kid()}
        token, _ = sdjwt.issue(header, claims, [], unknown.sign_es256)
        answer = node.ok(node.post("/v1/presentation-requests", TOKENS["market"], json=MATTER), 201)
        q = parse_qs(urlsplit(answer["authorizationRequest"]).query)
        jar = node.client.get(q["request_uri"][0]).text
        _, request = sdjwt.unverified(jar)

        class Asked:  # what conftest.present reads
            pass

        asked = Asked()
        asked.request = request  # type: ignore[attr-defined]
        vp = present(token, holder, asked)  # type: ignore[arg-type]
        qid = request["dcql_query"]["credentials"][0]["id"]
        relay.cut()
        form = {"vp_token": f'{{"{qid}": ["{vp}"]}}', "state": request["state"]}
        r = node.client.post(request["response_uri"], data=form)
        got = node.get(f"/v1/presentation-requests/{answer['id']}", TOKENS["market"]).json()
        assert r.status_code >= 500 and r.json()["error"], (r.text, got)
        got = node.ok(node.get(f"/v1/presentation-requests/{answer['id']}", TOKENS["market"]))
        assert got["state"] == "failed" and got["reasonCodes"] == ["verifier_error"], got
        # the clerk page says so and offers a new request
        page = _clerk_session(node)
        frag = page.get(f"/clerk/presentation-requests/{answer['id']}/status?lang=en")
        assert frag.status_code == 200 and 'data-state="failed"' in frag.text
        assert 'data-code="verifier_error"' in frag.text and 'id="oid4vp-new"' in frag.text
        page.close()
    finally:
        node.stop()


# --- the clerk page's panel over HTTP ----------------------------------------------------------


def _clerk_session(node: Node) -> httpx.Client:
    c = httpx.Client(base_url=node.url, timeout=60, follow_redirects=True)
    login = c.get("/clerk")
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert csrf, login.text
    r = c.post("/clerk/login", data={"csrf": csrf.group(1), "token": TOKENS["market"]})
    assert r.status_code == 200 and 'id="oid4vp-form"' in r.text, r.text[-3000:]
    return c


def test_the_clerk_panel_starts_a_request_and_the_status_waits_for_the_answer(
    cred: CredEnv,
) -> None:
    c = _clerk_session(cred.node)
    page = c.get("/clerk").text
    csrf = re.search(r'id="oid4vp-form">\s*<input type="hidden" name="csrf" value="([^"]+)"', page)
    assert csrf
    # no type chosen: the page says so, nothing is made
    r = c.post("/clerk/presentation-requests", data={"csrf": csrf.group(1)})
    assert "oid4vp.bad_matter" in str(r.url)
    # a stale form is refused
    r = c.post("/clerk/presentation-requests", data={"csrf": "x", "licenceTypes": "FOOD-OPERATION"})
    assert "clerk.csrf" in str(r.url)
    # "any one of these types": one credential set, one option per type
    either = {"csrf": csrf.group(1), "licenceTypes": ["FOOD-OPERATION", "FOOD-PRODUCTION"],
              "anyOf": "1"}  # fmt: skip
    r = c.post("/clerk/presentation-requests", data=either)
    eid = parse_qs(urlsplit(str(r.url)).query)["request"][0]
    sets = cred.node.ok(cred.node.get(f"/v1/presentation-requests/{eid}", TOKENS["market"]))
    assert sets["dcqlQuery"]["credential_sets"] == [
        {"options": [["food_operation"], ["food_production"]]}
    ], sets["dcqlQuery"]
    form = {"csrf": csrf.group(1), "licenceTypes": ["FOOD-OPERATION"],
            "fields": ["name", "number", "validUntil"], "responseMode": "direct_post",
            "flow": "cross-device"}  # fmt: skip
    r = c.post("/clerk/presentation-requests", data=form)
    assert r.status_code == 200 and "request=pr_" in str(r.url), r.url
    rid = parse_qs(urlsplit(str(r.url)).query)["request"][0]
    html = r.text
    for needle in ('id="oid4vp-qr"', 'id="oid4vp-link" href="openid4vp://', 'aria-live="polite"',
                   'data-state="pending"', 'id="oid4vp-refresh"', "<svg"):  # fmt: skip
        assert needle in html, needle
    # the request is the API's: the same verifier, the department's
    got = cred.node.ok(cred.node.get(f"/v1/presentation-requests/{rid}", TOKENS["market"]))
    assert (
        got["state"] == "pending" and got["dcqlQuery"]["credentials"][0]["id"] == "food_operation"
    )
    link = re.search(r'id="oid4vp-link" href="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert link.replace("&amp;", "&") == got["authorizationRequest"]
    # the long poll: answered when the wallet answers, not when its time is up
    holder = ECKey.generate_key("P-256")
    _, vc = held(cred, holder)
    box: dict[str, object] = {}

    def poll() -> None:
        t = time.monotonic()
        box["r"] = c.get(f"/clerk/presentation-requests/{rid}/status?wait=25&lang=en")
        box["took"] = time.monotonic() - t

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(1.0)
    uri = parse_qs(urlsplit(got["authorizationRequest"]).query)["request_uri"][0]
    _, request = sdjwt.unverified(cred.node.client.get(uri).text)

    class Asked:
        pass

    asked = Asked()
    asked.request = request  # type: ignore[attr-defined]
    asked.id = rid  # type: ignore[attr-defined]
    vp = present(vc, holder, asked)  # type: ignore[arg-type]
    assert respond(cred, asked, {"food_operation": [vp]}).status_code == 200  # type: ignore[arg-type]
    waiter.join(30)
    frag = box["r"]
    assert isinstance(frag, httpx.Response) and frag.status_code == 200
    assert 1.0 <= float(box["took"]) < 15, box["took"]  # type: ignore[arg-type]
    assert 'data-verdict="VALID"' in frag.text and 'id="oid4vp-receipt"' in frag.text
    assert 'data-field="number"' in frag.text
    # and it is listed among the clerk's checks of today, with its receipt, like a scanned token
    vid = re.search(r"/v1/verifications/(vr_[0-9a-f]+)/receipt", frag.text)
    assert vid is not None, frag.text
    today = c.get("/clerk?lang=en").text.split('id="today"', 1)
    assert len(today) == 2 and f"/v1/verifications/{vid.group(1)}/receipt" in today[1]
    # another session (not signed in) gets nothing
    assert httpx.get(f"{cred.node.url}/clerk/presentation-requests/{rid}/status").status_code == 401
    c.close()


def test_a_waiting_clerk_page_does_not_hold_the_node_when_it_stops(
    cred: CredEnv, tmp_path: Path
) -> None:
    """Ctrl-C while a clerk page waits for a wallet: the long poll is answered at once and the
    node stops cleanly (uvicorn would otherwise wait for the poll's 25 s)."""
    node = _second(cred, tmp_path / "n")
    node.start()
    c = _clerk_session(node)
    page = c.get("/clerk").text
    csrf = re.search(r'id="oid4vp-form">\s*<input type="hidden" name="csrf" value="([^"]+)"', page)
    assert csrf
    r = c.post(
        "/clerk/presentation-requests",
        data={"csrf": csrf.group(1), "licenceTypes": "FOOD-OPERATION"},
    )
    rid = parse_qs(urlsplit(str(r.url)).query)["request"][0]
    box: dict[str, object] = {}

    def poll() -> None:
        box["r"] = c.get(f"/clerk/presentation-requests/{rid}/status?wait=25")

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(1.0)
    proc = node.proc
    assert proc is not None
    t = time.monotonic()
    node.stop()
    took = time.monotonic() - t
    waiter.join(10)
    c.close()
    assert took < 10, took
    assert proc.returncode == 0, node.output()[-2000:]
    got = box["r"]
    assert isinstance(got, httpx.Response) and 'data-state="pending"' in got.text
