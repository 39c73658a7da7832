"""`credledger wallet …` and `credledger grantee …` (typer + rich; errors are one line).

``wallet_app`` and ``grantee_app`` are typer apps the node's CLI mounts as ``wallet`` and
``grantee``; ``python -m credledger.wallet`` runs the same commands (``serve``, ``register`` …,
and ``grantee fetch``). The session token of ``login`` is kept in a 0600 file
(``CREDLEDGER_WALLET_SESSION``, default .credledger/wallet-session.json) or given by --token.
Modules: ``common`` (apps, options, session, client), ``accounts``, ``address_book``, ``assets``,
``present``, ``grantee`` (their commands).
"""

from __future__ import annotations

import sys

import typer

from credledger.node.core.errors import CredledgerError
from credledger.wallet.cli import (  # noqa: F401  (commands)
    accounts,
    address_book,
    assets,
    grantee,
    present,
)
from credledger.wallet.cli.common import err_console, grantee_app, wallet_app
from credledger.wallet.cli.openid4vp import openid4vp_app

wallet_app.add_typer(openid4vp_app, name="openid4vp")

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


__all__ = ["app", "grantee_app", "main", "wallet_app"]
