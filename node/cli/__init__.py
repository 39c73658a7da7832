"""The `credledger` command. Each module below registers its commands on the shared app."""

from __future__ import annotations

import sys

import credledger.node.cli.anchor_cmds  # noqa: F401  (registers commands)
from credledger.node.cli import (  # noqa: F401  (registers commands)
    chain_cmds,
    counter_cmds,
    licence_cmds,
    seal_cmds,
    seal_key_cmds,
    up_cmd,
    vc_cmds,
)
from credledger.node.cli._app import app, err_console
from credledger.node.core.errors import CredledgerError
from credledger.node.core.plugins import register_commands

# command groups of other installed packages (entry point group `credledger.cli`, e.g. the wallet)
register_commands(app, lambda line: err_console.print(line, highlight=False))


def main() -> None:
    """Entry point: run the app; our errors print one line and exit non-zero, no traceback."""
    try:
        app()
    except CredledgerError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


__all__ = ["app", "main"]
