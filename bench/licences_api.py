"""Licences through the API on anvil: issuance rate, and the enterprise view's latency for an
enterprise with 24 licences while the chain holds 10,000 licences.

    .venv/bin/python bench/licences_api.py            # writes bench/results/licences_api.json

A real anvil and a real `credledger up --rpc … --demo` node process; the 10,000 background
licences are issued before the node starts, by a separate issuer key in batches of 200, so the
node's indexer has to read them all from the chain like any node joining late.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from eth_hash.auto import keccak

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from credledger.node.core.chain import Chain  # noqa: E402
from credledger.node.core.identifiers import enterprise_subject  # noqa: E402
from credledger.node.core.manifest import addresses  # noqa: E402
from credledger.node.core.signer import dev_account  # noqa: E402
from credledger.node.core.tx import TxSender  # noqa: E402
from credledger.node.demo.licences import DEMO_DEPARTMENTS  # noqa: E402
from credledger.node.deploy import deploy  # noqa: E402
from credledger.node.devnet import free_port, launch, terminate  # noqa: E402
from credledger.node.licences.catalogue import load_catalogue  # noqa: E402
from credledger.node.licences.service import register_catalogue  # noqa: E402

BACKGROUND = 10_000
PER_TX = 200
TARGET = "91440300708461136T"  # the enterprise whose view is timed: 24 licences
ISSUE_N = int(os.environ.get("BENCH_ISSUE_N", "400"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
VIEW_N = 300
MARKET_TOKEN = next(d.token for d in DEMO_DEPARTMENTS if d.name == "market")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def prefill(chain: Chain, registry_address: str, background: int, per_tx: int) -> int:
    admin = TxSender(chain, dev_account(0))
    bulk = TxSender(chain, dev_account(6))
    cat = load_catalogue()
    register_catalogue(chain, registry_address, admin, cat)
    registry = chain.contract("LicenceRegistry", registry_address)
    for t in cat.types:
        admin.send(registry.functions.setAuthorisation(t.type_id, bulk.address, 1))
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    target = enterprise_subject(TARGET)
    types = [t for t in cat.types if t.holder != "person"]
    n = 0
    for b in range(background // per_tx):
        reqs = []
        for i in range(per_tx):
            k = b * per_tx + i
            # one licence of the target enterprise in each of the first 24 batches
            holder = target if (i == 0 and b < 24) else keccak(b"holder%d" % (k % 3000))
            t = types[k % len(types)]
            serial = f"BG-{k:08d}".encode().ljust(32, b"\0")
            reqs.append((t.type_id, serial, holder, "0x" + "00" * 20, keccak(serial), now - 60, 0))
        bulk.send(registry.functions.issueBatch(reqs))
        n += len(reqs)
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "licences_api.json")
    ap.add_argument("--quick", action="store_true", help="1,000 background licences, 100 issued")
    args = ap.parse_args()
    out_path: Path = args.out
    # the target enterprise gets one licence in each of the first 24 prefill transactions
    background, per_tx = (1_000, 40) if args.quick else (BACKGROUND, PER_TX)
    issue_n, view_n = (100, 100) if args.quick else (ISSUE_N, VIEW_N)
    with tempfile.TemporaryDirectory(prefix="credledger-licbench-") as tmp:
        work = Path(tmp)
        _, info = launch("anvil", free_port(), None, work / "anvil.log")
        proc: subprocess.Popen[bytes] | None = None
        try:
            chain = Chain([info.rpc_url])
            manifest_path = work / "manifest.json"
            manifest, _ = deploy(chain, TxSender(chain, dev_account(0)), manifest_path)
            t0 = time.monotonic()
            background = prefill(chain, addresses(manifest)["LicenceRegistry"], background, per_tx)
            prefill_s = time.monotonic() - t0
            port = free_port()
            env = {
                **os.environ,
                "CREDLEDGER_MANIFEST": str(manifest_path),
                "CREDLEDGER_DEVNET_DIR": str(work / "devnet"),
                "CREDLEDGER_LOG_LEVEL": "WARNING",
                "CREDLEDGER_INDEXER__POLL_INTERVAL": "0.2",
            }
            log = open(work / "node.log", "wb")  # noqa: SIM115
            proc = subprocess.Popen(
                [sys.executable, "-m", "credledger.node.cli", "up", "--rpc", info.rpc_url, "--port",
                 str(port), "--data-dir", str(work / "data"), "--demo", "--no-companions"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            log.close()
            base = f"http://127.0.0.1:{port}"
            t0 = time.monotonic()
            head = chain.w3.eth.block_number
            while True:
                if proc.poll() is not None:
                    raise SystemExit((work / "node.log").read_text()[-3000:])
                try:
                    h = httpx.get(base + "/health", timeout=5).json()
                    if h["indexer"]["indexedHeight"] >= head:
                        break
                except (httpx.HTTPError, KeyError):
                    pass
                time.sleep(0.2)
            catch_up_s = time.monotonic() - t0

            # --- issuance through the API ---------------------------------------------------
            now = int(chain.w3.eth.get_block("latest")["timestamp"])

            def body(i: int) -> dict[str, Any]:
                return {
                    "type": "FOOD-OPERATION",
                    "serialNumber": f"API-{i:08d}",
                    "holderUscc": "91310000MA1FL1234Q",
                    "documentHash": "0x" + keccak(b"api%d" % i).hex(),
                    "validFrom": now - 60,
                    "validUntil": now + 365 * 86400,
                }

            headers = {"Authorization": f"Bearer {MARKET_TOKEN}"}
            latencies: list[float] = []

            local = threading.local()

            def client() -> httpx.Client:
                if not hasattr(local, "c"):
                    local.c = httpx.Client(base_url=base, timeout=120)
                c: httpx.Client = local.c
                return c

            def issue(i: int) -> int:
                s = time.monotonic()
                r = client().post("/v1/licences", json=body(i), headers=headers)
                latencies.append(time.monotonic() - s)
                return r.status_code

            t0 = time.monotonic()
            with ThreadPoolExecutor(CLIENTS) as pool:
                codes = list(pool.map(issue, range(issue_n)))
            single_s = time.monotonic() - t0
            assert codes.count(201) == issue_n, {c: codes.count(c) for c in set(codes)}
            issuance = httpx.get(base + "/health", timeout=10).json()["licences"]["issuance"]

            def batch(j: int) -> int:
                items = [body(100_000 + j * 24 + i) for i in range(24)]
                with httpx.Client(base_url=base, timeout=120) as c:
                    r = c.post("/v1/licences:batch", json={"licences": items}, headers=headers)
                    return r.status_code

            batches = 20
            t0 = time.monotonic()
            with ThreadPoolExecutor(4) as pool:
                bcodes = list(pool.map(batch, range(batches)))
            batch_s = time.monotonic() - t0
            assert bcodes.count(201) == batches, bcodes

            # --- enterprise view --------------------------------------------------------------
            view_ms: list[float] = []
            with httpx.Client(base_url=base, timeout=60) as c:
                h = c.get("/health").json()
                while h["indexer"]["indexedHeight"] < chain.w3.eth.block_number:
                    time.sleep(0.2)
                    h = c.get("/health").json()
                for i in range(view_n + 10):
                    s = time.monotonic()
                    r = c.get(f"/v1/enterprises/{TARGET}")
                    ms = (time.monotonic() - s) * 1000
                    assert r.status_code == 200 and len(r.json()["licences"]) == 24, r.text[:300]
                    if i >= 10:
                        view_ms.append(ms)
            registry = chain.contract("LicenceRegistry", addresses(manifest)["LicenceRegistry"])
            total = len(registry.events.LicenceIssued().get_logs(from_block=0))
        finally:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            terminate(info.pid)

    result = {
        "benchmark": "licences_api",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{os.cpu_count()} CPUs, shared (other test runs may compete: rates are floors)",
        "chain": "anvil, instant mining",
        "background_licences": background,
        "licences_on_chain_at_view_time": total,
        "prefill_seconds": round(prefill_s, 1),
        "node_catch_up_seconds": round(catch_up_s, 1),
        "issue_single": {
            "requests": issue_n,
            "clients": CLIENTS,
            "seconds": round(single_s, 2),
            "licences_per_second": round(issue_n / single_s, 1),
            "latency_ms_p50": round(pct(latencies, 50) * 1000, 1),
            "latency_ms_p99": round(pct(latencies, 99) * 1000, 1),
            "node_issuance_counters": issuance,
            "note": "concurrent single issuances of one department share issueBatch transactions "
            "(group commit, node/licences/coalesce.py); the demo's 2 licences are included",
        },
        "issue_batch24": {
            "requests": batches,
            "clients": 4,
            "seconds": round(batch_s, 2),
            "licences_per_second": round(batches * 24 / batch_s, 1),
        },
        "enterprise_view": {
            "licences_in_view": 24,
            "requests": view_n,
            "ms_p50": round(pct(view_ms, 50), 1),
            "ms_p99": round(pct(view_ms, 99), 1),
            "ms_mean": round(statistics.fmean(view_ms), 1),
        },
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
