"""The shared typer app and console; command modules attach to it."""

from __future__ import annotations

from urllib.parse import urlsplit

import typer
from rich.console import Console

from credledger.node.core.errors import ConfigError

app = typer.Typer(
    name="credledger",
    help="credledger: licences, Merkle-anchored documents and consented reuse on an EVM chain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

RPC_SCHEMES = ("http", "https")


def parse_rpc(value: str) -> list[str]:
    """The URLs of an ``--rpc`` value (``URL[,URL…]``); ``host:port`` gets ``http://``.

    Anything that is not an http(s) URL with a host is refused with one line (exit 2).
    """
    urls = []
    for part in value.split(","):
        given = part.strip()
        if not given:
            continue
        url = given if "://" in given else "http://" + given
        try:
            parsed = urlsplit(url)
            parsed.port  # noqa: B018  (raises ValueError on a bad port)
        except ValueError:
            parsed = None
        if parsed is None or parsed.scheme not in RPC_SCHEMES or not parsed.hostname:
            raise ConfigError(
                f"--rpc {given!r} is not a JSON-RPC URL; give one like http://127.0.0.1:8545"
            )
        urls.append(url)
    if not urls:
        raise ConfigError("--rpc is empty; give a JSON-RPC URL like http://127.0.0.1:8545")
    return urls
