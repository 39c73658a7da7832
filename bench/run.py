"""Run every benchmark in bench/, then print and regenerate the results table.

    make bench            # every script, full size: bench/results/*.json, README tables rewritten
    make bench QUICK=1    # every script, small sizes (under 5 minutes): bench/results/quick/

Every benchmark is a script ``bench/<name>.py`` (files starting with ``_`` and this runner's own
modules are not benchmarks) that accepts ``--out PATH`` and ``--quick`` and writes one JSON result
whose table rows are read by ``bench/report.py``. Each runs in its own process, one after the
other, so no two benchmarks compete for the two cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import report

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
NOT_BENCHMARKS = {"run.py", "report.py"}


def scripts(only: list[str]) -> list[Path]:
    found = sorted(
        p for p in BENCH.glob("*.py") if not p.name.startswith("_") and p.name not in NOT_BENCHMARKS
    )
    return [p for p in found if not only or result_name(p) in only or p.stem in only]


def result_name(script: Path) -> str:
    return script.stem.removesuffix("_bench")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, results in results/quick/")
    ap.add_argument("--only", nargs="*", default=[], help="names of the benchmarks to run")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per benchmark")
    args = ap.parse_args()
    out_dir = BENCH / "results" / ("quick" if args.quick else "")
    out_dir.mkdir(parents=True, exist_ok=True)
    timeout = args.timeout or (240 if args.quick else 3600)
    failed: list[str] = []
    started = time.monotonic()
    for script in scripts(args.only):
        name = result_name(script)
        cmd = [sys.executable, str(script), "--out", str(out_dir / f"{name}.json")]
        if args.quick:
            cmd.append("--quick")
        print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
        t0 = time.monotonic()
        try:
            rc = subprocess.run(cmd, cwd=ROOT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = -1
            print(f"{name}: no result after {timeout:.0f} s", flush=True)
        print(f"=== {name}: exit {rc} after {time.monotonic() - t0:.1f} s", flush=True)
        if rc != 0:
            failed.append(name)
    print(f"\nall benchmarks: {time.monotonic() - started:.0f} s\n")
    table = report.markdown(report.collect(out_dir))
    print(table)
    if not args.quick:
        for doc in (BENCH / "README.md", ROOT / "README.md"):
            report.replace_block(doc, table)
            print(f"updated {doc.relative_to(ROOT)}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
