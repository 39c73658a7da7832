"""The shared typer app and console; command modules attach to it."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="credledger",
    help="credledger: licences, Merkle-anchored documents and consented reuse on an EVM chain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
