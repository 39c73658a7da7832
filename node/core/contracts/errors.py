"""Decode revert data from our contracts into Python exceptions of the one error tree.

Every custom error declared in a committed artifact is known by its selector. Errors that have a
dedicated class in :data:`ERROR_CLASSES` raise that class; any other is a :class:`ContractRevert`
carrying the error's name and decoded arguments.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import function_signature_to_4byte_selector

from credledger.node.core.artifacts import artifact_names, load_artifact
from credledger.node.core.errors import ContractRevert

# name -> class; bindings modules register their contract's errors here (see `register`).
ERROR_CLASSES: dict[str, type[ContractRevert]] = {}


def register(*classes: type[ContractRevert]) -> None:
    for cls in classes:
        ERROR_CLASSES[cls.__name__] = cls


def _type_str(inp: dict[str, Any]) -> str:
    t: str = inp["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_type_str(c) for c in inp["components"]) + ")" + t[5:]
    return t


@cache
def error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    """selector -> (name, argument types, argument names), from every committed artifact."""
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for name in artifact_names():
        for item in load_artifact(name)["abi"]:
            if item["type"] != "error":
                continue
            types = [_type_str(i) for i in item["inputs"]]
            sig = f"{item['name']}({','.join(types)})"
            table[function_signature_to_4byte_selector(sig)] = (
                item["name"],
                types,
                [i["name"] for i in item["inputs"]],
            )
    return table


@cache
def _load_bindings() -> None:
    """Import every bindings module once, so each registers its classes whoever decodes first
    (the node's services call raw web3 contracts and never import the bindings themselves)."""
    import importlib

    for module in ("openzeppelin", "anchor_registry", "licence_registry", "consent_registry"):
        importlib.import_module(f"credledger.node.core.contracts.{module}")


def decode_revert(data: bytes | str | None) -> ContractRevert:
    """Turn raw revert data into the matching exception (never raises)."""
    _load_bindings()
    if isinstance(data, str):
        data = bytes.fromhex(data.removeprefix("0x")) if data else b""
    if not data or len(data) < 4:
        return ContractRevert("the contract reverted without a reason")
    entry = error_table().get(data[:4])
    if entry is None:
        if data[:4] == bytes.fromhex("08c379a0"):
            (reason,) = abi_decode(["string"], data[4:])
            return ContractRevert(f"the contract reverted: {reason}", error_name="Error")
        return ContractRevert(f"the contract reverted with unknown error 0x{data[:4].hex()}")
    name, types, names = entry
    try:
        args = tuple(abi_decode(types, data[4:]))
    except Exception:
        args = ()
    shown = ", ".join(
        f"{n or i}={'0x' + a.hex() if isinstance(a, bytes) else a}"
        for i, (n, a) in enumerate(zip(names, args, strict=False))
    )
    cls = ERROR_CLASSES.get(name, ContractRevert)
    named = {n or str(i): a for i, (n, a) in enumerate(zip(names, args, strict=False))}
    return cls(cls.describe(named) or f"{name}({shown})", error_name=name, args=args)
