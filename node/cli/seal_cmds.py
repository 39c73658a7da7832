"""`credledger seal key new|show`: SM2 seal keys in an encrypted keystore file.

``new`` makes a key with OpenSSL's CSPRNG and writes it encrypted (SM4-GCM under scrypt,
``node/core/keystore.py``); it prints the public key and the file, never the private key. The
passphrase comes from ``CREDLEDGER_SEAL_PASSPHRASE`` or a hidden prompt. ``register|retire|list``
(on chain) are in ``seal_key_cmds.py``, on the same ``seal key`` group.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from credledger.node.cli._app import console
from credledger.node.cli.seal_key_cmds import key_app
from credledger.node.core.errors import InputError

PASSPHRASE_ENV = "CREDLEDGER_SEAL_PASSPHRASE"


def seal_passphrase(confirm: bool) -> str:
    """$CREDLEDGER_SEAL_PASSPHRASE, else a hidden prompt (twice when ``confirm``)."""
    given = os.environ.get(PASSPHRASE_ENV)
    if given:
        return given
    if not sys.stdin.isatty():
        raise InputError(f"give the keystore passphrase in {PASSPHRASE_ENV} (no terminal to ask)")
    value = typer.prompt(
        "seal keystore passphrase", hide_input=True, confirmation_prompt=confirm, type=str
    )
    if not value:
        raise InputError("the passphrase is empty")
    return str(value)


def _print_public(pem: bytes, xy: bytes) -> None:
    console.print(pem.decode("ascii"), end="", highlight=False)
    console.print(f"public key (x || y): {xy.hex()}", highlight=False)


@key_app.command("new")
def new_key(
    out: Annotated[
        Path, typer.Option("--out", help="the keystore file to write (not overwritten)")
    ],
    pem_out: Annotated[
        Path | None, typer.Option("--pem-out", help="also write the public key PEM here")
    ] = None,
) -> None:
    """Make an SM2 seal key and write it to an encrypted keystore; print its public key."""
    from credledger.node.core.keystore import save_sm2_key
    from credledger.node.core.sm2 import Sm2PrivateKey

    if out.exists():
        raise InputError(f"{out} already exists; choose another file for the new key")
    passphrase = seal_passphrase(confirm=True)
    key = Sm2PrivateKey.generate()
    path = save_sm2_key(out, key, passphrase)
    public = key.public_key()
    if pem_out is not None:
        pem_out.write_bytes(public.pem())
    _print_public(public.pem(), public.raw())
    console.print(f"keystore: {path}" + (f"  public key PEM: {pem_out}" if pem_out else ""))
    console.print(
        f"register it on chain: credledger seal key register {path} --department NAME",
        highlight=False,
    )


@key_app.command("show")
def show_key(
    file: Annotated[Path, typer.Argument(help="a seal keystore file")],
    check: Annotated[
        bool, typer.Option("--check", help="also unlock it with the passphrase (proves it)")
    ] = False,
) -> None:
    """Print a keystore's public key (PEM and hex) and its encryption; never the private key."""
    import json

    from credledger.node.core.keystore import load_sm2_key, read_sm2_public_key

    public = read_sm2_public_key(file)
    doc = json.loads(file.read_text(encoding="utf-8"))
    _print_public(public.pem(), public.raw())
    kp = doc.get("kdfparams", {})
    console.print(
        f"keystore: {file} (v{doc['version']}, {doc['cipher']}, "
        f"scrypt n={kp.get('n')} r={kp.get('r')} p={kp.get('p')})",
        highlight=False,
    )
    if check:
        key = load_sm2_key(file, seal_passphrase(confirm=False))
        probe = b"credledger seal key check"
        ok = key.public_key() == public and public.verify(probe, key.sign(probe))
        console.print("passphrase: unlocks the key" if ok else "passphrase: key mismatch")
        if not ok:
            raise typer.Exit(1)
