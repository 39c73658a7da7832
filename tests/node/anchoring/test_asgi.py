"""The app runs the whole node under a plain ASGI server: uvicorn's own CLI with the app factory,
no `credledger up` — the lifespan starts the pipeline and the indexer and stops them on exit."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from credledger.node.devnet import free_port
from tests.conftest import ROOT
from tests.node.anchoring.conftest import DevChain
from tests.node.anchoring.harness import AUTH, SERVICE_TOKENS

pytestmark = pytest.mark.chain


def test_uvicorn_factory_runs_the_workers_through_the_lifespan(
    shared_chain: DevChain, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CREDLEDGER_CHAIN__RPC_URLS": json.dumps([shared_chain.rpc_url]),
        "CREDLEDGER_MANIFEST": str(shared_chain.manifest),
        "CREDLEDGER_DATA_DIR": str(tmp_path / "data"),
        "CREDLEDGER_ANCHORING__BATCH_INTERVAL": "0.3",
        "CREDLEDGER_INDEXER__POLL_INTERVAL": "0.2",
        "CREDLEDGER_API__SERVICE_TOKENS": SERVICE_TOKENS,  # anchoring needs a token
    }
    log = open(tmp_path / "uvicorn.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "credledger.node.app:app_from_env",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    log.close()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a loaded 2-core machine starts it slowly
        while True:
            assert proc.poll() is None, (tmp_path / "uvicorn.log").read_text()
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "uvicorn never answered"
            time.sleep(0.2)
        doc = hashlib.sha256(f"asgi-{time.time()}".encode()).digest()
        r = httpx.post(
            base + "/v1/anchors", json={"hashes": ["0x" + doc.hex()]}, headers=AUTH, timeout=30
        )
        assert r.status_code == 202, r.text
        # confirmed: the pipeline worker runs; indexed: so does the indexer
        deadline = time.monotonic() + 60
        while httpx.get(f"{base}/v1/anchors/0x{doc.hex()}").json()["status"] != "confirmed":
            assert time.monotonic() < deadline, "the anchor was never confirmed"
            time.sleep(0.2)
        anchored_in = httpx.get(f"{base}/v1/anchors/0x{doc.hex()}").json()["receipt"]["blockNumber"]
        while httpx.get(base + "/health").json()["indexer"]["indexedHeight"] < anchored_in:
            assert time.monotonic() < deadline, "the indexer never caught up"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert code == 0, (tmp_path / "uvicorn.log").read_text()
    assert "Waiting for application shutdown" in (tmp_path / "uvicorn.log").read_text()
