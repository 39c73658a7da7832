"""schemathesis over every operation and body of the wallet's OpenAPI, without a session and as
an enterprise's legal representative: no request may get a server error (5xx) or a response that is
not the JSON error shape; the wallet process stays up.

Bounded (a fixed seed, a few examples per operation), like the node's run in tests/hardening.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.wallet.conftest import WalletEnv, new_uscc
from tests.wallet.harness import Wallet

pytestmark = [pytest.mark.chain, pytest.mark.slow]

EXAMPLES = int(os.environ.get("CREDLEDGER_FUZZ_EXAMPLES", "6"))


def _schemathesis(
    wallet: Wallet,
    report: Path,
    *headers: str,
    checks: str = "not_a_server_error",
    examples: int = EXAMPLES,
) -> tuple[int, str, int]:
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{wallet.url}/openapi.json",
        "--checks", checks, "--max-examples", str(examples),
        "--seed", "20261202", "--phases", "examples,coverage,fuzzing", "--workers", "1",
        "--no-shrink", "--request-timeout", "60",
        "--report", "ndjson", "--report-ndjson-path", str(report),
        "--suppress-health-check", "all",
    ]  # fmt: skip
    for h in headers:
        cmd += ["--header", h]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                       stdin=subprocess.DEVNULL, cwd=report.parent)  # fmt: skip
    found = re.search(r"(\d+) generated", r.stdout)
    return r.returncode, r.stdout + r.stderr, int(found.group(1)) if found else 0


@pytest.fixture
def fuzzed_wallet(wenv: WalletEnv, tmp_path: Path) -> Iterator[Wallet]:
    """A wallet process of its own: the fuzzer's thousands of failed logins from 127.0.0.1 trip
    the per-address login throttle, which must not lock the session's wallet for later tests."""
    with wenv.own_wallet(tmp_path / "fuzzed", relayer=5) as w:
        yield w


@pytest.mark.parametrize("who", ["anonymous", "legal_rep"])
def test_schemathesis_finds_no_server_error_in_the_wallet(
    fuzzed_wallet: Wallet, tmp_path: Path, who: str
) -> None:
    wallet = fuzzed_wallet
    uscc = new_uscc()
    wallet.register(uscc, "模糊测试公司")
    token = wallet.login(uscc)
    headers = [] if who == "anonymous" else [f"Authorization: Bearer {token}"]
    code, out, cases = _schemathesis(wallet, tmp_path / "events.ndjson", *headers)
    assert code == 0, out[-6000:]
    assert cases > 150, out[-2000:]
    assert wallet.proc is not None and wallet.proc.poll() is None
    # every error the wallet answered is the JSON error shape
    assert wallet.get("/health").json()["status"] in ("ok", "degraded")
    r = wallet.post("/v1/presentations", token, content=b"[" * 100_000,
                    headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code in (400, 413, 422) and json.loads(r.text)["error"], r.text
    print(f"schemathesis on the wallet as {who}: {cases} cases")
