"""The verifier's identity: a P-256 key and a self-signed X.509 certificate the node generates
once and keeps in ``data_dir/openid4vp/`` (a devnet's stand-in for a certificate from a trust
anchor the wallets know), the client identifier ``x509_hash:<sha-256 of the certificate>`` (HAIP
1.0, OpenID4VP 1.0 section 5.9.3) and the signed request objects (JAR, RFC 9101). In
production the key and a certificate chain issued to the counter's operator come from the
settings ``openid4vp.key`` and ``openid4vp.certificate_chain`` instead (leaf first)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from credledger.node.core import sdjwt
from credledger.node.core.errors import ConfigError

JAR_TYP = "oauth-authz-req+jwt"
KEY_FILE = "verifier-key.pem"
CERT_FILE = "verifier-cert.pem"


def _public(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


class VerifierIdentity:
    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        cert: x509.Certificate,
        intermediates: tuple[x509.Certificate, ...] = (),
    ) -> None:
        self.key = key
        self.cert = cert
        self.der = cert.public_bytes(serialization.Encoding.DER)
        digest = hashlib.sha256(self.der).digest()
        self.client_id = "x509_hash:" + sdjwt.b64url(digest)
        chain = (self.der, *(c.public_bytes(serialization.Encoding.DER) for c in intermediates))
        #: the certificate chain as in a JWS ``x5c``: leaf first, standard base64 of each DER
        self.x5c = [base64.b64encode(d).decode("ascii") for d in chain]
        subject = cert.subject
        names = subject.get_attributes_for_oid(NameOID.COMMON_NAME) or (
            subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        )
        self.name = str(names[0].value) if names else subject.rfc4514_string()

    @classmethod
    def configured(cls, chain_path: Path, key_path: Path) -> VerifierIdentity:
        """The operator's identity: ``chain_path`` PEM certificates (leaf first, then
        intermediates), ``key_path`` the leaf's P-256 private key (unencrypted PEM). A
        :class:`ConfigError` (one line) when a file is missing or unreadable, the key is not
        P-256, or it is not the leaf's."""
        try:
            certs = x509.load_pem_x509_certificates(chain_path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"openid4vp.certificate_chain {chain_path}: not a PEM certificate chain ({exc})"
            ) from None
        try:
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"openid4vp.key {key_path}: not an unencrypted PEM private key ({exc})"
            ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ConfigError(f"openid4vp.key {key_path}: not a P-256 key (ES256)")
        if _public(key.public_key()) != _public(certs[0].public_key()):
            raise ConfigError(
                f"openid4vp.key {key_path} does not match the leaf (first) certificate of "
                f"openid4vp.certificate_chain {chain_path}"
            )
        return cls(key, certs[0], tuple(certs[1:]))

    @classmethod
    def load_or_create(cls, folder: Path, host: str) -> VerifierIdentity:
        """The identity kept in ``folder`` (created on first start, mode 0600)."""
        key_path, cert_path = folder / KEY_FILE, folder / CERT_FILE
        if key_path.exists() and cert_path.exists():
            loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            assert isinstance(loaded, ec.EllipticCurvePrivateKey)
            return cls(loaded, x509.load_pem_x509_certificate(cert_path.read_bytes()))
        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"credledger counter {host}")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        key_path.write_bytes(pem)
        key_path.chmod(0o600)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(key, cert)

    def _sign(self, data: bytes) -> bytes:
        r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def request_object(self, claims: dict[str, Any]) -> str:
        """A signed request object: ES256, ``typ`` ``oauth-authz-req+jwt``, the certificate in
        ``x5c`` (whose hash the ``client_id`` names)."""
        header = {"alg": "ES256", "typ": JAR_TYP, "x5c": self.x5c}
        return sdjwt.sign_compact(header, {**claims, "client_id": self.client_id}, self._sign)
