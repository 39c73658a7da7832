"""What the wallet's commands share: the typer apps, options, the session file, the client.

The wallet URL is ``--wallet``, else ``$CREDLEDGER_WALLET_URL``, else the one ``login`` saved in
the session file, else the one ``credledger up`` recorded in the data dir (``endpoints.json``),
else http://127.0.0.1:8700. Times print in the zone of ``$CREDLEDGER_TIMEZONE`` (Asia/Shanghai),
the zone named.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console

from credledger.node.core import paths
from credledger.node.core.errors import InputError, UnauthorizedError
from credledger.wallet.settings import session_file

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
#: the file in the data dir where `credledger up` records the URLs it serves
ENDPOINTS_FILE = "endpoints.json"
UrlOpt = Annotated[
    str | None, typer.Option("--wallet", envvar="CREDLEDGER_WALLET_URL", help="wallet URL")
]
TokenOpt = Annotated[
    str | None, typer.Option("--token", envvar="CREDLEDGER_WALLET_TOKEN", help="session token")
]


def _session_file() -> Path:
    return session_file()  # $CREDLEDGER_WALLET_SESSION, else the data dir's (wallet/settings.py)


def _saved() -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(_session_file().read_text(encoding="utf-8"))
        return data
    except (OSError, ValueError):
        return {}


def _client(url: str | None, token: str | None = None, *, auth: bool = True) -> Any:
    from credledger.wallet.client import WalletClient

    saved = _saved()
    url = url or saved.get("url") or recorded_url("wallet") or DEFAULT_URL
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


def recorded_url(name: str) -> str | None:
    """The URL `credledger up` recorded for ``name`` (``wallet``, ``node``, ``rpc``)."""
    try:
        data = json.loads((paths.data_dir() / ENDPOINTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = data.get(name) if isinstance(data, dict) else None
    return url if isinstance(url, str) and url else None


def zone() -> dt.tzinfo:
    try:
        return ZoneInfo(os.environ.get("CREDLEDGER_TIMEZONE") or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def when(seconds: float | int, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A unix time in the configured zone with the zone named (``… +08:00``)."""
    t = dt.datetime.fromtimestamp(float(seconds), zone())
    return t.strftime(fmt) + " " + t.strftime("%z")[:3] + ":" + t.strftime("%z")[3:]
