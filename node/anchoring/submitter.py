"""The anchoring pipeline's sending side: sign, persist, broadcast, follow, replace, confirm.

Every anchor transaction goes through the node's :class:`node.core.tx.TxSender` (the same nonce
sequence as the licence services' writes), in steps apart so the crash guarantee holds: under the
sender's nonce lock a nonce is taken, the transaction signed (:meth:`TxSender.sign_call`) and
*persisted* (fsync), and only then broadcast (:meth:`TxSender.broadcast`). After a crash the
persisted bytes are re-broadcast as they are (same nonce, same hash); see
:mod:`node.anchoring.pipeline` for what happens when that nonce went elsewhere meanwhile.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from credledger.node.anchoring.store import AnchorStore, BatchRow, TxRow
from credledger.node.core.chain import Chain
from credledger.node.core.contracts.anchor_registry import AnchorRegistry
from credledger.node.core.errors import ChainError, ContractRevert, RpcUnavailableError
from credledger.node.core.tx import SignedTx, TxSender
from credledger.node.metrics import Metrics
from credledger.node.settings import AnchoringSettings

log = logging.getLogger("credledger.node.anchoring")

GWEI = 10**9


class Submitter:
    """Sends the pending batches and follows the submitted ones until they are final."""

    def __init__(
        self,
        store: AnchorStore,
        sender: TxSender,
        anchors: AnchorRegistry,
        settings: AnchoringSettings,
        metrics: Metrics,
    ) -> None:
        self.store = store
        self.sender = sender
        self.chain: Chain = sender.chain
        self.address = sender.address
        self.anchors = anchors
        self.settings = settings
        self._last_broadcast: dict[int, float] = {}
        self._at_cap: set[int] = set()
        m = metrics
        self.m_batches = m.counter("anchor_batches_confirmed_total", "batches confirmed")
        self.m_latency = m.histogram(
            "anchor_latency_seconds", "time from submission to confirmation per hash"
        )
        self.m_bumps = m.counter("anchor_fee_bumps_total", "stuck anchor transactions replaced")
        self.m_sent = m.counter("anchor_transactions_signed_total", "anchor transactions signed")

    # --- signing and sending --------------------------------------------------------------------

    def fees(self, bump_from: TxRow | None = None) -> tuple[int, int]:
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
            return fee, min(tip, fee)  # a replacement is never capped down: see bump
        fee = min(fee, cap_wei)
        tip = min(tip, fee)
        return fee, tip

    def _sign(self, batch: BatchRow, nonce: int, fee: int, tip: int) -> SignedTx:
        return self.sender.sign_call(
            self.anchors.address,
            self.anchors.anchor_calldata(batch.root, batch.leaf_count),
            nonce=nonce,
            gas=self.settings.anchor_gas,
            fee_cap=fee,
            tip=tip,
        )

    def _persist(self, batch: BatchRow, signed: SignedTx) -> TxRow:
        now = time.time()
        with self.store.tx() as c:
            cur = c.execute(
                "INSERT INTO txs (batch_id, nonce, tx_hash, raw, fee_cap, tip, state, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'live', ?)",
                (batch.id, signed.nonce, signed.hash, signed.raw, signed.fee_cap, signed.tip, now),
            )
            c.execute(
                "UPDATE batches SET status = 'submitted', anchor_count = anchor_count + 1 "
                "WHERE id = ?",
                (batch.id,),
            )
        return TxRow(
            int(cur.lastrowid or 0), batch.id, signed.nonce, signed.hash, signed.raw,
            signed.fee_cap, signed.tip, "live", now, None,
        )  # fmt: skip

    def preflight(self, batch: BatchRow) -> bool:
        """Simulate anchor(); False if the root is already anchored (adopted instead).

        Any other revert (role missing, anchorer retired …) raises, so the loop backs off and
        ``/health`` shows the reason instead of burning gas on transactions that would fail.
        """
        if not self.anchors.is_anchorer(self.address):
            # the registry accepts anyone's anchor() but only counts anchors of role holders
            raise ChainError(
                f"the node account {self.address} lacks ANCHORER_ROLE on "
                f"{self.anchors.address}; an admin must grant it before batches are anchored"
            )
        try:
            self.anchors.preflight_anchor(batch.root, batch.leaf_count, self.address)
        except ContractRevert as err:
            if self.adopt_existing(batch):
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
        fee, tip = self.fees()
        with self.sender.nonces.lock:
            signed = self._sign(batch, self.sender.nonces.take(), fee, tip)
            row = self._persist(batch, signed)
            self.m_sent.inc()
            log.info(
                "batch %d signed as 0x%s (nonce %d)",
                batch.id,
                signed.hash.hex(),
                signed.nonce,
                extra={"event": "tx_signed", "batch": batch.id, "nonce": signed.nonce},
            )
            self.broadcast(row)

    def broadcast(self, t: TxRow) -> None:
        """Send the persisted raw bytes; harmless if the node already has them."""
        self._last_broadcast[t.id] = time.monotonic()
        try:
            self.sender.broadcast(t.raw)
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

    def follow(self, batch: BatchRow, final_height: int, latest_nonce: int) -> None:
        live = self.store.live_txs(batch.id)
        if not live:
            self.set_pending(batch, "no live transaction")
            return
        for t in live:
            receipt = self.chain.receipt(t.tx_hash)
            if receipt is None:
                continue
            if int(receipt["status"]) == 1:
                if int(receipt["blockNumber"]) <= final_height:
                    if self.anchors.anchored_at(batch.root) == 0:
                        # mined, but the registry does not count it (role revoked meanwhile)
                        self.reverted(batch, t)
                        return
                    self.confirm(batch, t, receipt)
                return
            self.reverted(batch, t)
            return
        nonce = live[0].nonce
        if nonce < latest_nonce:
            # the nonce is used; if none of our attempts has a receipt, another tx took it
            if all(self.chain.receipt(t.tx_hash) is None for t in live):
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
                self.broadcast(t)
        if time.time() - newest.created_at > self.settings.stuck_after:
            self.bump(batch, newest)

    def bump(self, batch: BatchRow, newest: TxRow) -> None:
        fee, tip = self.fees(bump_from=newest)
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
        signed = self._sign(batch, newest.nonce, fee, tip)
        row = self._persist(batch, signed)
        self.m_bumps.inc()
        log.warning(
            "batch %d stuck; replaced with 0x%s at %d wei",
            batch.id,
            signed.hash.hex(),
            fee,
            extra={"event": "fee_bump", "batch": batch.id, "fee": fee},
        )
        self.broadcast(row)

    def confirm(self, batch: BatchRow, t: TxRow, receipt: Any) -> None:
        block_time = self.chain.block(int(receipt["blockNumber"])).timestamp
        now = time.time()
        with self.store.tx() as c:
            c.execute(
                "UPDATE batches SET status = 'confirmed', tx_hash = ?, block_number = ?, "
                "block_hash = ?, block_time = ?, confirmed_at = ? WHERE id = ?",
                (
                    t.tx_hash,
                    int(receipt["blockNumber"]),
                    bytes(receipt["blockHash"]),
                    block_time,
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

    def adopt_existing(self, batch: BatchRow) -> bool:
        """If the root is already anchored (by an earlier tx of ours), confirm with that tx."""
        if self.anchors.anchored_at(batch.root) == 0:
            return False
        txs = self.anchors.anchor_transactions(batch.root)
        if not txs:
            return False
        receipt = self.chain.receipt(txs[-1])
        if receipt is None:
            return False
        row = TxRow(0, batch.id, -1, txs[-1], b"", 0, 0, "live", 0, None)
        self.confirm(batch, row, receipt)
        return True

    def reverted(self, batch: BatchRow, t: TxRow) -> None:
        """A reverted anchor: if the root is anchored by another tx of ours, adopt that one."""
        if self.adopt_existing(batch):
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

    def set_pending(self, batch: BatchRow, why: str) -> None:
        with self.store.tx() as c:
            c.execute("UPDATE batches SET status = 'pending' WHERE id = ?", (batch.id,))
        log.warning("batch %d back to pending: %s", batch.id, why)
