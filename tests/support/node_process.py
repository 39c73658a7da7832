"""The one way tests (and bench/) run `credledger up` as a real subprocess.

``UpProcess`` builds the command line, isolates the run (its own data dir, devnet dir and, if
given, manifest), starts it in its own session so a stop reaches everything it spawned, waits
until it answers, and stops it the way a user does (SIGINT = Ctrl-C).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from credledger.node.auth import hash_token
from credledger.node.devnet import free_port
from tests.support.reaper import tied

ROOT = Path(__file__).resolve().parents[2]
# an admin token for nodes whose tests read the admin-only fields of /health (rpcUrl, signer)
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def admin_env(token: str = ADMIN_TOKEN) -> dict[str, str]:
    """Environment giving a node the admin token ``token`` (overrides a TOML config's list)."""
    return {"CREDLEDGER_LICENCES__ADMIN_TOKEN_SHA256": json.dumps([hash_token(token)])}


Probe = Callable[[httpx.Response], bool]


def health_ok(r: httpx.Response) -> bool:
    return r.status_code == 200


def up_args(
    *,
    port: int,
    rpc_urls: Sequence[str] | None = None,
    chain_port: int | None = None,
    data_dir: Path | None = None,
    demo: bool | None = False,
    companions: bool = False,
    extra: Sequence[str] = (),
) -> list[str]:
    """The arguments after ``credledger``: ``up --port …`` plus what is given.

    ``demo=None`` leaves the default (on for a local devnet); tests that do not need the demo
    default to ``--no-demo``, so their chain holds only what they put there.
    """
    args = ["up", "--port", str(port)]
    if rpc_urls:
        args += ["--rpc", ",".join(rpc_urls)]
    if chain_port is not None:
        args += ["--chain-port", str(chain_port)]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    if demo is not None:
        args.append("--demo" if demo else "--no-demo")
    if not companions:
        args.append("--no-companions")
    return [*args, *extra]


class UpProcess:
    """`credledger up` in a subprocess whose output goes to ``log`` (or a pipe if None)."""

    def __init__(
        self,
        workdir: Path,
        *,
        rpc_urls: Sequence[str] | None = None,
        port: int | None = None,
        chain_port: int | None = None,
        data_dir: Path | None = None,
        manifest: Path | None = None,
        demo: bool | None = False,
        companions: bool = False,
        env: dict[str, str] | None = None,
        extra: Sequence[str] = (),
        command: Sequence[str] = (sys.executable, "-m", "credledger.node.cli"),
        cwd: Path = ROOT,
        log_name: str = "node.log",
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = port if port is not None else free_port()
        self.data_dir = data_dir if data_dir is not None else workdir / "data"
        self.argv = [
            *command,
            *up_args(
                port=self.port,
                rpc_urls=rpc_urls,
                chain_port=chain_port,
                data_dir=self.data_dir,
                demo=demo,
                companions=companions,
                extra=extra,
            ),
        ]
        self.env = {
            **os.environ,
            "CREDLEDGER_DEVNET_DIR": str(workdir / "devnet"),
            **({"CREDLEDGER_MANIFEST": str(manifest)} if manifest is not None else {}),
            **(env or {}),
        }
        self.cwd = cwd
        self.log_name = log_name
        self.log_path = workdir / log_name
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_path: Path | None = None) -> subprocess.Popen[bytes]:
        """Spawn the process (appending to ``log_path``, default ``workdir/log_name``)."""
        self.log_path = log_path or self.workdir / self.log_name
        self.starts += 1
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=tied(),  # dies with the test session, even if it is killed
            )
        return self.proc

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(
        self, path: str = "/health", probe: Probe = health_ok, timeout: float = 90.0
    ) -> httpx.Response:
        """Poll ``path`` until ``probe`` accepts the answer; fail early if the process exits."""
        assert self.proc is not None, "start() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"credledger up exited with {self.proc.returncode}:\n{self.output()[-3000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                r = httpx.get(self.url + path, timeout=2)
                if probe(r):
                    return r
            time.sleep(0.1)
        raise AssertionError(f"{self.url}{path} not ready in {timeout}s:\n{self.output()[-3000:]}")

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 30.0) -> int | None:
        """Send ``sig`` (Ctrl-C by default) and wait; SIGKILL the group if it hangs."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        return proc.returncode

    def kill9(self) -> None:
        """SIGKILL the node process alone (a crash; what it spawned stays, as after a crash)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None
