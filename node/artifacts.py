"""Load compiled contracts from the committed artifacts (the only place Python gets ABIs from)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from credledger.node import paths
from credledger.node.errors import ToolchainError


@cache
def load_artifact(name: str, directory: Path = paths.ARTIFACTS_DIR) -> dict[str, Any]:
    path = directory / f"{name}.json"
    if not path.is_file():
        raise ToolchainError(f"no artifact {path}; run `credledger compile`")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def abi(name: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = load_artifact(name)["abi"]
    return result
