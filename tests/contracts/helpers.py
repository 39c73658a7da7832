"""Assertions shared by the contract tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from web3.types import TxReceipt

from credledger.node.core.contracts._base import Binding
from credledger.node.core.errors import ContractRevert


def _norm(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, tuple | list):
        return tuple(_norm(v) for v in value)
    return value


@contextmanager
def reverts(cls: type[ContractRevert], *args: Any) -> Iterator[None]:
    """Expect the block to raise ``cls`` (the contract's custom error) with exactly ``args``."""
    with pytest.raises(ContractRevert) as info:
        yield
    err = info.value
    assert type(err) is cls, f"expected {cls.__name__}, got {type(err).__name__}: {err}"
    assert err.error_name == cls.__name__
    assert _norm(err.error_args) == _norm(args), f"{err.error_name} args {err.error_args!r}"


def events(binding: Binding, name: str, receipt: TxReceipt) -> list[dict[str, Any]]:
    return [{k: _norm(v) for k, v in e.items()} for e in binding._events(name, receipt)]


def only_event(binding: Binding, name: str, receipt: TxReceipt) -> dict[str, Any]:
    """The one ``name`` event in ``receipt``; no other event of ``binding`` either."""
    found = events(binding, name, receipt)
    assert len(found) == 1, f"expected one {name}, got {found}"
    others = [log for log in receipt["logs"] if log["address"].lower() == binding.address.lower()]
    assert len(others) == 1, "the call emitted other events too"
    return found[0]


def expect(**kwargs: Any) -> dict[str, Any]:
    return {k: _norm(v) for k, v in kwargs.items()}
