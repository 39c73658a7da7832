"""`credledger vc`: licences as open credentials (docs/credentials.md).

* ``vc export <licence> --format vc-jwt|sd-jwt`` — the credential on standard output, from a
  node of the issuing department;
* ``vc verify FILE|-`` — the node's verdict of a VC-JWT or an SD-JWT VC presentation;
* ``vc key new|show|register`` — a department's P-256 credential key: an encrypted PKCS#8 PEM
  (passphrase from ``CREDLEDGER_CREDENTIAL_PASSPHRASE`` or a prompt), registered on chain as a
  department key of kind 2 by the department's own transaction key (as ``seal key register``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from credledger.node.cli._app import app, console, node_url
from credledger.node.cli.licence_cmds import DEFAULT_NODE, NodeAnswer, NodeOpt, TokenOpt, _call
from credledger.node.core.errors import ConfigError, InputError

vc_app = typer.Typer(help="Open credentials: VC-JWT and SD-JWT VC.", no_args_is_help=True)
key_app = typer.Typer(help="A department's P-256 credential key.", no_args_is_help=True)
vc_app.add_typer(key_app, name="key")
app.add_typer(vc_app, name="vc")

PASSPHRASE_ENV = "CREDLEDGER_CREDENTIAL_PASSPHRASE"


@vc_app.command("export")
def export(
    licence: Annotated[str, typer.Argument(help="licence id (0x…) or GB/T 36904 identifier")],
    format: Annotated[str, typer.Option("--format", help="vc-jwt or sd-jwt")] = "vc-jwt",
    holder_jwk: Annotated[
        str | None,
        typer.Option("--holder-jwk", help="SD-JWT VC: the holder's P-256 JWK (file or JSON)"),
    ] = None,
    node: NodeOpt = DEFAULT_NODE,
    token: TokenOpt = None,
) -> None:
    """Print the licence as a credential (a node of the issuing department signs it)."""
    if format not in ("vc-jwt", "sd-jwt"):
        raise InputError("--format is vc-jwt or sd-jwt")
    params = {"format": format}
    if holder_jwk:
        path = Path(holder_jwk)
        text = path.read_text(encoding="utf-8") if path.is_file() else holder_jwk
        params["holderJwk"] = text.strip()
    base = node_url(node)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = httpx.get(
            f"{base.rstrip('/')}/v1/licences/{licence}/credential",
            params=params,
            headers=headers,
            timeout=60,
        )
    except httpx.HTTPError as exc:
        raise NodeAnswer(f"cannot reach the node at {base}: {exc}") from None
    if r.status_code >= 400:
        try:
            message = r.json().get("message", r.text)
        except ValueError:
            message = r.text
        raise NodeAnswer(f"{r.status_code}: {message}")
    sys.stdout.write(r.text + "\n")


@vc_app.command("verify")
def verify(
    source: Annotated[str, typer.Argument(help="a file holding the credential, or - for stdin")],
    nonce: Annotated[str | None, typer.Option(help="the KB-JWT's expected nonce")] = None,
    audience: Annotated[str | None, typer.Option(help="the KB-JWT's expected audience")] = None,
    node: NodeOpt = DEFAULT_NODE,
    as_json: Annotated[bool, typer.Option("--json", help="print the node's JSON answer")] = False,
) -> None:
    """The verdict of a VC-JWT or SD-JWT VC (presentation); exits 1 unless VALID."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {source}: {exc}") from None
    body: dict[str, Any] = {"credential": text.strip()}
    if nonce is not None:
        body["nonce"] = nonce
    if audience is not None:
        body["audience"] = audience
    out = _call("POST", node, "/v1/credentials/verify", json=body)
    if as_json:
        console.print_json(json.dumps(out, ensure_ascii=False))
    else:
        colour = "green" if out["verdict"] == "VALID" else "red"
        console.print(f"[{colour}]{out['verdict']}[/{colour}] ({out['format']})", highlight=False)
        for reason in out["reasons"]:
            console.print(f"  {reason}", highlight=False)
        for name, value in (out.get("disclosed") or {}).items():
            console.print(f"  disclosed {name}: {value}", highlight=False)
    if out["verdict"] != "VALID":
        raise typer.Exit(1)


def _passphrase(confirm: bool) -> str:
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if not sys.stdin.isatty():
        raise ConfigError(f"set {PASSPHRASE_ENV} (no terminal to ask for the passphrase)")
    entered: str = typer.prompt("passphrase", hide_input=True, confirmation_prompt=confirm)
    return entered


@key_app.command("new")
def key_new(
    out: Annotated[Path, typer.Argument(help="the encrypted PEM file to write")],
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Make a P-256 credential key in an encrypted PKCS#8 PEM (configure it as the department's
    credential_keystore, then `credledger vc key register`)."""
    from credledger.node.credentials.keys import (
        generate_p256,
        jwk_of_raw,
        public_raw,
        save_p256_key,
    )

    if out.exists() and not force:
        raise InputError(f"{out} exists (--force overwrites it)")
    key = generate_p256()
    save_p256_key(out, key, _passphrase(True))
    console.print(f"wrote {out}")
    console.print_json(json.dumps(jwk_of_raw(public_raw(key.public_key()))))


def _load(path: Path) -> bytes:
    from credledger.node.credentials.keys import load_p256_key, public_raw

    return public_raw(load_p256_key(path, _passphrase(False)).public_key())


@key_app.command("show")
def key_show(path: Annotated[Path, typer.Argument(help="the encrypted PEM file")]) -> None:
    """The key's public JWK and x || y (what the chain registers)."""
    from credledger.node.credentials.keys import jwk_of_raw

    xy = _load(path)
    console.print_json(json.dumps({**jwk_of_raw(xy), "xy": xy.hex()}))


@key_app.command("register")
def key_register(
    path: Annotated[Path, typer.Argument(help="the encrypted PEM file")],
    department: Annotated[str, typer.Option("--department", help="the department's name")],
    rpc: Annotated[str | None, typer.Option("--rpc", envvar="CREDLEDGER_RPC")] = None,
) -> None:
    """Register the key on chain as the department's P-256 credential key (kind 2), signed by the
    department's own transaction key; retire it with `credledger seal key retire`."""
    from credledger.node.cli.seal_key_cmds import _target
    from credledger.node.core.contracts.department_keys import KEY_KIND_P256

    xy = _load(path)
    t = _target(department, rpc)
    key_id, receipt = t.registry.register_department_key(t.address, KEY_KIND_P256, xy)
    console.print(
        f"credential key {key_id} registered for {t.name} ({t.address}), "
        f"block {receipt['blockNumber']}"
    )
