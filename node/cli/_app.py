"""The shared typer app and console; command modules attach to it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import typer
from rich.console import Console

from credledger.node.core import paths
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


# --- what `up` started ----------------------------------------------------------------------

#: the file in the data dir where `up` records the URLs it serves (node, wallet, chain)
ENDPOINTS_FILE = "endpoints.json"
DEFAULT_NODE_URL = "http://127.0.0.1:8600"


def endpoints_path(data_dir: Path | None = None) -> Path:
    return paths.data_dir(data_dir) / ENDPOINTS_FILE


def record_endpoints(data_dir: Path, urls: dict[str, str]) -> Path:
    """Write what `up` serves, so the CLI finds it without flags or variables."""
    path = data_dir / ENDPOINTS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**urls, "pid": os.getpid()}, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def recorded_url(name: str) -> str | None:
    """The URL `up` recorded for ``name`` (``node``, ``wallet``, ``rpc``) in the data dir
    ($CREDLEDGER_DATA_DIR or .credledger/), if any."""
    try:
        data = json.loads(endpoints_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = data.get(name) if isinstance(data, dict) else None
    return url if isinstance(url, str) and url else None


def node_url(given: str | None) -> str:
    """--node / $CREDLEDGER_NODE_URL, else what `up` recorded, else http://127.0.0.1:8600."""
    return given or recorded_url("node") or DEFAULT_NODE_URL
