"""The credential key's certificate chain (HAIP 1.0 §6.1.1: an SD-JWT VC's issuer key identified
by ``x5c``): the devnet issuer CA and its leaves, checked by OpenSSL's own ``openssl verify``; an
operator's configured chain (the trust anchor left out of ``x5c``, a leaf of another key refused at
start, by a real node process too); the node's credentials and status lists carry it next to the
``kid``; and the node's verifier refuses an ``x5c`` whose leaf is not the key the ``kid`` names on
chain, so a certificate never widens trust."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from joserfc.jwk import ECKey

from credledger.node.core import sdjwt
from credledger.node.core.errors import ConfigError
from credledger.node.core.signer import dev_account
from credledger.node.credentials.certificates import (
    CA_CERT_FILE,
    CA_KEY_FILE,
    FOLDER,
    with_certificates,
)
from credledger.node.credentials.keys import CredentialKey, generate_p256, public_raw
from credledger.node.departments import Department
from credledger.node.settings import DepartmentSettings
from tests.node.credentials.conftest import USCC, CredEnv, _config, issue
from tests.node.licences.harness import Node
from tests.support.node_process import UpProcess

REGISTRY = "0x" + "ab" * 20


def _key(private: ec.EllipticCurvePrivateKey | None = None, name: str = "market") -> CredentialKey:
    private = private or generate_p256()
    dept = dev_account(1).address
    raw = public_raw(private.public_key())
    return CredentialKey(dept, 7, 31337, REGISTRY, name, raw, private)


class _Departments:
    """What ``with_certificates`` asks of the node's departments: a department by name (its
    display name and code; no chain needed)."""

    def __init__(self, display: str, uscc: str | None) -> None:
        self.market = Department("market", display, None, uscc=uscc)  # type: ignore[arg-type]

    def get(self, name: str) -> Department:
        assert name == "market"
        return self.market


def _departments(display: str = "市场监督管理局", uscc: str | None = USCC) -> _Departments:
    return _Departments(display, uscc)


def _cfg(chain: Path | None = None) -> DepartmentSettings:
    return DepartmentSettings(name="market", dev_account=1, credential_certificate_chain=chain)


def _cert(b64: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(b64))


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _openssl_verify(tmp: Path, anchor: bytes, leaf: bytes, untrusted: bytes = b"") -> str:
    (tmp / "anchor.pem").write_bytes(anchor)
    (tmp / "leaf.pem").write_bytes(leaf)
    args = ["openssl", "verify", "-CAfile", str(tmp / "anchor.pem")]
    if untrusted:
        (tmp / "untrusted.pem").write_bytes(untrusted)
        args += ["-untrusted", str(tmp / "untrusted.pem")]
    run = subprocess.run([*args, str(tmp / "leaf.pem")], capture_output=True, text=True)
    return run.stdout + run.stderr


def test_the_devnet_issuer_ca_issues_each_department_a_leaf(tmp_path: Path) -> None:
    key = _key()
    keys, ca = with_certificates({key.department: key}, [_cfg()], _departments(), tmp_path,
                                 devnet=True)  # fmt: skip
    assert ca is not None
    folder = tmp_path / FOLDER
    assert (folder / CA_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert (folder / CA_CERT_FILE).read_bytes() == ca.pem()
    (x5c,) = keys[key.department].x5c  # the leaf only: the CA is the trust anchor
    leaf = _cert(x5c)
    # OpenSSL, not us, checks the leaf against the CA (signature, CA flag, validity)
    assert _openssl_verify(tmp_path, ca.pem(), _pem(leaf)).strip().endswith(": OK")
    assert public_raw(leaf.public_key()) == key.public_raw  # type: ignore[arg-type]
    subject = {a.oid: a.value for a in leaf.subject}
    assert subject[NameOID.ORGANIZATION_NAME] == "市场监督管理局"
    assert subject[NameOID.COMMON_NAME] == "市场监督管理局"
    assert subject[NameOID.ORGANIZATIONAL_UNIT_NAME] == "market"
    assert subject[NameOID.SERIAL_NUMBER] == USCC
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [key.issuer()]
    basic = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca is False and ca.cert.extensions.get_extension_for_class(
        x509.BasicConstraints).value.ca is True  # fmt: skip
    assert leaf.not_valid_after_utc <= ca.cert.not_valid_after_utc
    assert leaf.not_valid_after_utc - dt.datetime.now(dt.UTC) <= dt.timedelta(days=366)
    # the next start: the same CA and the same leaf; another display name: a new leaf
    again, ca2 = with_certificates({key.department: key}, [_cfg()], _departments(), tmp_path,
                                   devnet=True)  # fmt: skip
    assert ca2 is not None and ca2.pem() == ca.pem() and again[key.department].x5c == (x5c,)
    renamed, _ = with_certificates({key.department: key}, [_cfg()],
                                   _departments("市场监管局", None), tmp_path,
                                   devnet=True)  # fmt: skip
    new = _cert(renamed[key.department].x5c[0])
    assert new.subject != leaf.subject and not new.subject.get_attributes_for_oid(
        NameOID.SERIAL_NUMBER)  # fmt: skip
    # outside a devnet, without a configured chain: no certificate, no CA (the kid alone)
    prod, none = with_certificates({key.department: key}, [_cfg()], _departments(),
                                   tmp_path / "prod", devnet=False)  # fmt: skip
    assert none is None and prod[key.department].x5c == ()


def _ca(name: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[str, ec.EllipticCurvePrivateKey]
        | None = None, *, leaf_of: ec.EllipticCurvePublicKey | None = None,
        days: int = 30) -> x509.Certificate:  # fmt: skip
    """A certificate named ``name`` for ``key`` (or a leaf of ``leaf_of``), self-signed unless
    ``issuer`` (its name and key) signs it."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    by_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer[0])]) if issuer else subject
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(by_name)
        .public_key(leaf_of or key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=2))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=leaf_of is None, path_length=None), critical=True)
        .sign(issuer[1] if issuer else key, hashes.SHA256())
    )  # fmt: skip


def _operator_chain(
    tmp: Path, key: ec.EllipticCurvePrivateKey, name: str = "chain.pem"
) -> tuple[Path, list[x509.Certificate]]:
    """An operator's chain for ``key``: root -> intermediate -> leaf, in a PEM file leaf first
    with the root at the end."""
    root_key, mid_key = generate_p256(), generate_p256()
    root = _ca("Operator root CA", root_key)
    mid = _ca("Operator issuing CA", mid_key, ("Operator root CA", root_key))
    leaf = _ca("市场监督管理局", mid_key, ("Operator issuing CA", mid_key),
               leaf_of=key.public_key())  # fmt: skip
    path = tmp / name
    path.write_bytes(_pem(leaf) + _pem(mid) + _pem(root))
    return path, [leaf, mid, root]


def test_an_operators_chain_is_sent_without_its_anchor_and_checked_at_start(
    tmp_path: Path,
) -> None:
    private = generate_p256()
    key = _key(private)
    path, (leaf, mid, root) = _operator_chain(tmp_path, private)
    for devnet in (False, True):  # a configured chain wins on a devnet too
        keys, ca = with_certificates({key.department: key}, [_cfg(path)], _departments(),
                                     tmp_path, devnet=devnet)  # fmt: skip
        assert ca is None and not (tmp_path / FOLDER).exists()
        got = [_cert(c) for c in keys[key.department].x5c]
        assert got == [leaf, mid]  # the root (the trust anchor) is not sent
    assert _openssl_verify(tmp_path, _pem(root), _pem(leaf), _pem(mid)).strip().endswith(": OK")

    def refused(chain: Path) -> str:
        with pytest.raises(ConfigError) as e:
            with_certificates({key.department: key}, [_cfg(chain)], _departments(), tmp_path,
                              devnet=False)  # fmt: skip
        assert "\n" not in e.value.message
        return e.value.message

    # a leaf of another key: refused, one line
    other, _ = _operator_chain(tmp_path, generate_p256(), "other.pem")
    assert refused(other) == (
        f"department market: credential_certificate_chain {other}: its leaf (first) "
        "certificate's public key is not the department's credential key"
    )
    broken = tmp_path / "broken.pem"
    stranger = _ca("Someone else", generate_p256())
    broken.write_bytes(_pem(leaf) + _pem(stranger))
    assert "certificate 1 is not signed by certificate 2" in refused(broken)
    (tmp_path / "junk.pem").write_text("not a certificate")
    assert "not a PEM certificate chain" in refused(tmp_path / "junk.pem")
    assert "cannot read it" in refused(tmp_path / "missing.pem")
    expired = tmp_path / "expired.pem"
    old = _ca("市场监督管理局", private, leaf_of=private.public_key(), days=-1)
    expired.write_bytes(_pem(old))
    assert "not now" in refused(expired)


def _chain_ca(cred: CredEnv) -> x509.Certificate:
    r = cred.node.get("/v1/credentials/issuer-ca.pem")  # public: no token
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/pem-certificate-chain")
    return x509.load_pem_x509_certificate(r.content)


def test_the_nodes_credentials_and_status_lists_carry_x5c(cred: CredEnv, tmp_path: Path) -> None:
    ca = _chain_ca(cred)
    lid = issue(cred)["licenceId"]
    headers = []
    for fmt in ("sd-jwt", "vc-jwt"):
        r = cred.node.get(f"/v1/licences/{lid}/credential", params={"format": fmt})
        assert r.status_code == 200, r.text
        headers.append(sdjwt.unverified(r.text.split("~")[0])[0])
    sd, vc = headers
    assert list(sd) == ["alg", "typ", "kid", "x5c"] and list(vc)[:4] == ["alg", "typ", "cty", "kid"]
    assert sd["x5c"] == vc["x5c"] and len(sd["x5c"]) == 1  # the leaf; the CA is the anchor
    leaf = _cert(sd["x5c"][0])
    assert public_raw(leaf.public_key()) == public_raw(cred.key.public_key())  # type: ignore[arg-type]
    assert _openssl_verify(tmp_path, _pem(ca), _pem(leaf)).strip().endswith(": OK")
    assert leaf.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == USCC
    # the status lists, signed by the same key, carry the same chain
    for kind in ("token", "revocation"):
        r = cred.node.get(f"/v1/status-lists/{cred.market}/0/{kind}")
        assert r.status_code == 200, r.text
        assert sdjwt.unverified(r.text)[0]["x5c"] == sd["x5c"]


def _signed(cred: CredEnv, x5c: object) -> str:
    """A genuine SD-JWT VC of a fresh licence, signed again by the department's own key with
    ``x5c`` in its header instead."""
    lid = issue(cred)["licenceId"]
    vc = cred.node.get(f"/v1/licences/{lid}/credential", params={"format": "sd-jwt"}).text
    parsed = sdjwt.parse(vc)
    header, payload = sdjwt.unverified(parsed.jwt)
    pem = cred.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())  # fmt: skip
    jwt = sdjwt.sign_compact({**header, "x5c": x5c}, payload,
                             sdjwt.signer_of(ECKey.import_key(pem)))  # fmt: skip
    return "~".join([jwt, *parsed.disclosures, ""])


def _verdict(cred: CredEnv, credential: str) -> dict[str, object]:
    r = cred.node.post("/v1/credentials/verify", json={"credential": credential})
    return cred.node.ok(r)


def test_an_x5c_that_is_not_the_chain_keys_is_tampered(cred: CredEnv) -> None:
    """Even signed by the department's key, a header whose x5c leaf holds another key is
    refused: a certificate cannot make the node trust a key the chain does not name."""
    lid_vc = cred.node.get(f"/v1/licences/{issue(cred)['licenceId']}/credential",
                           params={"format": "sd-jwt"}).text  # fmt: skip
    assert _verdict(cred, lid_vc)["verdict"] == "VALID"
    own = sdjwt.unverified(lid_vc.split("~")[0])[0]["x5c"]
    assert _verdict(cred, _signed(cred, own))["verdict"] == "VALID"  # re-signed, same x5c
    stranger = _ca("Someone", generate_p256())
    der = base64.b64encode(stranger.public_bytes(serialization.Encoding.DER)).decode()
    out = _verdict(cred, _signed(cred, [der]))
    assert out["verdict"] == "TAMPERED", out
    assert out["reasons"] == [
        f"x5c: the leaf certificate's key is not department key {cred.key_id}, which the kid "
        "names on chain"
    ]
    for bad in ("not base64!", [], ["bm90IGEgY2VydA=="]):
        assert _verdict(cred, _signed(cred, bad))["verdict"] == "TAMPERED"


def test_a_node_with_an_operators_chain_sends_it_and_one_of_another_key_refuses_to_start(
    cred: CredEnv, tmp_path: Path
) -> None:
    key_path = cred.node.workdir.parent / "credential-market.pem"  # the conftest's keystore
    assert key_path.is_file()
    good, (leaf, mid, _root) = _operator_chain(tmp_path, cred.key)
    bad, _ = _operator_chain(tmp_path, generate_p256(), "other.pem")
    line = 'credential_passphrase_env = "CREDLEDGER_TEST_CREDENTIAL_PASSPHRASE"\n'

    def config(chain: Path) -> str:
        text = _config(key_path)
        assert line in text
        return text.replace(line, f'{line}credential_certificate_chain = "{chain}"\n', 1)

    node = Node("X", cred.info.rpc_url, tmp_path / "good", cred.manifest, config(good), 0)
    node.start()
    try:
        lid = issue(replace(cred, node=node))["licenceId"]  # its metadata kept at this node
        vc = node.get(f"/v1/licences/{lid}/credential", params={"format": "sd-jwt"})
        assert vc.status_code == 200, vc.text
        x5c = sdjwt.unverified(vc.text.split("~")[0])[0]["x5c"]
        assert [_cert(c) for c in x5c] == [leaf, mid]
        assert node.post("/v1/credentials/verify", json={"credential": vc.text}).json()[
            "verdict"] == "VALID"  # fmt: skip
        r = node.get("/v1/credentials/issuer-ca.pem")  # no devnet CA: the operator's
        assert r.status_code == 404 and r.json()["error"] == "no_issuer_ca", r.text
        assert not (node.data_dir / FOLDER).exists()
    finally:
        node.stop()
    refusing = Node("Y", cred.info.rpc_url, tmp_path / "bad", cred.manifest, config(bad), 0)
    UpProcess.start(refusing)  # not Node.start: it waits for a node that is ready
    try:
        assert refusing.proc is not None
        assert refusing.proc.wait(timeout=60) != 0
        assert "its leaf (first) certificate's public key is not the department's credential " \
            "key" in refusing.output()  # fmt: skip
    finally:
        refusing.stop()
