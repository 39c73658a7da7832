"""Verification records of presentation checks: every check, accepted or refused, becomes a
record written durably (group commit, before the answer) to the licence database and anchored
like a document check — the same log and the same hash (``receipts.record_hash``) as the
licence service's document checks, so ``GET /v1/verifications/{id}`` and its receipt serve both.
"""

from __future__ import annotations

import json
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

    def write(
        self,
        vid: str,
        record: dict[str, Any],
        licence_ids: tuple[bytes, ...],
        *,
        once: bool = False,
    ) -> RecordReceipt:
        """Write ``record`` durably (the licences it names get it in their history); its id,
        hash and anchoring status. ``once``: a record already written (a crash came before its
        pending row was resolved) is not written again."""
        rhash = record_hash(record)
        if once and self.log.database.query_one("SELECT 1 FROM verifications WHERE id=?", (vid,)):
            return RecordReceipt(id=vid, recordHash="0x" + rhash.hex(), anchorStatus="queued")
        status = self.log.write(Verification(vid, rhash, record, licence_ids))
        return RecordReceipt(id=vid, recordHash="0x" + rhash.hex(), anchorStatus=status)

    def stored(self, vid: str) -> dict[str, Any] | None:
        """The record ``vid`` as written to the licence database, or None."""
        row = self.log.database.query_one("SELECT record FROM verifications WHERE id=?", (vid,))
        return json.loads(row[0]) if row is not None else None


def licence_ids(assets: list[AssetCheck]) -> tuple[bytes, ...]:
    """The licences a record names (they get it in their history)."""
    return tuple(a.asset_id for a in assets if a.kind == "licence")


def refused(record: dict[str, Any], code: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A pending VALID record turned REFUSED for ``code`` (its spend was not this node's), and
    its summary for the list of checks: no asset counts as checked."""
    assets = [a["assetId"] for a in record["assets"]]
    out = {
        **record,
        "verdict": "REFUSED",
        "reasons": [code],
        "assets": [{"assetId": a, "verdict": "NOT_CHECKED", "reasons": []} for a in assets],
    }
    listed = {
        "reasons": [code],
        "assets": [{"assetId": a, "verdict": "NOT_CHECKED", "type": None} for a in assets],
    }
    return out, listed


def summary_of(record: dict[str, Any]) -> dict[str, Any]:
    """The list-of-checks summary of a record (asset types are not in the record)."""
    return {
        "reasons": list(record["reasons"]),
        "assets": [
            {"assetId": a["assetId"], "verdict": a["verdict"], "type": None}
            for a in record["assets"]
        ],
    }
