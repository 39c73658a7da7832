"""Verification records of presentation checks: every check, accepted or refused, becomes a
record written durably (group commit, before the answer) to the licence database and anchored
like a document check — the same log and the same hash (``receipts.record_hash``) as the
licence service's document checks, so ``GET /v1/verifications/{id}`` and its receipt serve both.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from credledger.node.auth import Principal
from credledger.node.core.receipts import record_hash
from credledger.node.groupcommit import Verification, VerificationLog

from .models import AssetCheck, Reason, RecordReceipt
from .tokens import TokenCheck

FORMAT = "credledger-presentation-verification-1"


def new_id() -> str:
    return "vr_" + uuid.uuid4().hex


def summary(reasons: list[Reason], assets: list[AssetCheck]) -> dict[str, Any]:
    """What the counter's list of checks keeps (the clerk's list of today, the holder's
    receipt): reason codes and each asset's verdict and type."""
    return {
        "reasons": [r.code for r in reasons],
        "assets": [
            {
                "assetId": a.assetId,
                "verdict": a.verdict,
                "type": a.type.code if a.type is not None else None,
            }
            for a in assets
        ],
    }


class PresentationRecords:
    """``log``: the licence service's record log (durable, anchored on its own thread)."""

    def __init__(self, log: VerificationLog, chain_id: int, registry_address: str) -> None:
        self.log = log
        self.chain_id = chain_id
        self.registry_address = registry_address

    def record(
        self,
        vid: str,
        who: Principal,
        token: TokenCheck,
        verdict: str,
        reasons: list[Reason],
        assets: list[AssetCheck],
        doc_hash: bytes | None,
        chain_head: int,
    ) -> dict[str, Any]:
        """The record as it is hashed and anchored (its format is documented in
        ``docs/counter.md``)."""
        shown = token.shown()
        return {
            "format": FORMAT,
            "id": vid,
            "checked": {
                "presentation": shown.body() if shown is not None else None,
                "documentHash": "0x" + doc_hash.hex() if doc_hash else None,
            },
            "verdict": verdict,
            "reasons": [r.code for r in reasons],
            "assets": [
                {"assetId": a.assetId, "verdict": a.verdict, "reasons": [r.code for r in a.reasons]}
                for a in assets
            ],
            "checkedBy": who.label,
            "department": who.department,
            "checkedAt": int(time.time()),
            "chainId": self.chain_id,
            "chainHead": chain_head,
            "registry": self.registry_address,
        }

    def write(self, vid: str, record: dict[str, Any], assets: list[AssetCheck]) -> RecordReceipt:
        """Write ``record`` durably (the licences it names get it in their history); its id,
        hash and anchoring status."""
        rhash = record_hash(record)
        licence_ids = tuple(a.asset_id for a in assets if a.kind == "licence")
        status = self.log.write(Verification(vid, rhash, record, licence_ids))
        return RecordReceipt(id=vid, recordHash="0x" + rhash.hex(), anchorStatus=status)
