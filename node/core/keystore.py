"""Encrypted keystore files for SM2 seal keys (format v1, documented in ``docs/standards.md``).

A seal key never leaves this file in clear: the 32-byte private scalar d is encrypted with
**SM4-GCM** (GM/T 0002 block cipher, 128-bit key, 96-bit nonce, 128-bit tag) under a key
derived from the passphrase with **scrypt** (RFC 7914). The file is JSON::

    {
      "version": 1,
      "kind": "credledger-sm2-seal-key",
      "publicKey": "<hex x||y, 64 bytes>",
      "publicKeyPem": "-----BEGIN PUBLIC KEY-----…",
      "cipher": "sm4-gcm",
      "kdf": "scrypt",
      "kdfparams": {"n": 32768, "r": 8, "p": 1, "dklen": 16, "salt": "<hex 16 bytes>"},
      "nonce": "<hex 12 bytes>",
      "ciphertext": "<hex 32-byte d encrypted, then the 16-byte tag>"
    }

The GCM additional data is ``b"credledger-sm2-seal-key/1\\x00" + publicKey``, so a file whose
public key was swapped does not decrypt; after decryption the public key is derived from d and
must equal the one in the file. A wrong passphrase (or an altered file) is an
:class:`InputError` that says so; nothing here puts key material in a message.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from credledger.node.core.errors import ConflictError, InputError, NotFoundError
from credledger.node.core.sm2 import Sm2PrivateKey, Sm2PublicKey

__all__ = ["KIND", "SCRYPT_N", "load_sm2_key", "read_sm2_public_key", "save_sm2_key"]

KIND = "credledger-sm2-seal-key"
VERSION = 1
SCRYPT_N = 1 << 15  # 32 MiB and about 0.1 s a derivation: an interactive unlock
_MAX_SCRYPT_N = 1 << 20
_AAD_PREFIX = b"credledger-sm2-seal-key/1\x00"


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return Scrypt(salt=salt, length=dklen, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def save_sm2_key(
    path: str | os.PathLike[str],
    key: Sm2PrivateKey,
    passphrase: str,
    *,
    scrypt_n: int = SCRYPT_N,
    overwrite: bool = False,
) -> Path:
    """Write ``key`` encrypted under ``passphrase`` to ``path`` (mode 0600); returns the path."""
    if not passphrase:
        raise InputError("a seal keystore needs a non-empty passphrase")
    if scrypt_n < 2 or scrypt_n & (scrypt_n - 1) or scrypt_n > _MAX_SCRYPT_N:
        raise InputError("scrypt n must be a power of two between 2 and 2^20")
    target = Path(path)
    if target.exists() and not overwrite:
        raise ConflictError(f"{target} already exists; choose another file for the new key")
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    params: dict[str, Any] = {"n": scrypt_n, "r": 8, "p": 1, "dklen": 16, "salt": salt.hex()}
    aes_key = _derive(passphrase, salt, scrypt_n, 8, 1, 16)
    public = key.public_key()
    enc = Cipher(algorithms.SM4(aes_key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(_AAD_PREFIX + public.raw())
    ciphertext = enc.update(key.secret_bytes()) + enc.finalize() + enc.tag
    doc = {
        "version": VERSION,
        "kind": KIND,
        "publicKey": public.raw().hex(),
        "publicKeyPem": public.pem().decode("ascii"),
        "cipher": "sm4-gcm",
        "kdf": "scrypt",
        "kdfparams": params,
        "nonce": nonce.hex(),
        "ciphertext": ciphertext.hex(),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def _read(path: str | os.PathLike[str]) -> dict[str, Any]:
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotFoundError(f"no seal keystore at {target}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the seal keystore {target}: {type(exc).__name__}") from exc
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{target} is not a seal keystore (not JSON)") from exc
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise InputError(f"{target} is not a credledger SM2 seal keystore")
    if doc.get("version") != VERSION:
        raise InputError(f"{target}: keystore version {doc.get('version')!r} is not supported")
    if doc.get("cipher") != "sm4-gcm" or doc.get("kdf") != "scrypt":
        raise InputError(f"{target}: unsupported cipher or kdf")
    return doc


def read_sm2_public_key(path: str | os.PathLike[str]) -> Sm2PublicKey:
    """The public key a keystore holds in clear (no passphrase needed)."""
    doc = _read(path)
    try:
        return Sm2PublicKey.from_raw(bytes.fromhex(str(doc["publicKey"])))
    except (KeyError, ValueError) as exc:
        raise InputError(f"{path}: malformed publicKey") from exc


def load_sm2_key(path: str | os.PathLike[str], passphrase: str) -> Sm2PrivateKey:
    """Decrypt the seal key in ``path``; a wrong passphrase raises InputError."""
    doc = _read(path)
    try:
        kp = doc["kdfparams"]
        n, r, p, dklen = int(kp["n"]), int(kp["r"]), int(kp["p"]), int(kp["dklen"])
        salt = bytes.fromhex(kp["salt"])
        nonce = bytes.fromhex(doc["nonce"])
        blob = bytes.fromhex(doc["ciphertext"])
        public = bytes.fromhex(doc["publicKey"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: malformed seal keystore") from exc
    if not (2 <= n <= _MAX_SCRYPT_N and n & (n - 1) == 0 and r == 8 and p == 1 and dklen == 16):
        raise InputError(f"{path}: scrypt parameters out of range")
    if len(nonce) != 12 or len(blob) != 48 or len(public) != 64 or len(salt) < 8:
        raise InputError(f"{path}: malformed seal keystore")
    dec = Cipher(
        algorithms.SM4(_derive(passphrase, salt, n, r, p, dklen)), modes.GCM(nonce, blob[32:])
    ).decryptor()
    dec.authenticate_additional_data(_AAD_PREFIX + public)
    try:
        secret = dec.update(blob[:32]) + dec.finalize()
    except InvalidTag:
        raise InputError(
            f"wrong passphrase for the seal keystore {path} (or the file was altered)"
        ) from None
    key = Sm2PrivateKey.from_secret_bytes(secret)
    if key.public_key().raw() != public:
        raise InputError(f"{path}: the private key does not match the stored public key")
    return key
