"""`credledger seal key register|list|retire` against the session anvil: the real command in a
subprocess, signing as the department's own key from a config file (an encrypted keystore)."""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account

from credledger.node.core.contracts.licence_registry import KEY_KIND_SM2
from credledger.node.devnet import DevnetInfo
from tests.conftest import run_cli
from tests.contracts.conftest import Env
from tests.contracts.sealing import Sm2Key, public_pem


def _config(env: Env, tmp: Path, anvil: DevnetInfo) -> dict[str, str]:
    """A config naming the department `market` with the test's issuer key in a keystore."""
    keystore, password = tmp / "market.json", tmp / "market.pw"
    password.write_text("pw\n", encoding="utf-8")
    encrypted = Account.encrypt(env.accounts["issuer"].key, "pw", kdf="pbkdf2", iterations=2)
    keystore.write_text(json.dumps(encrypted), encoding="utf-8")
    manifest = tmp / "manifest.json"
    manifest.write_text(json.dumps(env.manifest), encoding="utf-8")
    config = tmp / "credledger.toml"
    config.write_text(
        f'manifest = "{manifest}"\n\n[[departments]]\nname = "market"\n'
        f'keystore = "{keystore}"\npassword_file = "{password}"\n',
        encoding="utf-8",
    )
    return {
        "CREDLEDGER_CONFIG": str(config),
        "CREDLEDGER_DATA_DIR": str(tmp / "data"),
        "CREDLEDGER_RPC": anvil.rpc_url,
    }


def test_register_list_retire(env: Env, anvil: DevnetInfo, tmp_path: Path) -> None:
    cli_env = _config(env, tmp_path, anvil)
    xy = Sm2Key.generate().public_xy()
    pem = tmp_path / "seal.pub.pem"
    pem.write_bytes(public_pem(xy))

    r = run_cli("seal", "key", "register", str(pem), "--department", "market", env=cli_env)
    assert r.returncode == 0, r.stderr
    assert f"registered for market ({env.addr('issuer')})" in r.stdout
    lic = env.licences()
    (key_id,) = lic.department_key_ids(env.addr("issuer"))
    record = lic.department_key(key_id)
    assert record is not None and (record.kind, record.public_key) == (KEY_KIND_SM2, xy)
    assert r.stdout.startswith(f"key {key_id} registered")

    # the same key again, as hex: refused by the chain, one line, no traceback
    again = run_cli("seal", "key", "register", xy.hex(), "--department", "market", env=cli_env)
    assert again.returncode != 0
    assert f"registered already as key {key_id}" in again.stderr
    assert "Traceback" not in again.stderr

    listed = run_cli("seal", "key", "list", "--department", "market", env=cli_env)
    assert listed.returncode == 0, listed.stderr
    assert "SM2 e-seal" in listed.stdout and xy.hex()[:16] in listed.stdout

    r = run_cli("seal", "key", "retire", str(key_id), "--department", "market", env=cli_env)
    assert r.returncode == 0, r.stderr
    assert lic.department_key(key_id).retired_at > 0  # type: ignore[union-attr]
    r = run_cli("seal", "key", "retire", str(key_id), "--department", "market", env=cli_env)
    assert r.returncode != 0 and f"department key {key_id} was retired" in r.stderr


def test_bad_input_is_one_line(env: Env, anvil: DevnetInfo, tmp_path: Path) -> None:
    cli_env = _config(env, tmp_path, anvil)
    for given, says in [
        ("not-a-key", "neither a PEM file"),
        ("ab" * 63, "64 bytes x || y, got 63"),
    ]:
        r = run_cli("seal", "key", "register", given, "--department", "market", env=cli_env)
        assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    p256 = tmp_path / "p256.pem"
    p256.write_bytes(b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n")
    r = run_cli("seal", "key", "register", str(p256), "--department", "market", env=cli_env)
    assert r.returncode == 2 and "not an SM2 public key" in r.stderr, r.stderr
    r = run_cli("seal", "key", "list", "--department", "nobody", env=cli_env)
    assert r.returncode != 0 and "no department 'nobody'" in r.stderr, r.stderr
