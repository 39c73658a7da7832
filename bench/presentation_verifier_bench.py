"""The presentation bench with the node's default ``counter.single_use = network`` and every
token bound to this node (audience ``verifier:<its chain account>``, ``GET /v1/verify/audience``):
the fast path of docs/counter.md — every other node refuses such a token, so its single use is
this node's own store and no check waits for a block. Same load, same reference, its own result
file and row.

    .venv/bin/python bench/presentation_verifier_bench.py [--quick] [--out PATH]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import presentation_bench

if __name__ == "__main__":
    if "--out" not in sys.argv:
        out = Path(__file__).resolve().parent / "results" / "presentation_verifier.json"
        sys.argv += ["--out", str(out)]
    sys.argv += ["--single-use", "network", "--audience", "verifier"]
    presentation_bench.main()
