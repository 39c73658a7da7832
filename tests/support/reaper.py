"""Every process a test session starts dies with it: Ctrl-C, SIGTERM (to pytest, to `make`, by
`timeout`), or a pytest process killed outright.

Three layers, installed in every pytest process (the controller and each xdist worker) by
tests/conftest.py:

- the process is a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``): whatever its children
  start stays below it even when the child that started it dies (a node's anvil, a wallet
  companion), so one /proc walk from ``os.getpid()`` finds everything the tests started, however
  it was started (own sessions, own process groups);
- SIGINT kills that whole tree at once and then raises KeyboardInterrupt as usual (an xdist
  controller first passes the SIGINT on to its workers, which do the same); SIGTERM kills the
  tree and then ends the process as SIGTERM does; at the end of every session
  (``pytest_unconfigure``) and at exit whatever is still there is killed too;
- children the test helpers start (:func:`tied`) get ``PR_SET_PDEATHSIG``: they die when the
  pytest process dies, even by SIGKILL, when no handler runs (``credledger up`` ties its own
  chain the same way); and a pytest process gets SIGTERM when its parent dies (`make` killed
  by SIGTERM dies without passing it on; an xdist controller killed outright).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from credledger.node.devnet import die_with_parent
from tests.support.procs import alive, descendants

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_installed = False
_is_controller = False


def tied() -> Callable[[], None] | None:
    """``preexec_fn`` for a child a test starts: it dies with this pytest process."""
    return die_with_parent()


def _become_subreaper() -> None:
    """Keep orphans below this process; and get SIGTERM when the parent dies (make passes its
    SIGTERM on to the command it runs, but through a shell only to ``sh -c``, which dies and
    leaves pytest running)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _reap() -> None:
    """Collect the exit status of dead children (orphans this subreaper inherited)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_all(timeout: float = 10.0) -> list[int]:
    """SIGKILL every live process below this one until none is left (or ``timeout``)."""
    me = os.getpid()
    killed: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        left = sorted(p for p in descendants(me) if alive(p))
        if not left or time.monotonic() > deadline:
            break
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            if pid not in killed:
                killed.append(pid)
        time.sleep(0.02)
        _reap()
    _reap()
    return killed


def _workers() -> list[int]:
    """This controller's direct children (its xdist workers)."""
    me = os.getpid()
    return [p for p in descendants(me) if alive(p) and _parent(p) == me]


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _on_sigint(signum: int, frame: FrameType | None) -> Any:
    if _is_controller:
        for pid in _workers():  # each worker kills its own tree, then reports the interrupt
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
    else:
        kill_all()
    raise KeyboardInterrupt


def _on_sigterm(signum: int, frame: FrameType | None) -> Any:
    kill_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def install(is_controller: bool) -> None:
    """Make this pytest process the reaper of everything below it (idempotent).

    ``is_controller``: an xdist controller (it runs no tests; its workers do)."""
    global _installed, _is_controller
    _is_controller = is_controller
    if _installed:
        return
    _installed = True
    _become_subreaper()
    signal.signal(signal.SIGINT, _on_sigint)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGHUP, _on_sigterm)
    atexit.register(kill_all, 5.0)
