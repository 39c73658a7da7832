"""Start a real anvil and a real `credledger up` node for the benchmarks; stop them after."""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from credledger.node.auth import hash_token
from credledger.node.devnet import free_port, launch, terminate

ROOT = Path(__file__).resolve().parent.parent
# anchoring needs a token: the benchmarks anchor as a service identity, with limits out of the way
BENCH_TOKEN = "bench-service-token-" + "b" * 32
AUTH = {"Authorization": f"Bearer {BENCH_TOKEN}"}
BENCH_ENV = {
    "CREDLEDGER_API__SERVICE_TOKENS": json.dumps(
        [{"name": "bench", "token_sha256": [hash_token(BENCH_TOKEN)]}]
    ),
    "CREDLEDGER_API__RATE_LIMITS__WRITES_PER_MINUTE": "1000000000",
    "CREDLEDGER_API__RATE_LIMITS__WRITE_BURST": "1000000000",
    "CREDLEDGER_API__RATE_LIMITS__ANCHOR_HASHES_PER_HOUR": "1000000000000",
    "CREDLEDGER_API__RATE_LIMITS__ANCHOR_HASH_BURST": "1000000000",
}


def write_result(out: str | Path, result: dict[str, Any]) -> None:
    """Add the machine and its load to ``result``, write it as JSON and say where."""
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cpus"
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    Path(out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


@dataclass
class Running:
    rpc_url: str
    node_url: str
    workdir: Path
    pid: int = 0  # the node process (for its CPU time)


@contextmanager
def chain_and_node(
    block_time: float | None = None,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
) -> Iterator[Running]:
    with tempfile.TemporaryDirectory(prefix="credledger-bench-") as tmp:
        work = Path(tmp)
        _, info = launch("anvil", free_port(), block_time, work / "anvil.log")
        port = free_port()
        full_env = {
            **os.environ,
            "CREDLEDGER_MANIFEST": str(work / "manifest.json"),
            "CREDLEDGER_DEVNET_DIR": str(work / "devnet"),
            "CREDLEDGER_LOG_LEVEL": "WARNING",
            **BENCH_ENV,
            **(env or {}),
        }
        log = open(work / "node.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "credledger.node.cli", "up", "--rpc", info.rpc_url,
             "--port", str(port),
             "--data-dir", str(work / "data"), "--no-demo", "--no-companions", *args],
            cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"node exited: {(work / 'node.log').read_text()[-2000:]}")
                try:
                    if httpx.get(url + "/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("node did not start")
                time.sleep(0.2)
            yield Running(info.rpc_url, url, work, proc.pid)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
            terminate(info.pid)


# --- wrk (Debian's package; `make bench` installs it) ------------------------------------------

_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


def run_wrk(
    url: str, seconds: int, connections: int, script: Path | None = None
) -> tuple[str, dict[str, Any]]:
    """wrk (1 thread) against ``url``: its output, and requests/s, p50/p99 in ms, the count of
    non-2xx answers and the socket errors."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    dist = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, flags=re.M))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)$", out, flags=re.M)
    if not rps or "99" not in dist:
        raise SystemExit(f"cannot read wrk output:\n{out}")
    return out, {
        "requests_per_second": round(float(rps.group(1)), 1),
        "p50_ms": round(_ms(dist["50"]), 2),
        "p99_ms": round(_ms(dist["99"]), 2),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1).strip() if errors else None,
    }
