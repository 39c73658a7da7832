"""The wallet service under load, next to the same server's trivial endpoint.

    .venv/bin/python bench/wallet_bench.py          # writes bench/results/wallet.json

A real anvil, a real `credledger up` node and a real `python -m credledger.wallet serve` (uvicorn,
one process, default KDF settings), driven over HTTP by 8 client threads. Measured in one run:

- trivial: ``GET /v1/ping`` (the wallet server itself);
- 1 MB materials filed/s end to end (multipart upload, SHA-256, AES-256-GCM, fsync of file and
  row, answer), and how long until every one of them is anchored through the node;
- grants relayed/s (``POST /v1/grants``: check the asset, sign EIP-712, ``grantBySig`` mined on
  anvil), 4 enterprises so each holder's nonce sequence is its own;
- grantee fetches/s (``POST /v1/uses``: signature, transaction receipt and ``ConsentUsed`` event,
  live grant state, redeem once, decrypt and stream a 64 KB material).

Targets (issue 12): materials ≥ 50/s on 2 cores, grants ≥ 50/s on anvil.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _infra import ROOT, chain_and_node, write_result

from credledger.node.core.chain import Chain
from credledger.node.core.contracts.consent_registry import ConsentRegistry, purpose_of
from credledger.node.core.identifiers import USCC_ALPHABET, is_uscc, uscc_check_char
from credledger.node.core.receipts import hex32, parse_hash
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.node.devnet import free_port
from credledger.wallet.reuse import sign_fetch

THREADS = 8
PASSWORD = "bench password 123"
BANK = 8


def usccs(n: int) -> list[str]:
    out, i = [], 0
    while len(out) < n:
        body = f"9131000{i:010d}"
        i += 1
        code = body + uscc_check_char(body)
        if is_uscc(code) and all(c in USCC_ALPHABET for c in code):
            out.append(code)
    return out


def start_wallet(work: Path, rpc: str, node: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "CREDLEDGER_WALLET_MANIFEST": str(work / "manifest.json"),
           "CREDLEDGER_WALLET_LOG_LEVEL": "WARNING",
           "CREDLEDGER_WALLET_NODE_TOKEN": "devnet-wallet-token"}  # fmt: skip
    log = open(work / "wallet.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "credledger.wallet", "serve", "--port", str(port), "--rpc", rpc,
         "--node", node, "--data-dir", str(work / "wallet")],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"wallet exited: {(work / 'wallet.log').read_text()[-2000:]}")
        try:
            if httpx.get(url + "/v1/ping", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("wallet did not start")
        time.sleep(0.2)


def timed(n: int, work: Callable[[int, httpx.Client], None]) -> dict[str, Any]:
    """Run ``work(i, client)`` for i in range(n) on THREADS threads; rate and latencies."""
    local = threading.local()
    clients: list[httpx.Client] = []
    lat: list[float] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        c = getattr(local, "c", None)
        if c is None:
            c = local.c = httpx.Client(timeout=120)
            with lock:
                clients.append(c)
        t = time.perf_counter()
        work(i, c)
        with lock:
            lat.append(time.perf_counter() - t)

    start = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, range(n)))
    elapsed = time.perf_counter() - start
    for c in clients:
        c.close()
    lat.sort()
    return {
        "count": n,
        "seconds": round(elapsed, 3),
        "per_second": round(n / elapsed, 1),
        "p50_ms": round(lat[len(lat) // 2] * 1000, 1),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "wallet.json"))
    ap.add_argument("--quick", action="store_true", help="small counts")
    args = ap.parse_args()
    n_files, n_grants, n_fetch, n_ping = (60, 60, 60, 1000) if args.quick else (300, 300, 300, 5000)

    with chain_and_node(args=["--demo"]) as run:
        proc, url = start_wallet(run.workdir, run.rpc_url, run.node_url)
        try:
            result = measure(url, run.rpc_url, run.workdir, n_files, n_grants, n_fetch, n_ping)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    write_result(args.out, result)


def measure(
    url: str, rpc: str, work: Path, n_files: int, n_grants: int, n_fetch: int, n_ping: int
) -> dict[str, Any]:
    c = httpx.Client(base_url=url, timeout=120)
    ents = []
    for code in usccs(4):
        address = c.post("/v1/accounts", json={"uscc": code, "name": "基准测试公司",
                                               "password": PASSWORD}).json()["address"]  # fmt: skip
        token = c.post("/v1/sessions", json={"uscc": code, "password": PASSWORD}).json()["token"]
        ents.append((code, address, {"Authorization": f"Bearer {token}"}))
    _, holder, auth = ents[0]

    def ping(_: int, h: httpx.Client) -> None:
        assert h.get(url + "/v1/ping").status_code == 200

    timed(100, ping)  # warm-up
    trivial = timed(n_ping, ping)

    blobs = [os.urandom(1 << 20) for _ in range(THREADS)]
    ids: list[str] = []

    def file(i: int, h: httpx.Client) -> None:
        data = i.to_bytes(8, "big") + blobs[i % THREADS][8:]
        r = h.post(url + "/v1/materials", headers=auth, files={"file": (f"合同{i}.pdf", data)})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])

    filed = timed(n_files, file)
    t0 = time.perf_counter()
    while True:
        states = [m["state"] for m in c.get("/v1/materials", headers=auth).json()["materials"]]
        if all(s == "anchored" for s in states) or time.perf_counter() - t0 > 120:
            break
        time.sleep(0.2)
    filed["all_anchored_after_s"] = round(time.perf_counter() - t0, 2)
    filed["anchored"] = sum(s == "anchored" for s in states)

    # one material per enterprise to grant; grants to fresh grantee addresses
    assets = []
    for _, _, a in ents:
        r = c.post("/v1/materials", headers=a, files={"file": ("审计报告.pdf", os.urandom(4096))})
        assets.append(r.json()["id"])
    from eth_account import Account

    grantees = [Account.create().address for _ in range(n_grants + len(ents))]

    def grant(i: int, h: httpx.Client) -> None:
        k = i % len(ents)
        body = {"assetId": assets[k], "grantee": grantees[i], "purpose": "LOAN-APPLICATION",
                "expiresAt": int(time.time()) + 86400}  # fmt: skip
        r = h.post(url + "/v1/grants", headers=ents[k][2], json=body)
        assert r.status_code == 201, r.text

    # a session's first signature opens the enterprise's keystore (scrypt, N = 2**18, one at a
    # time): once per session, timed apart; the rate below is of sessions already open
    first = []
    for k in range(len(ents)):
        t = time.perf_counter()
        grant(n_grants + k, c)
        first.append(round((time.perf_counter() - t) * 1000, 1))
    grants = timed(n_grants, grant)
    grants["first_grant_of_a_session_ms"] = first

    # fetches: the bank records n uses on chain first (its own cost, not the wallet's)
    files = {"file": ("财务报表.pdf", os.urandom(64 * 1024))}
    small = c.post("/v1/materials", headers=auth, files=files).json()["id"]
    bank = dev_account(BANK)
    c.post("/v1/grants", headers=auth, json={"assetId": small, "grantee": bank.address,
                                             "purpose": "AUDIT",
                                             "expiresAt": int(time.time()) + 86400})  # fmt: skip
    chain = Chain([rpc])
    info = c.get("/v1/info").json()
    registry = ConsentRegistry(chain, info["consentRegistry"], TxSender(chain, bank))
    txs = [
        hex32(bytes(registry.consume(holder, parse_hash(small), purpose_of("AUDIT"))[
            "transactionHash"]))
        for _ in range(n_fetch)
    ]  # fmt: skip
    bodies = [sign_fetch(bank, chain.chain_id, info["consentRegistry"], use_transaction=tx,
                         holder=holder, asset_id=small, purpose=hex32(purpose_of("AUDIT")),
                         ttl=300) for tx in txs]  # fmt: skip

    def fetch(i: int, h: httpx.Client) -> None:
        r = h.post(url + "/v1/uses", json=bodies[i])
        assert r.status_code == 200, r.text

    fetches = timed(n_fetch, fetch)
    c.close()

    def row(name: str, m: dict[str, Any], target: str | None, goal: float | None) -> dict[str, Any]:
        return {
            "benchmark": f"wallet: {name}",
            "result": f"{m['per_second']:,}/s, p99 {m['p99_ms']} ms",
            "reference": f"trivial GET /v1/ping {trivial['per_second']:,}/s",
            "ratio": f"{m['per_second'] / trivial['per_second']:.3f}×",
            "target": target or "",
            "met": None if goal is None else m["per_second"] >= goal,
            "command": "bench/wallet_bench.py",
        }

    for name, m in (("ping", trivial), ("file 1 MB", filed), ("grant", grants),
                    ("fetch", fetches)):  # fmt: skip
        print(f"{name:12} {m['per_second']:>8}/s  p50 {m['p50_ms']} ms  p99 {m['p99_ms']} ms")
    print(f"all {filed['anchored']} materials anchored {filed['all_anchored_after_s']} s after")
    print(
        f"a session's first grant (opens its keystore): {grants['first_grant_of_a_session_ms']} ms"
    )
    return {
        "benchmark": "wallet",
        "load_generator": f"httpx, {THREADS} threads",
        "server": "python -m credledger.wallet serve (uvicorn, one process) + credledger up",
        "endpoints": {
            "trivial GET /v1/ping": trivial,
            "POST /v1/materials (1 MB)": filed,
            "POST /v1/grants": grants,
            "POST /v1/uses": fetches,
        },
        "summary": [
            row("1 MB materials filed (encrypt + fsync)", filed, "≥ 50/s", 50),
            row("grants relayed (grantBySig mined)", grants, "≥ 50/s", 50),
            row("grantee fetches (ConsentUsed checked, 64 KB)", fetches, None, None),
        ],
    }


if __name__ == "__main__":
    main()
