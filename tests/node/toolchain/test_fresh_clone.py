"""A new developer's first command: `make run` in a fresh clone, then Ctrl-C.

The clone is the working tree as git sees it (tracked files with their uncommitted changes, plus
new files not ignored): no `.credledger/`, no `deployments/`, no build output. It reuses this
checkout's venv and node_modules (symlinked; make is told they are up to date), and the clone's
own code runs: a PYTHONPATH shim maps `credledger.node` / `credledger.wallet` /
`credledger.artifacts` onto the clone's folders, ahead of the venv's editable mapping. Only the
ports are changed (through `UP_ARGS`), so the reserved 8545/8600/8700 stay free.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from credledger.node.core.demo import DEMO_ENTERPRISE_USCC
from credledger.node.devnet import free_port
from tests.support.clone import clone_working_tree
from tests.support.node_process import ROOT
from tests.support.procs import cmdline, descendants, wait_gone

pytestmark = pytest.mark.slow


def _shim(tmp: Path, clone: Path) -> Path:
    pkg = tmp / "shim" / "credledger"
    pkg.mkdir(parents=True)
    (pkg / "node").symlink_to(clone / "node")
    (pkg / "wallet").symlink_to(clone / "wallet")
    (pkg / "artifacts").symlink_to(clone / "contracts" / "artifacts")
    return pkg.parent


def test_make_run_in_a_fresh_clone_answers_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone_working_tree(clone)
    assert (clone / "Makefile").is_file() and (clone / "node" / "cli" / "up_cmd.py").is_file()
    assert not (clone / ".credledger").exists() and not (clone / "deployments").exists()
    (clone / ".venv").symlink_to((ROOT / ".venv").resolve())
    modules = clone / "hardhat-free-devnet" / "node_modules"
    modules.symlink_to((ROOT / "hardhat-free-devnet" / "node_modules").resolve())
    # the venv's build of the same C file
    for so in (ROOT / "node" / "core").glob("_merkle_native*.so"):
        shutil.copy2(so, clone / "node" / "core" / so.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDLEDGER_")}
    env["PYTHONPATH"] = str(_shim(tmp_path, clone))

    port, chain_port, wallet_port = free_port(), free_port(), free_port()
    up_args = f"--port {port} --chain-port {chain_port} --wallet-port {wallet_port}"
    log_path = tmp_path / "make-run.log"
    with open(log_path, "wb") as log:
        make = subprocess.Popen(
            ["make", "-o", ".venv/.installed", "-o", "hardhat-free-devnet/node_modules/.installed",
             "run", f"UP_ARGS={up_args}"],
            cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip

    def output() -> str:
        return log_path.read_text(encoding="utf-8", errors="replace")

    base = f"http://127.0.0.1:{port}"
    started: set[int] = set()
    try:
        demo = None
        deadline = 180.0
        end = time.monotonic() + deadline
        while time.monotonic() < end and demo is None:
            assert make.poll() is None, f"make run exited {make.returncode}:\n{output()[-3000:]}"
            started |= descendants(make.pid)
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    r = httpx.get(f"{base}/v1/enterprises/{DEMO_ENTERPRISE_USCC}", timeout=5)
                    if r.status_code == 200 and len(r.json()["licences"]) == 2:
                        demo = r.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert demo is not None, f"no /health with the demo in {deadline}s:\n{output()[-3000:]}"
        started |= descendants(make.pid)
        health = httpx.get(base + "/health", timeout=5).json()
        assert health["status"] == "ok" and health["chainId"] == 31337
        # the clone's code runs, from the clone: anvil comes from the clone's node_modules path
        anvils = [p for p in started if "anvil" in cmdline(p).split(" ")[0]]
        assert anvils and all(cmdline(p).startswith(str(clone)) for p in anvils), [
            cmdline(p) for p in started
        ]
    finally:
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C in the terminal: the whole foreground group
        try:
            make.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait(timeout=10)
    text = output()
    assert wait_gone(started, [port, chain_port, wallet_port]) == [], text
    assert "stopped anvil" in text and "Traceback" not in text, text
    assert "demo      on" in text
    data = clone / ".credledger"
    assert (data / "anvil.log").is_file() and (data / "deployments" / "31337.json").is_file()
    assert not (clone / "deployments").exists()
