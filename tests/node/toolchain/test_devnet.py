"""`credledger devnet up|status|down`: starts, reports, and stops exactly its own process."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from credledger.node.devnet import free_port
from tests.conftest import run_cli


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


@pytest.mark.parametrize("engine", ["anvil", "ganache"])
def test_up_status_down_leaves_no_process(engine: str, tmp_path: Path) -> None:
    env = {"CREDLEDGER_DEVNET_DIR": str(tmp_path)}
    port = free_port()
    up = run_cli("devnet", "up", "--engine", engine, "--port", str(port), env=env)
    assert up.returncode == 0, up.stderr
    assert f"http://127.0.0.1:{port}" in up.stdout
    assert "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" in up.stdout  # dev account 0
    pid = json.loads((tmp_path / "devnet.json").read_text())["pid"]
    try:
        assert _alive(pid)
        again = run_cli("devnet", "up", "--engine", engine, "--port", str(port), env=env)
        assert again.returncode == 0
        assert "already running" in again.stdout
        status = run_cli("devnet", "status", env=env)
        assert status.returncode == 0 and str(port) in status.stdout
    finally:
        down = run_cli("devnet", "down", env=env)
    assert down.returncode == 0, down.stderr
    assert f"pid {pid}" in down.stdout
    assert not _alive(pid)
    assert run_cli("devnet", "status", env=env).returncode == 1
    assert "no devnet is running" in run_cli("devnet", "down", env=env).stdout


def test_taken_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = run_cli(
            "devnet", "up", "--port", str(port), env={"CREDLEDGER_DEVNET_DIR": str(tmp_path)}
        )
    assert result.returncode == 2
    assert f"port {port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_engine_is_refused(tmp_path: Path) -> None:
    result = run_cli(
        "devnet", "up", "--engine", "hardhat", env={"CREDLEDGER_DEVNET_DIR": str(tmp_path)}
    )
    assert result.returncode == 2
    assert "unknown engine 'hardhat'" in result.stderr
