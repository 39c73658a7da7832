"""Send transactions signed locally, one nonce sequence per account, reverts decoded.

:meth:`TxSender.send` is for deployment and the synchronous writes of services (licence issuance,
grants): build, number, sign, send, wait. The anchoring pipeline (``node.anchoring``) must persist
each signed transaction *before* it is broadcast and re-send the very same bytes after a crash, so
it uses the steps apart, on the same sender and so the same nonce sequence: under
``sender.nonces.lock`` it takes a nonce, :meth:`TxSender.sign_call`, persists, then
:meth:`TxSender.broadcast`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound
from web3.types import TxReceipt

from credledger.node.core.artifacts import load_artifact
from credledger.node.core.chain import Chain
from credledger.node.core.contracts.errors import decode_revert
from credledger.node.core.errors import ChainError, ContractRevert

# how old the fee fields of a transaction may be (node.chain.Chain.fee_fields)
FEE_MAX_AGE = 1.0
# seconds between reads of a receipt not yet there: the first pause, doubled up to the last
POLL_FIRST = 0.002
POLL_MAX = 0.25


class NonceManager:
    """Hands out consecutive nonces for one account; resyncs from the chain on demand.

    By default every nonce is checked against the chain's pending count (another process may
    send from the same account). ``sole_sender``: this process is the account's only sender (the
    wallet's relayer), so the chain is read once and after a failed send, not per transaction.
    """

    def __init__(self, chain: Chain, address: str, *, sole_sender: bool = False) -> None:
        self._chain = chain
        self._address = address
        self._next: int | None = None
        self.sole_sender = sole_sender
        self.lock = threading.RLock()

    def take(self, *, local: bool = False) -> int:
        """The next nonce. ``local``: trust this process's count once it is known (no read of
        the chain's pending count) — for a hot path whose send, when another process took
        the nonce meanwhile, fails, resets and is sent again."""
        with self.lock:
            if self._next is None or not (self.sole_sender or local):
                pending = self._chain.transaction_count(self._address, "pending")
                if self._next is None or pending > self._next:
                    self._next = pending
            n = self._next
            self._next += 1
            return n

    def reset(self) -> None:
        with self.lock:
            self._next = None


def _nonce_error(exc: Exception) -> bool:
    return "nonce" in str(exc).lower()


def revert_from(exc: Exception) -> ContractRevert | None:
    if isinstance(exc, ContractCustomError | ContractLogicError):
        data = exc.data
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, str | bytes) and data:
            return decode_revert(data)
        return ContractRevert(f"the contract reverted: {exc.message or exc}")
    return None


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction: its bytes (what is persisted and broadcast) and its hash."""

    nonce: int
    raw: bytes
    hash: bytes
    fee_cap: int
    tip: int


class TxSender:
    """Builds, signs, sends and waits for transactions from one local account."""

    def __init__(
        self,
        chain: Chain,
        account: LocalAccount,
        *,
        timeout: float = 120.0,
        sole_sender: bool = False,
    ) -> None:
        self.chain = chain
        self.account = account
        self.address: str = account.address
        self.nonces = NonceManager(chain, account.address, sole_sender=sole_sender)
        self.timeout = timeout

    def build(
        self, call: ContractFunction | ContractConstructor, gas: int | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"from": self.address, "chainId": self.chain.chain_id}
        params.update(self.chain.fee_fields(max_age=FEE_MAX_AGE))
        try:
            if gas is None:
                gas = int(call.estimate_gas({"from": self.address}))
                gas = gas + gas // 5 + 10_000
            params["gas"] = gas
            tx: dict[str, Any] = dict(call.build_transaction(params))  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError) as exc:
            raise revert_from(exc) or ChainError(str(exc)) from None
        return tx

    def send(
        self, call: ContractFunction | ContractConstructor, gas: int | None = None
    ) -> TxReceipt:
        """Send ``call`` and wait for its receipt; a revert raises the decoded error.

        Fees, gas and encoding are worked out before the nonce is taken: concurrent senders
        (the wallet relays grants from many requests) hold the account's nonce lock only to
        number, sign and send."""
        tx = self.build(call, gas)
        for attempt in (1, 2):
            with self.nonces.lock:
                tx["nonce"] = self.nonces.take()
                signed = self.account.sign_transaction(tx)
                try:
                    tx_hash = self.chain.w3.eth.send_raw_transaction(signed.raw_transaction)
                    break
                except Exception as exc:
                    self.nonces.reset()
                    self.chain.forget_fees()
                    # a sole sender's cached nonce can be behind after all (the account was
                    # used elsewhere): once more, with the chain's count
                    if attempt == 2 or not self.nonces.sole_sender or not _nonce_error(exc):
                        raise
        return self.wait(tx_hash, call)

    def deploy(self, name: str, *args: Any) -> TxReceipt:
        """Deploy the committed artifact ``name`` with constructor ``args``; wait for it."""
        art = load_artifact(name)
        factory = self.chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        return self.send(factory.constructor(*args))

    # --- the steps apart, for a caller that persists the signed bytes before sending them ------

    def sign_call(
        self, to: str, data: str | bytes, *, nonce: int, gas: int, fee_cap: int, tip: int
    ) -> SignedTx:
        """Sign a call of ``to`` with input ``data``: EIP-1559 (``fee_cap``, ``tip``) where the
        chain has a base fee, else legacy (``fee_cap`` as the gas price). Nothing is sent; take
        ``nonce`` from :attr:`nonces` under its lock."""
        tx: dict[str, Any] = {
            "to": to,
            "data": data if isinstance(data, str) else "0x" + data.hex(),
            "value": 0,
            "gas": gas,
            "nonce": nonce,
            "chainId": self.chain.chain_id,
        }
        if self.chain.supports_eip1559:
            tx.update(maxFeePerGas=fee_cap, maxPriorityFeePerGas=tip, type=2)
        else:
            tx["gasPrice"] = fee_cap
        signed = self.account.sign_transaction(tx)
        return SignedTx(nonce, bytes(signed.raw_transaction), bytes(signed.hash), fee_cap, tip)

    def broadcast(self, raw: bytes) -> None:
        """Send signed bytes (again); the node's refusal raises as web3 raises it."""
        self.chain.send_raw(raw)

    def wait(
        self, tx_hash: HexBytes, call: ContractFunction | ContractConstructor | None = None
    ) -> TxReceipt:
        receipt = self._poll_receipt(tx_hash)
        if receipt["status"] != 1:
            raise self._explain_failure(receipt, call)
        return receipt

    def wait_raw(
        self, tx_hash: bytes, call: ContractFunction | ContractConstructor | None = None
    ) -> dict[str, Any]:
        """The receipt as the RPC answers it (hex strings, no web3 formatting: a hot path's
        cheaper read), polled as :meth:`wait` polls; a failed transaction raises its revert as
        :meth:`wait` does (it is read again through web3 to replay the call)."""
        deadline = time.monotonic() + self.timeout
        pause = POLL_FIRST
        param = "0x" + bytes(tx_hash).hex()
        while True:
            receipt = self.chain.rpc("eth_getTransactionReceipt", [param])
            if receipt is not None:
                if int(receipt["status"], 16) != 1:
                    self.wait(HexBytes(tx_hash), call)  # raises the decoded revert
                return dict(receipt)
            if time.monotonic() >= deadline:
                raise ChainError(f"transaction {param} not mined within {self.timeout:.0f}s")
            time.sleep(pause)
            pause = min(pause * 2, POLL_MAX)

    def _poll_receipt(self, tx_hash: HexBytes) -> TxReceipt:
        """The receipt, polled with a growing pause: 2 ms, 4 ms, … up to :data:`POLL_MAX`.

        An automining devnet has most receipts by the first read and the rest within a few
        milliseconds (a fixed 50 ms pause cost a single-use check 50 ms one time in seven); a
        chain with blocks every few seconds is read about four times a second once the pause has
        grown."""
        deadline = time.monotonic() + self.timeout
        pause = POLL_FIRST
        while True:
            try:
                return self.chain.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                pass
            if time.monotonic() >= deadline:
                raise ChainError(
                    f"transaction 0x{tx_hash.hex()} not mined within {self.timeout:.0f}s"
                )
            time.sleep(pause)
            pause = min(pause * 2, POLL_MAX)

    def _explain_failure(
        self, receipt: TxReceipt, call: ContractFunction | ContractConstructor | None
    ) -> Exception:
        """Replay the failed call at its block to recover the revert data."""
        if call is not None:
            try:
                call.call({"from": self.address}, block_identifier=receipt["blockNumber"])  # type: ignore[union-attr]
            except (ContractCustomError, ContractLogicError) as exc:
                err = revert_from(exc)
                if err is not None:
                    return err
            except Exception:
                pass
        return ChainError(f"transaction 0x{receipt['transactionHash'].hex()} reverted")


def wait_blocks(chain: Chain, n: int, timeout: float = 60.0) -> None:
    target = chain.block_number() + n
    deadline = time.monotonic() + timeout
    while chain.block_number() < target:
        if time.monotonic() > deadline:
            raise ChainError(f"chain did not reach block {target} within {timeout:.0f}s")
        time.sleep(0.1)
