"""Typed binding for PresentationLedger: the network-wide single-use store of presentations.

A node spends the statement hashes of the tokens it accepts (``spend``, a group per
transaction); the ``Spent`` events of *its own* receipt say which statements it took first.
``spent_by`` names who took a statement and when (the answer to a replay at another node).
"""

from __future__ import annotations

from dataclasses import dataclass

from web3.types import TxReceipt

from credledger.node.core.contracts._base import Binding
from credledger.node.core.contracts.errors import register
from credledger.node.core.errors import ContractRevert

ZERO_ADDRESS = "0x" + "00" * 20


class ZeroStatement(ContractRevert):
    """Zero is not a statement hash."""

    code = "zero_statement"
    http_status = 400


register(ZeroStatement)


@dataclass(frozen=True)
class Spend:
    """Who spent a statement (a node's address) and when (block time)."""

    verifier: str
    at: int


# gas of ``spend``: a base plus one new statement's cold slot write and event (contracts/README)
SPEND_BASE_GAS = 30_000
SPEND_PER_STATEMENT_GAS = 30_000


class PresentationLedger(Binding):
    """PresentationLedger at ``address``; spends are signed by ``sender`` (the node's key)."""

    NAME = "PresentationLedger"

    def version(self) -> str:
        return str(self.contract.functions.VERSION().call())

    def spend(self, statements: list[bytes]) -> TxReceipt:
        """Spend ``statements`` in one transaction (already-spent ones are skipped); the gas is
        the exact bound of the contract, not an estimate (no extra round trip per group)."""
        gas = SPEND_BASE_GAS + SPEND_PER_STATEMENT_GAS * len(statements)
        return self._send(self.contract.functions.spend(statements), gas)

    def spent_in(self, receipt: TxReceipt) -> set[bytes]:
        """The statements ``receipt``'s transaction spent first (its ``Spent`` events)."""
        return {bytes(e["statement"]) for e in self._events("Spent", receipt)}

    def spent_by(self, statement: bytes) -> Spend | None:
        """Who spent ``statement`` and when, or None if nobody did."""
        verifier, at = self.contract.functions.spentBy(statement).call()
        if int(at) == 0:
            return None
        return Spend(str(verifier), int(at))
