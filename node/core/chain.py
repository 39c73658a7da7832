"""The chain behind a small interface: one :class:`Chain` for anvil, ganache or a consortium.

``Chain`` wraps a web3 instance whose provider fails over between the configured RPC URLs, and
knows the chain id, whether the chain takes EIP-1559 fees, and how to build contract objects from
the committed artifacts. With :mod:`node.core.tx` (signing, nonces, sending) and the typed
bindings in :mod:`node.core.contracts` it is *the chain layer*: nothing else in the node or the
wallet touches ``w3.eth`` or a contract's ``.functions`` (``tests/architecture/test_chain_layer``).

Blocks, heads, balances and logs are read here with raw JSON-RPC (:meth:`Chain.rpc`): web3's
result formatters cost more CPU than the request on these hot, simple answers; an idle node asks
for the head every poll. Receipts go through web3 (the bindings decode their events from them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import TransactionNotFound
from web3.providers import HTTPProvider, JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse, TxReceipt

from credledger.node.core.artifacts import abi as artifact_abi
from credledger.node.core.errors import ChainError, RpcUnavailableError

log = logging.getLogger(__name__)

_TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)


class FailoverProvider(JSONBaseProvider):
    """JSON-RPC over HTTP to the first URL that answers; sticks to it until it fails."""

    def __init__(self, urls: Sequence[str], timeout: float = 10.0) -> None:
        super().__init__()
        if not urls:
            raise ValueError("at least one RPC URL is needed")
        self.urls = list(urls)
        # web3's validation middleware asks for the chain id twice per eth_call: cached per URL,
        # a contract read is one request instead of three
        self._providers = [
            HTTPProvider(
                u,
                request_kwargs={"timeout": timeout},
                exception_retry_configuration=None,
                cache_allowed_requests=True,
                cacheable_requests={RPCEndpoint("eth_chainId")},
            )
            for u in self.urls
        ]
        self._current = 0
        self._lock = threading.Lock()
        self.failovers = 0

    @property
    def current_url(self) -> str:
        return self.urls[self._current]

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        start = self._current
        last: Exception | None = None
        for step in range(len(self._providers)):
            index = (start + step) % len(self._providers)
            try:
                response = self._providers[index].make_request(method, params)
            except _TRANSPORT_ERRORS as exc:
                last = exc
                continue
            if index != self._current:
                with self._lock:
                    log.warning(
                        "rpc %s failed (%s); failed over to %s",
                        self.urls[self._current],
                        type(last).__name__,
                        self.urls[index],
                    )
                    self._current = index
                    self.failovers += 1
            return response
        reason = type(last).__name__ if last else "no answer"
        raise RpcUnavailableError(
            f"no RPC endpoint answers ({', '.join(self.urls)}): {reason}", urls=self.urls
        )

    def is_connected(self, show_traceback: bool = False) -> bool:
        try:
            self.make_request(RPCEndpoint("eth_chainId"), [])
        except RpcUnavailableError:
            return False
        return True


class RpcRefused(ChainError):
    """The node answered a JSON-RPC call with an error (e.g. an eth_getLogs range too large)."""


@dataclass(frozen=True)
class BlockHeader:
    """What the services read of a block."""

    number: int
    hash: bytes
    timestamp: int
    parent_hash: bytes = b""
    base_fee: int | None = None


def _header(raw: Any) -> BlockHeader | None:
    if not isinstance(raw, dict):
        return None
    fee = raw.get("baseFeePerGas")
    return BlockHeader(
        int(raw["number"], 16),
        bytes.fromhex(str(raw["hash"]).removeprefix("0x")),
        int(raw["timestamp"], 16),
        bytes.fromhex(str(raw.get("parentHash") or "0x").removeprefix("0x")),
        int(fee, 16) if fee is not None else None,
    )


class Chain:
    """A connected chain: web3, chain id, fee model, raw reads and contract factory."""

    def __init__(self, rpc_urls: Sequence[str], timeout: float = 10.0) -> None:
        self.provider = FailoverProvider(rpc_urls, timeout)
        self.w3 = Web3(self.provider)
        try:
            self.chain_id: int = self.w3.eth.chain_id
        except RpcUnavailableError as exc:
            urls = ", ".join(rpc_urls)
            raise RpcUnavailableError(
                f"cannot reach the chain at {urls}", urls=list(rpc_urls)
            ) from exc
        self._eip1559: bool | None = None
        self._fees: tuple[float, dict[str, int]] | None = None

    @property
    def rpc_url(self) -> str:
        return self.provider.current_url

    @property
    def supports_eip1559(self) -> bool:
        if self._eip1559 is None:
            self._eip1559 = self.block("latest").base_fee is not None
        return self._eip1559

    # --- raw reads ------------------------------------------------------------------------------

    def rpc(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call without web3's formatters; an error answer raises RpcRefused, no
        answer at all RpcUnavailableError."""
        response = self.provider.make_request(RPCEndpoint(method), params)
        if "error" in response:
            raise RpcRefused(f"{method} refused: {response['error']}")
        return response.get("result")

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber", []), 16)

    def block(self, number: int | str) -> BlockHeader:
        """Block ``number`` or tag (``latest``, ``finalized``); ChainError if there is none."""
        tag = hex(number) if isinstance(number, int) else number
        header = _header(self.rpc("eth_getBlockByNumber", [tag, False]))
        if header is None:
            raise ChainError(f"block {number} is not on chain {self.chain_id}")
        return header

    def block_hash(self, number: int) -> bytes | None:
        """The canonical hash at height ``number``, None above the head."""
        header = _header(self.rpc("eth_getBlockByNumber", [hex(number), False]))
        return None if header is None else header.hash

    def balance(self, address: str) -> int:
        return int(self.rpc("eth_getBalance", [address, "latest"]), 16)

    def transaction_count(self, address: str, block: str = "latest") -> int:
        return int(self.rpc("eth_getTransactionCount", [address, block]), 16)

    def logs(self, addresses: Sequence[str], start: int, end: int) -> list[dict[str, Any]]:
        """Raw ``eth_getLogs`` of ``addresses`` over [start, end] (decode them with
        :class:`node.core.contracts.events.EventDecoder`); a refused range raises RpcRefused."""
        result = self.rpc(
            "eth_getLogs",
            [{"address": list(addresses), "fromBlock": hex(start), "toBlock": hex(end)}],
        )
        if not isinstance(result, list):
            raise RpcRefused(f"eth_getLogs answered {type(result).__name__}")
        return result

    def receipt(self, tx_hash: bytes | str) -> TxReceipt | None:
        """The receipt of ``tx_hash`` (web3's formatted form), None while it is not mined."""
        if isinstance(tx_hash, str):
            tx_hash = bytes.fromhex(tx_hash.removeprefix("0x"))
        try:
            return self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None

    def send_raw(self, raw: bytes) -> bytes:
        """Broadcast signed transaction bytes; the node's refusal raises as web3 raises it."""
        return bytes(self.w3.eth.send_raw_transaction(raw))

    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(
            address=Web3.to_checksum_address(address), abi=artifact_abi(name)
        )

    def view(self, to: str, data: bytes) -> bytes:
        """``eth_call`` of ready-encoded ``data`` at the latest block, without web3's contract
        machinery (ABI lookup, argument and result formatters): for the bindings' hot views,
        whose words they encode and decode themselves. A revert or an RPC error raises
        ChainError."""
        try:
            result = self.rpc("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"])
        except RpcRefused as exc:
            raise ChainError(f"eth_call to {to} failed: {exc}") from None
        if not isinstance(result, str):
            raise ChainError(f"eth_call to {to} answered {type(result).__name__}")
        return bytes.fromhex(result.removeprefix("0x"))

    def code_at(self, address: str) -> bytes:
        return bytes(self.w3.eth.get_code(Web3.to_checksum_address(address)))

    def fee_fields(self, max_age: float = 0.0) -> dict[str, int]:
        """Fee fields for a new transaction: EIP-1559 where there is a base fee, else legacy.

        ``max_age`` > 0 reuses fields read at most that many seconds ago (two RPC round trips a
        transaction saved under load): ``maxFeePerGas`` is twice the base fee plus the tip, and
        the base fee rises at most 12.5 % a block, so a second-old reading still pays."""
        cached = self._fees
        if max_age > 0 and cached is not None and time.monotonic() - cached[0] <= max_age:
            return dict(cached[1])
        if self.supports_eip1559:
            base = int(self.block("latest").base_fee or 0)
            try:
                tip = int(self.w3.eth.max_priority_fee)
            except Exception:
                tip = 10**9
            fields = {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}
        else:
            fields = {"gasPrice": int(self.w3.eth.gas_price)}
        self._fees = (time.monotonic(), fields)
        return dict(fields)

    def forget_fees(self) -> None:
        """Drop the fee fields kept for ``max_age`` (after a send the node refused)."""
        self._fees = None


def wait_for_rpc(url: str, timeout: float = 30.0) -> int:
    """Poll ``url`` until it answers eth_chainId; return the chain id."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            resp = requests.post(
                url,
                json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                timeout=2,
            )
            return int(resp.json()["result"], 16)
        except Exception as exc:
            last = exc
            time.sleep(0.1)
    raise RpcUnavailableError(f"{url} did not answer within {timeout:.0f}s: {last}", urls=[url])
