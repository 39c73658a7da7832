"""`credledger counter …`: the counter's developer commands (a fresh demo presentation)."""

from __future__ import annotations

from typing import Annotated

import typer

from credledger.node.cli._app import app, console
from credledger.node.cli.licence_cmds import DEFAULT_NODE, NodeOpt, _call
from credledger.node.core import paths
from credledger.node.core.errors import InputError

counter_app = typer.Typer(help="The counter: presentations a clerk verifies.", no_args_is_help=True)
app.add_typer(counter_app, name="counter")


@counter_app.command("demo-token")
def demo_token(
    node: NodeOpt = DEFAULT_NODE,
    ttl: Annotated[int, typer.Option(help="validity in seconds (at most 300)")] = 300,
) -> None:
    """A fresh presentation of the demo enterprise's licences (all bound to the demo holder, a
    suspended one too), signed by that holder (dev account 9; local devnets with the demo only).
    Paste it on the clerk page."""
    from credledger.node.core.demo import DEMO_ENTERPRISE_USCC, DEMO_HOLDER_DEV_ACCOUNT
    from credledger.node.core.signer import dev_account
    from credledger.node.demo import counter as demo

    chain_id = int(_call("GET", node, "/health")["chainId"])
    if chain_id not in paths.DEVNET_CHAIN_IDS:
        raise InputError(f"chain {chain_id} is not a local devnet: the demo holder key is public")
    holder = dev_account(DEMO_HOLDER_DEV_ACCOUNT).address.lower()
    ent = _call("GET", node, f"/v1/enterprises/{DEMO_ENTERPRISE_USCC}")
    # every licence bound to the demo holder, whatever its status: a suspended one is in the
    # token, so the clerk sees it SUSPENDED (docs/counter.md's walk-through)
    ids = [
        bytes.fromhex(lic["licenceId"][2:])
        for lic in ent.get("licences", [])
        if str(lic.get("holderAddress") or "").lower() == holder
    ]
    if not ids:
        raise InputError("the demo enterprise has no licence bound to the demo holder (--demo?)")
    console.print(demo.demo_token(chain_id, ids[:8], ttl=ttl), highlight=False, soft_wrap=True)
