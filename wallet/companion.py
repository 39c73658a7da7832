"""`credledger up` starts the wallet beside the node (entry point ``credledger.companions``).

Imported only by the node CLI's plugin loader (``credledger.node.core.plugins``), never by the
node's services; the wallet runs in its own process with its data under the node's data dir.
"""

from __future__ import annotations

import sys
from typing import Any


def companion(ctx: Any) -> Any:
    """The wallet service as a companion process of `credledger up`."""
    from credledger.node.core.plugins import Companion  # type: ignore[import-not-found,unused-ignore]

    port = int(ctx.ports.get("wallet", 8700))
    argv = [
        sys.executable, "-m", "credledger.wallet", "serve", "--port", str(port),
        "--node", ctx.node_url, "--rpc", ",".join(ctx.rpc_urls),
        "--manifest", str(ctx.manifest), "--data-dir", str(ctx.data_dir / "wallet"),
    ]  # fmt: skip
    notes = ["wallet page: sign in as the enterprise, present its licences as a QR code"]
    if ctx.demo:
        from credledger.node.core.demo import DEMO_ENTERPRISE_USCC
        from credledger.wallet.demo import DEMO_PASSWORD

        argv.append("--demo")
        notes = [f"wallet page: sign in with USCC {DEMO_ENTERPRISE_USCC}, password {DEMO_PASSWORD}"]
    return Companion(
        name="wallet",
        argv=argv,
        health_url=f"http://127.0.0.1:{port}/v1/ping",
        url=f"http://127.0.0.1:{port}",
        # the devnet demo configures the wallet as a node service with this token
        env={"CREDLEDGER_WALLET_NODE_TOKEN": "devnet-wallet-token"} if ctx.demo else {},
        notes=notes,
    )
