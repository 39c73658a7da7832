"""The anchoring service: accept hashes durably, answer their status and receipts.

``AnchoringService.submit`` is what the API, the CLI and other services (verification records,
the materials bank) call; it returns only after the hashes are committed to SQLite with fsync.
The background :class:`node.anchoring.pipeline.Pipeline` batches, anchors and confirms them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from credledger.node.anchoring.store import AnchorStore, BatchRow, DocRow
from credledger.node.core import merkle
from credledger.node.core.errors import InputError, NotFoundError, PayloadTooLargeError
from credledger.node.core.fingerprints import FINGERPRINTS, Fingerprint, anchored_value
from credledger.node.core.receipts import build_receipt, hex32
from credledger.node.metrics import Metrics
from credledger.node.settings import AnchoringSettings

Status = Literal["pending", "submitted", "confirmed"]


@dataclass
class AnchorRecord:
    """Where one document hash is in the pipeline; ``receipt`` is set once confirmed.

    ``doc_hash`` is the document's fingerprint under ``fingerprint`` (what the caller sent);
    ``anchored`` the value the tree takes (the same bytes for SHA-256, the tagged value for SM3).
    """

    doc_hash: bytes
    status: Status
    submitted_at: float
    batch_id: int | None = None
    root: bytes | None = None
    tx_hash: bytes | None = None
    block_number: int | None = None
    receipt: dict[str, Any] | None = field(default=None, repr=False)
    fingerprint: Fingerprint = "sha256"
    anchored: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "hash": hex32(self.doc_hash),
            "fingerprint": self.fingerprint,
            "status": self.status,
            "submittedAt": self.submitted_at,
        }
        if self.anchored is not None and self.anchored != self.doc_hash:
            body["anchoredValue"] = hex32(self.anchored)
        if self.batch_id is not None:
            body["batch"] = self.batch_id
        if self.root is not None:
            body["root"] = hex32(self.root)
        if self.tx_hash is not None:
            body["transactionHash"] = hex32(self.tx_hash)
        if self.block_number is not None:
            body["blockNumber"] = self.block_number
        if self.receipt is not None:
            body["receipt"] = self.receipt
        return body


class AnchoringService:
    """Durable intake and lookups; shares the store with the pipeline worker."""

    def __init__(
        self,
        store: AnchorStore,
        settings: AnchoringSettings,
        *,
        chain_id: int,
        contract: str,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.chain_id = chain_id
        self.contract = contract
        self.metrics = metrics or Metrics()
        self._accepted = self.metrics.counter("anchor_hashes_accepted_total", "new hashes stored")
        self._trees: OrderedDict[int, merkle.Tree] = OrderedDict()
        self._trees_lock = threading.Lock()
        self.pipeline_health: dict[str, Any] = {}

    # --- intake -------------------------------------------------------------------------------

    def check_count(self, count: int, what: str = "hashes") -> None:
        """Refuse an empty request or one over ``max_hashes_per_request`` items."""
        limit = self.settings.max_hashes_per_request
        if count > limit:
            raise PayloadTooLargeError(
                f"{count} {what} in one request; the limit is {limit}, split the request",
                limit=limit,
                count=count,
            )
        if count == 0:
            raise InputError(f"no {what} given; send at least one")

    @property
    def default_fingerprint(self) -> Fingerprint:
        """The fingerprint of an API request that names none (``anchoring.fingerprint``)."""
        return self.settings.fingerprint

    def submit(
        self, hashes: Sequence[bytes], fingerprint: Fingerprint = "sha256"
    ) -> list[AnchorRecord]:
        """Store ``hashes`` durably (fsync) and return their records, in input order.

        ``hashes`` are fingerprints under ``fingerprint`` (``sha256``, the default for the node's
        own callers: any 32-byte value is anchored as it is; ``sm3``: SM3 digests, anchored under
        their tagged value, ``core/fingerprints.py``). All or nothing: any item that is not 32
        bytes refuses the whole call with an :class:`InputError` naming each bad index. A hash
        already known returns its record and is never a second leaf.
        """
        self.check_count(len(hashes))
        bad = [
            {"index": i, "reason": "not 32 bytes"}
            for i, h in enumerate(hashes)
            if not isinstance(h, bytes | bytearray) or len(h) != 32
        ]
        if bad:
            raise InputError(f"{len(bad)} invalid hashes; nothing was stored", items=bad)
        rows, new = self.store.add_docs([bytes(h) for h in hashes], fingerprint)
        self._accepted.inc(new)
        return self._records(rows)

    def _records(self, rows: Sequence[DocRow]) -> list[AnchorRecord]:
        batch_ids = {r.batch_id for r in rows if r.batch_id is not None}
        batches: dict[int, BatchRow] = {b: self.store.batch(b) for b in batch_ids}
        out = []
        for r in rows:
            if r.batch_id is None:
                record = AnchorRecord(r.document_hash, "pending", r.submitted_at)
            else:
                b = batches[r.batch_id]
                status: Status = b.status  # type: ignore[assignment]
                record = AnchorRecord(
                    r.document_hash,
                    status,
                    r.submitted_at,
                    batch_id=b.id,
                    root=b.root,
                    tx_hash=b.tx_hash if status == "confirmed" else None,
                    block_number=b.block_number if status == "confirmed" else None,
                )
            record.fingerprint, record.anchored = r.fingerprint, r.doc_hash
            out.append(record)
        return out

    # --- lookups ------------------------------------------------------------------------------

    def _row(self, doc_hash: bytes, fingerprint: Fingerprint | None) -> DocRow | None:
        """The row of a fingerprint; with ``fingerprint`` None, of either kind (the deployment's
        default first: the same 32 bytes may have been sent as both)."""
        kinds = (
            [fingerprint]
            if fingerprint is not None
            else [self.default_fingerprint]
            + [f for f in FINGERPRINTS if f != self.default_fingerprint]
        )
        for kind in kinds:
            row = self.store.doc(anchored_value(bytes(doc_hash), kind))
            if row is not None and row.fingerprint == kind:
                return row
        return None

    def get(self, doc_hash: bytes, fingerprint: Fingerprint | None = "sha256") -> AnchorRecord:
        """The record of ``doc_hash`` (a fingerprint under ``fingerprint``; None: either kind),
        with its receipt when confirmed; NotFoundError if unknown."""
        row = self._row(doc_hash, fingerprint)
        if row is None:
            kind = f" as {fingerprint}" if fingerprint else ""
            raise NotFoundError(
                f"hash {hex32(doc_hash)} was never submitted to this node{kind}; POST it to "
                "/v1/anchors"
            )
        record = self._records([row])[0]
        if record.status == "confirmed" and record.batch_id is not None:
            record.receipt = self.receipt_for(row, self.store.batch(record.batch_id))
        return record

    def receipt(
        self, doc_hash: bytes, fingerprint: Fingerprint | None = "sha256"
    ) -> dict[str, Any]:
        record = self.get(doc_hash, fingerprint)
        if record.receipt is None:
            raise NotFoundError(
                f"no receipt yet for {hex32(doc_hash)}: it is {record.status}; try again after "
                "its batch is confirmed",
                status=record.status,
            )
        return record.receipt

    def tree(self, batch_id: int) -> merkle.Tree:
        with self._trees_lock:
            tree = self._trees.get(batch_id)
            if tree is not None:
                self._trees.move_to_end(batch_id)
                return tree
        tree = merkle.build(self.store.batch_docs(batch_id))
        with self._trees_lock:
            self._trees[batch_id] = tree
            while len(self._trees) > 8:
                self._trees.popitem(last=False)
        return tree

    def receipt_for(self, row: DocRow, batch: BatchRow) -> dict[str, Any]:
        tree = self.tree(batch.id)
        if tree.root != batch.root:  # pragma: no cover - would mean a corrupted store
            raise RuntimeError(f"batch {batch.id} rebuilds to another root")
        index = tree.doc_hashes.index(row.doc_hash)
        assert batch.tx_hash and batch.block_hash and batch.block_number is not None
        return build_receipt(
            doc_hash=row.document_hash,
            fingerprint=row.fingerprint,
            proof=tree.proof(index),
            root=batch.root,
            leaf_count=batch.leaf_count,
            chain_id=self.chain_id,
            contract=self.contract,
            tx_hash=batch.tx_hash,
            block_number=batch.block_number,
            block_hash=batch.block_hash,
            block_time=int(batch.block_time or 0),
            submitted_at=row.submitted_at,
        )

    def health(self) -> dict[str, Any]:
        counts = self.store.status_counts()
        return {
            "fingerprint": self.default_fingerprint,
            "queueDepth": counts["pending"] + counts["submitted"],
            **counts,
            **self.pipeline_health,
        }
