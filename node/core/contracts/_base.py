"""What the three bindings share: a web3 contract from the committed artifact and a sender."""

from __future__ import annotations

from typing import Any, Self

from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from credledger.node.core.chain import Chain
from credledger.node.core.errors import ConfigError, ContractRevert
from credledger.node.core.tx import TxSender, revert_from


class Binding:
    """A typed wrapper over one deployed contract; writes go through ``sender``."""

    NAME = ""

    def __init__(self, chain: Chain, address: str, sender: TxSender | None = None) -> None:
        self.chain = chain
        self.address = address
        self.contract: Contract = chain.contract(self.NAME, address)
        self.sender = sender

    def with_sender(self, sender: TxSender) -> Self:
        """The same contract, with writes signed by ``sender``."""
        return type(self)(self.chain, self.address, sender)

    def _send(self, call: ContractFunction, gas: int | None = None) -> TxReceipt:
        """Estimate gas (a revert raises its error class) *before* the sender takes the account's
        nonce lock, so concurrent writers overlap their estimates; then sign, send and wait."""
        if self.sender is None:
            raise ConfigError(f"{self.NAME} binding has no sender; use with_sender(...) to write")
        if gas is None:
            try:
                estimate = int(call.estimate_gas({"from": self.sender.address}))
            except (ContractCustomError, ContractLogicError) as exc:
                raise revert_from(exc) or ContractRevert(str(exc)) from None
            gas = estimate + estimate // 5 + 10_000
        return self.sender.send(call, gas)

    def _events(self, name: str, receipt: TxReceipt) -> list[dict[str, Any]]:
        """Decoded ``name`` events of this contract in ``receipt`` (args only; other logs skipped)."""
        event = self.contract.events[name]()
        return [
            dict(e["args"])
            for e in event.process_receipt(receipt, errors=DISCARD)
            if str(e["address"]).lower() == self.address.lower()
        ]
