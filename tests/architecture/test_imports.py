"""The import graph: no cycles (not even under TYPE_CHECKING or inside functions), every module
imports in a fresh interpreter, and the layers hold — the core library the wallet reuses (chain,
bindings, EIP-712, Merkle/receipts, errors, settings, SQLite) imports no node service, the
bindings import no domain module, and the node never imports the wallet."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = {"credledger.node": ROOT / "node", "credledger.wallet": ROOT / "wallet"}

# what the wallet may import from the node, and everything those import in turn
CORE_LIBRARY = [
    "credledger.node.chain",
    "credledger.node.tx",
    "credledger.node.signer",
    "credledger.node.contracts.anchor_registry",
    "credledger.node.contracts.consent_registry",
    "credledger.node.contracts.licence_registry",
    "credledger.node.contracts.eip712",
    "credledger.node.contracts.errors",
    "credledger.node.merkle",
    "credledger.node.receipts",
    "credledger.node.errors",
    "credledger.node.settings",
    "credledger.node.db",
    "credledger.node.retry",
]
SERVICES = (
    "credledger.node.licences",
    "credledger.node.anchoring",
    "credledger.node.api",
    "credledger.node.cli",
    "credledger.node.web",
    "credledger.node.runtime",
    "credledger.node.assembly",
    "credledger.node.indexer",
)


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


def test_the_core_library_imports_no_node_service() -> None:
    reached = closure(graph(), CORE_LIBRARY)
    assert sorted(m for m in reached if m.startswith(SERVICES)) == []


def test_the_bindings_import_no_domain_module() -> None:
    g = graph()
    bindings = [m for m in g if m.startswith("credledger.node.contracts")]
    reached = closure(g, bindings)
    assert sorted(m for m in reached if m.startswith(SERVICES)) == []


def test_the_node_never_imports_the_wallet() -> None:
    g = graph()
    node = [m for m in g if m.startswith("credledger.node")]
    assert sorted((m, w) for m in node for w in g[m] if w.startswith("credledger.wallet")) == []


def test_every_module_imports_in_a_fresh_interpreter() -> None:
    names = sorted(m for m in modules() if not m.endswith("__main__"))
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    done = subprocess.run(
        [sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
