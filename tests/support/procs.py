"""What a process started: its descendants (from /proc), whether they still live, free ports."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from credledger.node.devnet import port_free


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of ``pid``, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0]


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` (children, grandchildren …), not ``root`` itself."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None:
                parents.setdefault(st[0], []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_gone(pids: Iterable[int], ports: Iterable[int], timeout: float = 30.0) -> list[str]:
    """Wait until no pid lives and every port is free; return what is still there."""
    pids, ports = set(pids), set(ports)
    deadline = time.monotonic() + timeout
    while True:
        left = [f"pid {p}: {cmdline(p)}" for p in sorted(pids) if alive(p)]
        left += [f"port {p} is still in use" for p in sorted(ports) if not port_free(p)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)
