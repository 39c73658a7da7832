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


# --- e-seals (docs/standards.md "E-seals") ---------------------------------------------------


class SealStatus(StrEnum):
    """A licence version's e-seal: VALID (the signature verifies over the metadata, the key is
    the issuing department's SM2 key, not retired when the seal was made), INVALID (any of that
    fails: the verdict is refused), MISSING (no seal on chain), UNCHECKED (sealed, key checked,
    but the signed metadata was not presented and this node does not hold it in clear — a
    person's licence, or one sealed by another node)."""

    VALID = "VALID"
    INVALID = "INVALID"
    MISSING = "MISSING"
    UNCHECKED = "UNCHECKED"


@dataclass(frozen=True)
class SealFacts:
    """What the seal check needs about one licence version (from the read model and the
    metadata the holder presented or the node kept)."""

    licence_id: bytes
    version: int
    issuer: str  # the department that wrote this version (issued it, or amended it)
    # the latest LicenceSealed of this version: key id, block time, tx
    key_id: int | None = None
    sealed_at: int = 0
    # the key's on-chain record (None: no such key)
    key_department: str | None = None
    key_kind: int = 0
    key_retired_at: int = 0
    # the seal comes after the key's retirement in chain order
    sealed_after_retirement: bool = False
    # the department had an SM2 key in use when this version was written
    issuer_had_key: bool = False
    issuer_key_id: int | None = None
    # the signature check over the metadata: True / False, None when no metadata to check
    signature_ok: bool | None = None
    metadata_source: str | None = None  # "presented" | "node"
    # the metadata's number and identifier version, checked against the licence: its number
    # must give this licence id (with the licence's type), its version the licence's version
    metadata_number: str | None = None
    metadata_names_licence: bool = True
    metadata_version: int | None = None


@dataclass(frozen=True)
class SealCheck:
    status: SealStatus
    reason: str
    key_id: int | None = None
    department: str | None = None
    refuse: bool = False  # the verdict must not be VALID

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "reason": self.reason,
            "department": self.department,
            "keyId": self.key_id,
        }


def judge_seal(f: SealFacts) -> SealCheck:
    """The seal verdict of one licence version (the rules of docs/standards.md "E-seals")."""
    if f.key_id is None:
        if f.issuer_had_key:
            return SealCheck(
                SealStatus.MISSING,
                f"version {f.version} carries no seal although its department had seal key "
                f"{f.issuer_key_id} in use when it was written",
                department=f.issuer,
                refuse=True,
            )
        return SealCheck(
            SealStatus.MISSING,
            f"version {f.version} was written without a seal (its department had no seal key)",
            department=f.issuer,
        )

    def bad(reason: str) -> SealCheck:
        return SealCheck(SealStatus.INVALID, reason, f.key_id, f.key_department, refuse=True)

    if f.key_department is None:
        return bad(f"seal key {f.key_id} is not registered on chain")
    if f.key_kind != 1:
        return bad(f"seal key {f.key_id} is not an SM2 e-seal key (kind {f.key_kind})")
    if f.key_department.lower() != f.issuer.lower():
        return bad(
            f"seal key {f.key_id} belongs to department {f.key_department}, not to the "
            f"issuing department {f.issuer}"
        )
    if f.sealed_after_retirement:
        return bad(
            f"seal key {f.key_id} was retired at {iso(f.key_retired_at)}, before this seal "
            f"was made at {iso(f.sealed_at)}"
        )
    if f.metadata_version is not None and f.metadata_version != f.version:
        return bad(
            f"the metadata's identifier names version {f.metadata_version}, the licence is at "
            f"version {f.version}"
        )
    if not f.metadata_names_licence:
        return bad(
            f"the metadata's number {f.metadata_number!r} names another licence, not "
            f"0x{f.licence_id.hex()}"
        )
    if f.signature_ok is None:
        return SealCheck(
            SealStatus.UNCHECKED,
            f"sealed by key {f.key_id} of the issuing department; the signed metadata holds "
            "data this node does not keep: present the licence's metadata to check the signature",
            f.key_id,
            f.key_department,
        )
    if not f.signature_ok:
        what = "the presented metadata" if f.metadata_source == "presented" else "the metadata"
        return bad(
            f"the SM2 signature of seal key {f.key_id} does not verify over {what}: a field "
            "differs from what the department sealed"
        )
    retired = (
        f" (key retired at {iso(f.key_retired_at)}, after the seal)" if f.key_retired_at else ""
    )
    source = "presented" if f.metadata_source == "presented" else "sealed"
    return SealCheck(
        SealStatus.VALID,
        f"sealed by key {f.key_id} of the issuing department at {iso(f.sealed_at)}; the SM2 "
        f"signature verifies over the {source} metadata{retired}",
        f.key_id,
        f.key_department,
    )


_SEAL_REFUSABLE = (Verdict.VALID, Verdict.SUSPENDED, Verdict.EXPIRED, Verdict.NOT_YET_VALID)


def with_seal(outcome: Outcome, seal: SealCheck) -> Outcome:
    """A refused seal turns a current document's verdict into TAMPERED, its reason first."""
    if not seal.refuse or outcome.verdict not in _SEAL_REFUSABLE:
        return outcome
    return Outcome(
        Verdict.TAMPERED, [f"e-seal: {seal.reason}", *outcome.reasons], outcome.licence_ids
    )
