"""The counter's part of the devnet demo (`credledger up` with the demo on).

The demo enterprise's licences are bound to a demo holder, dev account 9 — a public key, which
is why this runs only when ``licences.demo`` is on (devnet chains only) — and `up` prints the
clerk page, the enterprise-code page and a ready presentation token of those licences signed by
the demo holder, so the counter can be tried at once: sign in at ``/clerk`` with the demo clerk
token and paste the token. ``credledger counter demo-token`` prints a fresh one (a token is valid
for at most five minutes and verifies once).
"""

from __future__ import annotations

from collections.abc import Callable

from credledger.node.auth import Principal
from credledger.node.core import presentation as pr
from credledger.node.core.demo import DEMO_ENTERPRISE_USCC, DEMO_HOLDER_DEV_ACCOUNT
from credledger.node.core.signer import dev_account
from credledger.node.demo.licences import CLERK_TOKEN
from credledger.node.licences.service import LicenceService
from credledger.node.runtime import NodeRuntime


def demo_token(chain_id: int, licence_ids: list[bytes], ttl: int = pr.MAX_TTL) -> str:
    """A presentation of ``licence_ids`` by the demo holder (valid ``ttl`` seconds, once)."""
    holder = pr.ChainKeySigner(dev_account(DEMO_HOLDER_DEV_ACCOUNT).key)
    return pr.create(holder, licence_ids, chain_id, ttl=ttl).encode()


def bind_demo_holder(service: LicenceService, say: Callable[[str], None]) -> list[bytes]:
    """Bind the demo enterprise's active licences to the demo holder (once); their ids."""
    holder = dev_account(DEMO_HOLDER_DEV_ACCOUNT).address
    market = Principal("department", "market", "market")
    ids: list[bytes] = []
    for lic in service.enterprise(DEMO_ENTERPRISE_USCC).licences:
        if lic.status != "ACTIVE":
            continue
        lid = bytes.fromhex(lic.licenceId[2:])
        if lic.holderAddress is None:
            service.bind_holder(market, lid, holder, "demo holder (dev account 9)")
            say(f"bound demo {lic.type.get('code')} to the demo holder {holder}")
        elif lic.holderAddress.lower() != holder.lower():
            continue  # bound to someone else: not the demo holder's to present
        ids.append(lid)
    return ids


def prepare(runtime: NodeRuntime, say: Callable[[str], None]) -> None:
    """After the licence demo: bind the holder, print the pages and a ready token."""
    service = runtime.licences
    base = f"http://{runtime.settings.api.host}:{runtime.settings.api.port}"
    say(f"demo clerk page       {base}/clerk  (sign in with {CLERK_TOKEN})")
    say(f"demo enterprise page  {base}/e/{DEMO_ENTERPRISE_USCC}")
    if service is None or runtime.counter is None:
        return
    # `up` starts the workers before the demo: wait for the indexer to reach the demo licences
    runtime.indexer.wait_until(runtime.chain.block_number(), timeout=120)
    ids = bind_demo_holder(service, say)
    if not ids:
        say("counter demo: the demo enterprise has no active licence of the demo holder")
        return
    token = demo_token(runtime.chain.chain_id, ids[: pr.MAX_ASSETS])
    say(f"demo presentation (valid {pr.MAX_TTL // 60} min, once; a fresh one: "
        "credledger counter demo-token)")  # fmt: skip
    say(f"  {token}")
