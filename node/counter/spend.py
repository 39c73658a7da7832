"""The network-wide spend of single-use presentations, and the reconciler of pending records.

:class:`NetworkSpends` spends statement hashes on the PresentationLedger: concurrent checks are
grouped (``node/groupcommit.py``) into one ``spend`` transaction sent by one thread through the
node's :class:`~credledger.node.core.tx.TxSender`; each caller learns whether *its* statement is
among the receipt's ``Spent`` events (taken first by this node), or, when it is not, who spent it
and when. A chain that does not answer gives ``None`` (unknown): the check answers 503 and its
record stays pending.

:class:`Reconciler` finishes the records left pending (``store.py``) by a crash or a chain outage:
a statement spent by this node's key gets its VALID record, one spent by another verifier a
REPLAYED one, and one nobody spent a REFUSED record (``NOT_ACCEPTED``) and its local take back.
It runs once at start-up, then every few seconds while rows remain; a row whose check is still
running in this process is left to that check.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from credledger.node.core.contracts.presentation_ledger import PresentationLedger, Spend
from credledger.node.groupcommit import GroupCommitter

from .store import CounterStore, Pending

log = logging.getLogger("credledger.node.counter")

#: the largest group of one ``spend`` transaction (about 26,000 gas a statement)
MAX_GROUP = 256
#: sends of one group refused before reaching the chain, before its checks answer 503
ATTEMPTS = 4


@dataclass(frozen=True)
class SpendResult:
    """``mine``: this node's transaction spent the statement; else ``by`` spent it first."""

    mine: bool
    by: Spend | None = None


#: a caller's place in its group: the group's results (when its receipt is in), its index
_Slot = tuple["Future[list[SpendResult | None]]", int]


class NetworkSpends:
    """Spends through ``ledger`` (a binding with the node's sender).

    One thread signs and sends each group (the nonce order is the send order); the receipts
    are awaited on a second thread, so the next group is sent while the previous one is being
    mined (each group is decided by its own receipt alone)."""

    def __init__(self, ledger: PresentationLedger) -> None:
        self.ledger = ledger
        assert ledger.sender is not None
        self.address = ledger.sender.address
        self._waiter = ThreadPoolExecutor(max_workers=4, thread_name_prefix="counter-spend-wait")
        self._writer: GroupCommitter[bytes, _Slot] = GroupCommitter(
            self._send, name="counter-spend", max_group=MAX_GROUP
        )

    def spend(self, statement: bytes, timeout: float = 60.0) -> SpendResult | None:
        """Spend ``statement``; None when the chain did not answer in ``timeout`` seconds."""
        try:
            group, index = self._writer.write(statement, timeout)
            return group.result(timeout)[index]
        except TimeoutError:
            return None

    def _send(self, statements: list[bytes]) -> list[_Slot]:
        group = list(dict.fromkeys(statements))
        tx_hash: bytes | None = None
        for attempt in range(ATTEMPTS):
            try:
                tx_hash = self.ledger.send_spend(group)
                break
            except Exception as exc:  # refused before it was sent (a nonce another process
                # using this key took, the RPC down): a spend is idempotent, send it again
                log.warning("spending %d statements: attempt %d: %s", len(group), attempt + 1, exc)
                assert self.ledger.sender is not None
                self.ledger.sender.nonces.reset()
                time.sleep(0.05 * (attempt + 1))
        results: Future[list[SpendResult | None]]
        if tx_hash is None:
            results = Future()
            results.set_result([None] * len(statements))
        else:
            results = self._waiter.submit(self._decide, tx_hash, group, statements)
        return [(results, i) for i in range(len(statements))]

    def _decide(
        self, tx_hash: bytes, group: list[bytes], statements: list[bytes]
    ) -> list[SpendResult | None]:
        try:
            mine = self.ledger.spent_in(self.ledger.wait_spend(tx_hash, group))
        except Exception as exc:  # not mined in time, reverted, the RPC gone: nothing is known
            log.warning("spending %d statements failed: %s", len(group), exc)
            return [None] * len(statements)
        out: list[SpendResult | None] = []
        for s in statements:
            # VALID only on this transaction's own event: a spend by the same key elsewhere
            # (another replica, an earlier check) is not this check's
            out.append(SpendResult(True) if s in mine else self.who_spent(s, ours_counts=False))
            mine.discard(s)  # a statement twice in one group: the second is a replay
        return out

    def who_spent(self, statement: bytes, *, ours_counts: bool = True) -> SpendResult | None:
        """Who spent ``statement`` (``ours_counts``: a spend by this node's key is mine);
        None if the chain does not answer."""
        try:
            by = self.ledger.spent_by(statement)
        except Exception as exc:
            log.warning("reading the spend of a statement failed: %s", exc)
            return None
        if ours_counts and by is not None and by.verifier.lower() == self.address.lower():
            return SpendResult(True, by)
        return SpendResult(False, by)

    def close(self) -> None:
        self._writer.close()
        self._waiter.shutdown(wait=False)


#: finish(pending, spend result or None for a record that waits for no spend) -> resolved
Finish = Callable[[Pending, SpendResult | None], bool]


class Reconciler:
    """Finishes ``store``'s pending records with ``finish`` (the verifier's), skipping the
    checks ``running()`` names."""

    def __init__(
        self,
        store: CounterStore,
        spends: NetworkSpends | None,
        finish: Finish,
        running: Callable[[], set[str]],
        interval: float = 2.0,
    ) -> None:
        self.store = store
        self.spends = spends
        self.finish = finish
        self.running = running
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """One pass; the number of records still pending."""
        left = 0
        # rows first, then the running checks: a check is running before its row exists, so a
        # row read here whose check is not running any more was left by a finished check
        rows = self.store.pending()
        busy = self.running()
        for p in rows:
            if p.verification_id in busy:
                continue
            result: SpendResult | None = None
            if p.spend:
                if self.spends is None or p.statement is None:
                    left += 1
                    continue
                result = self.spends.who_spent(p.statement)
                if result is None:  # the chain does not answer: next pass
                    left += 1
                    continue
            try:
                if not self.finish(p, result):
                    left += 1
            except Exception:
                log.exception("finishing verification %s failed", p.verification_id)
                left += 1
        return left

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                left = self.run_once()
            except Exception:
                log.exception("reconciling pending verifications failed")
                left = 1
            if left == 0 and self._stop.wait(self.interval * 5):
                return
            if left and self._stop.wait(self.interval):
                return

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="counter-reconcile", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
