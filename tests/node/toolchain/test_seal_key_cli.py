"""`credledger seal key new|show`: an encrypted keystore, the public key printed, never the
private key; a wrong or missing passphrase is one line and exit 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from credledger.node.cli.seal_key_cmds import sm2_public_key
from credledger.node.core.keystore import load_sm2_key
from credledger.node.core.sm2 import Sm2PublicKey
from tests.conftest import run_cli

ENV = {"CREDLEDGER_SEAL_PASSPHRASE": "seal pass 印章"}


def test_new_then_show(tmp_path: Path) -> None:
    out, pem = tmp_path / "seal.json", tmp_path / "seal.pub.pem"
    r = run_cli("seal", "key", "new", "--out", str(out), "--pem-out", str(pem), env=ENV)
    assert r.returncode == 0, r.stderr
    key = load_sm2_key(out, ENV["CREDLEDGER_SEAL_PASSPHRASE"])
    public = key.public_key()
    assert Sm2PublicKey.from_pem(pem.read_bytes()) == public
    assert public.pem().decode() in r.stdout and public.raw().hex() in r.stdout
    secret = key.secret_bytes().hex()
    assert secret not in r.stdout + r.stderr and secret not in out.read_text()
    assert json.loads(out.read_text())["cipher"] == "sm4-gcm"

    shown = run_cli("seal", "key", "show", str(out), "--check", env=ENV)
    assert shown.returncode == 0, shown.stderr
    assert public.raw().hex() in shown.stdout and "unlocks the key" in shown.stdout
    assert secret not in shown.stdout + shown.stderr

    # `seal key register` takes the keystore, its PEM or the hex the command printed
    for given in (str(out), str(pem), public.raw().hex()):
        assert sm2_public_key(given) == public.raw()
    assert f"credledger seal key register {out}" in r.stdout

    again = run_cli("seal", "key", "new", "--out", str(out), env=ENV)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert load_sm2_key(out, ENV["CREDLEDGER_SEAL_PASSPHRASE"]).public_key() == public


def test_refusals_are_one_line(tmp_path: Path) -> None:
    out = tmp_path / "seal.json"
    assert run_cli("seal", "key", "new", "--out", str(out), env=ENV).returncode == 0
    cases = [
        (
            ("seal", "key", "show", str(out), "--check"),
            {"CREDLEDGER_SEAL_PASSPHRASE": "x"},
            "wrong passphrase",
        ),
        (
            ("seal", "key", "show", str(out), "--check"),
            {"CREDLEDGER_SEAL_PASSPHRASE": ""},
            "CREDLEDGER_SEAL_PASSPHRASE",
        ),
        (
            ("seal", "key", "new", "--out", str(tmp_path / "b.json")),
            {"CREDLEDGER_SEAL_PASSPHRASE": ""},
            "CREDLEDGER_SEAL_PASSPHRASE",
        ),
        (("seal", "key", "show", str(tmp_path / "missing.json")), {}, "no seal keystore"),
    ]
    (tmp_path / "junk.json").write_text("{}")
    cases.append((("seal", "key", "show", str(tmp_path / "junk.json")), {}, "not a credledger"))
    for args, env, needle in cases:
        r = run_cli(*args, env=env)
        assert r.returncode in (1, 2), (args, r.stdout, r.stderr)
        assert needle in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    assert not (tmp_path / "b.json").exists()
