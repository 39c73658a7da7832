"""What the three bindings share: a web3 contract from the committed artifact and a sender.

The bindings are the one way the services read, write and decode the events of the contracts
(with :mod:`node.core.chain` and :mod:`node.core.tx`, *the chain layer*). Their methods go through
web3's contract machinery unless a benchmark showed it costs more than the work around it; such a
fast path lives here, once, with a test that it agrees with web3
(``tests/node/core/contracts/test_fast_paths.py``).
"""

from __future__ import annotations

from typing import Any, Self

from eth_utils.address import to_checksum_address
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

    def _send(
        self, call: ContractFunction, gas: int | None = None, *, preflight: bool = False
    ) -> TxReceipt:
        """Estimate gas (a revert raises its error class) *before* the sender takes the account's
        nonce lock, so concurrent writers overlap their estimates; then sign, send and wait.
        With ``gas`` given nothing is estimated; ``preflight`` then simulates the call first
        (eth_call), so a bad request is refused without spending gas."""
        if self.sender is None:
            raise ConfigError(f"{self.NAME} binding has no sender; use with_sender(...) to write")
        if preflight:
            self._simulate(call, self.sender.address)
        if gas is None:
            try:
                estimate = int(call.estimate_gas({"from": self.sender.address}))
            except (ContractCustomError, ContractLogicError) as exc:
                raise revert_from(exc) or ContractRevert(str(exc)) from None
            gas = estimate + estimate // 5 + 10_000
        return self.sender.send(call, gas)

    @staticmethod
    def _simulate(call: ContractFunction, sender: str) -> None:
        """eth_call ``call`` from ``sender``; a revert raises its error class."""
        try:
            call.call({"from": to_checksum_address(sender)})
        except (ContractCustomError, ContractLogicError) as exc:
            raise revert_from(exc) or ContractRevert(str(exc)) from None

    def _events(self, name: str, receipt: TxReceipt) -> list[dict[str, Any]]:
        """Decoded ``name`` events of this contract in ``receipt`` (args only)."""
        event = self.contract.events[name]()
        return [
            dict(e["args"])
            for e in event.process_receipt(receipt, errors=DISCARD)
            if str(e["address"]).lower() == self.address.lower()
        ]

    def _event_logs(self, name: str, receipt: TxReceipt) -> list[Any]:
        """``name`` events of this contract in ``receipt`` with their log fields."""
        event = self.contract.events[name]()
        return [
            e
            for e in event.process_receipt(receipt, errors=DISCARD)
            if str(e["address"]).lower() == self.address.lower()
        ]

    def _logs(self, name: str, from_block: int, **where: Any) -> list[Any]:
        """``name`` events of this contract from ``from_block`` on whose indexed arguments equal
        ``where`` (eth_getLogs through web3)."""
        event = self.contract.events[name]()
        return list(event.get_logs(from_block=from_block, argument_filters=where or None))


class AdminRules(Binding):
    """A contract with OpenZeppelin's AccessControlDefaultAdminRules (roles, a delayed admin)."""

    def role_id(self, name: str) -> bytes:
        """The id of the role constant ``name`` (e.g. ``"ANCHORER_ROLE"``) on the contract."""
        return bytes(self.contract.functions[name]().call())

    def has_role(self, role: bytes, account: str) -> bool:
        return bool(self.contract.functions.hasRole(role, to_checksum_address(account)).call())

    def grant_role(self, role: bytes, account: str) -> TxReceipt:
        return self._send(self.contract.functions.grantRole(role, to_checksum_address(account)))

    def default_admin(self) -> str:
        return str(self.contract.functions.defaultAdmin().call())

    def default_admin_delay(self) -> int:
        return int(self.contract.functions.defaultAdminDelay().call())
