"""The SM2 seal keystore: SM4-GCM under scrypt; wrong passphrases and altered files refused."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from credledger.node.core.errors import ConflictError, InputError, NotFoundError
from credledger.node.core.keystore import load_sm2_key, read_sm2_public_key, save_sm2_key
from credledger.node.core.sm2 import Sm2PrivateKey

FAST = 1 << 10  # scrypt n for tests; the default (2^15) is checked once


def test_round_trip_default_params(tmp_path: Path) -> None:
    key = Sm2PrivateKey.generate()
    path = save_sm2_key(tmp_path / "seal.json", key, "correct horse")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["cipher"] == "sm4-gcm" and doc["kdf"] == "scrypt"
    assert doc["kdfparams"]["n"] == 1 << 15
    assert key.secret_bytes().hex() not in path.read_text()
    loaded = load_sm2_key(path, "correct horse")
    assert loaded.secret_bytes() == key.secret_bytes()
    assert read_sm2_public_key(path) == key.public_key()
    assert loaded.public_key().verify(b"x", key.sign(b"x"))


def test_wrong_passphrase_and_altered_files(tmp_path: Path) -> None:
    key = Sm2PrivateKey.generate()
    path = save_sm2_key(tmp_path / "seal.json", key, "pass", scrypt_n=FAST)
    with pytest.raises(InputError, match="wrong passphrase"):
        load_sm2_key(path, "Pass")
    doc = json.loads(path.read_text())
    other = Sm2PrivateKey.generate().public_key().raw().hex()
    blob = bytearray(bytes.fromhex(doc["ciphertext"]))
    blob[0] ^= 1
    for field, value in [("publicKey", other), ("ciphertext", blob.hex()), ("nonce", "00" * 12)]:
        altered = tmp_path / f"{field}.json"
        altered.write_text(json.dumps({**doc, field: value}))
        with pytest.raises(InputError, match="wrong passphrase"):
            load_sm2_key(altered, "pass")
    for bad in [
        {**doc, "kind": "x"},
        {**doc, "version": 2},
        {**doc, "cipher": "aes"},
        {**doc, "kdfparams": {**doc["kdfparams"], "n": 1 << 30}},
        {**doc, "nonce": "zz"},
    ]:
        altered = tmp_path / "bad.json"
        altered.write_text(json.dumps(bad))
        with pytest.raises(InputError):
            load_sm2_key(altered, "pass")
    (tmp_path / "junk.json").write_text("not json")
    with pytest.raises(InputError):
        load_sm2_key(tmp_path / "junk.json", "pass")
    with pytest.raises(NotFoundError):
        load_sm2_key(tmp_path / "missing.json", "pass")


def test_refuses_overwrite_and_empty_passphrase(tmp_path: Path) -> None:
    key = Sm2PrivateKey.generate()
    path = save_sm2_key(tmp_path / "k.json", key, "p", scrypt_n=FAST)
    with pytest.raises(ConflictError):
        save_sm2_key(path, Sm2PrivateKey.generate(), "p", scrypt_n=FAST)
    assert load_sm2_key(path, "p").public_key() == key.public_key()
    with pytest.raises(InputError):
        save_sm2_key(tmp_path / "e.json", key, "")
    assert not (tmp_path / "e.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["k.json"]  # no temp files left
