"""`credledger seal key register|retire|list`: a department's SM2 e-seal keys on chain.

The department signs with its own transaction key from the settings (``departments`` in the
config; on a devnet also the demo departments), the way ``licence setup-chain`` signs as the
admin: straight to the chain, no node needed. What the registry accepts and refuses is in
contracts/README.md (LicenceRegistry, department keys) and docs/standards.md (E-seals).
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from credledger.node.cli._app import app, console, parse_rpc, recorded_url
from credledger.node.core.contracts.licence_registry import (
    KEY_KIND_P256,
    KEY_KIND_SM2,
    LicenceRegistry,
)
from credledger.node.core.errors import ConfigError, InputError, NotFoundError

KIND_NAMES = {KEY_KIND_SM2: "SM2 e-seal", KEY_KIND_P256: "P-256 credential"}
# DER SubjectPublicKeyInfo of an SM2 public key (id-ecPublicKey, curve SM2 1.2.156.10197.1.301)
# up to the uncompressed point's 0x04: the 64 bytes after it are x || y
SM2_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d03420004")

RpcOpt = Annotated[
    str | None,
    typer.Option("--rpc", envvar="CREDLEDGER_RPC", help="JSON-RPC URL (default: what `up` runs)"),
]
DeptOpt = Annotated[str, typer.Option("--department", help="the department's name in the settings")]


def sm2_public_key(given: str) -> bytes:
    """The 64-byte x || y of an SM2 public key given as a PEM file's path, PEM text, or hex
    (128 hex digits, or 130 with the 04 prefix)."""
    text = given
    path = Path(given)
    if len(given) < 4096 and "\n" not in given and path.is_file():
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{given}: not a readable PEM file ({exc})") from None
        if text.lstrip().startswith("{"):  # a seal keystore (`seal key new`): its clear public key
            from credledger.node.core.keystore import read_sm2_public_key

            return read_sm2_public_key(path).raw()
    text = text.strip()
    if "-----BEGIN PUBLIC KEY-----" in text:
        body = text.split("-----BEGIN PUBLIC KEY-----", 1)[1].split("-----END PUBLIC KEY-----")[0]
        try:
            der = base64.b64decode("".join(body.split()), validate=True)
        except binascii.Error:
            raise InputError(f"{given}: the PEM body is not base64") from None
        if not der.startswith(SM2_SPKI_PREFIX) or len(der) != len(SM2_SPKI_PREFIX) + 64:
            raise InputError(f"{given}: not an SM2 public key (expected the SM2 curve's OID)")
        return der[len(SM2_SPKI_PREFIX) :]
    if "-----BEGIN" in text:
        raise InputError(f"{given}: give the PUBLIC KEY PEM (e.g. `credledger seal key show`)")
    hexed = text.removeprefix("0x")
    try:
        raw = bytes.fromhex(hexed)
    except ValueError:
        raise InputError(f"{given}: neither a PEM file, PEM text nor hex x || y") from None
    if len(raw) == 65 and raw[0] == 4:
        raw = raw[1:]
    if len(raw) != 64:
        raise InputError(f"{given}: an SM2 public key is 64 bytes x || y, got {len(raw)}")
    return raw


@dataclass(frozen=True)
class _Target:
    registry: LicenceRegistry  # with the department's key as sender
    name: str
    address: str


def _target(department: str, rpc: str | None) -> _Target:
    """The LicenceRegistry binding signing as ``department``'s transaction key."""
    from credledger.node.core.chain import Chain
    from credledger.node.core.errors import DeploymentError
    from credledger.node.core.manifest import addresses, load_manifest
    from credledger.node.core.signer import resolve_account
    from credledger.node.core.tx import TxSender
    from credledger.node.settings import load_settings

    rpc_urls = parse_rpc(rpc or recorded_url("rpc") or "http://127.0.0.1:8545")
    settings = load_settings(chain={"rpc_urls": rpc_urls})
    found = next((d for d in settings.departments if d.name == department), None)
    if found is not None:
        account = resolve_account(found.keystore, found.password_file, found.dev_account)
    elif settings.chain.kind == "devnet":
        from credledger.node.demo.licences import DEMO_DEPARTMENTS

        demo = next((d for d in DEMO_DEPARTMENTS if d.name == department), None)
        if demo is None:
            raise NotFoundError(f"no department {department!r} in the settings or the demo")
        account = resolve_account(None, None, demo.dev_account)
    else:
        raise ConfigError(f"no department {department!r} in the settings (departments)")
    chain = Chain(rpc_urls)
    address = addresses(load_manifest(settings.manifest_path(chain.chain_id))).get(
        "LicenceRegistry"
    )
    if address is None:
        raise DeploymentError("the manifest has no LicenceRegistry; run `credledger deploy`")
    registry = LicenceRegistry(chain, address, TxSender(chain, account))
    return _Target(registry, department, str(account.address))


def _when(t: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t)) if t else "—"


def register_key(
    public_key: Annotated[
        str,
        typer.Argument(
            help="the SM2 public key: a PEM file, a seal keystore, PEM text, or hex x||y"
        ),
    ],
    department: DeptOpt,
    rpc: RpcOpt = None,
) -> None:
    """Register an SM2 e-seal public key for the department, signed by its own key."""
    xy = sm2_public_key(public_key)
    t = _target(department, rpc)
    key_id, receipt = t.registry.register_department_key(t.address, KEY_KIND_SM2, xy)
    console.print(
        f"key {key_id} registered for {t.name} ({t.address}), block {receipt['blockNumber']}"
    )


def retire_key(
    key_id: Annotated[int, typer.Argument(help="the key id (`credledger seal key list`)")],
    department: DeptOpt,
    rpc: RpcOpt = None,
) -> None:
    """Retire one of the department's keys: it seals nothing more; earlier seals stay valid."""
    t = _target(department, rpc)
    receipt = t.registry.retire_department_key(key_id)
    console.print(f"key {key_id} of {t.name} retired, block {receipt['blockNumber']}")


def list_keys(department: DeptOpt, rpc: RpcOpt = None) -> None:
    """The department's keys on chain, retired ones included."""
    t = _target(department, rpc)
    table = Table("key", "kind", "registered", "retired", "public key (x || y)")
    for key_id in t.registry.department_key_ids(t.address):
        k = t.registry.department_key(key_id)
        if k is None:  # pragma: no cover - the chain lists only keys it has
            continue
        kind = KIND_NAMES.get(k.kind, str(k.kind))
        xy = k.public_key.hex()
        table.add_row(
            str(key_id), kind, _when(k.registered_at), _when(k.retired_at), xy[:16] + "…" + xy[-8:]
        )
    console.print(f"{t.name} ({t.address})")
    console.print(table)


# The `seal` group and its `key` subgroup live here; `credledger seal key new|show` (the encrypted
# keystore, node/cli/seal_cmds.py) attach to `key_app` too.
seal_app = typer.Typer(help="SM2 e-seals: department seal keys.", no_args_is_help=True)
key_app = typer.Typer(help="A department's SM2 seal keys.", no_args_is_help=True)
seal_app.add_typer(key_app, name="key")
app.add_typer(seal_app, name="seal")
key_app.command("register")(register_key)
key_app.command("retire")(retire_key)
key_app.command("list")(list_keys)
