"""`credledger wallet …` and `credledger grantee …` (typer + rich; errors are one line).

``wallet_app`` and ``grantee_app`` are typer apps the node's CLI mounts as ``wallet`` and
``grantee``; ``python -m credledger.wallet`` runs the same commands (``serve``, ``register`` …,
and ``grantee fetch``). The session token of ``login`` is kept in a 0600 file
(``CREDLEDGER_WALLET_SESSION``, default .credledger/wallet-session.json) or given by --token.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from credledger.node.core import paths
from credledger.node.core.errors import CredledgerError, InputError, UnauthorizedError

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

wallet_app = typer.Typer(
    name="wallet",
    help="The enterprise wallet: accounts, materials bank, grants (through a wallet service).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
grantee_app = typer.Typer(
    name="grantee",
    help="For grantees (banks …): record a use on chain and fetch the asset from the wallet.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

DEFAULT_URL = "http://127.0.0.1:8700"
UrlOpt = Annotated[
    str | None, typer.Option("--wallet", envvar="CREDLEDGER_WALLET_URL", help="wallet URL")
]
TokenOpt = Annotated[
    str | None, typer.Option("--token", envvar="CREDLEDGER_WALLET_TOKEN", help="session token")
]


def _session_file() -> Path:
    return Path(
        os.environ.get("CREDLEDGER_WALLET_SESSION", paths.STATE_DIR / "wallet-session.json")
    )


def _saved() -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(_session_file().read_text(encoding="utf-8"))
        return data
    except (OSError, ValueError):
        return {}


def _client(url: str | None, token: str | None = None, *, auth: bool = True) -> Any:
    from credledger.wallet.client import WalletClient

    saved = _saved()
    url = url or saved.get("url") or DEFAULT_URL
    if auth:
        token = token or (saved.get("token") if saved.get("url", url) == url else None)
        if not token:
            raise UnauthorizedError("not logged in: run `credledger wallet login` first")
    return WalletClient(url, token if auth else None)


def _password(value: str | None, prompt: str = "password") -> str:
    if value:
        return value
    if not sys.stdin.isatty():
        raise InputError(f"give the {prompt} with --password or CREDLEDGER_WALLET_PASSWORD")
    pw: str = typer.prompt(prompt.capitalize(), hide_input=True)
    return pw


PasswordOpt = Annotated[
    str | None,
    typer.Option("--password", envvar="CREDLEDGER_WALLET_PASSWORD", help="(prompted if absent)"),
]


def _print_json(data: Any) -> None:
    console.print_json(json.dumps(data, ensure_ascii=False))


# --- serve ------------------------------------------------------------------------------------


@wallet_app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="HTTP port (default 8700)")] = None,
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    node: Annotated[str | None, typer.Option("--node", help="the node's URL")] = None,
    rpc: Annotated[
        str | None, typer.Option("--rpc", help="chain RPC URL(s), comma separated")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir")] = None,
    manifest: Annotated[Path | None, typer.Option("--manifest")] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="local devnets: register the demo enterprise")
    ] = False,
) -> None:
    """Run the wallet service (its own process, database and encrypted file store)."""
    import logging

    import uvicorn

    from credledger.wallet.api.app import create_app
    from credledger.wallet.runtime import WalletRuntime
    from credledger.wallet.settings import load_wallet_settings

    overrides: dict[str, Any] = {}
    if port is not None:
        overrides["port"] = port
    if host is not None:
        overrides["host"] = host
    if node is not None:
        overrides["node_url"] = node
    if rpc is not None:
        overrides["chain"] = {"rpc_urls": [u.strip() for u in rpc.split(",") if u.strip()]}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if manifest is not None:
        overrides["manifest"] = manifest
    settings = load_wallet_settings(**overrides)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    runtime = WalletRuntime.from_settings(settings)
    if demo:
        from credledger.wallet.demo import seed

        seed(runtime, lambda line: console.print(line, highlight=False))
    runtime.start()
    console.print(f"wallet API  http://{settings.host}:{settings.port}  (Ctrl-C stops)")
    console.print(f"node        {settings.node_url}")
    console.print(f"relayer     {runtime.relayer.address}")
    try:
        uvicorn.run(
            create_app(runtime), host=settings.host, port=settings.port, log_level="warning"
        )
    finally:
        runtime.stop()


# --- accounts ---------------------------------------------------------------------------------


@wallet_app.command()
def register(
    uscc: Annotated[str, typer.Option(help="unified social credit code")],
    name: Annotated[str, typer.Option(help="the enterprise's name")],
    password: PasswordOpt = None,
    address: Annotated[
        str | None, typer.Option(help="external holder address (non-custodial)")
    ] = None,
    url: UrlOpt = None,
) -> None:
    """Register an enterprise; the legal representative's account."""
    body: dict[str, Any] = {"uscc": uscc, "name": name, "password": _password(password)}
    if address:
        body["address"] = address
    out = _client(url, auth=False).json("POST", "/v1/accounts", json=body)
    console.print(
        f"registered {out['uscc']} {out['name']}  holder {out['address']} ({out['custody']})"
    )


@wallet_app.command()
def login(
    uscc: Annotated[str, typer.Option(help="unified social credit code")],
    login_name: Annotated[
        str | None, typer.Option("--login", help="administrator/agent login (default: legal rep)")
    ] = None,
    password: PasswordOpt = None,
    url: UrlOpt = None,
) -> None:
    """Log in and keep the session token for the next commands."""
    client = _client(url, auth=False)
    body: dict[str, Any] = {"uscc": uscc, "password": _password(password)}
    if login_name:
        body["login"] = login_name
    out = client.json("POST", "/v1/sessions", json=body)
    path = _session_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"url": client.url, "token": out["token"], "expiresAt": out["expiresAt"]}, f)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(out["expiresAt"]))
    console.print(f"logged in as {out['role']} {out['login']}; session until {when}")


@wallet_app.command()
def logout(url: UrlOpt = None, token: TokenOpt = None) -> None:
    """End the session."""
    _client(url, token).json("DELETE", "/v1/sessions/current")
    _session_file().unlink(missing_ok=True)
    console.print("logged out")


# --- materials --------------------------------------------------------------------------------


@wallet_app.command("file")
def file_cmd(
    files: Annotated[list[Path], typer.Argument(help="files to file", exists=True, dir_okay=False)],
    folder: Annotated[
        str | None, typer.Option(help="folder (suggested from the name if absent)")
    ] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """File materials in the bank (encrypted at rest, anchored through the node)."""
    client = _client(url, token)
    total = sum(p.stat().st_size for p in files)
    results = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("uploading", total=total)
        for p in files:
            progress.update(task, description=p.name[:30])
            data: dict[str, str] = {"folder": folder} if folder else {}
            with p.open("rb") as f:
                r = client.request("POST", "/v1/materials", files={"file": (p.name, f)}, data=data)
            progress.advance(task, p.stat().st_size)
            results.append((p, r.status_code, r.json()))
    for p, status, m in results:
        again = "" if status == 201 else " (already filed: same material)"
        console.print(f"{m['id']}  {m['state']:<8} {m['folder']['code']:<16} {p.name}{again}",
                      highlight=False)  # fmt: skip


@wallet_app.command()
def materials(
    folder: Annotated[str | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """List the materials bank."""
    params = {"folder": folder} if folder else {}
    out = _client(url, token).json("GET", "/v1/materials", params=params)
    if as_json:
        _print_json(out)
        return
    table = Table("id", "state", "folder", "name", "filed by")
    for m in out["materials"]:
        state = m["state"] + (" ✓" if m["label"] == "trusted" else "")
        table.add_row(m["id"][:18] + "…", state, m["folder"]["zh"], m["name"], m["filedBy"]["name"])
    console.print(table)


@wallet_app.command()
def confirm(
    material_id: Annotated[str, typer.Argument(help="the material's id (asset id)")],
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Confirm an anchored material: it gets the trusted label."""
    m = _client(url, token).json("POST", f"/v1/materials/{material_id}/confirm")
    console.print(f"{m['id']} {m['state']}")


# --- grants -----------------------------------------------------------------------------------


@wallet_app.command()
def grant(
    asset: Annotated[str, typer.Option(help="asset id (licence id or material id)")],
    grantee: Annotated[str, typer.Option(help="the grantee's address")],
    purpose: Annotated[str, typer.Option(help="purpose code, e.g. LOAN-APPLICATION")],
    expires: Annotated[str, typer.Option(help="unix seconds, ISO 8601, or +30d")],
    max_uses: Annotated[int, typer.Option("--max-uses", help="0: no limit")] = 0,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Grant the use of an asset for a purpose until a date (signed and relayed by the wallet)."""
    body = {"assetId": asset, "grantee": grantee, "purpose": purpose, "expiresAt": _expiry(expires),
            "maxUses": max_uses}  # fmt: skip
    g = _client(url, token).json("POST", "/v1/grants", json=body)
    console.print(f"grant {g['grantId']} {g['state']}  tx {g['transactionHash']}", highlight=False)


@wallet_app.command()
def grants(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """List grants with their live on-chain state."""
    out = _client(url, token).json("GET", "/v1/grants")
    if as_json:
        _print_json(out)
        return
    table = Table("grant", "asset", "grantee", "purpose", "state", "uses", "expires")
    for g in out["grants"]:
        uses = f"{g['uses']}/{g['maxUses'] or '∞'}"
        table.add_row(g["grantId"][:14] + "…", g["assetId"][:14] + "…", g["grantee"],
                      g["purpose"]["code"], g["state"], uses,
                      time.strftime("%Y-%m-%d", time.localtime(g["expiresAt"])))  # fmt: skip
    console.print(table)


@wallet_app.command()
def revoke(
    grant_id: Annotated[str, typer.Argument()],
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Revoke a grant (relayed revokeBySig)."""
    g = _client(url, token).json("POST", f"/v1/grants/{grant_id}/revoke")
    console.print(f"grant {g['grantId']} {g['state']}  tx {g['revokeTransactionHash']}")


@wallet_app.command("export-key")
def export_key(
    out: Annotated[Path, typer.Option("--out", help="where to write the keystore v3 JSON")],
    password: PasswordOpt = None,
    passphrase: Annotated[
        str | None,
        typer.Option(envvar="CREDLEDGER_WALLET_EXPORT_PASSPHRASE", help="new passphrase"),
    ] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Export the enterprise key as a keystore under a new passphrase (a backup)."""
    body = {"password": _password(password), "passphrase": _password(passphrase, "new passphrase")}
    ks = _client(url, token).json("POST", "/v1/keys/export", json=body)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(ks["keystore"], f)
    console.print(f"wrote the keystore of {ks['address']} to {out}")


@wallet_app.command()
def history(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """What happened to the enterprise's assets, and every use recorded on chain."""
    out = _client(url, token).json("GET", "/v1/history")
    if as_json:
        _print_json(out)
        return
    for e in out["events"]:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["at"]))
        console.print(f"{when}  {e['action']:<22} {e['actor']}", highlight=False)
    for u in out["uses"]:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(u["time"]))
        console.print(f"{when}  use #{u['uses']} by {u['grantee']} for {u['purpose']}  "
                      f"tx {u['transactionHash']}", highlight=False)  # fmt: skip


# --- presentations and device keys ------------------------------------------------------------

device_app = typer.Typer(
    name="device",
    help="A phone's P-256 key: make one, delegate assets to it, sign presentations with it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
wallet_app.add_typer(device_app, name="device")


def _expiry(value: str) -> int | str:
    """unix seconds, ISO 8601 (given to the wallet as is), or +30d / +12h."""
    if value.startswith("+") and value[-1] in "dh" and value[1:-1].isdigit():
        return int(time.time()) + int(value[1:-1]) * (86400 if value[-1] == "d" else 3600)
    return int(value) if value.isdigit() else value


def _show_token(out: dict[str, Any], qr_out: Path | None, as_json: bool) -> None:
    if qr_out is not None:
        qr_out.write_text(out["qrSvg"], encoding="utf-8")
    if as_json:
        _print_json({k: v for k, v in out.items() if k != "qrSvg"})
        return
    import segno

    segno.make(out["token"], error="m", boost_error=False).terminal(compact=True)
    console.print(out["token"], highlight=False, soft_wrap=True)
    left = int(out["expiresAt"] - time.time())
    until = time.strftime("%H:%M:%S", time.localtime(out["expiresAt"]))
    written = f"; QR written to {qr_out}" if qr_out else ""
    console.print(f"valid for {left} s (until {until}){written}", highlight=False)


@wallet_app.command()
def present(
    assets: Annotated[list[str], typer.Argument(help="asset ids (licence or material), 1 to 8")],
    audience: Annotated[
        str | None, typer.Option(help="the department (or department/counter) it is for")
    ] = None,
    ttl: Annotated[
        int | None, typer.Option(help="seconds it stays valid (default 120, ≤300)")
    ] = None,
    qr_out: Annotated[
        Path | None, typer.Option("--qr-out", help="write the QR code as SVG")
    ] = None,
    device_key: Annotated[
        Path | None,
        typer.Option("--device-key", help="sign on this machine with a P-256 key (PEM) instead"),
    ] = None,
    chain_id: Annotated[
        int | None, typer.Option("--chain-id", help="with --device-key: the chain (else asked)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Make a presentation token to show at a counter: a QR code and the text a scan gun types."""
    if device_key is None:
        body: dict[str, Any] = {"assetIds": assets, "audience": audience, "ttl": ttl}
        out = _client(url, token).json("POST", "/v1/presentations", json=body)
        _show_token(out, qr_out, as_json)
        return
    from credledger.node.core import presentation as pr
    from credledger.node.core.receipts import parse_hash
    from credledger.wallet.presentations import qr_svg

    try:
        signer = pr.DeviceKeySigner.from_pem(device_key.read_bytes())
    except OSError as exc:
        raise InputError(f"--device-key: cannot read {device_key} ({exc.strerror})") from None
    except ValueError:
        raise InputError(f"--device-key: {device_key} is not a P-256 private key (PEM)") from None
    if chain_id is None:
        chain_id = int(_client(url, auth=False).json("GET", "/v1/info")["chainId"])
    ids = [parse_hash(a, "asset") for a in assets]
    p = pr.create(signer, ids, chain_id, audience, pr.DEFAULT_TTL if ttl is None else ttl)
    tok = p.encode()
    statement = "0x" + p.statement_hash(chain_id).hex()
    out = {"token": tok, "expiresAt": p.expires_at, "qrSvg": qr_svg(tok),
           "statementHash": statement, "presenter": signer.address}  # fmt: skip
    _show_token(out, qr_out, as_json)


@device_app.command("new")
def device_new(
    out: Annotated[Path, typer.Option("--out", help="where to write the private key (PEM, 0600)")],
) -> None:
    """Make a P-256 device key (on a phone it lives in the secure element; this is for trying)."""
    from credledger.node.core import presentation as pr

    if out.exists():
        raise InputError(f"--out: {out} exists; not overwriting a key")
    signer = pr.DeviceKeySigner.generate()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(signer.private_pem())
    console.print(f"device {signer.address}", highlight=False)
    console.print(f"public key {signer.public_key.hex()}", highlight=False)


@device_app.command("register")
def device_register(
    assets: Annotated[list[str], typer.Argument(help="asset ids the device may present")],
    expires: Annotated[str, typer.Option(help="until: unix seconds, ISO 8601, or +30d")],
    public_key: Annotated[
        str | None, typer.Option("--public-key", help="hex of the 04… point, or PEM")
    ] = None,
    key: Annotated[
        Path | None, typer.Option("--key", help="take the public key from this private key PEM")
    ] = None,
    label: Annotated[str | None, typer.Option(help="e.g. 'Zhang's phone'")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Delegate assets to a device key (COUNTER-PRESENTATION grants relayed by the wallet)."""
    if key is not None:
        from credledger.node.core import presentation as pr

        try:
            public_key = pr.DeviceKeySigner.from_pem(key.read_bytes()).public_key.hex()
        except (OSError, ValueError):
            raise InputError(f"--key: {key} is not a readable P-256 private key (PEM)") from None
    if not public_key:
        raise InputError("give --public-key or --key")
    body = {"publicKey": public_key, "assetIds": assets, "expiresAt": _expiry(expires),
            "label": label}  # fmt: skip
    out = _client(url, token).json("POST", "/v1/devices", json=body)
    console.print(
        f"device {out['device']} may present {len(out['grants'])} asset(s)", highlight=False
    )
    for g in out["grants"]:
        console.print(
            f"  grant {g['grantId']} {g['state']}  tx {g['transactionHash']}", highlight=False
        )


# --- grantee ----------------------------------------------------------------------------------


def _grantee_account(key: Path | None, password_file: Path | None, dev: int | None) -> Any:
    from eth_account import Account

    from credledger.node.core.signer import dev_account, load_keystore

    if key is None:
        if dev is None:
            raise InputError(
                "give the grantee key: --key FILE (hex key or keystore) or --dev-account"
            )
        return dev_account(dev)
    text = key.read_text(encoding="utf-8").strip()
    if text.startswith("{"):
        if password_file is None:
            raise InputError("a keystore --key needs --password-file")
        return load_keystore(key, password_file)
    try:
        return Account.from_key(text)
    except Exception:
        raise InputError(f"{key} holds neither a hex private key nor a keystore") from None


@grantee_app.command()
def fetch(
    holder: Annotated[str, typer.Option(help="the holder's address")],
    asset: Annotated[str, typer.Option(help="asset id")],
    purpose: Annotated[str, typer.Option(help="purpose code, e.g. LOAN-APPLICATION")],
    rpc: Annotated[str, typer.Option("--rpc", help="chain RPC URL")],
    key: Annotated[
        Path | None, typer.Option("--key", help="grantee key: hex file or keystore")
    ] = None,
    password_file: Annotated[Path | None, typer.Option("--password-file")] = None,
    dev: Annotated[int | None, typer.Option("--dev-account", help="devnet account")] = None,
    out: Annotated[
        Path, typer.Option("--out", help="folder for the file and the use receipt")
    ] = Path("."),
    url: UrlOpt = None,
) -> None:
    """Record one use on chain (ConsentRegistry.consume), then fetch the asset with it."""
    from credledger.node.core.chain import Chain
    from credledger.node.core.contracts.consent_registry import ConsentRegistry
    from credledger.node.core.receipts import hex32, parse_hash
    from credledger.node.core.tx import TxSender
    from credledger.wallet.reuse import purpose_hash, sign_fetch

    account = _grantee_account(key, password_file, dev)
    client = _client(url, auth=False)
    info = client.json("GET", "/v1/info")
    chain = Chain([rpc])
    if chain.chain_id != info["chainId"]:
        raise InputError(f"--rpc is chain {chain.chain_id}, the wallet uses {info['chainId']}")
    registry = ConsentRegistry(chain, info["consentRegistry"], TxSender(chain, account))
    ph = purpose_hash(purpose)
    aid = parse_hash(asset)
    receipt = registry.consume(holder, aid, ph)
    tx = hex32(bytes(receipt["transactionHash"]))
    console.print(f"use recorded on chain: tx {tx}", highlight=False)
    body = sign_fetch(account, chain.chain_id, info["consentRegistry"], use_transaction=tx,
                      holder=holder, asset_id=hex32(aid), purpose=hex32(ph))  # fmt: skip
    r = client.request("POST", "/v1/uses", json=body)
    out.mkdir(parents=True, exist_ok=True)
    name = _file_name(r.headers.get("content-disposition", "")) or f"{hex32(aid)[2:14]}.bin"
    target = out / name
    target.write_bytes(r.content)
    use = json.loads(base64.urlsafe_b64decode(r.headers["x-credledger-use-receipt"]))
    receipt_path = out / f"{target.name}.use.json"
    receipt_path.write_text(json.dumps(use, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"wrote {target} (use {use['uses']}/{use['maxUses'] or '∞'}) and {receipt_path}")


def _file_name(disposition: str) -> str | None:
    from urllib.parse import unquote

    for part in disposition.split(";"):
        part = part.strip()
        if part.startswith("filename*=UTF-8''"):
            return Path(unquote(part[len("filename*=UTF-8''") :])).name
    for part in disposition.split(";"):
        part = part.strip()
        if part.startswith("filename="):
            return Path(part[len("filename=") :].strip('"')).name
    return None


# --- python -m credledger.wallet --------------------------------------------------------------

app = typer.Typer(
    name="credledger-wallet",
    help="credledger wallet service and commands (also `credledger wallet …`).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(wallet_app, name="wallet")
app.add_typer(grantee_app, name="grantee")


@app.callback()
def _root() -> None:
    """`python -m credledger.wallet wallet …` / `… grantee …`."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: our errors print one line and exit non-zero, no traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    # `python -m credledger.wallet serve` works like `credledger wallet serve`
    if args and args[0] not in ("wallet", "grantee", "--help", "-h"):
        args = ["wallet", *args]
    try:
        app(args=args, standalone_mode=True)
    except CredledgerError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
