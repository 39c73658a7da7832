"""schemathesis over every operation and body of the node's OpenAPI, with and without tokens.

Bounded (a fixed seed, a few dozen examples per operation); the run must find no server error and
no response that does not match the schema (status code, content type, body).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.node.api.conftest import TOKENS
from tests.node.licences.harness import Node

pytestmark = [pytest.mark.chain, pytest.mark.slow]

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)
EXAMPLES = int(os.environ.get("CREDLEDGER_FUZZ_EXAMPLES", "8"))


def _schemathesis(node: Node, report: Path, *headers: str) -> tuple[int, str, dict[str, object]]:
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{node.url}/openapi.json",
        "--checks", CHECKS, "--max-examples", str(EXAMPLES), "--seed", "20261201",
        "--phases", "examples,coverage,fuzzing", "--workers", "1", "--no-shrink",
        "--request-timeout", "30",
        "--report", "ndjson", "--report-ndjson-path", str(report),
        "--suppress-health-check", "all",
    ]  # fmt: skip
    for h in headers:
        cmd += ["--header", h]
    r = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        cwd=report.parent,
    )
    found = re.search(r"(\d+) generated", r.stdout)
    cases = int(found.group(1)) if found else 0
    assert report.exists()
    return r.returncode, r.stdout + r.stderr, {"cases": cases}


# without a token, as a department (every write) and as the admin (type registration)
@pytest.mark.parametrize("who", ["anonymous", "market", "admin"])
def test_schemathesis_finds_no_server_error_or_schema_mismatch(
    hnode: Node, tmp_path: Path, who: str
) -> None:
    headers = [] if who == "anonymous" else [f"Authorization: Bearer {TOKENS[who]}"]
    code, out, stats = _schemathesis(hnode, tmp_path / "events.ndjson", *headers)
    assert code == 0, out[-6000:]
    assert stats["cases"] > 300, out[-2000:]
    assert hnode.proc is not None and hnode.proc.poll() is None
    print(f"schemathesis as {who}: {stats['cases']} cases")
