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
from tests.node.credentials.conftest import CredEnv

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


def test_the_node_refuses_a_key_the_chain_does_not_hold_for_the_department(
    cred: CredEnv, tmp_path: Path
) -> None:
    """load_credential_keys (what the node runs at start) against the real chain: an unregistered
    key, a retired one and one registered by another department are refused with the reason."""
    from credledger.node.auth import TokenBook
    from credledger.node.core.contracts.licence_registry import KEY_KIND_P256, LicenceRegistry
    from credledger.node.core.signer import dev_account
    from credledger.node.core.tx import TxSender
    from credledger.node.credentials.keys import load_credential_keys
    from credledger.node.departments import Department, Departments
    from credledger.node.settings import DepartmentSettings

    market = Department("market", "market", TxSender(cred.chain, dev_account(1)), frozenset(),
                        frozenset())  # fmt: skip
    departments = Departments([market], TokenBook())

    def load(path: Path) -> object:
        cfg = DepartmentSettings(name="market", dev_account=1, credential_keystore=path,
                                 credential_passphrase="pw")  # fmt: skip
        return load_credential_keys([cfg], departments, cred.registry)

    fresh = generate_p256()
    path = tmp_path / "fresh.pem"
    save_p256_key(path, fresh, "pw")
    with pytest.raises(ConfigError, match="not registered on chain"):
        load(path)
    # registered by the enforcement department (dev account 3): still not market's
    enforcement = LicenceRegistry(cred.chain, cred.registry.address,
                                  TxSender(cred.chain, dev_account(3)))  # fmt: skip
    enforcement.register_department_key(
        dev_account(3).address, KEY_KIND_P256, public_raw(fresh.public_key())
    )
    with pytest.raises(ConfigError, match="not registered on chain"):
        load(path)
    # registered for market, then retired
    other = generate_p256()
    path2 = tmp_path / "retired.pem"
    save_p256_key(path2, other, "pw")
    key_id, _ = cred.registry.register_department_key(
        cred.market, KEY_KIND_P256, public_raw(other.public_key())
    )
    keys = load(path2)
    assert keys[cred.market].key_id == key_id  # type: ignore[index]
    cred.registry.retire_department_key(key_id)
    with pytest.raises(ConfigError, match="retired"):
        load(path2)
