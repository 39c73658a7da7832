"""`make chaos`, short: kill -9 of the wallet during a grant burst and of the node during
presentation checks, a chain outage during grants and filings, two nodes presented the same
tokens — every count (lost, duplicated, orphaned, double-accepted, record-less) is 0.

Runs ``scripts/chaos.py --short`` in its own process (its anvil, two nodes and wallet die with it);
about a minute.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from credledger.node.core.paths import ROOT

pytestmark = [pytest.mark.chain, pytest.mark.timeout(300)]


def test_short_fault_run_counts_nothing_lost_duplicated_orphaned_or_double_accepted(
    tmp_path: Path,
) -> None:
    out = tmp_path / "counts.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chaos.py"), "--short", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    print(run.stdout)
    assert out.is_file(), run.stdout + run.stderr[-3000:]
    counts = json.loads(out.read_text())
    assert set(counts) == {"wallet-kill", "chain-outage", "node-kill", "two-nodes"}
    bad = {s: {k: n for k, n in c.items() if n} for s, c in counts.items() if any(c.values())}
    assert not bad, f"{bad}\n{run.stdout}"
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
