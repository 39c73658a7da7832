"""Whom the holder trusts (``openid4vp.*`` settings of a second wallet process): a verifier whose
certificate chains to a trust anchor, a listed client_id and the wallet's own node are trusted;
with ``only_trusted`` an unknown verifier is shown but not answered."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from credledger.node.core import sdjwt
from tests.node.credentials.conftest import issue
from tests.wallet.harness import Wallet
from tests.wallet.openid4vp.conftest import ENTERPRISE, CredEnv
from tests.wallet.openid4vp.test_holder import FakeVerifier, choose, start

pytestmark = pytest.mark.chain


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return key, cert


def _leaf_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, org: str, days: int = 1
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=min(days, 0) * 2)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                         x509.NameAttribute(NameOID.COMMON_NAME, "verifier")])  # fmt: skip
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=abs(days)))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    return key, cert


def _leaf(ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, org: str) -> FakeVerifier:
    key, cert = _leaf_cert(ca_key, ca, org)
    return FakeVerifier(key, [cert])


@pytest.fixture(scope="module")
def setup(cred: CredEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("vp-trust")
    ca_key, ca = _ca("Registrar of counters")
    (tmp / "anchors.pem").write_bytes(ca.public_bytes(Encoding.PEM))
    listed = FakeVerifier(chain=None)
    fakes = {
        "anchored": _leaf(ca_key, ca, "Bank of Anchors"),
        "stranger": _leaf(*_ca("Someone else's CA"), "Bank of Elsewhere"),
        "selfsigned": FakeVerifier(),
        "listed": listed,
    }
    env = {
        "CREDLEDGER_WALLET_OPENID4VP__ONLY_TRUSTED": "true",
        "CREDLEDGER_WALLET_OPENID4VP__TRUST_ANCHORS": json.dumps([str(tmp / "anchors.pem")]),
        "CREDLEDGER_WALLET_OPENID4VP__TRUSTED_VERIFIERS": json.dumps([listed.client_id]),
    }
    w = Wallet(tmp / "wallet", cred.info.rpc_url, cred.node.url, cred.manifest, env=env,
               relayer_dev_account=8)  # fmt: skip
    w.start()
    try:
        address = str(w.register(ENTERPRISE, "上海示例餐饮管理有限公司")["address"])
        yield {"wallet": w, "token": w.login(ENTERPRISE), "address": address, **fakes}
    finally:
        w.stop()
        for f in fakes.values():
            f.server.shutdown()
            f.server.server_close()


def _resolve(s: dict[str, Any], link: str) -> dict[str, Any]:
    w: Wallet = s["wallet"]
    return w.ok(w.post("/v1/openid4vp/resolve", s["token"], json={"link": link}))


def test_anchored_listed_and_own_node_verifiers_are_trusted(
    cred: CredEnv, setup: dict[str, Any]
) -> None:
    w: Wallet = setup["wallet"]
    for name, trusted, why in (
        ("anchored", True, "trust anchor CN=Registrar of counters"),
        ("listed", True, "listed"),
        ("stranger", False, "unknown verifier"),
        ("selfsigned", False, "unknown verifier"),
    ):
        fake: FakeVerifier = setup[name]
        v = _resolve(setup, fake.serve("/r", fake.sign(fake.claims())))
        assert v["verifier"]["trusted"] is trusted and why in v["verifier"]["trustReason"], v
        assert v["mayAnswer"] is trusted
    anchored: FakeVerifier = setup["anchored"]
    v = _resolve(setup, anchored.serve("/r", anchored.sign(anchored.claims())))
    assert v["verifier"]["name"] == "Bank of Anchors"
    # only_trusted: the stranger is shown, not answered
    lid = str(issue(cred, holderAddress=setup["address"])["licenceId"])
    stranger: FakeVerifier = setup["stranger"]
    link = stranger.serve("/r", stranger.sign(stranger.claims()))
    body = {"link": link, "choices": choose(lid, "name")}
    r = w.post("/v1/openid4vp/respond", setup["token"], json=body)
    assert r.status_code == 403 and "only trusted" in r.json()["message"], r.text
    assert not stranger.posted
    link = anchored.serve("/r", anchored.sign(anchored.claims()))
    out = w.ok(w.post("/v1/openid4vp/respond", setup["token"],
                      json={"link": link, "choices": choose(lid, "name")}))  # fmt: skip
    assert out["verifierStatus"] == 200 and anchored.posted
    (vp,) = json.loads(anchored.posted[-1]["vp_token"][0])["food_operation"]
    assert sdjwt.unverified(sdjwt.parse(vp).kb_jwt or "")[1]["aud"] == anchored.client_id
    # the wallet's own node's verifier (when the node announces it)
    if cred.node.client.get("/v1/openid4vp/verifier").status_code == 200:
        from tests.wallet.openid4vp.conftest import Holder

        h = Holder(cred, w, ENTERPRISE, setup["address"], setup["token"])
        _, node_link = start(h)
        v = _resolve(setup, node_link)
        assert v["verifier"]["trusted"] is True and "node" in v["verifier"]["trustReason"]


def test_chains_to_an_anchor_only_when_signed_by_it_and_valid() -> None:
    """chain_to_anchor alone: a leaf signed by another key, or outside its validity, fails."""
    from credledger.wallet.openid4vp.trust import chain_to_anchor

    ca_key, ca = _ca("Root")
    _, good = _leaf_cert(ca_key, ca, "Good")
    assert chain_to_anchor([good], [ca]) == "CN=Root"
    assert chain_to_anchor([good, ca], [ca]) == "CN=Root"
    assert chain_to_anchor([good], []) is None
    other_key, _ = _ca("Root")  # same name, another key
    _, forged = _leaf_cert(other_key, ca, "Forged")
    assert chain_to_anchor([forged], [ca]) is None
    _, expired = _leaf_cert(ca_key, ca, "Old", days=-1)
    assert expired.not_valid_after_utc < dt.datetime.now(dt.UTC)
    assert chain_to_anchor([expired], [ca]) is None
    # an intermediate that is not a CA does not issue
    mid_key, mid = _leaf_cert(ca_key, ca, "Not a CA")
    _, below = _leaf_cert(mid_key, mid, "Below")
    assert chain_to_anchor([below, mid], [ca]) is None


def test_outside_a_devnet_only_https_to_public_addresses() -> None:
    """The URLs a link or request object makes the wallet call (no network: literal addresses)."""
    from credledger.wallet.openid4vp.request import InvalidRequest, UrlPolicy, check_url

    strict = UrlPolicy()
    for url, why in (
        ("http://93.184.216.34/r", "must be an https"),
        ("https:///r", "must be an https"),
        ("https://127.0.0.1/r", "private or local"),
        ("https://10.1.2.3/r", "private or local"),
        ("https://[::1]/r", "private or local"),
        ("https://169.254.169.254/latest/meta-data", "private or local"),
    ):
        with pytest.raises(InvalidRequest, match=why):
            check_url(url, "request_uri", strict)
    assert check_url("https://93.184.216.34/r", "request_uri", strict)
    assert check_url("http://127.0.0.1:8600/r", "request_uri", UrlPolicy(http=True, private=True))
