"""`credledger up`: chain + contracts + node API from one command; Ctrl-C stops everything."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest

from credledger.node.core.demo import DEMO_ENTERPRISE_USCC
from credledger.node.core.errors import ToolchainError
from credledger.node.demo.licences import ADMIN_TOKEN
from credledger.node.devnet import ANVIL_MISSING, DevnetInfo, engine_command, free_port, launch
from credledger.node.devnet import terminate as stop_chain
from tests.conftest import run_cli
from tests.support.node_process import UpProcess
from tests.support.procs import descendants, wait_gone


def _two_demo_licences(r: httpx.Response) -> bool:
    return r.status_code == 200 and len(r.json()["licences"]) == 2


def test_up_serves_health_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    chain_port = free_port()
    node = UpProcess(tmp_path, chain_port=chain_port, demo=None)
    node.start()
    try:
        health = node.wait_ready().json()
        started = descendants(node.proc.pid) if node.proc else set()
        assert health["status"] == "ok"
        assert health["chainId"] == 31337
        assert isinstance(health["latestBlock"], int) and health["latestBlock"] >= 1
        assert "AnchorRegistry" in health["contracts"]
        # strangers see no RPC URL and no signer; the admin token (the demo's here) sees both
        assert "rpcUrl" not in health and "signer" not in health
        wrong = httpx.get(node.url + "/health", headers={"Authorization": "Bearer nope"}).json()
        assert "rpcUrl" not in wrong and "signer" not in wrong
        admin = httpx.get(
            node.url + "/health", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ).json()
        assert admin["rpcUrl"] == f"http://127.0.0.1:{chain_port}"
        assert admin["signer"].startswith("0x") and len(admin["signer"]) == 42
        # everything it wrote is in its data dir; the devnet's manifest too
        manifest = tmp_path / "data" / "deployments" / "31337.json"
        assert json.loads(manifest.read_text())["chainId"] == 31337
        assert (tmp_path / "data" / "anvil.log").is_file()
        assert any("anvil" in Path(f"/proc/{p}/cmdline").read_text() for p in started)
    finally:
        code = node.stop(signal.SIGINT)
    out = node.output()
    assert code == 0, out
    assert "demo      on" in out and "stopped anvil" in out
    assert wait_gone(started, [chain_port, node.port]) == []


def test_sigterm_stops_anvil_too(tmp_path: Path) -> None:
    chain_port = free_port()
    node = UpProcess(tmp_path, chain_port=chain_port, demo=False)
    node.start()
    try:
        node.wait_ready()
        started = descendants(node.proc.pid) if node.proc else set()
        assert started
    finally:
        node.stop(signal.SIGTERM)
    out = node.output()
    assert "demo      off (--no-demo)" in out and "stopped anvil" in out
    assert wait_gone(started, [chain_port, node.port]) == []


@pytest.fixture
def own_anvil(tmp_path: Path) -> DevnetInfo:
    """An anvil of its own: the demo writes to the chain, the session anvil stays clean."""
    _, info = launch("anvil", free_port(), None, tmp_path / "own-anvil.log")
    yield info  # type: ignore[misc]
    stop_chain(info.pid)


def test_rpc_without_scheme_and_the_demo_on_a_local_devnet(
    own_anvil: DevnetInfo, tmp_path: Path
) -> None:
    node = UpProcess(tmp_path, rpc_urls=[f"127.0.0.1:{own_anvil.port}"], demo=None)
    node.start()
    try:
        node.wait_ready(f"/v1/enterprises/{DEMO_ENTERPRISE_USCC}", _two_demo_licences)
    finally:
        assert node.stop() == 0
    out = node.output()
    assert "demo      on: demo departments, tokens and enterprise on chain 31337" in out
    assert "devnet-market-token" in out


@pytest.mark.parametrize(
    "args",
    [
        ["up", "--rpc", "ftp://127.0.0.1:8545"],
        ["up", "--rpc", ","],
        ["deploy", "--rpc", "localhost:99999"],
        ["verify-deployment", "--rpc", "http://"],
        ["verify", "0x" + "00" * 32, "--receipt", "r.json", "--rpc", "127.0.0.1:port"],
    ],
)
def test_a_bad_rpc_is_refused_in_one_line_with_exit_2(args: list[str]) -> None:
    r = run_cli(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert "is not a JSON-RPC URL" in lines[0] or "--rpc is empty" in lines[0], lines
    assert "Traceback" not in r.stderr


def test_deploy_and_verify_accept_host_port(anvil: DevnetInfo, tmp_path: Path) -> None:
    manifest = tmp_path / "m.json"
    hostport = f"127.0.0.1:{anvil.port}"
    r = run_cli("deploy", "--rpc", hostport, "--manifest", str(manifest), "--dev-account", "7")
    assert r.returncode == 0, r.stderr
    r = run_cli(
        "verify-deployment", "--rpc", f"localhost:{anvil.port}", "--manifest", str(manifest)
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("✓") == 4  # the PLAN's four contracts


def test_without_anvil_it_says_in_one_line_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no anvil on PATH, an empty node_modules
    with pytest.raises(ToolchainError) as err:
        engine_command("anvil", free_port(), None, node_modules=tmp_path)
    assert str(err.value) == ANVIL_MISSING and "\n" not in ANVIL_MISSING
    fake = tmp_path / "anvil"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert engine_command("anvil", 1, None, node_modules=tmp_path / "none")[0] == str(fake)
