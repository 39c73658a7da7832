"""`credledger up`: chain + contracts + node API from one command; Ctrl-C stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from credledger.node.devnet import free_port, port_free
from tests.conftest import ROOT


def _wait_health(url: str, proc: subprocess.Popen[str], timeout: float = 90) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"credledger up exited early: {proc.communicate()}")
        try:
            r = httpx.get(url, timeout=2)
            if r.status_code == 200:
                body: dict[str, object] = r.json()
                return body
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("health never answered")


def test_up_serves_health_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    api_port, chain_port = free_port(), free_port()
    env = {
        **os.environ,
        "CREDLEDGER_DEVNET_DIR": str(tmp_path / "devnet"),
        "CREDLEDGER_MANIFEST": str(tmp_path / "manifest.json"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "credledger.node.cli", "up", "--port", str(api_port),
         "--chain-port", str(chain_port), "--data-dir", str(tmp_path / "data")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        health = _wait_health(f"http://127.0.0.1:{api_port}/health", proc)
        assert health["status"] == "ok"
        assert health["chainId"] == 31337
        assert isinstance(health["latestBlock"], int) and health["latestBlock"] >= 1
        contracts = health["contracts"]
        assert isinstance(contracts, dict) and "AnchorRegistry" in contracts
        assert (tmp_path / "manifest.json").is_file()
        assert not port_free(chain_port)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped anvil" in out
    assert port_free(chain_port) and port_free(api_port)
