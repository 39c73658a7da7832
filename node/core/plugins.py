"""What other installed packages add to the `credledger` command, found through entry points.

Two groups (documented in docs/architecture.md, "Packages"):

``credledger.cli``
    Each entry point names a ``typer.Typer`` (added as the command group named like the entry
    point, e.g. ``credledger wallet …``) or a callable ``register(app: typer.Typer) -> None``.
``credledger.companions``
    Each entry point names a callable ``companion(ctx: CompanionContext) -> Companion | None``.
    ``credledger up`` calls it once the node's contracts are deployed, spawns the returned argv
    beside the node and stops it (SIGTERM to its process group) when the node stops. ``None``
    means "do not start this time".

The node itself never imports another package of the distribution: whatever a package adds comes
only through these groups, so the node works (and its tests pass) without it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import httpx
import typer

CLI_GROUP = "credledger.cli"
COMPANION_GROUP = "credledger.companions"


def group_entry_points(group: str) -> list[EntryPoint]:
    """The installed entry points of ``group``, sorted by name (duplicates: the first wins)."""
    seen: dict[str, EntryPoint] = {}
    for ep in sorted(entry_points(group=group), key=lambda e: (e.name, e.value)):
        seen.setdefault(ep.name, ep)
    return list(seen.values())


def register_commands(
    app: typer.Typer, warn: Callable[[str], None], eps: Iterable[EntryPoint] | None = None
) -> list[str]:
    """Add every ``credledger.cli`` command group (or ``eps``) to ``app``; return the names.

    A package whose entry point does not load costs one warning line, not the whole command.
    """
    added = []
    for ep in group_entry_points(CLI_GROUP) if eps is None else eps:
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not break the node's own commands
            warn(f"warning: commands {ep.name!r} ({ep.value}) did not load: {exc}")
            continue
        if isinstance(obj, typer.Typer):
            app.add_typer(obj, name=ep.name)
        elif callable(obj):
            obj(app)
        else:
            warn(f"warning: entry point {ep.name!r} is neither a Typer app nor a callable")
            continue
        added.append(ep.name)
    return added


@dataclass(frozen=True)
class CompanionContext:
    """What `credledger up` tells a companion about the node it runs beside."""

    node_url: str  # e.g. http://127.0.0.1:8600
    rpc_urls: list[str]
    chain_id: int
    manifest: Path  # the deployment manifest the node uses
    data_dir: Path  # the node's data dir; a companion keeps its files in data_dir / its name
    ports: dict[str, int]  # ports chosen on the command line, e.g. {"wallet": 8700}
    demo: bool  # the node runs with its demo departments and tokens
    env: dict[str, str] = field(default_factory=dict)  # CREDLEDGER_* environment of the node


@dataclass
class Companion:
    """A process to run beside the node."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # added to the node's environment
    health_url: str | None = None  # `up` reports when this answers 200
    url: str | None = None  # printed for the user
    cwd: Path | None = None
    notes: list[str] = field(default_factory=list)  # printed under the URL once it answers


@dataclass
class RunningCompanion:
    spec: Companion
    proc: subprocess.Popen[bytes]
    log: Path


def companion_specs(
    ctx: CompanionContext, warn: Callable[[str], None], eps: Iterable[EntryPoint] | None = None
) -> list[tuple[str, Companion]]:
    """Ask every ``credledger.companions`` entry point (or ``eps``) what it wants to run."""
    specs = []
    for ep in group_entry_points(COMPANION_GROUP) if eps is None else eps:
        try:
            factory: Any = ep.load()
            spec = factory(ctx)
        except Exception as exc:
            warn(f"warning: companion {ep.name!r} ({ep.value}) was not started: {exc}")
            continue
        if spec is None:
            continue
        if not isinstance(spec, Companion):
            warn(f"warning: companion {ep.name!r} returned {type(spec).__name__}, not Companion")
            continue
        specs.append((ep.name, spec))
    return specs


def start_companion(spec: Companion, log_dir: Path) -> RunningCompanion:
    """Spawn ``spec`` in its own process group, output to ``log_dir/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{spec.name}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            spec.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **spec.env},
            cwd=spec.cwd,
            start_new_session=True,
        )
    return RunningCompanion(spec, proc, log_path)


def report_when_healthy(
    running: RunningCompanion, say: Callable[[str], None], timeout: float = 60.0
) -> threading.Thread:
    """In the background: say when the companion's health URL answers (or that it did not)."""

    def watch() -> None:
        url = running.spec.health_url
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if running.proc.poll() is not None:
                say(f"{running.spec.name} exited with {running.proc.returncode}; see {running.log}")
                return
            if url is None:
                return
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    say(f"{running.spec.name:<9} {running.spec.url or url}  (ready)")
                    for note in running.spec.notes:
                        say(f"{'':<9} {note}")
                    return
            time.sleep(0.3)
        say(f"{running.spec.name} did not answer {url} within {timeout:.0f}s; see {running.log}")

    t = threading.Thread(target=watch, name=f"companion-{running.spec.name}", daemon=True)
    t.start()
    return t
