"""Durable ingest through POST /v1/anchors, from this separate load process, beside the same
server's trivial endpoint (GET /docs, a static page: the server's HTTP floor).

    .venv/bin/python bench/ingest_bench.py [--hashes 200000] [--per-request 1000] [--clients 4]

Starts anvil and a real `credledger up` node (WAL + synchronous=FULL, one fsync per request);
the pipeline batches and anchors in the background while the load runs. Every request is a fresh
set of random hashes. Writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _infra import AUTH, ROOT, chain_and_node, write_result


def run_clients(clients: int, work: list[object], fn: object) -> float:
    lock = threading.Lock()
    items = list(work)

    def worker() -> None:
        with httpx.Client(timeout=60) as c:
            while True:
                with lock:
                    if not items:
                        return
                    item = items.pop()
                fn(c, item)  # type: ignore[operator]

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hashes", type=int, default=200_000)
    ap.add_argument("--per-request", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--trivial-requests", type=int, default=2000)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ingest.json"))
    ap.add_argument("--quick", action="store_true", help="20,000 hashes")
    args = ap.parse_args()
    if args.quick:
        args.hashes, args.trivial_requests = 20_000, 500
    n_req = args.hashes // args.per_request
    bodies = [
        json.dumps({"hashes": ["0x" + os.urandom(32).hex() for _ in range(args.per_request)]})
        for _ in range(n_req)
    ]
    with chain_and_node(env={"CREDLEDGER_ANCHORING__BATCH_INTERVAL": "5"}) as run:
        url = run.node_url

        def post(c: httpx.Client, body: str) -> None:
            r = c.post(url + "/v1/anchors", content=body,
                       headers={**AUTH, "content-type": "application/json"})  # fmt: skip
            assert r.status_code == 202, r.text

        def trivial(c: httpx.Client, _: int) -> None:
            assert c.get(url + "/docs").status_code == 200

        run_clients(args.clients, [bodies[0]], post)  # warm-up (counted in the total below)
        t_ingest = run_clients(args.clients, bodies[1:], post)
        t_trivial = run_clients(args.clients, list(range(args.trivial_requests)), trivial)
        health = httpx.get(url + "/health", timeout=30).json()["anchoring"]
    hashes_s = (n_req - 1) * args.per_request / t_ingest
    ingest_rps = (n_req - 1) / t_ingest
    trivial_rps = args.trivial_requests / t_trivial
    result = {
        "benchmark": "durable ingest POST /v1/anchors",
        "hashes": (n_req - 1) * args.per_request,
        "per_request": args.per_request,
        "clients": args.clients,
        "seconds": round(t_ingest, 3),
        "hashes_per_second": round(hashes_s),
        "ingest_requests_per_second": round(ingest_rps, 1),
        "trivial_requests_per_second": round(trivial_rps, 1),
        "ingest_to_trivial_request_ratio": round(ingest_rps / trivial_rps, 3),
        "stored_hashes_after_run": health["pending"] + health["submitted"] + health["confirmed"],
    }
    print(
        f"ingest {result['hashes_per_second']} hashes/s ({ingest_rps:.1f} req/s of "
        f"{args.per_request}); trivial GET /docs {trivial_rps:.1f} req/s; "
        f"ratio {result['ingest_to_trivial_request_ratio']}"
    )
    write_result(args.out, result)


if __name__ == "__main__":
    main()
