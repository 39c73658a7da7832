"""A department's P-256 credential key (issue 21): what signs its VC-JWTs, SD-JWT VCs and status
lists (ES256, as HAIP requires), registered on chain as a department key of kind 2.

The private key lives in an encrypted file, configured per department like the SM2 seal key
(``credential_keystore`` in the department's settings, the passphrase from the environment
variable ``credential_passphrase_env`` — ``CREDLEDGER_CREDENTIAL_PASSPHRASE`` unless renamed —
or ``credential_passphrase`` on a devnet): PKCS#8 PEM encrypted with ``cryptography``'s best
available scheme (PBKDF2 + AES-256-CBC), readable by ``openssl pkey``.

At start (:func:`load_credential_keys`) each key is loaded and looked up on chain: it must be
registered for that very department as a P-256 key (kind 2) and not retired, else the node
refuses to start (:class:`ConfigError`). On the devnet demo a key the chain lacks is kept with
key id 0 and registered by the department itself once it is authorised
(:meth:`CredentialKeys.register_pending`).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from credledger.node.core.contracts.department_keys import KEY_KIND_P256
from credledger.node.core.errors import ConfigError, InputError
from credledger.node.credentials.ids import issuer_urn, key_urn
from credledger.node.departments import key_id_on_chain, keystore_passphrase, registered_key_id

if TYPE_CHECKING:
    from credledger.node.core.contracts.licence_registry import LicenceRegistry
    from credledger.node.departments import Departments
    from credledger.node.settings import DepartmentSettings


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_raw(key: ec.EllipticCurvePublicKey) -> bytes:
    """The 64-byte x || y the chain registers."""
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return point[1:]


def jwk_of_raw(xy: bytes) -> dict[str, str]:
    """The public JWK (RFC 7517/7518) of a P-256 x || y."""
    if len(xy) != 64:
        raise InputError(f"a P-256 public key is 64 bytes x || y, got {len(xy)}")
    return {"kty": "EC", "crv": "P-256", "x": b64url(xy[:32]), "y": b64url(xy[32:])}


def generate_p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def save_p256_key(path: Path, key: ec.EllipticCurvePrivateKey, passphrase: str) -> None:
    """Write ``key`` as encrypted PKCS#8 PEM (mode 0600)."""
    if not passphrase:
        raise ConfigError("a credential keystore needs a non-empty passphrase")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def load_p256_key(path: Path, passphrase: str) -> ec.EllipticCurvePrivateKey:
    """The P-256 key of an encrypted PKCS#8 PEM file; ConfigError for a wrong passphrase, another
    curve or a file that is not such a key (never showing key material)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"credential keystore {path}: cannot read it ({exc.strerror})") from None
    try:
        key = serialization.load_pem_private_key(data, passphrase.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(
            f"credential keystore {path}: wrong passphrase or not an encrypted PKCS#8 PEM key"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(f"credential keystore {path}: not a P-256 (secp256r1) key")
    return key


@dataclass(frozen=True)
class CredentialKey:
    """A department's P-256 credential key, registered on chain (kind 2), loaded."""

    department: str  # the department's address (checksummed)
    key_id: int  # its on-chain key id (0: not registered yet, the demo registers it)
    chain_id: int
    registry: str  # the LicenceRegistry's address
    name: str  # the department's name in the settings
    public_raw: bytes  # x || y
    private: ec.EllipticCurvePrivateKey = field(repr=False, compare=False)
    #: its certificate chain as a JWS ``x5c`` (leaf first, the trust anchor left out; standard
    #: base64 DER), or empty (credentials/certificates.py)
    x5c: tuple[str, ...] = ()

    def header(self, typ: str, **extra: str) -> dict[str, Any]:
        """The JOSE header of what this key signs: ES256, ``typ``, ``extra``, ``kid`` and, when
        the key has a certificate chain, ``x5c`` (HAIP 1.0 §6.1.1)."""
        out: dict[str, Any] = {"alg": "ES256", "typ": typ, **extra, "kid": self.kid()}
        if self.x5c:
            out["x5c"] = list(self.x5c)
        return out

    def kid(self) -> str:
        """The JWS ``kid``: ``urn:credledger:eip155:<chainId>:<registry>:key:<keyId>``
        (credledger.node.credentials.ids)."""
        if not self.key_id:
            raise ConfigError(f"department {self.name}: its credential key is not registered yet")
        return key_urn(self.chain_id, self.registry, self.key_id)

    def issuer(self) -> str:
        """The department as a credential's issuer (``…:dept:<address>``)."""
        return issuer_urn(self.chain_id, self.registry, self.department)

    def public_jwk(self) -> dict[str, str]:
        return jwk_of_raw(self.public_raw)

    def sign_es256(self, signing_input: bytes) -> bytes:
        """ES256 (RFC 7518 3.4) over ``signing_input``: the raw r || s, 64 bytes."""
        if not self.key_id:
            raise ConfigError(f"department {self.name}: its credential key is not registered yet")
        der = self.private.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class CredentialKeys:
    """The credential keys of the departments this node acts for, by department address."""

    def __init__(self, keys: dict[str, CredentialKey]) -> None:
        self.keys = keys

    def of(self, department: str) -> CredentialKey | None:
        key = self.keys.get(department)
        if key is None:
            key = next((k for a, k in self.keys.items() if a.lower() == department.lower()), None)
        return key

    def register_pending(self, departments: Departments, registry: LicenceRegistry) -> list[str]:
        """Register the keys loaded with ``register_missing`` (the devnet demo, once its
        departments are authorised on chain), each by its own department; their names."""
        done = []
        for address, key in list(self.keys.items()):
            if key.key_id:
                continue
            dept = departments.get(key.name)
            key_id = registered_key_id(dept, key.public_raw, registry, *_P256)
            self.keys[address] = replace(key, key_id=key_id)
            done.append(key.name)
        return done


def passphrase_of(cfg: DepartmentSettings) -> str:
    return keystore_passphrase(
        cfg.name, cfg.credential_passphrase, cfg.credential_passphrase_env, "credential"
    )


def load_credential_keys(
    configs: list[DepartmentSettings],
    departments: Departments,
    registry: LicenceRegistry,
    *,
    register_missing: bool = False,
) -> dict[str, CredentialKey]:
    """Load every configured credential key and find its on-chain key id (module docstring);
    by department address. With ``register_missing`` a key the chain does not have yet is kept
    with key id 0, for :meth:`CredentialKeys.register_pending`."""
    keys: dict[str, CredentialKey] = {}
    chain_id = int(registry.chain.chain_id)
    for cfg in configs:
        if cfg.credential_keystore is None:
            continue
        dept = departments.get(cfg.name)
        if not cfg.credential_keystore.is_file():
            raise ConfigError(
                f"department {cfg.name}: credential_keystore {cfg.credential_keystore} is missing"
            )
        private = load_p256_key(cfg.credential_keystore, passphrase_of(cfg))
        raw = public_raw(private.public_key())
        key_id = key_id_on_chain(cfg.name, dept.address, raw, registry, *_P256)
        if key_id is None:
            if not register_missing:
                raise ConfigError(
                    f"department {cfg.name}: its credential key is not registered on chain for "
                    f"{dept.address}; register it (credledger vc key register) and start again"
                )
            key_id = 0
        keys[dept.address] = CredentialKey(
            dept.address, int(key_id), chain_id, registry.address, cfg.name, raw, private
        )
    return keys


#: the credential key's kind on chain, its name and its kind in messages
_P256 = (KEY_KIND_P256, "credential", "a P-256 credential key")


__all__ = [
    "CredentialKey",
    "CredentialKeys",
    "generate_p256",
    "jwk_of_raw",
    "load_credential_keys",
    "load_p256_key",
    "public_raw",
    "save_p256_key",
]
