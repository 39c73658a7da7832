"""Reproducible Solidity builds: `credledger compile` and `credledger compile --check`.

The compiler is found in this order: ``$SOLC``; a native solc of the pinned version already
installed for py-solc-x; otherwise the pinned npm ``solc`` (official emscripten build) through
``hardhat-free-devnet/solc-shim.js``. All three produce identical bytecode for the same version
and settings, so artifacts are committed and CI checks that a rebuild would not change them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from credledger.node.core import paths
from credledger.node.core.errors import CompileError, ToolchainError

SOLC_VERSION = "0.8.28"
# Paris: no PUSH0/MCOPY/transient storage, so the same bytecode runs on anvil, ganache 7.9 and
# Besu QBFT networks configured with a London/Paris-era genesis.
EVM_VERSION = "paris"
OPTIMIZER_RUNS = 10_000
REMAPPINGS = ["@openzeppelin/=hardhat-free-devnet/node_modules/@openzeppelin/"]

SETTINGS: dict[str, Any] = {
    "evmVersion": EVM_VERSION,
    "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
    "remappings": REMAPPINGS,
    "metadata": {"bytecodeHash": "ipfs"},
    "outputSelection": {
        "*": {
            "*": [
                "abi",
                "evm.bytecode.object",
                "evm.deployedBytecode.object",
                "evm.deployedBytecode.immutableReferences",
                "evm.methodIdentifiers",
            ]
        }
    },
}


@dataclass(frozen=True)
class Compiler:
    executable: Path
    origin: str  # "$SOLC", "py-solc-x" or "npm solc"


def find_compiler() -> Compiler:
    """Locate a solc for the pinned version; raise ToolchainError with what to install."""
    env = os.environ.get("SOLC")
    if env:
        exe = Path(env)
        if not exe.is_file():
            raise ToolchainError(f"$SOLC is {env}, which is not a file")
        return Compiler(exe, "$SOLC")
    try:
        import solcx
        from solcx.install import get_executable

        for version in solcx.get_installed_solc_versions():
            if str(version) == SOLC_VERSION:
                return Compiler(Path(get_executable(version)), "py-solc-x")
    except Exception:
        pass
    if not (paths.NODE_MODULES / "solc").is_dir():
        raise ToolchainError(
            "no Solidity compiler: run `npm ci` in hardhat-free-devnet/ (or `make setup`)"
        )
    if shutil.which("node") is None:
        raise ToolchainError("node is not on PATH; the npm solc needs Node.js")
    return Compiler(paths.SOLC_SHIM, "npm solc")


def source_files(root: Path = paths.SOURCES_DIR) -> list[Path]:
    return sorted(root.rglob("*.sol"))


def _rel(p: Path) -> str:
    return p.resolve().relative_to(paths.ROOT).as_posix()


def standard_input(files: list[Path]) -> dict[str, Any]:
    return {
        "language": "Solidity",
        "sources": {_rel(f): {"content": f.read_text(encoding="utf-8")} for f in files},
        "settings": SETTINGS,
    }


def run_solc(compiler: Compiler, std_input: dict[str, Any]) -> dict[str, Any]:
    import solcx
    from solcx.exceptions import SolcError

    cwd = os.getcwd()
    os.chdir(paths.ROOT)  # source unit names and remappings are relative to the project root
    try:
        out: dict[str, Any] = solcx.compile_standard(
            std_input,
            solc_binary=compiler.executable,
            base_path=str(paths.ROOT),
            allow_paths=[str(paths.ROOT)],
        )
    except SolcError as exc:
        raise CompileError(f"solc failed:\n{exc.message}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ToolchainError(f"could not run {compiler.executable}: {exc}") from None
    finally:
        os.chdir(cwd)
    return out


def compiler_version(compiler: Compiler) -> str:
    import solcx.wrapper

    return str(solcx.wrapper.get_solc_version(compiler.executable, with_commit_hash=True))


def build_artifacts(
    files: list[Path] | None = None, compiler: Compiler | None = None
) -> dict[str, dict[str, Any]]:
    """Compile; return ``{ContractName: artifact}`` for every deployable contract in ``files``."""
    files = files if files is not None else source_files()
    if not files:
        raise CompileError(f"no .sol files under {paths.SOURCES_DIR}")
    compiler = compiler or find_compiler()
    std_input = standard_input(files)
    out = run_solc(compiler, std_input)
    version = compiler_version(compiler)
    ours = set(std_input["sources"])
    source_hashes = {
        name: "0x" + hashlib.sha256(src["content"].encode()).hexdigest()
        for name, src in sorted(std_input["sources"].items())
    }
    artifacts: dict[str, dict[str, Any]] = {}
    for source_name, contracts in sorted(out.get("contracts", {}).items()):
        if source_name not in ours:
            continue
        for name, data in sorted(contracts.items()):
            bytecode = data["evm"]["bytecode"]["object"]
            if not bytecode:  # interfaces and abstract contracts
                continue
            if name in artifacts:
                raise CompileError(f"two contracts are named {name}; names must be unique")
            artifacts[name] = {
                "format": "credledger-artifact-1",
                "contractName": name,
                "sourceName": source_name,
                "abi": data["abi"],
                "bytecode": "0x" + bytecode,
                "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
                "immutableReferences": data["evm"]["deployedBytecode"].get(
                    "immutableReferences", {}
                ),
                "methodIdentifiers": data["evm"].get("methodIdentifiers", {}),
                "compiler": {"version": version, "settings": SETTINGS},
                "sourceHashes": source_hashes,
            }
    return artifacts


def render(artifact: dict[str, Any]) -> str:
    return json.dumps(artifact, indent=2, sort_keys=True) + "\n"


def artifact_hash(artifact: dict[str, Any]) -> str:
    return "0x" + hashlib.sha256(render(artifact).encode()).hexdigest()


def write_artifacts(
    artifacts: dict[str, dict[str, Any]], out_dir: Path = paths.ARTIFACTS_DIR
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, art in artifacts.items():
        target = out_dir / f"{name}.json"
        target.write_text(render(art), encoding="utf-8")
        written.append(target)
    for stale in out_dir.glob("*.json"):
        if stale.stem not in artifacts:
            stale.unlink()
    return written


def check_artifacts(
    artifacts: dict[str, dict[str, Any]], out_dir: Path = paths.ARTIFACTS_DIR
) -> list[str]:
    """Return one line per difference between ``artifacts`` and the committed files."""
    problems = []
    on_disk = {p.stem for p in out_dir.glob("*.json")} if out_dir.is_dir() else set()
    for name, art in sorted(artifacts.items()):
        target = out_dir / f"{name}.json"
        if not target.is_file():
            problems.append(f"{name}: artifact missing (run `credledger compile`)")
        elif target.read_text(encoding="utf-8") != render(art):
            problems.append(f"{name}: artifact differs from a fresh build of the sources")
    for stale in sorted(on_disk - set(artifacts)):
        problems.append(f"{stale}: artifact has no contract in the sources any more")
    return problems
