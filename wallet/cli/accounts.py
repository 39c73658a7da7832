"""`credledger wallet serve|register|login|logout|export-key|history`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from credledger.wallet.cli.common import (
    PasswordOpt,
    TokenOpt,
    UrlOpt,
    _client,
    _password,
    _print_json,
    _session_file,
    console,
    wallet_app,
    when,
)

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

    from credledger.node.core.http.server import serve as serve_http
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
        serve_http(
            create_app(runtime),
            settings.host,
            settings.port,
            header_timeout=settings.api.header_timeout,
            trusted_proxies=settings.api.trusted_proxies,
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
    until = when(out["expiresAt"], "%Y-%m-%d %H:%M")
    console.print(f"logged in as {out['role']} {out['login']}; session until {until}")


@wallet_app.command()
def logout(url: UrlOpt = None, token: TokenOpt = None) -> None:
    """End the session."""
    _client(url, token).json("DELETE", "/v1/sessions/current")
    _session_file().unlink(missing_ok=True)
    console.print("logged out")


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
        console.print(f"{when(e['at'])}  {e['action']:<22} {e['actor']}", highlight=False)
    for u in out["uses"]:
        console.print(f"{when(u['time'])}  use #{u['uses']} by {u['grantee']} for {u['purpose']}  "
                      f"tx {u['transactionHash']}", highlight=False)  # fmt: skip
