"""Document verdicts: what a clerk is told about a document (or its hash).

Pure functions over licence state read from the chain, so the rules are testable without a
chain and the same for the API, the CLI and the clerk page.

Order of precedence for a licence whose *current* document matches:
REVOKED (final) > SUSPENDED > EXPIRED (now past ``valid_until``) > NOT_YET_VALID > VALID.
A document that was the licence's document before an amendment is SUPERSEDED; a document that
is neither is TAMPERED when the caller named the licence, UNKNOWN otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from credledger.node.licences.inputs import iso


class Verdict(StrEnum):
    VALID = "VALID"
    SUSPENDED = "SUSPENDED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    SUPERSEDED = "SUPERSEDED"
    TAMPERED = "TAMPERED"
    UNKNOWN = "UNKNOWN"


class Status(StrEnum):
    """A licence's status as shown: the stored one, with EXPIRED / NOT_YET_VALID from time."""

    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"


def effective_status(stored: str, valid_from: int, valid_until: int, now: int) -> Status:
    """``stored`` is the contract's status (ACTIVE, SUSPENDED, REVOKED); time adds the rest.

    ``valid_until`` is exclusive, as in the contract; 0 means open-ended (长期).
    """
    stored = stored.upper()
    if stored == "REVOKED":
        return Status.REVOKED
    if stored == "SUSPENDED":
        return Status.SUSPENDED
    if valid_until and now >= valid_until:
        return Status.EXPIRED
    if now < valid_from:
        return Status.NOT_YET_VALID
    return Status.ACTIVE


_STATUS_VERDICT = {
    Status.ACTIVE: Verdict.VALID,
    Status.SUSPENDED: Verdict.SUSPENDED,
    Status.REVOKED: Verdict.REVOKED,
    Status.EXPIRED: Verdict.EXPIRED,
    Status.NOT_YET_VALID: Verdict.NOT_YET_VALID,
}


@dataclass(frozen=True)
class LicenceFacts:
    """What the verdict needs to know about one licence."""

    licence_id: bytes
    status: Status
    doc_hash: bytes
    # documents the licence had before amendments, oldest first
    previous_doc_hashes: tuple[bytes, ...] = ()
    status_reason: str | None = None
    status_since: int | None = None
    valid_until: int = 0


@dataclass
class Outcome:
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    licence_ids: list[bytes] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reasons": self.reasons,
            "licenceIds": ["0x" + x.hex() for x in self.licence_ids],
        }


def _status_reasons(f: LicenceFacts) -> list[str]:
    lid = "0x" + f.licence_id.hex()
    if f.status is Status.ACTIVE:
        return [f"licence {lid} is active and the document is its current version"]
    if f.status is Status.EXPIRED:
        return [f"licence {lid} expired at {iso(f.valid_until)}"]
    if f.status is Status.NOT_YET_VALID:
        return [f"licence {lid} is not valid yet"]
    since = f" since {iso(f.status_since)}" if f.status_since else ""
    why = f": {f.status_reason}" if f.status_reason else ""
    return [f"licence {lid} is {f.status.value.lower()}{since}{why}"]


def judge_claimed(doc_hash: bytes, licence: LicenceFacts | None) -> Outcome:
    """The caller says the document is ``licence``'s document."""
    if licence is None:
        return Outcome(Verdict.UNKNOWN, ["the claimed licence does not exist on chain"])
    if doc_hash == licence.doc_hash:
        return Outcome(
            _STATUS_VERDICT[licence.status], _status_reasons(licence), [licence.licence_id]
        )
    if doc_hash in licence.previous_doc_hashes:
        return Outcome(
            Verdict.SUPERSEDED,
            [
                f"this document is an earlier version of licence 0x{licence.licence_id.hex()}, "
                "which was amended; ask for the current document"
            ],
            [licence.licence_id],
        )
    return Outcome(
        Verdict.TAMPERED,
        [
            f"the document's hash 0x{doc_hash.hex()} differs from licence "
            f"0x{licence.licence_id.hex()}'s document hash 0x{licence.doc_hash.hex()}"
        ],
        [licence.licence_id],
    )


def judge_unclaimed(
    doc_hash: bytes, matches: list[LicenceFacts], anchored_at: int | None = None
) -> Outcome:
    """No licence named: look at every licence whose current or earlier document is this one.

    ``anchored_at`` is the anchoring time when the hash is an anchored material instead.
    """
    current = [m for m in matches if m.doc_hash == doc_hash]
    if current:
        # one document can back several licences only by mistake; the worst status wins
        order = [Status.REVOKED, Status.SUSPENDED, Status.EXPIRED, Status.NOT_YET_VALID]
        worst = next((m for s in order for m in current if m.status is s), current[0])
        reasons = [r for m in current for r in _status_reasons(m)]
        return Outcome(_STATUS_VERDICT[worst.status], reasons, [m.licence_id for m in current])
    old = [m for m in matches if doc_hash in m.previous_doc_hashes]
    if old:
        return Outcome(
            Verdict.SUPERSEDED,
            [
                f"this document is an earlier version of licence 0x{m.licence_id.hex()}, "
                "which was amended"
                for m in old
            ],
            [m.licence_id for m in old],
        )
    if anchored_at:
        return Outcome(
            Verdict.VALID,
            [f"the document was anchored on chain at {iso(anchored_at)} as a material"],
        )
    return Outcome(
        Verdict.UNKNOWN,
        ["no licence or anchored material on chain has this document hash"],
    )
