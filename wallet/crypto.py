"""The wallet's cryptography in one place: passwords, key wrapping, keystores, file encryption.

* Passwords are stored only as argon2id hashes (argon2-cffi's ``PasswordHasher``).
* A person's *key-encryption key* (KEK) is derived from their password with argon2id and a salt of
  its own (never the hash's salt); it wraps — AES-256-GCM — the passphrase of the enterprise
  keystore (administrators, the legal representative) or of their own key (agents).
* Keys are keystore v3 files (``eth_account.Account.encrypt``, scrypt). The passphrase is 32
  random bytes, never typed by anyone; it exists in clear only in memory while a session is open.
* A session carries the passphrase wrapped with a key derived from the session token (HKDF), so
  the database alone (which holds only the token's hash) never unwraps it.
* Material files are AES-256-GCM encrypted with a data key per enterprise; data keys are wrapped
  with the wallet's master key (a 0600 file in the data dir). The enterprise id and material id
  are the associated data, so a file cannot be swapped between enterprises or materials.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_account import Account
from eth_account.signers.local import LocalAccount

from credledger.node.core.errors import ConfigError, InputError, UnauthorizedError

NONCE_BYTES = 12
KEY_BYTES = 32
FILE_MAGIC = b"CLW1"  # credledger wallet file, version 1


@dataclass(frozen=True)
class KdfParams:
    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 1
    scrypt_n: int = 2**18


class Passwords:
    """argon2id password hashes and password-derived wrapping keys."""

    def __init__(self, params: KdfParams) -> None:
        self.params = params
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )
        # verified against when the account does not exist, so timing does not tell
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def kek(self, password: str, salt: bytes) -> bytes:
        """The person's key-encryption key: argon2id(password, salt) → 32 bytes."""
        return hash_secret_raw(
            password.encode("utf-8"),
            salt,
            time_cost=self.params.time_cost,
            memory_cost=self.params.memory_kib,
            parallelism=self.params.parallelism,
            hash_len=KEY_BYTES,
            type=Type.ID,
        )


def check_password_strength(password: str) -> None:
    if len(password) < 10:
        raise InputError("the password must have at least 10 characters", field="password")
    if len(password) > 1024:
        raise InputError("the password is too long (1024 characters at most)", field="password")


def wrap(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM: nonce || ciphertext+tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unwrap(key: bytes, blob: bytes, aad: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag

    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise UnauthorizedError("the key could not be unwrapped (wrong password?)") from None


def token_key(token: str) -> bytes:
    """A wrapping key derived from a session token (the database keeps only sha256(token))."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"credledger-wallet-session"
    ).derive(token.encode("utf-8"))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return "clw_" + secrets.token_urlsafe(32)


# --- keystores ---------------------------------------------------------------------------------


def new_passphrase() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def _pass_str(passphrase: bytes) -> str:
    return passphrase.hex()


def new_keystore(passphrase: bytes, scrypt_n: int) -> tuple[str, dict[str, Any]]:
    """A fresh secp256k1 key as a keystore v3 (scrypt) under ``passphrase``; (address, keystore)."""
    acct = Account.create()
    return str(acct.address), encrypt_key(bytes(acct.key), passphrase, scrypt_n)


def encrypt_key(key: bytes, passphrase: bytes | str, scrypt_n: int) -> dict[str, Any]:
    pw = passphrase if isinstance(passphrase, str) else _pass_str(passphrase)
    ks: dict[str, Any] = Account.encrypt(key, pw, kdf="scrypt", iterations=scrypt_n)
    return ks


def open_keystore(keystore: dict[str, Any], passphrase: bytes | str) -> LocalAccount:
    pw = passphrase if isinstance(passphrase, str) else _pass_str(passphrase)
    try:
        key = Account.decrypt(keystore, pw)
    except (ValueError, KeyError, TypeError):
        raise UnauthorizedError("the keystore does not open with this passphrase") from None
    acct: LocalAccount = Account.from_key(key)
    return acct


def parse_keystore(text: str | dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        raise InputError("the keystore is not JSON", field="keystore") from None
    if not isinstance(data, dict) or data.get("version") != 3 or "crypto" not in data:
        raise InputError("the keystore is not a keystore v3 JSON object", field="keystore")
    return data


# --- files -------------------------------------------------------------------------------------


class MasterKey:
    """The wallet's master key, a 0600 file in the data dir (created on first start)."""

    def __init__(self, path: Path) -> None:
        if path.exists():
            raw = path.read_bytes()
            if len(raw) != KEY_BYTES:
                raise ConfigError(f"{path} is not a 32-byte wallet master key")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            raw = secrets.token_bytes(KEY_BYTES)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, raw)
                os.fsync(fd)
            finally:
                os.close(fd)
        self._key = raw

    def wrap_data_key(self, data_key: bytes, enterprise_id: int) -> bytes:
        return wrap(self._key, data_key, b"data-key:%d" % enterprise_id)

    def unwrap_data_key(self, blob: bytes, enterprise_id: int) -> bytes:
        return unwrap(self._key, blob, b"data-key:%d" % enterprise_id)


def file_aad(enterprise_id: int, material_id: str) -> bytes:
    return f"material:{enterprise_id}:{material_id}".encode()


def encrypt_file(data_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    return FILE_MAGIC + wrap(data_key, plaintext, aad)


def decrypt_file(data_key: bytes, blob: bytes, aad: bytes) -> bytes:
    if not blob.startswith(FILE_MAGIC):
        raise ConfigError("a stored material file has an unknown format")
    return unwrap(data_key, blob[len(FILE_MAGIC) :], aad)
