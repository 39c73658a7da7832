"""The presentation bench with the node's default ``counter.single_use = network``: every VALID
answer waits for this node's on-chain spend on the PresentationLedger (docs/counter.md). Same
load, same reference, its own result file and row.

    .venv/bin/python bench/presentation_network_bench.py [--quick] [--out PATH]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import presentation_bench

if __name__ == "__main__":
    if "--out" not in sys.argv:
        out = Path(__file__).resolve().parent / "results" / "presentation_network.json"
        sys.argv += ["--out", str(out)]
    sys.argv += ["--single-use", "network"]
    presentation_bench.main()
