"""Where the project's files live. Only the CLI and the settings defaults use these."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = ROOT / "contracts"
SOURCES_DIR = CONTRACTS_DIR / "src"
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
DEVNET_DIR = ROOT / "hardhat-free-devnet"
NODE_MODULES = DEVNET_DIR / "node_modules"
SOLC_SHIM = DEVNET_DIR / "solc-shim.js"
DEPLOYMENTS_DIR = ROOT / "deployments"
STATE_DIR = ROOT / ".credledger"
