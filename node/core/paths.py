"""Where the project's files live.

Two kinds of places:

* the **data dir** (default ``.credledger/`` in the current directory; ``--data-dir`` or
  ``CREDLEDGER_DATA_DIR``): everything a running node or devnet writes — databases, the demo
  documents, ``anvil.log`` of ``credledger up``, ``devnet/`` of ``credledger devnet``, ``logs/``
  of companion services and the deployment manifests of local devnets
  (``deployments/<chainId>.json``). It is created on demand.
* the **checkout** (only in a git clone, not in an installed wheel): Solidity sources, the npm
  toolchain (``hardhat-free-devnet/node_modules``: anvil, ganache, solc) and the committed
  artifacts that ``credledger compile`` writes. Installed code reads artifacts and the licence
  catalogue as package data (:mod:`importlib.resources`), never through these paths.

Manifests of consortium or public chains default to ``deployments/<chainId>.json`` in the current
directory: they are records to keep (and commit), not run state.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # node/core/paths.py -> the checkout
CONTRACTS_DIR = ROOT / "contracts"
SOURCES_DIR = CONTRACTS_DIR / "src"
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
DEVNET_DIR = ROOT / "hardhat-free-devnet"
NODE_MODULES = DEVNET_DIR / "node_modules"
SOLC_SHIM = DEVNET_DIR / "solc-shim.js"

DEFAULT_DATA_DIR = Path(".credledger")
STATE_DIR = ROOT / ".credledger"  # scratch of developer tools in a checkout (tests, bench)
DEPLOYMENTS_DIR = Path("deployments")  # manifests of non-devnet chains (records to commit)
DEVNET_CHAIN_IDS = frozenset({31337, 1337})  # anvil, ganache


def is_checkout() -> bool:
    """True when running from a source checkout (editable install), not an installed wheel."""
    return (ROOT / "pyproject.toml").is_file() and SOURCES_DIR.is_dir()


def data_dir(explicit: Path | str | None = None) -> Path:
    """The data dir as an absolute path: ``explicit``, else $CREDLEDGER_DATA_DIR, else default."""
    chosen = explicit or os.environ.get("CREDLEDGER_DATA_DIR") or DEFAULT_DATA_DIR
    return Path(chosen).expanduser().absolute()


def default_manifest(chain_id: int, data: Path | None = None) -> Path:
    """Where the manifest of ``chain_id`` lives unless one is named (``--manifest``)."""
    if chain_id in DEVNET_CHAIN_IDS:
        return data_dir(data) / "deployments" / f"{chain_id}.json"
    return (DEPLOYMENTS_DIR / f"{chain_id}.json").absolute()


def find_anvil(node_modules: Path = NODE_MODULES) -> Path | None:
    """anvil from the checkout's npm toolchain, else from PATH (e.g. a Foundry install)."""
    native = node_modules / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    if native.is_file():
        return native
    wrapper = node_modules / ".bin" / "anvil"
    if wrapper.exists():
        return wrapper
    on_path = shutil.which("anvil")
    return Path(on_path) if on_path else None
