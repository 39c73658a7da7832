"""The credential keystore and ES256 signatures, checked with joserfc (a JOSE library we did not
write) and OpenSSL's own PEM reader."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from joserfc import jws
from joserfc.jwk import ECKey

from credledger.node.core.errors import ConfigError
from credledger.node.credentials.ids import parse_issuer, parse_kid
from credledger.node.credentials.keys import (
    CredentialKey,
    b64url,
    generate_p256,
    load_p256_key,
    public_raw,
    save_p256_key,
)

REGISTRY = "0x" + "ab" * 20
DEPT = "0x" + "Cd" * 20


def _key(tmp_path: Path) -> CredentialKey:
    private = generate_p256()
    path = tmp_path / "cred.pem"
    save_p256_key(path, private, "pass-phrase")
    loaded = load_p256_key(path, "pass-phrase")
    return CredentialKey(
        DEPT, 7, 31337, REGISTRY, "market", public_raw(loaded.public_key()), loaded
    )


def test_keystore_round_trip_and_refusals(tmp_path: Path) -> None:
    key = _key(tmp_path)
    path = tmp_path / "cred.pem"
    assert path.stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    with pytest.raises(ConfigError, match="wrong passphrase"):
        load_p256_key(path, "wrong")
    with pytest.raises(ConfigError, match="cannot read"):
        load_p256_key(tmp_path / "missing.pem", "x")
    # OpenSSL reads it with the passphrase and finds the same public key
    out = subprocess.run(
        ["openssl", "pkey", "-in", str(path), "-passin", "pass:pass-phrase", "-pubout",
         "-outform", "DER"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert out.endswith(b"\x04" + key.public_raw)


def test_es256_verifies_with_joserfc(tmp_path: Path) -> None:
    key = _key(tmp_path)
    header = {"alg": "ES256", "kid": key.kid(), "typ": "JWT"}
    payload = {"hello": "world"}
    signing_input = (
        b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    ).encode("ascii")
    sig = key.sign_es256(signing_input)
    assert len(sig) == 64
    token = signing_input.decode() + "." + b64url(sig)
    public = ECKey.import_key(key.public_jwk())
    obj = jws.deserialize_compact(token, public, algorithms=["ES256"])
    assert json.loads(obj.payload) == payload
    ref = parse_kid(key.kid())
    assert (ref.chain_id, ref.registry, ref.key_id) == (31337, REGISTRY, 7)
    assert parse_issuer(key.issuer()).department == DEPT.lower()
    assert "private" not in repr(key) or "EllipticCurvePrivateKey" not in repr(key)
