"""One chain layer: nothing outside it touches web3's ``eth`` module or a contract's functions.

The chain layer is ``node/core/chain.py`` (the connection, raw reads), ``node/core/tx.py``
(signing, nonces, sending) and the typed bindings in ``node/core/contracts/`` (every contract
read, write and event decode, with the fast paths that a benchmark justified). Every other module
of the node and the wallet goes through them; this test greps for the ways around them.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("node", "wallet")
CHAIN_LAYER = ("node/core/chain.py", "node/core/tx.py", "node/core/contracts/")

# web3's eth module, a contract's functions or events, raw JSON-RPC, web3's log decoder
BYPASSES = re.compile(
    r"\bw3\.eth\b"
    r"|\.functions\b"
    r"|\.contract\.(events|functions|encode_abi|caller)\b"
    r"|\bmake_request\("
    r"|\bget_event_data\b"
    r"|\bprovider\.make_request\b"
)


def offenders_in(text: str) -> list[str]:
    """The lines of ``text`` that go around the chain layer (comments and docstrings too: a
    mention that is not code is cheap to reword)."""
    return [line.strip() for line in text.splitlines() if BYPASSES.search(line)]


def in_chain_layer(path: str) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in CHAIN_LAYER)


def test_nothing_outside_the_chain_layer_touches_web3_directly() -> None:
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if in_chain_layer(rel):
                continue
            lines = offenders_in(path.read_text(encoding="utf-8"))
            if lines:
                found[rel] = lines
    assert found == {}, (
        "these modules go around the chain layer (use Chain / TxSender / the bindings in "
        f"node/core/contracts, or add the method there): {found}"
    )


def test_the_grep_finds_a_planted_offender() -> None:
    planted = {
        "head = chain.w3.eth.block_number": True,
        "registry.contract.functions.grantBySig(req, d, sig)": True,
        "registry.contract.events.ConsentUsed()": True,
        "self.chain.provider.make_request(RPCEndpoint('eth_call'), [])": True,
        "data = get_event_data(codec, entry, log)": True,
        "head = chain.block_number()": False,
        "registry.grant_by_sig(request, deadline, signature)": False,
        "self.functionsmith = 1": False,
    }
    for line, bad in planted.items():
        assert bool(offenders_in(f"x = 1\n    {line}\n")) is bad, line
    assert in_chain_layer("node/core/contracts/consent_registry.py")
    assert in_chain_layer("node/core/chain.py")
    assert not in_chain_layer("node/core/chain_extra.py")
    assert not in_chain_layer("node/indexer.py")
