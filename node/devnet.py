"""Local devnet chains started from the pinned npm toolchain in ``hardhat-free-devnet/``.

``start`` launches anvil or ganache on a loopback port, waits until it answers JSON-RPC, and
records its pid and log in a state folder so that ``stop`` ends exactly the process it started.
Both engines use the same development mnemonic, so dev account N is the same address on each.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from credledger.node.core import paths
from credledger.node.core.chain import wait_for_rpc
from credledger.node.core.errors import ConfigError, RpcUnavailableError, ToolchainError
from credledger.node.core.signer import (
    DEV_ACCOUNT_COUNT,
    DEV_BALANCE_ETH,
    DEV_MNEMONIC,
    dev_account,
)

Engine = Literal["anvil", "ganache"]
CHAIN_IDS: dict[str, int] = {"anvil": 31337, "ganache": 1337}
ANVIL_MISSING = (
    "anvil not found (neither in hardhat-free-devnet/node_modules nor on PATH): in a checkout run "
    "`make setup`, elsewhere install Foundry's anvil on PATH, or give --rpc URL of a running chain"
)


@dataclass
class DevnetInfo:
    engine: str
    pid: int
    port: int
    rpc_url: str
    chain_id: int
    log: str
    block_time: float | None

    def accounts(self) -> list[str]:
        return [dev_account(i).address for i in range(DEV_ACCOUNT_COUNT)]


def engine_command(
    engine: Engine, port: int, block_time: float | None, node_modules: Path = paths.NODE_MODULES
) -> list[str]:
    if engine == "anvil":
        exe = paths.find_anvil(node_modules)
        if exe is None:
            raise ToolchainError(ANVIL_MISSING)
        cmd = [
            str(exe),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--chain-id", str(CHAIN_IDS["anvil"]),
            "--mnemonic", DEV_MNEMONIC,
            "--accounts", str(DEV_ACCOUNT_COUNT),
            "--balance", str(DEV_BALANCE_ETH),
        ]  # fmt: skip
        if block_time:
            cmd += ["--block-time", str(block_time)]
        return cmd
    if engine == "ganache":
        cli = node_modules / "ganache" / "dist" / "node" / "cli.js"
        if not cli.is_file():
            raise ToolchainError("ganache is not installed: run `npm ci` in hardhat-free-devnet/")
        cmd = [
            "node",
            str(cli),
            "--server.host", "127.0.0.1",
            "--server.port", str(port),
            "--chain.chainId", str(CHAIN_IDS["ganache"]),
            "--wallet.mnemonic", DEV_MNEMONIC,
            "--wallet.totalAccounts", str(DEV_ACCOUNT_COUNT),
            "--wallet.defaultBalance", str(DEV_BALANCE_ETH),
            "--logging.quiet",
        ]  # fmt: skip
        if block_time:
            cmd += ["--miner.blockTime", str(block_time)]
        return cmd
    raise ConfigError(f"unknown devnet engine {engine!r}; choose anvil or ganache")


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child die (SIGKILL) when this process dies, even by
    SIGKILL (Linux ``PR_SET_PDEATHSIG``); None elsewhere, or off the main thread (the signal
    follows the thread that started the child, and a worker thread may end before it)."""
    if _PRCTL is None or threading.current_thread() is not threading.main_thread():
        return None
    prctl, parent = _PRCTL, os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return preexec


def _libc_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl()  # resolved here: nothing is looked up in the forked child


def launch(
    engine: Engine,
    port: int,
    block_time: float | None = None,
    log_path: Path | None = None,
    timeout: float = 60.0,
    *,
    tied: bool = False,
) -> tuple[subprocess.Popen[bytes], DevnetInfo]:
    """Start a chain process and wait until it answers; the caller owns the process.

    ``tied``: the chain dies with this process, however it ends (`credledger up`'s own chain,
    the tests' chains); the background devnet of `credledger devnet up` is not tied."""
    if not port_free(port):
        raise ConfigError(f"port {port} is already in use; choose another with --port")
    cmd = engine_command(engine, port, block_time)
    log_file = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            cmd, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=die_with_parent() if tied else None,
        )  # fmt: skip
    finally:
        if log_path:
            log_file.close()  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    try:
        chain_id = wait_for_rpc(url, timeout)
    except RpcUnavailableError:
        terminate(proc.pid)
        where = f"; see {log_path}" if log_path else ""
        raise ToolchainError(f"{engine} did not start on port {port}{where}") from None
    info = DevnetInfo(engine, proc.pid, port, url, chain_id, str(log_path or ""), block_time)
    return proc, info


def terminate(pid: int, timeout: float = 10.0) -> None:
    """Stop the process group led by ``pid``: SIGTERM, then SIGKILL after ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    while _alive(pid) and time.monotonic() < deadline + 5:
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie that is not our child still answers kill(0); check its state
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    except OSError:
        return False


class DevnetManager:
    """The one background devnet of `credledger devnet up|status|down`, tracked in a folder."""

    def __init__(self, state_dir: Path | None = None) -> None:
        env = os.environ.get("CREDLEDGER_DEVNET_DIR")
        self.state_dir = state_dir or (Path(env) if env else paths.data_dir() / "devnet")
        self.state_file = self.state_dir / "devnet.json"

    def current(self) -> DevnetInfo | None:
        """The running devnet, or None; forgets a recorded one whose process is gone."""
        if not self.state_file.is_file():
            return None
        info = DevnetInfo(**json.loads(self.state_file.read_text()))
        if not self._is_ours(info):
            self.state_file.unlink(missing_ok=True)
            return None
        return info

    def _is_ours(self, info: DevnetInfo) -> bool:
        if not _alive(info.pid):
            return False
        try:
            cmdline = Path(f"/proc/{info.pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            return False
        return info.engine.encode() in cmdline and str(info.port).encode() in cmdline

    def up(
        self, engine: Engine = "anvil", port: int = 8545, block_time: float | None = None
    ) -> tuple[DevnetInfo, bool]:
        """Start the devnet unless one runs; return (info, started_now)."""
        existing = self.current()
        if existing is not None:
            return existing, False
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.state_dir / f"{engine}.log"
        _, info = launch(engine, port, block_time, log_path)
        self.state_file.write_text(json.dumps(asdict(info), indent=2))
        return info, True

    def down(self) -> DevnetInfo | None:
        info = self.current()
        if info is None:
            return None
        terminate(info.pid)
        self.state_file.unlink(missing_ok=True)
        return info
