"""X.509 certificates for the departments' credential keys: the ``x5c`` chain HAIP 1.0 (§6.1.1)
expects in the JOSE header of an SD-JWT VC, beside our ``kid`` (docs/credentials.md "Issuer
certificates").

* **Configured** (production): a department's ``credential_certificate_chain`` names a PEM file,
  leaf first, then the intermediates (the root may follow; it is not sent). At start the leaf's
  public key must be the department's credential key, each certificate must be signed by the
  next and the leaf must be within its validity, else the node refuses to start (one line).
* **Devnet**: the node makes an "issuer CA" on first start (``data_dir/credentials/issuer-ca.pem``
  and its key ``issuer-ca-key.pem``, 0600) and issues each department's credential key a leaf
  (``issuer-<department>.pem``: O and CN the department's display name, OU its id, serialNumber
  its unified social credit code, the issuer URN as a URI SAN), re-issued when it no longer fits.
  ``GET /v1/credentials/issuer-ca.pem`` serves the CA as a verifier's trust anchor.

Either way ``x5c`` is the chain without its trust anchor (RFC 7515 §4.1.6; HAIP 1.0 §6.1.1). It
never widens trust at our node: the verifier checks the leaf's key is the key the ``kid`` names on
chain (``verify.py``); the trust root stays the chain's key registry.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from credledger.node.core.errors import ConfigError
from credledger.node.credentials.keys import CredentialKey, public_raw

FOLDER = "credentials"
CA_KEY_FILE = "issuer-ca-key.pem"
CA_CERT_FILE = "issuer-ca.pem"
CA_DAYS = 3650
LEAF_DAYS = 365
RENEW_DAYS = 30  # a stored leaf with fewer days left is issued again at start
SKEW = dt.timedelta(minutes=5)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def key_raw(cert: x509.Certificate) -> bytes | None:
    """The certificate's P-256 public key as x || y, or None for any other key."""
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        return None
    return public_raw(key)


def der_b64(cert: x509.Certificate) -> str:
    """One ``x5c`` entry: standard base64 (not base64url) of the DER."""
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _self_signed(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject and _issued_by(cert, cert)


def x5c_of(chain: Iterable[x509.Certificate]) -> tuple[str, ...]:
    """The ``x5c`` of a chain (leaf first): every certificate but a self-signed last one (the
    trust anchor, which the verifier has and HAIP 1.0 says not to send)."""
    certs = list(chain)
    if len(certs) > 1 and _self_signed(certs[-1]):
        certs = certs[:-1]
    return tuple(der_b64(c) for c in certs)


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    path.chmod(mode)


class IssuerCA:
    """The devnet's issuer CA: a P-256 key and a self-signed CA certificate (path length 0)."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self.key = key
        self.cert = cert

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @classmethod
    def load_or_create(cls, folder: Path) -> IssuerCA:
        """The CA kept in ``folder`` (made on first start: key mode 0600)."""
        key_path, cert_path = folder / CA_KEY_FILE, folder / CA_CERT_FILE
        if key_path.is_file() and cert_path.is_file():
            try:
                key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
                cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            except (OSError, ValueError, TypeError) as exc:
                raise ConfigError(f"devnet issuer CA in {folder}: unreadable ({exc})") from None
            if not isinstance(key, ec.EllipticCurvePrivateKey) or key_raw(cert) != public_raw(
                key.public_key()
            ):
                raise ConfigError(f"devnet issuer CA in {folder}: the key is not the certificate's")
            return cls(key, cert)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "credledger devnet"),
                x509.NameAttribute(NameOID.COMMON_NAME, "credledger devnet issuer CA"),
            ]
        )
        now = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - SKEW)
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(cert_sign=True), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write(key_path, pem, 0o600)
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        return cls(key, cert)

    def issue(self, key: CredentialKey, subject: x509.Name) -> x509.Certificate:
        """A leaf for ``key`` (ES256 signing only), valid from now for LEAF_DAYS (never past the
        CA), its URI SAN the department's issuer URN (the credential's ``iss``)."""
        public = key.private.public_key()
        now = _now()
        until = min(now + dt.timedelta(days=LEAF_DAYS), self.cert.not_valid_after_utc)
        ca_ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - SKEW)
            .not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(cert_sign=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(key.issuer())]),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def subject_of(display_name: str, department: str, uscc: str | None) -> x509.Name:
    """The leaf's subject: O and CN the department's display name, OU its id, serialNumber its
    unified social credit code (when configured)."""
    attrs = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, display_name),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, department),
    ]
    if uscc:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, uscc))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, display_name))
    return x509.Name(attrs)


def devnet_leaf(ca: IssuerCA, folder: Path, key: CredentialKey, subject: x509.Name) -> str:
    """The department's leaf in ``folder`` (``issuer-<name>.pem``), issued again unless the stored
    one is of this key, this subject and this CA with RENEW_DAYS left: its ``x5c`` entry."""
    path = folder / f"issuer-{key.name}.pem"
    if path.is_file():
        try:
            old = x509.load_pem_x509_certificate(path.read_bytes())
        except ValueError:
            old = None
        if (
            old is not None
            and key_raw(old) == key.public_raw
            and old.subject == subject
            and old.issuer == ca.cert.subject
            and _issued_by(old, ca.cert)
            and old.not_valid_after_utc - _now() > dt.timedelta(days=RENEW_DAYS)
        ):
            return der_b64(old)
    cert = ca.issue(key, subject)
    _write(path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return der_b64(cert)


def configured_chain(name: str, path: Path, key: CredentialKey) -> tuple[str, ...]:
    """The operator's chain for department ``name`` (module docstring): its ``x5c``; a one-line
    :class:`ConfigError` when it does not hold."""
    what = f"department {name}: credential_certificate_chain {path}"
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read it ({exc.strerror})") from None
    except ValueError:
        raise ConfigError(f"{what}: not a PEM certificate chain") from None
    if key_raw(certs[0]) != key.public_raw:
        raise ConfigError(
            f"{what}: its leaf (first) certificate's public key is not the department's "
            "credential key"
        )
    for i, (cert, issuer) in enumerate(itertools.pairwise(certs)):
        if not _issued_by(cert, issuer):
            raise ConfigError(f"{what}: certificate {i + 1} is not signed by certificate {i + 2}")
    now = _now()
    leaf = certs[0]
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise ConfigError(
            f"{what}: the leaf is valid {leaf.not_valid_before_utc:%Y-%m-%d}–"
            f"{leaf.not_valid_after_utc:%Y-%m-%d}, not now"
        )
    return x5c_of(certs)


def with_certificates(
    keys: dict[str, CredentialKey],
    configs: Iterable[Any],
    departments: Any,
    data_dir: Path,
    *,
    devnet: bool,
) -> tuple[dict[str, CredentialKey], IssuerCA | None]:
    """``keys`` with their ``x5c``: the configured chain of each department that names one (any
    chain kind), else on a devnet a leaf of the devnet issuer CA (made when first needed);
    the CA too (None when none was needed)."""
    chains = {c.name: c.credential_certificate_chain for c in configs}
    folder = data_dir / FOLDER
    ca: IssuerCA | None = None
    out: dict[str, CredentialKey] = {}
    for address, key in keys.items():
        path = chains.get(key.name)
        if path is not None:
            out[address] = replace(key, x5c=configured_chain(key.name, path, key))
            continue
        if not devnet:
            out[address] = key
            continue
        if ca is None:
            ca = IssuerCA.load_or_create(folder)
        dept = departments.get(key.name)
        subject = subject_of(dept.display_names()["zh"], key.name, dept.uscc)
        out[address] = replace(key, x5c=(devnet_leaf(ca, folder, key, subject),))
    if ca is None and devnet and (folder / CA_CERT_FILE).is_file():
        ca = IssuerCA.load_or_create(folder)
    return out, ca


__all__ = [
    "IssuerCA",
    "configured_chain",
    "der_b64",
    "key_raw",
    "subject_of",
    "with_certificates",
    "x5c_of",
]
