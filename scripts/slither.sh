#!/usr/bin/env bash
# Static analysis of contracts/src with slither; exits non-zero on any high or medium finding.
#
# slither-analyzer 0.11.6 pins web3<8 and the project needs web3 8, so slither lives in its own
# venv ($SLITHER_VENV, created on first use), never in .venv. It compiles through the pinned npm
# solc (hardhat-free-devnet/solc-shim.js, standard-JSON mode) with exactly the project's settings
# (evmVersion paris, optimizer, remappings), taken from node.compiler. Takes ~15 s.
# Findings judged false positives are suppressed in the source with a
# `// slither-disable-next-line <detector> (reason)` comment next to the line.
set -euo pipefail
cd "$(dirname "$0")/.."
SLITHER_VENV="${SLITHER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/credledger/slither-venv}"
if [ ! -x "$SLITHER_VENV/bin/slither" ]; then
  python3 -m venv "$SLITHER_VENV"
  "$SLITHER_VENV/bin/pip" install -q "slither-analyzer==0.11.6"
fi
input="$(mktemp --suffix=.json)"
trap 'rm -f "$input"' EXIT
.venv/bin/python - "$input" <<'PY'
import json, sys
from credledger.node import compiler
data = compiler.standard_input(compiler.source_files())
data["settings"] = {**data["settings"], "outputSelection": {
    "*": {"*": ["abi", "metadata", "devdoc", "userdoc", "evm.bytecode", "evm.deployedBytecode",
                "evm.methodIdentifiers"], "": ["ast"]}}}
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(data, f)
PY
exec "$SLITHER_VENV/bin/slither" "$input" \
  --compile-force-framework solc-json \
  --solc hardhat-free-devnet/solc-shim.js \
  --filter-paths node_modules \
  --fail-medium "$@"
