"""The background worker: batcher, durable submitter, confirmer, reorg watch, balance watch.

One thread runs :meth:`Pipeline.step` in a loop. Each step is idempotent and reads its state from
the store, so a crash at any line is recovered by the next process running the same step.

Nonces. The pipeline signs with the node's account and shares its :class:`node.tx.NonceManager`
with the synchronous :class:`node.tx.TxSender` (licence services): a nonce is taken, the
transaction signed and *persisted* and only then broadcast, all under the manager's lock. After a
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
anchored again and its receipt names the new block.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any, Literal

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound

from credledger.node.anchoring.service import AnchoringService
from credledger.node.anchoring.store import AnchorStore, BatchRow, TxRow
from credledger.node.core import merkle
from credledger.node.core.chain import Chain
from credledger.node.core.contracts.anchor_registry import AnchorRegistry
from credledger.node.core.errors import ChainError, ContractRevert, RpcUnavailableError
from credledger.node.core.retry import Backoff
from credledger.node.core.tx import NonceManager
from credledger.node.metrics import Metrics
from credledger.node.settings import AnchoringSettings

log = logging.getLogger("credledger.node.anchoring")

GWEI = 10**9


class Pipeline:
    """Batches, anchors and confirms; ``start``/``stop`` run it in a daemon thread."""

    def __init__(
        self,
        service: AnchoringService,
        chain: Chain,
        account: LocalAccount,
        nonces: NonceManager,
        settings: AnchoringSettings,
        *,
        contract: str,
        confirmations: int | Literal["finalized"],
        metrics: Metrics,
    ) -> None:
        self.service = service
        self.store: AnchorStore = service.store
        self.chain = chain
        self.account = account
        self.nonces = nonces
        self.settings = settings
        # "finalized": a batch is final once its block is at or below the chain's finalized tag
        self.confirmations: int | Literal["finalized"] = (
            confirmations if confirmations == "finalized" else max(int(confirmations), 1)
        )
        self.anchors = AnchorRegistry(chain, contract)
        self.registry = self.anchors.contract
        self.contract = self.registry.address
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff = Backoff()
        self._last_reorg_check = 0.0
        self._last_balance_check = 0.0
        self._last_broadcast: dict[int, float] = {}
        self._low_balance = False
        self._at_cap: set[int] = set()
        self.last_error: str | None = None
        m = metrics
        self.m_batches = m.counter("anchor_batches_confirmed_total", "batches confirmed")
        self.m_batch_size = m.histogram(
            "anchor_batch_size", "leaves per batch", (1, 16, 64, 256, 1024, 2048, 4096, 16384)
        )
        self.m_latency = m.histogram(
            "anchor_latency_seconds", "time from submission to confirmation per hash"
        )
        self.m_rpc_errors = m.counter("rpc_errors_total", "RPC calls that failed")
        self.m_reorgs = m.counter("reorgs_total", "anchors removed by a chain reorganisation")
        self.m_bumps = m.counter("anchor_fee_bumps_total", "stuck anchor transactions replaced")
        self.m_sent = m.counter("anchor_transactions_signed_total", "anchor transactions signed")
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
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def recover(self) -> None:
        """Re-broadcast every persisted live transaction before anything else is signed."""
        for batch in self.store.batches("submitted"):
            for t in self.store.live_txs(batch.id):
                self._broadcast(t)
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
            self._stop.wait(0.02 if busy else 0.1)

    # --- one step -----------------------------------------------------------------------------

    def step(self) -> bool:
        """Do one round of every duty; return True if there is more to do right away."""
        busy = self.close_batches()
        refused: ChainError | None = None
        for batch in self.store.batches("pending"):
            try:
                self.sign_and_send(batch)
            except ChainError as exc:
                if isinstance(exc, RpcUnavailableError):
                    raise
                refused = exc  # keep following what is in flight; report after
                break
        head = int(self.chain.w3.eth.block_number)
        self.service.pipeline_health["chainHead"] = head
        latest_nonce: int | None = None
        final_height: int | None = None
        for batch in self.store.batches("submitted"):
            if latest_nonce is None:
                latest_nonce = int(
                    self.chain.w3.eth.get_transaction_count(self.account.address, "latest")
                )
                final_height = self.final_height(head)
            assert final_height is not None
            self.follow(batch, final_height, latest_nonce)
        now = time.monotonic()
        if now - self._last_reorg_check > 1.0:
            self._last_reorg_check = now
            self.check_reorgs(head)
        if now - self._last_balance_check > 15.0:
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

    # --- signing and sending --------------------------------------------------------------------

    def _fees(self, bump_from: TxRow | None = None) -> tuple[int, int]:
        """(fee cap, tip) for a new transaction or a bumped replacement; legacy: (gasPrice, 0)."""
        cap_wei = int(self.settings.max_fee_gwei * GWEI)
        fields = self.chain.fee_fields()
        if "gasPrice" in fields:
            fee, tip = int(fields["gasPrice"]), 0
        else:
            fee, tip = int(fields["maxFeePerGas"]), int(fields["maxPriorityFeePerGas"])
        if bump_from is not None:
            factor = 1 + self.settings.fee_bump_percent / 100
            fee = max(fee, math.ceil(bump_from.fee_cap * factor))
            tip = max(tip, math.ceil(bump_from.tip * factor)) if tip or bump_from.tip else 0
            return fee, min(tip, fee)  # a replacement is never capped down: see _bump
        fee = min(fee, cap_wei)
        tip = min(tip, fee)
        return fee, tip

    def _sign(self, batch: BatchRow, nonce: int, fee: int, tip: int) -> tuple[bytes, bytes]:
        data = self.anchors.anchor_calldata(batch.root, batch.leaf_count)
        tx: dict[str, Any] = {
            "to": self.contract,
            "data": data,
            "value": 0,
            "gas": self.settings.anchor_gas,
            "nonce": nonce,
            "chainId": self.chain.chain_id,
        }
        if self.chain.supports_eip1559:
            tx["maxFeePerGas"] = fee
            tx["maxPriorityFeePerGas"] = tip
            tx["type"] = 2
        else:
            tx["gasPrice"] = fee
        signed = self.account.sign_transaction(tx)
        return bytes(signed.raw_transaction), bytes(signed.hash)

    def _persist(
        self, batch: BatchRow, nonce: int, raw: bytes, tx_hash: bytes, fee: int, tip: int
    ) -> TxRow:
        now = time.time()
        with self.store.tx() as c:
            cur = c.execute(
                "INSERT INTO txs (batch_id, nonce, tx_hash, raw, fee_cap, tip, state, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'live', ?)",
                (batch.id, nonce, tx_hash, raw, fee, tip, now),
            )
            c.execute(
                "UPDATE batches SET status = 'submitted', anchor_count = anchor_count + 1 "
                "WHERE id = ?",
                (batch.id,),
            )
        return TxRow(
            int(cur.lastrowid or 0), batch.id, nonce, tx_hash, raw, fee, tip, "live", now, None
        )

    def preflight(self, batch: BatchRow) -> bool:
        """Simulate anchor(); False if the root is already anchored (adopted instead).

        Any other revert (role missing, anchorer retired …) raises, so the loop backs off and
        ``/health`` shows the reason instead of burning gas on transactions that would fail.
        """
        if not self.anchors.is_anchorer(self.account.address):
            # the registry accepts anyone's anchor() but only counts anchors of role holders
            raise ChainError(
                f"the node account {self.account.address} lacks ANCHORER_ROLE on "
                f"{self.contract}; an admin must grant it before batches are anchored"
            )
        try:
            self.anchors.preflight_anchor(batch.root, batch.leaf_count, self.account.address)
        except ContractRevert as err:
            if self._adopt_existing(batch):
                return False
            raise ChainError(
                f"anchoring batch {batch.id} would revert: {err}; "
                "check the node account's ANCHORER_ROLE"
            ) from None
        return True

    def sign_and_send(self, batch: BatchRow) -> None:
        """Take a nonce, sign, persist (fsync), then broadcast -- all under the nonce lock."""
        if not self.preflight(batch):
            return
        fee, tip = self._fees()
        with self.nonces.lock:
            nonce = self.nonces.take()
            raw, tx_hash = self._sign(batch, nonce, fee, tip)
            row = self._persist(batch, nonce, raw, tx_hash, fee, tip)
            self.m_sent.inc()
            log.info(
                "batch %d signed as 0x%s (nonce %d)",
                batch.id,
                tx_hash.hex(),
                nonce,
                extra={"event": "tx_signed", "batch": batch.id, "nonce": nonce},
            )
            self._broadcast(row)

    def _broadcast(self, t: TxRow) -> None:
        """Send the persisted raw bytes; harmless if the node already has them."""
        self._last_broadcast[t.id] = time.monotonic()
        try:
            self.chain.w3.eth.send_raw_transaction(HexBytes(t.raw))
        except RpcUnavailableError:
            raise
        except Exception as exc:
            text = str(exc).lower()
            if "already" in text or "known" in text:
                pass
            elif "nonce too low" in text or "nonce is too low" in text or "underpriced" in text:
                log.info("tx 0x%s not accepted: %s", t.tx_hash.hex(), exc)
                return
            else:
                raise
        if t.sent_at is None:
            self.store.mark_sent(t.id)

    # --- following a submitted batch ------------------------------------------------------------

    def _receipt(self, tx_hash: bytes) -> Any:
        try:
            return self.chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    def final_height(self, head: int) -> int:
        """The highest block this node treats as final: by confirmations, or the finalized tag."""
        if self.confirmations == "finalized":
            return int(self.chain.w3.eth.get_block("finalized")["number"])
        return head - self.confirmations + 1

    def follow(self, batch: BatchRow, final_height: int, latest_nonce: int) -> None:
        live = self.store.live_txs(batch.id)
        if not live:
            self._set_pending(batch, "no live transaction")
            return
        for t in live:
            receipt = self._receipt(t.tx_hash)
            if receipt is None:
                continue
            if int(receipt["status"]) == 1:
                if int(receipt["blockNumber"]) <= final_height:
                    if self.anchors.anchored_at(batch.root) == 0:
                        # mined, but the registry does not count it (role revoked meanwhile)
                        self._reverted(batch, t)
                        return
                    self._confirm(batch, t, receipt)
                return
            self._reverted(batch, t)
            return
        nonce = live[0].nonce
        if nonce < latest_nonce:
            # the nonce is used; if none of our attempts has a receipt, another tx took it
            if all(self._receipt(t.tx_hash) is None for t in live):
                with self.store.tx() as c:
                    c.execute("UPDATE txs SET state = 'dead' WHERE batch_id = ?", (batch.id,))
                    c.execute("UPDATE batches SET status = 'pending' WHERE id = ?", (batch.id,))
                log.warning(
                    "nonce %d of batch %d went to another transaction; signing again",
                    nonce,
                    batch.id,
                    extra={"event": "nonce_taken", "batch": batch.id},
                )
            return
        newest = live[-1]
        now = time.monotonic()
        if now - self._last_broadcast.get(newest.id, 0.0) > 2.0:
            for t in live:
                self._broadcast(t)
        if time.time() - newest.created_at > self.settings.stuck_after:
            self._bump(batch, newest)

    def _bump(self, batch: BatchRow, newest: TxRow) -> None:
        fee, tip = self._fees(bump_from=newest)
        if fee > int(self.settings.max_fee_gwei * GWEI):  # +12.5% would pass the cap: wait
            if batch.id in self._at_cap:
                return
            self._at_cap.add(batch.id)
            log.warning(
                "batch %d stuck but fees are at the cap (%s gwei)",
                batch.id,
                self.settings.max_fee_gwei,
                extra={"event": "fee_cap_reached", "batch": batch.id},
            )
            return
        raw, tx_hash = self._sign(batch, newest.nonce, fee, tip)
        row = self._persist(batch, newest.nonce, raw, tx_hash, fee, tip)
        self.m_bumps.inc()
        log.warning(
            "batch %d stuck; replaced with 0x%s at %d wei",
            batch.id,
            tx_hash.hex(),
            fee,
            extra={"event": "fee_bump", "batch": batch.id, "fee": fee},
        )
        self._broadcast(row)

    def _confirm(self, batch: BatchRow, t: TxRow, receipt: Any) -> None:
        block = self.chain.w3.eth.get_block(int(receipt["blockNumber"]))
        now = time.time()
        with self.store.tx() as c:
            c.execute(
                "UPDATE batches SET status = 'confirmed', tx_hash = ?, block_number = ?, "
                "block_hash = ?, block_time = ?, confirmed_at = ? WHERE id = ?",
                (
                    t.tx_hash,
                    int(receipt["blockNumber"]),
                    bytes(receipt["blockHash"]),
                    int(block["timestamp"]),
                    now,
                    batch.id,
                ),
            )
            c.execute(
                "UPDATE txs SET state = 'dead' WHERE batch_id = ? AND id != ?", (batch.id, t.id)
            )
            times = [
                r[0]
                for r in c.execute("SELECT submitted_at FROM docs WHERE batch_id = ?", (batch.id,))
            ]
        for s in times:
            self.m_latency.observe(max(0.0, now - s))
        self.m_batches.inc()
        log.info(
            "batch %d confirmed in block %d",
            batch.id,
            int(receipt["blockNumber"]),
            extra={
                "event": "batch_confirmed",
                "batch": batch.id,
                "block": int(receipt["blockNumber"]),
            },
        )

    def _adopt_existing(self, batch: BatchRow) -> bool:
        """If the root is already anchored (by an earlier tx of ours), confirm with that tx."""
        if self.anchors.anchored_at(batch.root) == 0:
            return False
        logs = self.registry.events.Anchored().get_logs(
            from_block=0, argument_filters={"root": batch.root}
        )
        if not logs:
            return False
        ev = logs[-1]
        receipt = self.chain.w3.eth.get_transaction_receipt(ev["transactionHash"])
        row = TxRow(0, batch.id, -1, bytes(ev["transactionHash"]), b"", 0, 0, "live", 0, None)
        self._confirm(batch, row, receipt)
        return True

    def _reverted(self, batch: BatchRow, t: TxRow) -> None:
        """A reverted anchor: if the root is anchored by another tx of ours, adopt that one."""
        if self._adopt_existing(batch):
            return
        with self.store.tx() as c:
            c.execute("UPDATE txs SET state = 'dead' WHERE batch_id = ?", (batch.id,))
            c.execute("UPDATE batches SET status = 'pending' WHERE id = ?", (batch.id,))
        log.error(
            "anchor of batch %d reverted (0x%s); signing again",
            batch.id,
            t.tx_hash.hex(),
            extra={"event": "anchor_reverted", "batch": batch.id},
        )

    def _set_pending(self, batch: BatchRow, why: str) -> None:
        with self.store.tx() as c:
            c.execute("UPDATE batches SET status = 'pending' WHERE id = ?", (batch.id,))
        log.warning("batch %d back to pending: %s", batch.id, why)

    # --- reorgs and balance ---------------------------------------------------------------------

    def request_reorg_check(self) -> None:
        """Re-check recent anchors on the next step (the indexer calls this after a rollback)."""
        self._last_reorg_check = 0.0

    def check_reorgs(self, head: int) -> None:
        for batch in self.store.recent_confirmed(max(0, head - self.settings.reorg_window)):
            assert batch.block_number is not None
            try:
                block = self.chain.w3.eth.get_block(batch.block_number)
                canonical = bytes(block["hash"]) == batch.block_hash
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
        balance = int(self.chain.w3.eth.get_balance(self.account.address))
        self.m_balance.set(balance)
        self.service.pipeline_health["signerBalanceWei"] = str(balance)
        low = balance < self.settings.low_balance_wei
        self.service.pipeline_health["lowBalance"] = low
        if low and not self._low_balance:
            log.warning(
                "anchoring account %s balance %d wei is below %d wei; fund it",
                self.account.address,
                balance,
                self.settings.low_balance_wei,
                extra={"event": "low_balance", "balance": str(balance)},
            )
        self._low_balance = low
