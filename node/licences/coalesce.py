"""Group commit for single issuances: requests that arrive while a department's previous
issuance transaction is in flight go out together in one ``issueBatch`` transaction.

No waiting window: a lone request is sent at once as ``issue``; under load, each transaction
carries everything that queued up meanwhile (at most ``max_batch``). The batch is all-or-nothing
on chain, so a batch whose gas estimate reverts (one licence already exists, a type the key may
not issue …) is split and each request is sent on its own, getting its own answer or error.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from web3.types import TxReceipt

from credledger.node.core.errors import CredledgerError

log = logging.getLogger("credledger.node.licences")

# send(requests) -> receipt: one request is sent as `issue`, several as `issueBatch`
Sender = Callable[[Sequence[Any]], TxReceipt]


class IssueCoalescer:
    """One per department key: a worker thread that sends queued issuances."""

    def __init__(self, name: str, send: Sender, max_batch: int = 50) -> None:
        self.name = name
        self._send = send
        self.max_batch = max_batch
        self._queue: queue.Queue[tuple[Any, Future[TxReceipt]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.transactions = 0
        self.licences = 0
        self.in_flight = 0  # requests in the transaction being sent now

    def submit(self, request: Any, timeout: float = 300.0) -> TxReceipt:
        """Queue one issuance and wait for the receipt of the transaction that carried it."""
        self._ensure_worker()
        fut: Future[TxReceipt] = Future()
        self._queue.put((request, fut))
        return fut.result(timeout=timeout)

    @property
    def queued(self) -> int:
        """Requests waiting for the next transaction."""
        return self._queue.qsize()

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=f"issue-{self.name}", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            group = [self._queue.get()]
            while len(group) < self.max_batch:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self.in_flight = len(group)
            try:
                self._flush(group)
            except BaseException as exc:  # never leave a caller waiting
                for _, fut in group:
                    if not fut.done():
                        fut.set_exception(exc)
            finally:
                self.in_flight = 0

    def _flush(self, group: list[tuple[Any, Future[TxReceipt]]]) -> None:
        if len(group) > 1:
            try:
                receipt = self._send([r for r, _ in group])
            except CredledgerError as exc:
                log.info("batch of %d split after %s", len(group), exc.code)
            else:
                self.transactions += 1
                self.licences += len(group)
                for _, fut in group:
                    fut.set_result(receipt)
                return
        for request, fut in group:
            try:
                fut.set_result(self._send([request]))
                self.transactions += 1
                self.licences += 1
            except BaseException as exc:
                fut.set_exception(exc)
