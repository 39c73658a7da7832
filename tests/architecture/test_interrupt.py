"""Interrupting a test run leaves no process behind.

A child pytest (two processes: an xdist controller and one worker, as `make test` runs) loads the
suite's own conftest and runs a generated test that starts what the real tests start: the
session anvil (tests/conftest.py), and `credledger up` (tests/support/node_process.py) with its
own anvil and its wallet companion. Once all of them run, the child pytest gets SIGINT (Ctrl-C)
or SIGTERM (`kill`, `timeout`, or `make` passing its SIGTERM on), and within a bounded time no
process it started may be left. Every such process carries a marker in its environment, so the
check finds them even after they were re-parented or moved to their own sessions.
(tests/support/reaper.py is what makes this hold.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.procs import alive, cmdline
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
MARK = "CREDLEDGER_INTERRUPT_MARK"

CONFTEST = "from tests.conftest import *  # noqa: F403  (the suite's hooks and fixtures)\n"
HOLD = """
import os
import time
from pathlib import Path

from credledger.node.devnet import free_port
from tests.support.node_process import UpProcess


def test_hold(anvil, tmp_path):
    node = UpProcess(
        tmp_path / "up",
        chain_port=free_port(),
        companions=os.environ["HOLD_WALLET"] == "1",
        extra=["--wallet-port", str(free_port())],
    )
    node.start()
    node.wait_ready()
    Path(os.environ["HOLD_READY"]).write_text("ready")
    time.sleep(600)  # until the signal comes
"""


def marked(mark: str) -> dict[int, str]:
    """Live processes whose environment carries ``MARK=mark``: pid -> command line."""
    needle = f"{MARK}={mark}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        pid = int(entry.name)
        if needle in env.split(b"\0") and alive(pid):
            found[pid] = cmdline(pid)
    return found


def kinds(procs: dict[int, str]) -> set[str]:
    """Which of the processes we expect are among ``procs``."""
    found = set()
    for line in procs.values():
        if "anvil" in line.split(" ", 1)[0]:
            found.add("anvil")
        elif "credledger.node.cli up" in line:
            found.add("node")
        elif "credledger.wallet" in line:
            found.add("wallet")
        elif "xdist" in line or "execnet" in line or "-c" in line.split():
            found.add("worker")
    return found


@dataclass
class Run:
    """One child pytest (or `make` running it) in its own folder, with its own marker."""

    name: str
    sig: signal.Signals
    via_make: bool
    folder: Path
    wallet: bool = True  # `credledger up` with its wallet companion
    mark: str = field(default_factory=lambda: uuid.uuid4().hex)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> str:
        return (self.folder / "child.log").read_text(errors="replace")[-3000:]

    def start(self) -> None:
        self.folder.mkdir()
        (self.folder / "conftest.py").write_text(CONFTEST)
        (self.folder / "test_hold.py").write_text(HOLD)
        ini = self.folder / "pytest.ini"
        ini.write_text("[pytest]\n")
        pytest_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
                      str(ini), "--rootdir", str(self.folder), "-n1", "test_hold.py"]  # fmt: skip
        cmd = pytest_cmd
        if self.via_make:
            # a recipe with shell syntax (as `make test PYTEST_ARGS="-k 'a or b'"`): make runs
            # `sh -c …` and passes its SIGTERM to the shell only, which dies without passing it on
            recipe = f"cd {self.folder} && " + " ".join(pytest_cmd)
            (self.folder / "Makefile").write_text(f"hold:\n\t{recipe}\n")
            cmd = ["make", "--no-print-directory", "hold"]
        env = {
            **os.environ,
            MARK: self.mark,
            "HOLD_READY": str(self.folder / "ready"),
            "HOLD_WALLET": "1" if self.wallet else "0",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        with open(self.folder / "child.log", "wb") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=self.folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    def exited(self) -> bool:
        return self.proc is None or self.proc.poll() is not None

    def ready(self) -> bool:
        """Its test holds anvil, the node (and its wallet), and a worker runs it."""
        if not (self.folder / "ready").exists():
            return False
        expected = {"anvil", "node", "worker"} | ({"wallet"} if self.wallet else set())
        return expected <= kinds(marked(self.mark))

    def clean_up(self) -> None:
        """Never leave anything, even when the test fails."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for pid in marked(self.mark):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_an_interrupted_run_leaves_no_process(tmp_path: Path) -> None:
    """The three ways a run is interrupted, side by side (they mostly wait for chains)."""
    runs = [
        Run("Ctrl-C (SIGINT to pytest)", signal.SIGINT, False, tmp_path / "sigint"),
        Run("SIGTERM to pytest", signal.SIGTERM, False, tmp_path / "sigterm"),
    ]
    if shutil.which("make"):
        # the make case is about make: pytest without the wallet there, to save the CPU
        runs.append(Run("SIGTERM to make", signal.SIGTERM, True, tmp_path / "make", False))
    try:
        for run in runs:
            run.start()
        wait_until(
            lambda: all(r.ready() or r.exited() for r in runs), "every child holds its test", 150
        )
        for run in runs:
            assert not run.exited(), f"{run.name}: the child ended early\n{run.log}"
            anvils = [c for c in marked(run.mark).values() if "anvil" in c.split(" ", 1)[0]]
            assert len(anvils) == 2, anvils  # the session's, and `credledger up`'s own
        for run in runs:
            assert run.proc is not None
            run.proc.send_signal(run.sig)
        for run in runs:
            assert run.proc is not None
            run.proc.wait(timeout=60)
        try:
            wait_until(
                lambda: not any(marked(r.mark) for r in runs), "every started process ends", 20
            )
        except AssertionError:
            left = {r.name: marked(r.mark) for r in runs if marked(r.mark)}
            logs = "\n".join(f"--- {r.name}\n{r.log}" for r in runs if r.name in left)
            pytest.fail(f"processes left behind: {left}\n{logs}")
    finally:
        for run in runs:
            run.clean_up()
