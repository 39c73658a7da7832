"""Load compiled contracts (the only place Python gets ABIs and bytecode from).

The artifacts are the package data ``credledger.artifacts``: pyproject.toml maps that package
onto ``contracts/artifacts/`` (written and checked by ``credledger compile``), so a checkout and
an installed wheel read the very same files, through :mod:`importlib.resources`.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from credledger.node.core.errors import ToolchainError

PACKAGE = "credledger.artifacts"


def _folder() -> Traversable:
    try:
        return resources.files(PACKAGE)
    except ModuleNotFoundError:
        raise ToolchainError(
            f"the contract artifacts ({PACKAGE}) are not installed; reinstall credledger"
        ) from None


def artifact_names() -> list[str]:
    """Names of the shipped artifacts, e.g. ``["AnchorRegistry", …]``."""
    return sorted(
        p.name.removesuffix(".json") for p in _folder().iterdir() if p.name.endswith(".json")
    )


@cache
def load_artifact(name: str) -> dict[str, Any]:
    item = _folder().joinpath(f"{name}.json")
    if not item.is_file():
        raise ToolchainError(f"no artifact {name}.json in {PACKAGE}; run `credledger compile`")
    data: dict[str, Any] = json.loads(item.read_text(encoding="utf-8"))
    return data


def abi(name: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = load_artifact(name)["abi"]
    return result
