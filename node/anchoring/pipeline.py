"""The background worker: batcher, durable submitter, confirmer, reorg watch, balance watch.

One thread runs :meth:`Pipeline.step` in a loop. Each step is idempotent and reads its state from
the store, so a crash at any line is recovered by the next process running the same step.

Nonces. The pipeline sends through the node's :class:`node.core.tx.TxSender`, the one the licence
services write with, so both draw from one nonce sequence (:mod:`node.anchoring.submitter`): a
nonce is taken, the transaction signed and *persisted* and only then broadcast, all under the
sender's nonce lock. After a
crash the persisted transaction is re-broadcast byte for byte (same nonce, same hash). If
meanwhile the nonce was used by another transaction (e.g. a licence write in the new process
before the re-broadcast), the persisted attempt can never be mined: it is marked dead and the
batch is signed again with a fresh nonce. The chain itself has no nonce gaps, and the contract
refuses a root twice (``RootAlreadyAnchored``), so a batch is never anchored twice.

Stuck transactions are replaced with the same nonce and fees raised by ``fee_bump_percent``
(capped at ``max_fee_gwei``). Transport errors back off exponentially; the chain's provider fails
over between the configured RPC URLs.

Reorgs. Confirmed batches younger than ``reorg_window`` blocks are re-checked: if the block that
included the anchor is no longer canonical the batch goes back to ``submitted`` and its same
signed transaction is re-broadcast (or re-signed if its nonce went elsewhere), so the batch is
anchored again and its receipt names the new block. The indexer's rollback wakes this check at
once (:meth:`Pipeline.request_reorg_check`); otherwise it runs every second while a transaction is
in flight and every ``IDLE_REORG_CHECK`` seconds for the batches confirmed in the last
``reorg_window`` blocks.

Idle. The worker sleeps until a submission arrives (:attr:`AnchorStore.arrived`), the oldest
waiting hash is ``batch_interval`` old, or a periodic duty is due; with nothing waiting, in flight
or recently confirmed it reads nothing from the chain but the signer's balance (every 15 s).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Literal

from credledger.node.anchoring.service import AnchoringService
from credledger.node.anchoring.store import AnchorStore
from credledger.node.anchoring.submitter import Submitter
from credledger.node.core import merkle
from credledger.node.core.contracts.anchor_registry import AnchorRegistry
from credledger.node.core.errors import ChainError, RpcUnavailableError
from credledger.node.core.retry import Backoff
from credledger.node.core.tx import TxSender
from credledger.node.metrics import Metrics
from credledger.node.settings import AnchoringSettings

log = logging.getLogger("credledger.node.anchoring")

BUSY_WAIT = 0.02  # more to do right away (a full batch closed, more waiting)
IN_FLIGHT_WAIT = 0.1  # a transaction is being followed: look again soon
IN_FLIGHT_REORG_CHECK = 1.0
IDLE_REORG_CHECK = 5.0
BALANCE_CHECK = 15.0


class Pipeline:
    """Batches, anchors and confirms; ``start``/``stop`` run it in a daemon thread."""

    def __init__(
        self,
        service: AnchoringService,
        sender: TxSender,
        settings: AnchoringSettings,
        *,
        contract: str,
        confirmations: int | Literal["finalized"],
        metrics: Metrics,
    ) -> None:
        self.service = service
        self.store: AnchorStore = service.store
        self.chain = sender.chain
        self.sender = sender
        self.settings = settings
        # "finalized": a batch is final once its block is at or below the chain's finalized tag
        self.confirmations: int | Literal["finalized"] = (
            confirmations if confirmations == "finalized" else max(int(confirmations), 1)
        )
        self.anchors = AnchorRegistry(self.chain, contract)
        self.submitter = Submitter(self.store, sender, self.anchors, settings, metrics)
        self._stop = threading.Event()
        self._wake = self.store.arrived
        self._thread: threading.Thread | None = None
        self._backoff = Backoff()
        self._last_reorg_check = 0.0
        self._last_balance_check = 0.0
        self._in_flight = False
        self._low_balance = False
        self.last_error: str | None = None
        m = metrics
        self.m_batch_size = m.histogram(
            "anchor_batch_size", "leaves per batch", (1, 16, 64, 256, 1024, 2048, 4096, 16384)
        )
        self.m_rpc_errors = m.counter("rpc_errors_total", "RPC calls that failed")
        self.m_reorgs = m.counter("reorgs_total", "anchors removed by a chain reorganisation")
        self.m_balance = m.gauge("signer_balance_wei", "balance of the anchoring account")
        m.gauge("anchor_queue_depth", "hashes not yet confirmed", self._queue_depth)

    def _queue_depth(self) -> float:
        c = self.store.status_counts()
        return float(c["pending"] + c["submitted"])

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        try:
            self.recover()
        except Exception as exc:  # the loop keeps retrying; start-up must not fail on RPC
            log.warning("recovery deferred: %s", exc)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="anchoring", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def recover(self) -> None:
        """Re-broadcast every persisted live transaction before anything else is signed."""
        for batch in self.store.batches("submitted"):
            for t in self.store.live_txs(batch.id):
                self.submitter.broadcast(t)
        log.info("anchoring recovered", extra={"event": "recovered"})

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.step()
                self._backoff.succeeded()
                self.last_error = None
                self.service.pipeline_health["lastError"] = None
            except Exception as exc:
                self.m_rpc_errors.inc()
                wait = self._backoff.failed()
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.service.pipeline_health["lastError"] = self.last_error
                log.warning(
                    "anchoring step failed; retrying in %.1fs: %s",
                    wait,
                    self.last_error,
                    extra={"event": "step_failed", "backoff": wait},
                )
                self._stop.wait(wait)
                continue
            if self._stop.is_set():
                break
            self._wake.wait(self._next_wait(busy))
            self._wake.clear()

    def _next_wait(self, busy: bool) -> float:
        """How long to sleep unless woken: until the next duty falls due."""
        if busy:
            return BUSY_WAIT
        if self._in_flight:
            return IN_FLIGHT_WAIT
        now = time.monotonic()
        due = [
            self._last_balance_check + BALANCE_CHECK - now,
            self._last_reorg_check + IDLE_REORG_CHECK - now,
        ]
        count, oldest = self.store.unbatched()
        if count and oldest is not None:
            due.append(oldest + self.settings.batch_interval - time.time())
        return max(BUSY_WAIT, min(due))

    # --- one step -----------------------------------------------------------------------------

    def step(self) -> bool:
        """Do one round of every duty that is due; True if there is more to do right away."""
        busy = self.close_batches()
        refused: ChainError | None = None
        for batch in self.store.batches("pending"):
            try:
                self.submitter.sign_and_send(batch)
            except ChainError as exc:
                if isinstance(exc, RpcUnavailableError):
                    raise
                refused = exc  # keep following what is in flight; report after
                break
        submitted = self.store.batches("submitted")
        self._in_flight = bool(submitted) or refused is not None
        now = time.monotonic()
        every = IN_FLIGHT_REORG_CHECK if self._in_flight else IDLE_REORG_CHECK
        reorg_due = now - self._last_reorg_check > every
        if submitted or reorg_due:
            head = self.chain.block_number()
            self.service.pipeline_health["chainHead"] = head
            if submitted:
                latest_nonce = self.chain.transaction_count(self.sender.address, "latest")
                final_height = self.final_height(head)
                for batch in submitted:
                    self.submitter.follow(batch, final_height, latest_nonce)
            if reorg_due:
                self._last_reorg_check = now
                self.check_reorgs(head)
        if now - self._last_balance_check > BALANCE_CHECK:
            self._last_balance_check = now
            self.check_balance()
        if refused is not None:
            raise refused
        return busy

    def close_batches(self) -> bool:
        """Close a batch when the oldest waiting hash is ``batch_interval`` old or it is full."""
        count, oldest = self.store.unbatched()
        if count == 0 or oldest is None:
            return False
        full = count >= self.settings.max_batch
        if not full and time.time() - oldest < self.settings.batch_interval:
            return False
        with self.store.tx() as c:
            docs = self.store.take_unbatched(c, self.settings.max_batch)
            tree = merkle.build([d for _, d in docs])
            cur = c.execute(
                "INSERT INTO batches (root, leaf_count, status, created_at) "
                "VALUES (?, ?, 'pending', ?)",
                (tree.root, len(docs), time.time()),
            )
            batch_id = int(cur.lastrowid or 0)
            c.executemany(
                "UPDATE docs SET batch_id = ? WHERE seq = ?", [(batch_id, s) for s, _ in docs]
            )
        self.m_batch_size.observe(len(docs))
        log.info(
            "batch %d closed with %d leaves",
            batch_id,
            len(docs),
            extra={"event": "batch_closed", "batch": batch_id, "leaves": len(docs)},
        )
        return count - len(docs) >= self.settings.max_batch

    def final_height(self, head: int) -> int:
        """The highest block this node treats as final: by confirmations, or the finalized tag."""
        if self.confirmations == "finalized":
            return self.chain.block("finalized").number
        return head - self.confirmations + 1

    # --- reorgs and balance ---------------------------------------------------------------------

    def request_reorg_check(self) -> None:
        """Re-check recent anchors on the next step (the indexer calls this after a rollback)."""
        self._last_reorg_check = 0.0
        self._wake.set()

    def check_reorgs(self, head: int) -> None:
        for batch in self.store.recent_confirmed(max(0, head - self.settings.reorg_window)):
            assert batch.block_number is not None
            try:
                canonical = self.chain.block_hash(batch.block_number) == batch.block_hash
            except Exception as exc:
                if isinstance(exc, RpcUnavailableError):
                    raise
                canonical = False
            if canonical:
                continue
            self.m_reorgs.inc()
            with self.store.tx() as c:
                c.execute(
                    "UPDATE batches SET status = 'submitted', tx_hash = NULL, block_number = NULL,"
                    " block_hash = NULL, block_time = NULL, confirmed_at = NULL WHERE id = ?",
                    (batch.id,),
                )
                c.execute(
                    "UPDATE txs SET state = 'live' WHERE batch_id = ? AND tx_hash = ?",
                    (batch.id, batch.tx_hash),
                )
            log.warning(
                "reorg removed the anchor of batch %d (block %d); anchoring it again",
                batch.id,
                batch.block_number,
                extra={"event": "reorg", "batch": batch.id, "block": batch.block_number},
            )

    def check_balance(self) -> None:
        balance = self.chain.balance(self.sender.address)
        self.m_balance.set(balance)
        self.service.pipeline_health["signerBalanceWei"] = str(balance)
        low = balance < self.settings.low_balance_wei
        self.service.pipeline_health["lowBalance"] = low
        if low and not self._low_balance:
            log.warning(
                "anchoring account %s balance %d wei is below %d wei; fund it",
                self.sender.address,
                balance,
                self.settings.low_balance_wei,
                extra={"event": "low_balance", "balance": str(balance)},
            )
        self._low_balance = low
