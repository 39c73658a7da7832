"""Verdict rules without a chain: status from time, claimed and unclaimed documents."""

from __future__ import annotations

import pytest

from credledger.node.licences.verdicts import (
    LicenceFacts,
    Status,
    Verdict,
    effective_status,
    judge_claimed,
    judge_unclaimed,
)

DOC = b"\x11" * 32
OLD = b"\x22" * 32
OTHER = b"\x33" * 32
LID = b"\xaa" * 32


@pytest.mark.parametrize(
    ("stored", "valid_from", "valid_until", "now", "expected"),
    [
        ("ACTIVE", 100, 200, 150, Status.ACTIVE),
        ("ACTIVE", 100, 200, 199, Status.ACTIVE),
        ("ACTIVE", 100, 200, 200, Status.EXPIRED),  # validUntil is exclusive, as on chain
        ("ACTIVE", 100, 0, 10**10, Status.ACTIVE),  # open-ended
        ("ACTIVE", 100, 200, 99, Status.NOT_YET_VALID),
        ("SUSPENDED", 100, 200, 300, Status.SUSPENDED),  # suspension outranks expiry
        ("REVOKED", 100, 200, 150, Status.REVOKED),
        ("revoked", 100, 200, 300, Status.REVOKED),
    ],
)
def test_effective_status(
    stored: str, valid_from: int, valid_until: int, now: int, expected: Status
) -> None:
    assert effective_status(stored, valid_from, valid_until, now) is expected


def facts(status: Status, previous: tuple[bytes, ...] = ()) -> LicenceFacts:
    return LicenceFacts(LID, status, DOC, previous, "R01 inspection", 1234, 5678)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (Status.ACTIVE, Verdict.VALID),
        (Status.SUSPENDED, Verdict.SUSPENDED),
        (Status.REVOKED, Verdict.REVOKED),
        (Status.EXPIRED, Verdict.EXPIRED),
        (Status.NOT_YET_VALID, Verdict.NOT_YET_VALID),
    ],
)
def test_claimed_current_document(status: Status, verdict: Verdict) -> None:
    out = judge_claimed(DOC, facts(status))
    assert out.verdict is verdict
    assert out.licence_ids == [LID]


def test_claimed_suspension_reason_and_time_are_reported() -> None:
    out = judge_claimed(DOC, facts(Status.SUSPENDED))
    # 1234 unix seconds, shown in China time as the licences API does
    assert (
        "since 1970-01-01T08:20:34+08:00" in out.reasons[0] and "R01 inspection" in out.reasons[0]
    )


def test_claimed_old_document_is_superseded() -> None:
    assert judge_claimed(OLD, facts(Status.ACTIVE, (OLD,))).verdict is Verdict.SUPERSEDED


def test_claimed_other_document_is_tampered() -> None:
    out = judge_claimed(OTHER, facts(Status.ACTIVE, (OLD,)))
    assert out.verdict is Verdict.TAMPERED
    assert OTHER.hex() in out.reasons[0] and DOC.hex() in out.reasons[0]


def test_claimed_unknown_licence() -> None:
    assert judge_claimed(DOC, None).verdict is Verdict.UNKNOWN


def test_unclaimed() -> None:
    assert judge_unclaimed(DOC, [facts(Status.ACTIVE)]).verdict is Verdict.VALID
    assert judge_unclaimed(OLD, [facts(Status.ACTIVE, (OLD,))]).verdict is Verdict.SUPERSEDED
    assert judge_unclaimed(OTHER, []).verdict is Verdict.UNKNOWN
    material = judge_unclaimed(OTHER, [], anchored_at=99)
    assert material.verdict is Verdict.VALID and material.licence_ids == []
    # the worst status wins when one document backs two licences
    two = [facts(Status.ACTIVE), LicenceFacts(b"\xbb" * 32, Status.REVOKED, DOC)]
    assert judge_unclaimed(DOC, two).verdict is Verdict.REVOKED
