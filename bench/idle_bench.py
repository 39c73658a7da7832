"""What an idle node and wallet cost: CPU of both over a chain that makes a block every 2 s.

    .venv/bin/python bench/idle_bench.py          # writes bench/results/idle.json

A real anvil, a real ``credledger up --demo`` node and a real ``python -m credledger.wallet serve``
beside it. The anvil mines instantly while the demo sets itself up (dozens of transactions: with
2-second blocks that alone takes minutes), then makes a block every 2 s (``evm_setAutomine``
off, ``evm_setIntervalMining`` 2: what ``anvil --block-time 2`` does). After they settle (the
demo's anchors confirmed, then ``--settle`` seconds more), nothing calls them for ``--window``
seconds while the user and system CPU time of both process trees is read from
``/proc/<pid>/stat``. The figure is the percent of one
core the two use together; the reference measured in the same window is the anvil itself (a chain
producing empty blocks every 2 s), and the target (issue 17) is under 1 % of a core.

Then, against the same anvil, what the chain layer's hand-written fast paths save per call
(``node/core/contracts/``): the keyed-nonce view (``ConsentRegistry.nonce``, one raw eth_call)
against web3's contract call of the same view, and the indexer's log decoding
(``contracts.events.EventDecoder``) against web3's ``get_event_data``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _infra import ROOT, chain_and_node, write_result
from wallet_bench import start_wallet

from credledger.node.core.chain import Chain

TICK = os.sysconf("SC_CLK_TCK")
BLOCK_TIME = 2
TARGET_PERCENT = 1.0


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    kids, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` (fields 14 and 15 of /proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def anvil_pid(rpc_url: str) -> int:
    port = rpc_url.rsplit(":", 1)[1]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"anvil") and port.encode() in cmd:
                return int(pid)
    raise SystemExit("cannot find the anvil process")


def interval_mining(rpc_url: str, seconds: int) -> None:
    for method, params in (("evm_setAutomine", [False]), ("evm_setIntervalMining", [seconds])):
        answer = httpx.post(
            rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        ).json()
        if "error" in answer:
            raise SystemExit(f"{method}: {answer['error']}")


def settle(node_url: str, timeout: float = 120) -> None:
    """Wait until the node's anchoring queue is empty (the demo's batches confirmed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            health = httpx.get(node_url + "/health", timeout=5).json()
            if health.get("anchoring", {}).get("queueDepth", 1) == 0:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)


def idle_cost(node_pid: int, wallet_pid: int, anvil: int, window: float) -> dict[str, Any]:
    ours = tree(node_pid) + tree(wallet_pid)
    t0, ours0, anvil0 = time.monotonic(), cpu_seconds(ours), cpu_seconds([anvil])
    node0, wallet0 = cpu_seconds(tree(node_pid)), cpu_seconds(tree(wallet_pid))
    time.sleep(window)
    elapsed = time.monotonic() - t0
    node_s = cpu_seconds(tree(node_pid)) - node0
    wallet_s = cpu_seconds(tree(wallet_pid)) - wallet0
    both = cpu_seconds(ours) - ours0
    anvil_s = cpu_seconds([anvil]) - anvil0
    return {
        "window_s": round(elapsed, 1),
        "node_cpu_s": round(node_s, 3),
        "wallet_cpu_s": round(wallet_s, 3),
        "node_and_wallet_percent_of_a_core": round(100 * both / elapsed, 3),
        "node_percent": round(100 * node_s / elapsed, 3),
        "wallet_percent": round(100 * wallet_s / elapsed, 3),
        "anvil_percent_of_a_core": round(100 * anvil_s / elapsed, 3),
        "clock_tick_s": 1 / TICK,
    }


def fast_paths(rpc_url: str, manifest: Path, rounds: int) -> dict[str, Any]:
    """Per-call CPU of the bindings' fast paths against web3's machinery, same anvil."""
    import json

    from web3._utils.events import get_event_data

    from credledger.node.core.contracts.consent_registry import ConsentRegistry
    from credledger.node.core.contracts.events import EventDecoder
    from credledger.node.core.signer import dev_account

    chain = Chain([rpc_url])
    address = json.loads(manifest.read_text())["contracts"]["ConsentRegistry"]["address"]
    registry = ConsentRegistry(chain, address)
    holder, key = dev_account(3).address, 12345
    web3_call = registry.contract.functions.nonces(holder, key)

    def per_call(fn: Any) -> float:
        fn()
        t = time.process_time()
        for _ in range(rounds):
            fn()
        return (time.process_time() - t) / rounds * 1e6

    fast_view = per_call(lambda: registry.nonce(holder, key))
    web3_view = per_call(lambda: web3_call.call())
    # decode: every stored LicenceIssued / Anchored log of the demo, raw from eth_getLogs
    contracts = {n: c["address"] for n, c in json.loads(manifest.read_text())["contracts"].items()}
    decoder = EventDecoder(contracts)
    logs = chain.logs(list(contracts.values()), 0, chain.block_number())
    logs = [raw for raw in logs if decoder.knows(raw)] or logs
    raw_entries = [(decoder.abi_of(raw), _web3_log(raw)) for raw in logs]

    def fast_all() -> None:
        for raw in logs:
            decoder.decode(raw)

    def web3_all() -> None:
        for entry, lg in raw_entries:
            get_event_data(chain.w3.codec, entry, lg)

    n = max(1, len(logs))
    fast_decode = per_call(fast_all) / n
    web3_decode = per_call(web3_all) / n
    return {
        "rounds": rounds,
        "view_fast_us": round(fast_view, 1),
        "view_web3_us": round(web3_view, 1),
        "logs_decoded": len(logs),
        "decode_fast_us_per_log": round(fast_decode, 1),
        "decode_web3_us_per_log": round(web3_decode, 1),
    }


def _web3_log(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": raw["address"],
        "topics": [bytes.fromhex(t[2:]) for t in raw["topics"]],
        "data": bytes.fromhex(raw["data"][2:]),
        "logIndex": int(raw["logIndex"], 16),
        "transactionIndex": int(raw.get("transactionIndex") or "0x0", 16),
        "transactionHash": bytes.fromhex(raw["transactionHash"][2:]),
        "blockHash": bytes.fromhex(raw["blockHash"][2:]),
        "blockNumber": int(raw["blockNumber"], 16),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "idle.json"))
    ap.add_argument("--quick", action="store_true", help="a shorter window")
    ap.add_argument("--window", type=float, default=None, help="seconds measured")
    ap.add_argument("--settle", type=float, default=None, help="seconds after the queue empties")
    args = ap.parse_args()
    window = args.window or (15.0 if args.quick else 30.0)
    settle_s = args.settle if args.settle is not None else (5.0 if args.quick else 10.0)

    with chain_and_node(args=["--demo"]) as run:
        proc, _ = start_wallet(run.workdir, run.rpc_url, run.node_url)
        try:
            interval_mining(run.rpc_url, BLOCK_TIME)
            settle(run.node_url)
            time.sleep(settle_s)
            idle = idle_cost(run.pid, proc.pid, anvil_pid(run.rpc_url), window)
            rounds = 200 if args.quick else 1000
            paths = fast_paths(run.rpc_url, run.workdir / "manifest.json", rounds)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    pct, anvil = idle["node_and_wallet_percent_of_a_core"], idle["anvil_percent_of_a_core"]
    view_ratio = paths["view_web3_us"] / max(paths["view_fast_us"], 1e-9)
    decode_ratio = paths["decode_web3_us_per_log"] / max(paths["decode_fast_us_per_log"], 1e-9)
    ratio = pct / anvil if anvil else float("inf")
    print(
        f"idle node + wallet: {pct:.2f} % of a core (node {idle['node_percent']:.2f} %, "
        f"wallet {idle['wallet_percent']:.2f} %) over {idle['window_s']} s; "
        f"anvil itself {anvil:.2f} % (ratio {ratio:.2f})"
    )
    print(
        f"keyed-nonce view: fast {paths['view_fast_us']} us/call, web3 {paths['view_web3_us']} "
        f"us/call; log decoding: fast {paths['decode_fast_us_per_log']} us/log, web3 "
        f"{paths['decode_web3_us_per_log']} us/log ({paths['logs_decoded']} logs)"
    )
    summary = [
        {
            "benchmark": f"idle node + wallet, a block every {BLOCK_TIME:g} s, "
            f"{idle['window_s']:.0f} s",
            "result": f"{pct:.2f} % of a core (node {idle['node_percent']:.2f} %, "
            f"wallet {idle['wallet_percent']:.2f} %)",
            "reference": f"anvil itself {anvil:.2f} % of a core",
            "ratio": f"{ratio:.2f}",
            "target": f"< {TARGET_PERCENT:g} % of a core",
            "met": pct < TARGET_PERCENT,
            "command": "bench/idle_bench.py",
        },
        {
            "benchmark": "chain layer: keyed-nonce view, CPU per call",
            "result": f"{paths['view_fast_us']} µs (one raw eth_call)",
            "reference": f"web3 contract call {paths['view_web3_us']} µs",
            "ratio": f"{view_ratio:.1f}× less",
            "target": "—",
            "met": None,
            "command": "bench/idle_bench.py",
        },
        {
            "benchmark": "chain layer: event log decoding, CPU per log",
            "result": f"{paths['decode_fast_us_per_log']} µs (ABI words sliced)",
            "reference": f"web3 get_event_data {paths['decode_web3_us_per_log']} µs",
            "ratio": f"{decode_ratio:.1f}× less",
            "target": "—",
            "met": None,
            "command": "bench/idle_bench.py",
        },
    ]
    write_result(
        args.out,
        {
            "benchmark": "idle",
            "block_time_s": BLOCK_TIME,
            "settle_s": settle_s,
            "idle": idle,
            "fast_paths": paths,
            "summary": summary,
        },
    )


if __name__ == "__main__":
    main()
