"""Indexer catch-up: events indexed per second from a chain that already holds 100,000 licences and
1,000 anchor batches, the enterprise view's latency at that size, and a restart that must not
re-read what was indexed.

    .venv/bin/python bench/indexer_bench.py          # writes bench/results/indexer.json

The chain is built on a real anvil before the node starts (issueBatch of 200 licences by a
separate issuer key; `anchor` transactions by the deployer, which holds ANCHORER_ROLE), so the
node's indexer reads it all like a node joining late. Reference, same run: the time `eth_getLogs`
itself takes to return every event of the two registries (the floor any indexer pays).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from eth_hash.auto import keccak

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _infra import ROOT, write_result
from licences_api import TARGET, pct, prefill

from credledger.node.core.chain import Chain
from credledger.node.core.manifest import addresses
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.node.deploy import deploy
from credledger.node.devnet import free_port, launch, terminate


def start_node(
    rpc: str, work: Path, manifest: Path, port: int
) -> tuple[subprocess.Popen[bytes], str]:
    env = {
        **os.environ,
        "CREDLEDGER_MANIFEST": str(manifest),
        "CREDLEDGER_DEVNET_DIR": str(work / "devnet"),
        "CREDLEDGER_LOG_LEVEL": "WARNING",
        "CREDLEDGER_INDEXER__POLL_INTERVAL": "0.2",
    }
    log = open(work / "node.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "credledger.node.cli", "up", "--rpc", rpc, "--port", str(port),
         "--data-dir", str(work / "data"), "--no-demo"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    log.close()
    return proc, f"http://127.0.0.1:{port}"


def stop_node(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wait_indexed(proc: subprocess.Popen[bytes], url: str, head: int, work: Path) -> dict[str, Any]:
    """Seconds from now until the node has indexed ``head``; the first height it reported."""
    t0 = time.monotonic()
    first: int | None = None
    while True:
        if proc.poll() is not None:
            raise SystemExit((work / "node.log").read_text()[-3000:])
        try:
            h = httpx.get(url + "/health", timeout=5).json()
            height = int(h["indexer"]["indexedHeight"])
            first = height if first is None else first
            if height >= head:
                return {"seconds": time.monotonic() - t0, "first_reported_height": first}
        except (httpx.HTTPError, KeyError, ValueError, TypeError):
            pass
        time.sleep(0.05)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "indexer.json"))
    ap.add_argument("--quick", action="store_true", help="5,000 licences, 50 anchor batches")
    args = ap.parse_args()
    licences, per_tx, anchors = (5_000, 200, 50) if args.quick else (100_000, 200, 1_000)
    with tempfile.TemporaryDirectory(prefix="credledger-idxbench-") as tmp:
        work = Path(tmp)
        _, info = launch("anvil", free_port(), None, work / "anvil.log")
        proc: subprocess.Popen[bytes] | None = None
        try:
            chain = Chain([info.rpc_url])
            deployer = TxSender(chain, dev_account(0))
            manifest_path = work / "manifest.json"
            manifest, _ = deploy(chain, deployer, manifest_path)
            contracts = addresses(manifest)
            t0 = time.monotonic()
            prefill(chain, contracts["LicenceRegistry"], licences, per_tx)
            anchor_registry = chain.contract("AnchorRegistry", contracts["AnchorRegistry"])
            for i in range(anchors):
                deployer.send(anchor_registry.functions.anchor(keccak(b"batch%d" % i), 1024))
            build_s = time.monotonic() - t0
            head = chain.w3.eth.block_number

            # reference: the provider alone returning every event of both registries
            t0 = time.monotonic()
            n_events = 0
            step = 2_000
            for start in range(0, head + 1, step):
                n_events += len(
                    chain.w3.eth.get_logs(
                        {
                            "fromBlock": start,
                            "toBlock": min(head, start + step - 1),
                            "address": [contracts["LicenceRegistry"], contracts["AnchorRegistry"]],
                        }
                    )
                )
            get_logs_s = time.monotonic() - t0

            port = free_port()
            proc, url = start_node(info.rpc_url, work, manifest_path, port)
            first = wait_indexed(proc, url, head, work)
            view_ms: list[float] = []
            with httpx.Client(base_url=url, timeout=60) as c:
                for i in range(110 if not args.quick else 40):
                    s = time.monotonic()
                    r = c.get(f"/v1/enterprises/{TARGET}")
                    if i >= 10:
                        view_ms.append((time.monotonic() - s) * 1000)
                    assert r.status_code == 200 and len(r.json()["licences"]) == 24, r.text[:300]
            stop_node(proc)
            proc, url = start_node(info.rpc_url, work, manifest_path, free_port())
            again = wait_indexed(proc, url, head, work)
        finally:
            if proc is not None:
                stop_node(proc)
            terminate(info.pid)

    # the node's start-up includes the Python interpreter and the app: `first["seconds"]` is a
    # pessimistic bound on indexing alone
    eps = n_events / first["seconds"]
    # the restart has nothing to index: its time is the node's start-up (interpreter, app, read
    # model rebuilt from the database), so the difference is the indexing itself
    # (on a small chain the two are within noise: then there is no figure without start-up)
    indexing_s = first["seconds"] - again["seconds"]
    measurable = indexing_s > 0.1 * first["seconds"]
    without = (
        f"{n_events / indexing_s:,.0f} events/s without the start-up the restart measures"
        if measurable
        else "indexing too short to tell from the node's start-up"
    )
    result: dict[str, Any] = {
        "benchmark": "indexer catch-up",
        "licences_on_chain": licences,
        "anchor_batches_on_chain": anchors,
        "events": n_events,
        "chain_head": head,
        "build_seconds": round(build_s, 1),
        "get_logs_alone_seconds": round(get_logs_s, 2),
        "first_catch_up_seconds": round(first["seconds"], 2),
        "events_indexed_per_second": round(eps),
        "indexing_seconds_without_start_up": round(indexing_s, 2) if measurable else None,
        "events_indexed_per_second_without_start_up": (
            round(n_events / indexing_s) if measurable else None
        ),
        "restart_catch_up_seconds": round(again["seconds"], 2),
        "restart_first_reported_height": again["first_reported_height"],
        "enterprise_view_ms_p50": round(pct(view_ms, 50), 1),
        "enterprise_view_ms_p99": round(pct(view_ms, 99), 1),
        "enterprise_view_ms_mean": round(statistics.fmean(view_ms), 1),
    }
    resumed = again["first_reported_height"] >= head
    result["summary"] = [
        {
            "benchmark": f"indexer catch-up, {licences:,} licences + {anchors:,} anchors",
            "result": f"{eps:,.0f} events/s ({n_events:,} events in {first['seconds']:.1f} s, "
            f"node start-up included; {without})",
            "reference": f"eth_getLogs alone {get_logs_s:.1f} s",
            "ratio": f"{round(first['seconds'] / max(get_logs_s, 1e-9), 1)}× the provider's time",
            "target": "—",
            "met": None,
            "command": "bench/indexer_bench.py",
        },
        {
            "benchmark": "indexer restart on the same chain",
            "result": f"caught up in {again['seconds']:.1f} s; first reported height "
            f"{again['first_reported_height']:,} of {head:,}",
            "reference": f"first catch-up {first['seconds']:.1f} s",
            "ratio": f"{round(again['seconds'] / first['seconds'], 3)}",
            "target": "resumes where it stopped",
            "met": resumed,
            "command": "bench/indexer_bench.py",
        },
        {
            "benchmark": f"enterprise view, 24 licences among {licences:,}",
            "result": f"p50 {result['enterprise_view_ms_p50']} ms, "
            f"p99 {result['enterprise_view_ms_p99']} ms",
            "reference": "—",
            "ratio": "—",
            "target": "—",
            "met": None,
            "command": "bench/indexer_bench.py",
        },
    ]
    for row in result["summary"]:
        print(f"{row['benchmark']}: {row['result']} (reference {row['reference']})")
    write_result(args.out, result)


if __name__ == "__main__":
    main()
