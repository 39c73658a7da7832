"""End to end: submit -> confirmed latency on anvil with 2 s blocks, and gas per anchored doc.

    .venv/bin/python bench/e2e_bench.py [--requests 40] [--per-request 25] [--spacing 0.5]

Latency: a client submits a request every --spacing seconds and polls each hash until the node
reports it confirmed; p50/p95 over all hashes, beside the target batch_interval + 2 blocks.
Gas: batches of 1,024 and 4,096 leaves (max_batch 4096) anchored by the same node; gasUsed of
each anchor transaction divided by its leaves. Writes bench/results/e2e.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _infra import AUTH, ROOT, chain_and_node, write_result

BLOCK_TIME = 2.0
BATCH_INTERVAL = 5.0


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def wait_confirmed(c: httpx.Client, url: str, hashes: list[str], timeout: float) -> dict[str, dict]:  # type: ignore[type-arg]
    done: dict[str, dict] = {}  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while len(done) < len(hashes) and time.monotonic() < deadline:
        for h in hashes:
            if h not in done:
                rec = c.get(f"{url}/v1/anchors/{h}").json()
                if rec["status"] == "confirmed":
                    done[h] = rec
        time.sleep(0.2)
    return done


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--per-request", type=int, default=25)
    ap.add_argument("--spacing", type=float, default=0.5)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "e2e.json"))
    ap.add_argument("--quick", action="store_true", help="10 requests")
    args = ap.parse_args()
    if args.quick:
        args.requests = 10
    env = {"CREDLEDGER_ANCHORING__BATCH_INTERVAL": str(BATCH_INTERVAL)}
    latencies: list[float] = []
    lock = threading.Lock()
    with chain_and_node(block_time=BLOCK_TIME, env=env) as run:
        url = run.node_url

        def one(hashes: list[str]) -> None:
            with httpx.Client(timeout=60) as c:
                t0 = time.monotonic()
                r = c.post(f"{url}/v1/anchors", json={"hashes": hashes}, headers=AUTH)
                assert r.status_code == 202, r.text
                pending = set(hashes)
                while pending and time.monotonic() - t0 < 120:
                    for h in list(pending):
                        if c.get(f"{url}/v1/anchors/{h}").json()["status"] == "confirmed":
                            pending.discard(h)
                            with lock:
                                latencies.append(time.monotonic() - t0)
                    time.sleep(0.1)

        threads = []
        for _ in range(args.requests):
            hs = ["0x" + os.urandom(32).hex() for _ in range(args.per_request)]
            t = threading.Thread(target=one, args=(hs,))
            t.start()
            threads.append(t)
            time.sleep(args.spacing)
        for t in threads:
            t.join()

        # gas per document at 1,024 and 4,096 leaves
        gas = {}
        with httpx.Client(timeout=60) as c:
            from web3 import Web3

            w3 = Web3(Web3.HTTPProvider(run.rpc_url))
            for leaves in (1024, 4096):
                time.sleep(BATCH_INTERVAL + BLOCK_TIME)  # the previous batch is closed
                hs = ["0x" + os.urandom(32).hex() for _ in range(leaves)]
                for i in range(0, leaves, 1000):
                    assert (
                        c.post(
                            f"{url}/v1/anchors", json={"hashes": hs[i : i + 1000]}, headers=AUTH
                        ).status_code
                        == 202
                    )
                recs = wait_confirmed(c, url, hs[:1] + hs[-1:], 60)
                roots = {r["root"] for r in recs.values()}
                assert len(roots) == 1, "the leaves were split over several batches"
                rec = next(iter(recs.values()))
                assert rec["receipt"]["leafCount"] == leaves
                used = w3.eth.get_transaction_receipt(rec["transactionHash"])["gasUsed"]
                gas[leaves] = {"gas_used": used, "gas_per_doc": round(used / leaves, 2)}
    result = {
        "benchmark": "end to end submit -> confirmed, anvil 2 s blocks",
        "block_time_s": BLOCK_TIME,
        "batch_interval_s": BATCH_INTERVAL,
        "hashes": len(latencies),
        "p50_s": round(pct(latencies, 50), 2),
        "p95_s": round(pct(latencies, 95), 2),
        "max_s": round(max(latencies), 2),
        "mean_s": round(statistics.mean(latencies), 2),
        "target_p95_s": BATCH_INTERVAL + 2 * BLOCK_TIME,
        "gas": gas,
    }
    print(
        f"p50 {result['p50_s']}s p95 {result['p95_s']}s (target <= {result['target_p95_s']}s); "
        f"gas/doc {gas[1024]['gas_per_doc']} @1024 (target <= 46), "
        f"{gas[4096]['gas_per_doc']} @4096 (target <= 12)"
    )
    write_result(args.out, result)


if __name__ == "__main__":
    main()
