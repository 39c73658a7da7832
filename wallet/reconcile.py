"""The wallet follows the chain: every grant its enterprises hold on ConsentRegistry has a row.

A grant is relayed first and recorded after; a wallet killed between the two (or a signed request
relayed by someone else, or a revocation sent straight to the contract) leaves the chain ahead of
the wallet's rows. :class:`Reconciler` closes that gap: it reads the ``ConsentGranted``,
``ConsentRevoked`` and ``ConsentUsed`` events of its enterprises' holder addresses from a stored
cursor (``chain_cursors``, one block number per enterprise, moved in the same transaction as the
rows it implies), at start-up and then every ``interval`` seconds, and

* adopts a granted slot it has no row for (``source = 'chain'``, ``created_by = 'chain'``),
* brings a row up to a later re-grant on chain (terms, transaction, no longer revoked),
* marks a row revoked by a ``ConsentRevoked`` later than its grant.

Uses need no row: a grant's use count and state are read live from the chain on every view.
While the chain's head has not moved, a pass is one ``eth_blockNumber`` (the idle cost stays
tiny: ``bench/idle_bench.py``). The wallet does not wait for confirmations here (the rows follow
the head; a reorganised block's grant would be re-read by the live state on every view).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from credledger.node.core.contracts.consent_registry import ConsentEvent, grant_key
from credledger.node.core.contracts.eip712 import AssetKind
from credledger.node.core.receipts import hex32
from credledger.wallet import purposes
from credledger.wallet.consent import ConsentChain
from credledger.wallet.store import WalletStore

log = logging.getLogger(__name__)

BLOCK_SPAN = 10_000  # blocks per eth_getLogs
HOLDERS_PER_QUERY = 200  # holder topics per eth_getLogs
DEFAULT_INTERVAL = 5.0  # seconds between head reads (the first pass runs at start)
CURSOR_WRITE_EVERY = 1000  # blocks the stored cursor may lag the in-memory one when nothing happens


class Reconciler:
    """Applies ConsentRegistry events of the wallet's enterprises to its ``grants`` rows."""

    def __init__(
        self,
        store: WalletStore,
        consent: ConsentChain,
        from_block: int,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.store = store
        self.consent = consent
        self.from_block = from_block
        self.interval = interval
        self._seen_head = -1
        self._cursors: dict[int, int] = {}  # in memory, ahead of chain_cursors over empty blocks
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.adopted = 0  # grants adopted from the chain since start (for tests and logs)
        self._relaying: Counter[str] = Counter()  # grant ids being relayed and recorded here
        self._relaying_lock = threading.Lock()

    @contextmanager
    def relaying(self, grant_id: str) -> Iterator[None]:
        """While the wallet relays and records a grant or revocation of ``grant_id``, its events
        wait for the next pass (so it is not taken for one made elsewhere in the milliseconds
        before the wallet's row commits)."""
        with self._relaying_lock:
            self._relaying[grant_id] += 1
        try:
            yield
        finally:
            with self._relaying_lock:
                self._relaying[grant_id] -= 1
                if self._relaying[grant_id] <= 0:
                    del self._relaying[grant_id]

    # --- the loop -------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wallet-reconcile", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync()
                self.last_error = None
            except Exception as exc:  # keep going: the chain may be restarting
                if str(exc) != self.last_error:
                    log.warning("reconciling grants with the chain: %s", exc)
                self.last_error = str(exc)
            self._stop.wait(self.interval)

    # --- one pass -------------------------------------------------------------------------------

    def sync(self, force: bool = False, adopt: str | None = None) -> int:
        """Apply every event up to the head; the number of rows changed. Cheap while idle.
        ``adopt``: a grant id the wallet must answer now; nothing is held back for relays in
        flight in that pass."""
        with self._lock:
            head = self.consent.head()
            if head == self._seen_head and not force:
                return 0
            enterprises = self.store.all(
                "SELECT e.id, e.address, c.block FROM enterprises e"
                " LEFT JOIN chain_cursors c ON c.enterprise_id = e.id"
            )
            by_address = {str(r["address"]).lower(): int(r["id"]) for r in enterprises}
            stored = {
                int(r["id"]): (int(r["block"]) if r["block"] is not None else self.from_block - 1)
                for r in enterprises
            }
            cursors = {e: max(b, self._cursors.get(e, b)) for e, b in stored.items()}
            changed = 0
            held: dict[int, int] = {}  # enterprise -> last block it may be moved to this pass
            behind = [r for r in enterprises if cursors[int(r["id"])] < head]
            while behind and not held:
                start = min(cursors[int(r["id"])] for r in behind) + 1
                end = min(head, start + BLOCK_SPAN - 1)
                holders = [str(r["address"]) for r in behind]
                events: list[ConsentEvent] = []
                for i in range(0, len(holders), HOLDERS_PER_QUERY):
                    events += self.consent.events(holders[i : i + HOLDERS_PER_QUERY], start, end)
                events.sort(key=lambda e: (e.block_number, e.log_index))
                quiet = not events and all(
                    max(cursors[int(r["id"])], end) - stored[int(r["id"])] < CURSOR_WRITE_EVERY
                    for r in behind
                )
                if quiet:  # no event, no cursor to store: no write at all
                    for r in behind:
                        ent = int(r["id"])
                        cursors[ent] = self._cursors[ent] = max(cursors[ent], end)
                    behind = [r for r in behind if cursors[int(r["id"])] < head]
                    continue
                with self.store.tx() as c:
                    for e in events:
                        owner = by_address.get(e.holder.lower())
                        if owner is None or e.block_number <= cursors[owner] or owner in held:
                            continue
                        if self._busy(e, adopt):
                            held[owner] = e.block_number - 1
                            continue
                        changed += self._apply(c, owner, e)
                    now = time.time()
                    for r in behind:
                        ent = int(r["id"])
                        cursors[ent] = self._cursors[ent] = max(cursors[ent], held.get(ent, end))
                        # rescanning is harmless (every change is idempotent), so the cursor is
                        # written when events were applied or every CURSOR_WRITE_EVERY blocks,
                        # not for each new empty block
                        if events or cursors[ent] - stored[ent] >= CURSOR_WRITE_EVERY:
                            c.execute(
                                "INSERT INTO chain_cursors (enterprise_id, block, updated_at)"
                                " VALUES (?,?,?) ON CONFLICT(enterprise_id) DO UPDATE SET"
                                " block=excluded.block, updated_at=excluded.updated_at",
                                (ent, cursors[ent], now),
                            )
                            stored[ent] = cursors[ent]
                behind = [r for r in behind if cursors[int(r["id"])] < head]
            self._seen_head = -1 if held else head
            if changed:
                log.warning("reconciled %d grant rows with the chain (to block %d)", changed, head)
            return changed

    def _busy(self, e: ConsentEvent, adopt: str | None) -> bool:
        if e.kind == "used":
            return False
        if adopt is not None:  # a grant the wallet must answer now: adopt what the chain holds
            return False
        gid = hex32(grant_key(e.holder, e.asset_id, e.grantee, e.purpose))
        with self._relaying_lock:
            return gid in self._relaying

    def _apply(self, c: sqlite3.Connection, enterprise_id: int, e: ConsentEvent) -> int:
        if e.kind == "used":
            return 0
        gid = hex32(grant_key(e.holder, e.asset_id, e.grantee, e.purpose))
        row: Any = c.execute(
            "SELECT block_number, tx_hash, revoked_tx FROM grants WHERE id=?", (gid,)
        ).fetchone()
        later = row is not None and (row[0] is None or e.block_number >= int(row[0]))
        if e.kind == "granted":
            kind = "material" if e.asset_kind == AssetKind.MATERIAL else "licence"
            if row is None:
                c.execute(
                    "INSERT INTO grants (id, enterprise_id, asset_id, asset_kind, grantee, purpose,"
                    " expires_at, max_uses, tx_hash, created_by, created_at, source, block_number)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (gid, enterprise_id, hex32(e.asset_id), kind, e.grantee,
                     purposes.name_of(e.purpose), e.expires_at, e.max_uses, e.tx_hash, "chain",
                     time.time(), "chain", e.block_number),
                )  # fmt: skip
                self.store.event(c, enterprise_id, "chain", "granted", grantId=gid,
                                 assetId=hex32(e.asset_id), grantee=e.grantee,
                                 purpose=purposes.name_of(e.purpose), expiresAt=e.expires_at,
                                 maxUses=e.max_uses, transactionHash=e.tx_hash,
                                 recoveredFromChain=True)  # fmt: skip
                self.adopted += 1
                return 1
            if later and str(row[1]).lower() != e.tx_hash.lower():
                c.execute(
                    "UPDATE grants SET expires_at=?, max_uses=?, tx_hash=?, block_number=?,"
                    " revoked_tx=NULL, revoked_at=NULL, revoked_by=NULL WHERE id=?",
                    (e.expires_at, e.max_uses, e.tx_hash, e.block_number, gid),
                )
                return 1
            return 0
        # revoked
        if row is None or not later or row[2] is not None:
            return 0
        c.execute(
            "UPDATE grants SET revoked_tx=?, revoked_at=?, revoked_by='chain' WHERE id=?",
            (e.tx_hash, time.time(), gid),
        )
        self.store.event(c, enterprise_id, "chain", "revoked", grantId=gid,
                         transactionHash=e.tx_hash, recoveredFromChain=True)  # fmt: skip
        return 1
