"""The chain behind a small interface: one :class:`Chain` for anvil, ganache or a consortium.

``Chain`` wraps a web3 instance whose provider fails over between the configured RPC URLs, and
knows the chain id, whether the chain takes EIP-1559 fees, and how to build contract objects from
the committed artifacts. Everything above it (deployment, anchoring, licences) uses only this.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import requests
from web3 import Web3
from web3.contract import Contract
from web3.providers import HTTPProvider, JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

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
        self._providers = [
            HTTPProvider(u, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
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


class Chain:
    """A connected chain: web3, chain id, fee model and contract factory."""

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
            block = self.w3.eth.get_block("latest")
            self._eip1559 = block.get("baseFeePerGas") is not None
        return self._eip1559

    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(
            address=Web3.to_checksum_address(address), abi=artifact_abi(name)
        )

    def view(self, to: str, data: bytes) -> bytes:
        """``eth_call`` of ready-encoded ``data`` at the latest block, without web3's contract
        machinery (ABI lookup, argument and result formatters): for a hot view whose words the
        caller encodes and decodes itself. A revert or an RPC error raises ChainError."""
        response = self.provider.make_request(
            RPCEndpoint("eth_call"), [{"to": to, "data": "0x" + data.hex()}, "latest"]
        )
        result = response.get("result")
        if "error" in response or not isinstance(result, str):
            raise ChainError(f"eth_call to {to} failed: {response.get('error')}")
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
            base = int(self.w3.eth.get_block("latest")["baseFeePerGas"])
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
