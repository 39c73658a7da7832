"""The fault suite (`make chaos`): kill -9s, a chain outage and two nodes, on real processes.

One anvil with the contracts, a market-regulation node (N1), a replica of it with its own chain
key (N2) and a wallet process, started with the tests' process helpers (every child dies with
this script). Four scenarios, each counting what must never happen:

- ``wallet-kill``: bursts of grant requests (each with an ``Idempotency-Key``) while the wallet
  is killed with SIGKILL; restart, every client retries with its key;
- ``chain-outage``: anvil is stopped (SIGSTOP) during grants and filings, then resumed; clients
  retry what failed;
- ``node-kill``: presentation checks at N1 while it is killed with SIGKILL; restart; every token
  is presented again;
- ``two-nodes``: the same tokens (no audience, audience ``market``, bound to N1's verifier
  audience) at N1 and N2, one after the other and at once.

Counts: **lost** (an acknowledged grant, filing or verification the system no longer has),
**duplicated** (a grant slot granted twice on chain), **orphaned** (a grant on chain the wallet
does not list after restart), **double-accepted** (a single-use token VALID twice), **record-less**
(a spent token without its verification record). All must be 0, and so must **errors** (a
request that should have succeeded and did not: then the run proves nothing); exit code 1
otherwise.

    .venv/bin/python scripts/chaos.py            # the full run (a few minutes)
    .venv/bin/python scripts/chaos.py --short    # the CI run (tests/chaos/test_chaos_short.py)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the tests' process helpers
    sys.path.insert(0, str(ROOT))

from eth_account import Account  # noqa: E402

from credledger.node.auth import TokenBook, hash_token  # noqa: E402
from credledger.node.core import presentation as pr  # noqa: E402
from credledger.node.core.chain import Chain  # noqa: E402
from credledger.node.core.contracts.anchor_registry import AnchorRegistry  # noqa: E402
from credledger.node.core.contracts.consent_registry import (  # noqa: E402
    ConsentRegistry,
    grant_key,
)
from credledger.node.core.manifest import addresses  # noqa: E402
from credledger.node.core.receipts import hex32  # noqa: E402
from credledger.node.core.signer import dev_account  # noqa: E402
from credledger.node.core.tx import TxSender  # noqa: E402
from credledger.node.departments import Department, Departments  # noqa: E402
from credledger.node.deploy import deploy  # noqa: E402
from credledger.node.devnet import free_port, launch, terminate  # noqa: E402
from credledger.node.licences.catalogue import load_catalogue  # noqa: E402
from credledger.node.licences.service import (  # noqa: E402
    authorise_departments,
    register_catalogue,
)
from tests.node.licences.harness import Node, toml_config  # noqa: E402
from tests.wallet.harness import WALLET_NODE_TOKEN, Wallet  # noqa: E402

COUNTS = ("lost", "duplicated", "orphaned", "double-accepted", "record-less")
MARKET_TOKEN = "tok-chaos-market-" + "a" * 32
CLERK_TOKEN = "tok-chaos-clerk-" + "c" * 32
HOLDER = dev_account(6)  # signs presentation tokens; licences are bound to it
RECOVERY = 20.0  # seconds after a restart by which everything must be back


@dataclass(frozen=True)
class Size:
    bursts: int  # wallet kills
    burst: int  # grant requests per burst
    tokens: int  # presentations checked during a node kill
    pairs: int  # tokens presented at both nodes
    outage: float  # seconds anvil is stopped
    outage_grants: int
    outage_filings: int


SHORT = Size(bursts=1, burst=16, tokens=16, pairs=4, outage=3.0, outage_grants=4, outage_filings=3)
FULL = Size(bursts=4, burst=50, tokens=40, pairs=12, outage=10.0, outage_grants=12,
            outage_filings=8)  # fmt: skip


@dataclass
class Result:
    scenario: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0  # requests that should have succeeded and did not (the run proves nothing)


def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if check():
                return True
        time.sleep(0.25)
    return False


@dataclass
class World:
    chain: Chain
    anvil_pid: int
    contracts: dict[str, str]
    n1: Node
    n2: Node
    wallet: Wallet

    @property
    def consent(self) -> ConsentRegistry:
        return ConsentRegistry(self.chain, self.contracts["ConsentRegistry"])

    def enterprise(self) -> tuple[str, str, str]:
        """(uscc, holder address, session token) of a newly registered enterprise."""
        from tests.wallet.conftest import new_uscc  # the USCC generator of the wallet tests

        uscc = new_uscc()
        out = self.wallet.register(uscc, "上海故障测试有限公司")
        return uscc, str(out["address"]), self.wallet.login(uscc)

    def slots_on_chain(self, holder: str) -> Counter[str]:
        """ConsentGranted events of ``holder`` per grant id (a slot granted twice counts 2)."""
        events = self.consent._logs("ConsentGranted", 0, holder=holder)
        return Counter(
            hex32(grant_key(holder, bytes(a["assetId"]), a["grantee"], bytes(a["purpose"])))
            for a in (e["args"] for e in events)
        )

    def listed(self, token: str) -> set[str]:
        r = self.wallet.get("/v1/grants", token)
        return {g["grantId"] for g in r.json()["grants"]} if r.status_code == 200 else set()


@contextlib.contextmanager
def world(tmp: Path) -> Iterator[World]:
    catalogue = load_catalogue()
    market = [t.code for t in catalogue.types if t.category != "MED"]
    _, info = launch("anvil", free_port(), None, tmp / "anvil.log", tied=True)
    started: list[Node | Wallet] = []
    try:
        chain = Chain([info.rpc_url])
        admin = TxSender(chain, dev_account(0))
        manifest_path = tmp / "manifest.json"
        manifest, _ = deploy(chain, admin, manifest_path)
        contracts = addresses(manifest)
        register_catalogue(chain, contracts["LicenceRegistry"], admin, catalogue)
        dept = Department("market", "market", TxSender(chain, dev_account(1)),
                          frozenset(market), frozenset(market))  # fmt: skip
        authorise_departments(chain, contracts["LicenceRegistry"], admin,
                              Departments([dept], TokenBook()))  # fmt: skip
        # N2 anchors its verification records with its own key (dev account 5)
        anchors = AnchorRegistry(chain, contracts["AnchorRegistry"], admin)
        anchors.grant_anchorer(dev_account(5).address)
        config = toml_config(
            departments=[{"name": "market", "dev_account": 1, "token": MARKET_TOKEN,
                          "issues": market, "supervises": market}],
            clerks=[{"name": "counter-1", "department": "market", "token": CLERK_TOKEN}],
            admin_tokens=[],
        )  # fmt: skip
        n1 = Node("N1", info.rpc_url, tmp / "n1", manifest_path, config, signer_dev_account=0)
        n1.env["CREDLEDGER_API__SERVICE_TOKENS"] = json.dumps(
            [{"name": "wallet", "token_sha256": [hash_token(WALLET_NODE_TOKEN)]}]
        )
        n2 = Node("N2", info.rpc_url, tmp / "n2", manifest_path, config, signer_dev_account=5)
        wallet = Wallet(tmp / "wallet", info.rpc_url, n1.url, manifest_path)
        for p in (n1, n2, wallet):
            p.start()
            started.append(p)
        yield World(chain, info.pid, contracts, n1, n2, wallet)
    finally:
        for p in reversed(started):
            with contextlib.suppress(Exception):
                p.stop()
        terminate(info.pid)


# --- the wallet: kill -9 during grant bursts, a chain outage during grants and filings ----------


def _send_grants(
    w: World, token: str, requests: list[tuple[str, dict[str, Any]]], timeout: float = 60
) -> dict[str, dict[str, Any]]:
    answered: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def send(item: tuple[str, dict[str, Any]]) -> None:
        key, body = item
        try:
            r = httpx.post(f"{w.wallet.url}/v1/grants", json=body, timeout=timeout,
                           headers={"Authorization": f"Bearer {token}",
                                    "Idempotency-Key": key})  # fmt: skip
        except httpx.HTTPError:
            return
        if r.status_code == 201:
            with lock:
                answered[key] = r.json()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, requests))
    return answered


def _grant_requests(asset: str, n: int) -> list[tuple[str, dict[str, Any]]]:
    expires = int(time.time()) + 3600
    return [
        (
            secrets.token_hex(8),
            {
                "assetId": asset,
                "grantee": Account.create().address,
                "purpose": "AUDIT",
                "expiresAt": expires,
            },
        )
        for _ in range(n)
    ]


def _settle_grants(
    w: World, res: Result, uscc: str, holder: str,
    requests: list[tuple[str, dict[str, Any]]], answered: dict[str, dict[str, Any]],
) -> None:  # fmt: skip
    """After a restart: count orphans (on chain, not listed), retry every request with its key,
    then count lost (acknowledged, not on chain or not listed) and duplicated slots."""
    token = w.wallet.login(uscc)
    on_chain = set(w.slots_on_chain(holder))
    wait_for(lambda: on_chain <= w.listed(token), RECOVERY)
    res.counts["orphaned"] += len(on_chain - w.listed(token))
    again = _send_grants(w, token, requests)
    res.errors += len(requests) - len(again)
    res.notes.append(f"{len(answered)}/{len(requests)} answered before, {len(again)} on retry")
    slots = w.slots_on_chain(holder)
    listed = w.listed(token)
    acked = {a["grantId"] for a in answered.values()}
    res.counts["lost"] += len({g for g in acked if g not in slots or g not in listed})
    res.counts["duplicated"] += sum(n - 1 for n in slots.values() if n > 1)
    res.counts["orphaned"] += len(set(slots) - listed)


def _anchored_material(w: World, token: str, label: str) -> str:
    m = w.wallet.file(
        token, f"{label}.pdf", f"{label} {time.time()} {secrets.token_hex(4)}".encode()
    )
    w.wallet.wait_state(token, m["id"], "anchored", timeout=60)
    return str(m["id"])


def _burst(w: World, res: Result, size: Size, label: str) -> None:
    uscc, holder, token = w.enterprise()
    asset = _anchored_material(w, token, label)
    requests = _grant_requests(asset, size.burst)
    box: dict[str, dict[str, Any]] = {}
    sender = threading.Thread(target=lambda: box.update(_send_grants(w, token, requests)))
    sender.start()
    wait_for(lambda: len(w.slots_on_chain(holder)) >= max(2, size.burst // 5), 60)
    w.wallet.kill()
    sender.join(timeout=120)
    w.wallet.start()
    _settle_grants(w, res, uscc, holder, requests, box)


def wallet_kill(w: World, size: Size) -> Result:
    res = Result("wallet-kill")
    for b in range(size.bursts):
        _burst(w, res, size, f"burst-{b}")
    return res


def chain_outage(w: World, size: Size) -> Result:
    res = Result("chain-outage")
    uscc, holder, token = w.enterprise()
    asset = _anchored_material(w, token, "outage")
    requests = _grant_requests(asset, size.outage_grants)
    filed: list[str] = []

    def file_some() -> None:
        for i in range(size.outage_filings):
            with contextlib.suppress(httpx.HTTPError):
                r = w.wallet.post("/v1/materials", token,
                                  files={"file": (f"发票-{i}.pdf", os.urandom(300))})  # fmt: skip
                if r.status_code == 201:
                    filed.append(r.json()["id"])

    give_up = max(1.5, size.outage / 2)  # some clients give up during the outage and retry
    os.kill(w.anvil_pid, signal.SIGSTOP)
    try:
        box: dict[str, dict[str, Any]] = {}
        threads = [
            threading.Thread(target=lambda: box.update(_send_grants(w, token, requests, give_up))),
            threading.Thread(target=file_some),
        ]
        for t in threads:
            t.start()
        time.sleep(size.outage)
    finally:
        os.kill(w.anvil_pid, signal.SIGCONT)
    for t in threads:
        t.join(timeout=120)
    _settle_grants(w, res, uscc, holder, requests, box)

    def anchored(mid: str) -> bool:
        return bool(w.wallet.get(f"/v1/materials/{mid}", token).json()["state"] != "pending")

    wait_for(lambda: all(anchored(m) for m in filed), 60)
    res.counts["lost"] += sum(1 for m in filed if not anchored(m))
    res.notes.append(f"{len(filed)}/{size.outage_filings} filings acknowledged")
    return res


# --- the node: kill -9 during presentation checks, two nodes presented the same tokens ----------


def _issue(w: World) -> bytes:
    body = {
        "type": "FOOD-OPERATION",
        "serialNumber": f"CHAOS-{secrets.token_hex(6)}",
        "documentHash": "0x" + secrets.token_hex(32),
        "validFrom": "2024-01-01",
        "validUntil": "2036-12-31",
        "holderUscc": "91310000MA1FL1234Q",
        "holderAddress": HOLDER.address,
    }
    r = w.n1.post("/v1/licences", MARKET_TOKEN, json=body)
    if r.status_code != 201:
        raise SystemExit(f"could not issue a licence: {r.status_code} {r.text}")
    height = w.chain.block_number()
    for n in (w.n1, w.n2):
        n.wait_indexed(height, timeout=30)
    return bytes.fromhex(r.json()["licenceId"][2:])


def _check(node: Node, token: str) -> dict[str, Any] | None:
    try:
        r = httpx.post(f"{node.url}/v1/verify/presentation", json={"token": token}, timeout=60,
                       headers={"Authorization": f"Bearer {CLERK_TOKEN}"})  # fmt: skip
    except httpx.HTTPError:
        return None
    return r.json() if r.status_code == 200 else None


def _valid(answer: dict[str, Any] | None) -> bool:
    return answer is not None and answer.get("verdict") == "VALID"


def _record_ok(node: Node, verification_id: str) -> bool:
    return node.get(f"/v1/verifications/{verification_id}").status_code == 200


def node_kill(w: World, size: Size) -> Result:
    res = Result("node-kill")
    licence = _issue(w)
    chain_id = w.chain.chain_id
    tokens = [pr.create(pr.ChainKeySigner(HOLDER.key), [licence], chain_id)
              for _ in range(size.tokens)]  # fmt: skip
    answered: dict[int, dict[str, Any]] = {}

    def send(i: int) -> None:
        a = _check(w.n1, tokens[i].encode())
        if a is not None:
            answered[i] = a

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(tokens))]
    for th in threads:
        th.start()
    wait_for(lambda: len(answered) >= max(2, size.tokens // 8), 60)
    w.n1.kill9()
    for th in threads:
        th.join(timeout=90)
    w.n1.start()
    time.sleep(2)  # a reconciler may finish what the kill left pending
    valid_at = Counter(i for i, a in answered.items() if _valid(a))
    # acknowledged VALID answers keep their record
    for a in answered.values():
        if _valid(a) and not _record_ok(w.n1, a["verification"]["id"]):
            res.counts["lost"] += 1
    # every token again: a spent token is REPLAYED and its statement has a VALID record
    for i, t in enumerate(tokens):
        again = _check(w.n1, t.encode())
        if again is None:
            res.errors += 1
            continue
        if _valid(again):
            valid_at[i] += 1
            continue
        statement = "0x" + t.statement_hash(chain_id).hex()
        checks = w.n1.get(f"/v1/presentations/{statement}").json().get("verifications", [])
        first = [c for c in checks if c.get("verdict") == "VALID"]
        if not first or not _record_ok(w.n1, first[0]["id"]):
            res.counts["record-less"] += 1
    res.counts["double-accepted"] += sum(1 for n in valid_at.values() if n > 1)
    res.notes.append(f"{len(answered)}/{len(tokens)} answered before the kill")
    return res


def two_nodes(w: World, size: Size) -> Result:
    res = Result("two-nodes")
    licence = _issue(w)
    chain_id = w.chain.chain_id
    bound = w.n1.get("/v1/verify/audience").json()["audience"]  # N1 alone: its own store
    for audience in (None, "market", bound):
        # one after the other: N1 then N2
        for _ in range(size.pairs):
            t = pr.create(pr.ChainKeySigner(HOLDER.key), [licence], chain_id, audience).encode()
            answers = [_check(w.n1, t), _check(w.n2, t)]
            res.counts["double-accepted"] += int(sum(map(_valid, answers)) > 1)
            res.errors += int(not any(map(_valid, answers)))
        # at once
        for _ in range(size.pairs):
            t = pr.create(pr.ChainKeySigner(HOLDER.key), [licence], chain_id, audience).encode()
            with ThreadPoolExecutor(2) as pool:
                answers = list(pool.map(lambda n, tok=t: _check(n, tok), (w.n1, w.n2)))
            res.counts["double-accepted"] += int(sum(map(_valid, answers)) > 1)
            res.errors += int(not any(map(_valid, answers)))
    res.notes.append(
        f"{6 * size.pairs} tokens at N1 and N2 (no audience, audience market, bound to N1)"
    )
    return res


SCENARIOS: dict[str, Callable[[World, Size], Result]] = {
    "wallet-kill": wallet_kill,
    "chain-outage": chain_outage,
    "node-kill": node_kill,
    "two-nodes": two_nodes,
}


def table(results: list[Result]) -> str:
    head = (
        f"{'scenario':<14}" + "".join(f"{c:>17}" for c in COUNTS) + f"{'errors':>8}{'seconds':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(f"{r.scenario:<14}" + "".join(f"{r.counts[c]:>17}" for c in COUNTS)
                     + f"{r.errors:>8}{r.seconds:>9.1f}")  # fmt: skip
    total = {c: sum(r.counts[c] for r in results) for c in COUNTS}
    lines.append(f"{'total':<14}" + "".join(f"{total[c]:>17}" for c in COUNTS)
                 + f"{sum(r.errors for r in results):>8}")  # fmt: skip
    for r in results:
        lines.extend(f"  {r.scenario}: {n}" for n in r.notes)
    return "\n".join(lines)


def run(size: Size, only: list[str], workdir: Path) -> list[Result]:
    results: list[Result] = []
    with world(workdir) as w:
        for name in only:
            t0 = time.monotonic()
            res = SCENARIOS[name](w, size)
            res.seconds = time.monotonic() - t0
            results.append(res)
            print(f"{name}: {res.counts}", file=sys.stderr, flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--short", action="store_true", help="the CI size (one burst, a few tokens)")
    ap.add_argument("--only", nargs="*", choices=list(SCENARIOS), default=list(SCENARIOS))
    ap.add_argument("--json", type=Path, help="also write the counts to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = ap.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="credledger-chaos-"))
    results = run(SHORT if args.short else FULL, args.only, workdir)
    print(table(results))
    if args.json:
        args.json.write_text(
            json.dumps({r.scenario: {**r.counts, "errors": r.errors} for r in results}, indent=2)
        )
    if args.keep:
        print(f"logs in {workdir}")
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if any(any(r.counts.values()) or r.errors for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
