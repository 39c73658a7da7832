"""The read path under load: verdicts and licence reads next to the same server's trivial endpoint.

    .venv/bin/python bench/read_path_bench.py          # writes bench/results/read_path.json

A real anvil and a real `credledger up --rpc … --demo` node (uvicorn, as users run it). The load
generator is `wrk` (Debian's package; `make bench` installs it) in its own process, 8 connections,
one thread, so the node keeps the other core. Measured in the same run, one after the other:

- trivial: `GET /v1/ping` (a constant through the node's own middleware: what the server itself
  can do) — the reference of every ratio; `GET /openapi.json`, the issue's example of a static
  document, is measured too, but FastAPI renders this node's large schema on every request
  (~0.8 ms), so it is slower than the reads it would be the reference of;
- `GET /v1/licences/{id}`, `GET /v1/enterprises/{uscc}`;
- `POST /v1/verify/document` with the document and the licence id, anonymous (not recorded);
- the same with a clerk token: every check recorded (and anchored) as a verification record.

Targets (issue 11): verify ≥ 0.5× trivial and ≥ 1,500 req/s with p99 < 20 ms; licence and
enterprise reads ≥ 0.5× trivial; recorded verifications ≥ 1,000 req/s.

Each endpoint also records the node process's CPU time per request and its share of one core
during the run (from /proc): on a shared machine the throughput says what the node got, the CPU
per request what it costs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _infra import ROOT, chain_and_node, run_wrk, write_result

USCC = "91310000MA1FL1234Q"
MARKET = "devnet-market-token"
CLERK = "devnet-clerk-token"
CONNECTIONS = 8
BOUNDARY = "credledgerbench"

LUA = """
local f = assert(io.open("{body}", "rb"))
wrk.method = "{method}"
wrk.body = f:read("*a")
f:close()
{headers}
"""


def wrk(url: str, seconds: int, script: Path | None = None) -> dict[str, Any]:
    """Run wrk against ``url``; requests/s, p50/p99 in ms and the count of non-2xx answers."""
    return run_wrk(url, seconds, CONNECTIONS, script)[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc), 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(pid: int, url: str, seconds: int, script: Path | None = None) -> dict[str, Any]:
    """wrk against ``url``, with the node's CPU time per request while it ran."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    m = wrk(url, seconds, script)
    used, elapsed = cpu_seconds(pid) - c0, time.monotonic() - t0
    n = m["requests_per_second"] * seconds
    m["node_cpu_ms_per_request"] = round(1000 * used / n, 3) if n and used else None
    m["node_cpu_share"] = round(used / elapsed, 2) if used else None
    return m


def multipart(fields: dict[str, str], document: bytes) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="document"; '
        f'filename="permit.txt"\r\nContent-Type: text/plain\r\n\r\n'.encode()
        + document
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def lua(work: Path, name: str, body: bytes, headers: dict[str, str]) -> Path:
    body_path = work / f"{name}.body"
    body_path.write_bytes(body)
    lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    script = work / f"{name}.lua"
    script.write_text(LUA.format(body=body_path, method="POST", headers=lines))
    return script


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "read_path.json"))
    ap.add_argument("--quick", action="store_true", help="3 s per endpoint instead of 10 s")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk (make bench does this)")
    seconds = 3 if args.quick else 10
    document = "食品生产许可证 SC10131010500099\n".encode()
    # anonymous verdicts are rate-limited per client address (120/min by default); the bench is
    # one address, so the bucket is opened wide: it measures the verdict, not the limiter
    limits = {
        "CREDLEDGER_API__RATE_LIMITS__PUBLIC_PER_MINUTE": "60000000",
        "CREDLEDGER_API__RATE_LIMITS__PUBLIC_BURST": "1000000",
        "CREDLEDGER_API__RATE_LIMITS__WRITES_PER_MINUTE": "60000000",
        "CREDLEDGER_API__RATE_LIMITS__WRITE_BURST": "1000000",
    }
    with chain_and_node(args=["--demo"], env=limits) as run:
        with httpx.Client(base_url=run.node_url, timeout=60) as c:
            r = c.post(
                "/v1/licences",
                headers={"Authorization": f"Bearer {MARKET}"},
                data={
                    "type": "FOOD-PRODUCTION",
                    "serialNumber": "SC10131010500099",
                    "holderUscc": USCC,
                    "validFrom": "2026-01-01",
                    "validUntil": "2031-12-31",
                },
                files={"document": ("permit.txt", document, "text/plain")},
            )
            r.raise_for_status()
            licence = r.json()["licenceId"]
            # the node has indexed its own write before the first read below
            for _ in range(100):
                if c.get(f"/v1/licences/{licence}").status_code == 200:
                    break
                time.sleep(0.1)
        work = run.workdir
        ctype = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        body = multipart({"licenceId": licence}, document)
        anon = lua(work, "verify", body, ctype)
        clerk = lua(work, "verify-recorded", body, {**ctype, "Authorization": f"Bearer {CLERK}"})
        base = run.node_url
        wrk(base + "/v1/ping", 1)  # warm-up: connections, caches, the indexer's first reads
        pid = run.pid
        measured = {
            "trivial GET /v1/ping": measure(pid, base + "/v1/ping", seconds),
            "GET /openapi.json": measure(pid, base + "/openapi.json", seconds),
            "GET /v1/licences/{id}": measure(pid, f"{base}/v1/licences/{licence}", seconds),
            "GET /v1/enterprises/{uscc}": measure(pid, f"{base}/v1/enterprises/{USCC}", seconds),
            "POST /v1/verify/document": measure(pid, base + "/v1/verify/document", seconds, anon),
            "POST /v1/verify/document, recorded": measure(
                pid, base + "/v1/verify/document", seconds, clerk
            ),
        }
    trivial = measured["trivial GET /v1/ping"]["requests_per_second"]
    for name, m in measured.items():
        m["ratio_to_trivial"] = round(m["requests_per_second"] / trivial, 3)
        print(
            f"{name:40} {m['requests_per_second']:>9} req/s  p50 {m['p50_ms']} ms  "
            f"p99 {m['p99_ms']} ms  ratio {m['ratio_to_trivial']}  non-2xx {m['non_2xx']}  "
            f"node CPU {m['node_cpu_ms_per_request']} ms/req ({m['node_cpu_share']} of a core)"
        )

    def row(name: str, target: str, met: bool) -> dict[str, Any]:
        m = measured[name]
        return {
            "benchmark": f"read path: {name}",
            "result": f"{m['requests_per_second']:,} req/s, p99 {m['p99_ms']} ms"
            + (f" ({m['non_2xx']} non-2xx)" if m["non_2xx"] else "")
            + (
                f", node CPU {m['node_cpu_ms_per_request']} ms/req"
                if m["node_cpu_ms_per_request"]
                else ""
            ),
            "reference": f"trivial GET /v1/ping {trivial:,} req/s",
            "ratio": f"{m['ratio_to_trivial']}×",
            "target": target,
            "met": met and m["non_2xx"] == 0,
            "command": "bench/read_path_bench.py",
        }

    v, rec = measured["POST /v1/verify/document"], measured["POST /v1/verify/document, recorded"]
    summary = [
        row(
            "POST /v1/verify/document",
            "≥ 0.5×, ≥ 1,500 req/s, p99 < 20 ms",
            v["ratio_to_trivial"] >= 0.5 and v["requests_per_second"] >= 1500 and v["p99_ms"] < 20,
        ),
        row(
            "POST /v1/verify/document, recorded",
            "≥ 1,000 req/s",
            rec["requests_per_second"] >= 1000,
        ),
        row(
            "GET /v1/licences/{id}",
            "≥ 0.5×",
            measured["GET /v1/licences/{id}"]["ratio_to_trivial"] >= 0.5,
        ),
        row(
            "GET /v1/enterprises/{uscc}",
            "≥ 0.5×",
            measured["GET /v1/enterprises/{uscc}"]["ratio_to_trivial"] >= 0.5,
        ),
    ]
    write_result(
        args.out,
        {
            "benchmark": "read path",
            "load_generator": f"wrk, 1 thread, {CONNECTIONS} connections, {seconds} s each",
            "server": "credledger up (uvicorn with httptools and uvloop, one process)",
            "reference": "GET /v1/ping, measured first in the same run",
            "endpoints": measured,
            "summary": summary,
        },
    )


if __name__ == "__main__":
    main()
