"""The import graph: no cycles (not even under TYPE_CHECKING or inside functions), every module
imports in a fresh interpreter, and the boundaries hold: the core library (``node/core``: chain,
bindings, EIP-712, Merkle/receipts, errors, settings helpers, SQLite, HTTP hardening) imports
nothing outside itself, the wallet imports nothing of the node but the core, the node never imports
the wallet, and no two folders (rooms) import each other in a cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = {"credledger.node": ROOT / "node", "credledger.wallet": ROOT / "wallet"}

# the core library: what a second package (the wallet) may import, and all that it imports
CORE = "credledger.node.core"


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """Every module of ours that ``path`` imports, wherever the import statement is."""
    out: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
                break  # the most specific module the statement names
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(path, name, known) for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def closure(g: dict[str, set[str]], roots: list[str]) -> set[str]:
    """Everything importing ``roots`` executes (a module's parent packages included)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(g.get(m, ()))
        parent = m.rpartition(".")[0]
        if parent in g:
            todo.append(parent)
    return seen


def test_the_import_graph_has_no_cycle() -> None:
    g = graph()
    assert len(g) > 50  # it found the modules
    assert cycles(g) == []


def test_the_graph_checker_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_core_imports_nothing_outside_itself() -> None:
    g = graph()
    core = [m for m in g if _inside(m, CORE)]
    assert len(core) > 20  # it found the core
    outside = sorted(
        (m, dep)
        for m in core
        for dep in g[m]
        if not _inside(dep, CORE) and dep not in ("credledger.node",)
    )
    assert outside == []


def test_the_wallet_imports_only_the_core_of_the_node() -> None:
    g = graph()
    wallet = [m for m in g if _inside(m, "credledger.wallet")]
    assert len(wallet) > 20
    outside = sorted(
        (m, dep)
        for m in wallet
        for dep in g[m]
        if _inside(dep, "credledger.node") and not _inside(dep, CORE)
    )
    assert outside == []


def test_the_node_never_imports_the_wallet() -> None:
    g = graph()
    node = [m for m in g if m.startswith("credledger.node")]
    assert sorted((m, w) for m in node for w in g[m] if w.startswith("credledger.wallet")) == []


def room(module: str, packages: set[str]) -> str:
    """The room a module lives in: the first folder below ``credledger.node`` or
    ``credledger.wallet`` (``core``, ``api``, ``licences``, …; its subfolders included), or the
    module itself when it sits at the top of the package (``assembly``, ``runtime``, …)."""
    parts = module.split(".")
    if len(parts) > 3 and ".".join(parts[:3]) in packages:
        return ".".join(parts[:3])
    return module


def room_graph(g: dict[str, set[str]]) -> dict[str, set[str]]:
    packages = {m for m, path in modules().items() if path.name == "__init__.py"}
    rooms: dict[str, set[str]] = {}
    for m, deps in g.items():
        r = room(m, packages)
        rooms.setdefault(r, set()).update(room(d, packages) for d in deps if room(d, packages) != r)
    return rooms


def test_no_two_rooms_import_each_other() -> None:
    """Folders are rooms: the services, ``api``, ``web``, ``components`` and the core never
    import each other in a cycle, through any path of modules or rooms."""
    rooms = room_graph(graph())
    assert "credledger.node.core" in rooms and "credledger.node.api" in rooms
    assert cycles(rooms) == []


def test_the_room_checker_sees_a_folder_cycle() -> None:
    g = {
        "credledger.node.api.deps": {"credledger.node.licences.service"},
        "credledger.node.licences.service": {"credledger.node.licences.routes"},
        "credledger.node.licences.routes": {"credledger.node.api.limits"},
        "credledger.node.api.limits": set(),
    }
    packages = {"credledger.node.api", "credledger.node.licences"}
    rooms: dict[str, set[str]] = {}
    for m, deps in g.items():
        r = room(m, packages)
        rooms.setdefault(r, set()).update(room(d, packages) for d in deps if room(d, packages) != r)
    assert cycles(g) == [] and cycles(rooms) == [
        ["credledger.node.api", "credledger.node.licences"]
    ]


def test_the_component_builders_live_outside_the_service_packages() -> None:
    services = ("anchoring", "licences", "counter")
    found = [m for m in modules() if any(m == f"credledger.node.{s}.component" for s in services)]
    assert found == []


def test_every_module_imports_in_a_fresh_interpreter() -> None:
    names = sorted(m for m in modules() if not m.endswith("__main__"))
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    done = subprocess.run(
        [sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
