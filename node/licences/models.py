"""Typed results of the licence service (what the routes answer, ``response_model``).

Field names are the JSON names. Keys that appear only sometimes (``replayed``, ``recovered``,
``statusReason``, ``verification``) are not declared: the models allow extra keys and keep them.

Validity: ``validFrom`` is unix seconds; ``validUntil`` is the **last valid day** (Beijing date,
``"2031-12-31"`` for a licence issued with ``validUntil=2031-12-31``), ``validUntilExclusive`` the
contract's exclusive end in unix seconds, ``validUntilIso`` the last valid second as an ISO
date-time (``"2031-12-31T23:59:59+08:00"``) — ``null`` for all three: no end, 长期. The one
conversion is ``credledger.node.core.validity``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from credledger.node.core.validity import last_valid_day as last_valid_day  # the one conversion


class Result(BaseModel):
    model_config = ConfigDict(extra="allow")

    def body(self) -> dict[str, Any]:
        """The JSON body (with the extra keys)."""
        return self.model_dump(mode="json")


class HolderShown(Result):
    kind: str | None
    display: str | None


class IssuedLicence(Result):
    licenceId: str
    type: str
    serialNumber: str
    holder: HolderShown
    documentHash: str
    validFrom: int
    validUntil: str | None
    validUntilExclusive: int | None
    status: str
    version: int
    transactionHash: str
    blockNumber: int


class IssuedBatch(Result):
    licences: list[IssuedLicence]
    transactionHash: str
    gasUsed: int


class LifecycleChange(Result):
    licenceId: str
    action: str
    status: str
    department: str
    transactionHash: str
    blockNumber: int


class SupervisionRecorded(Result):
    uscc: str
    kind: str
    refHash: str
    department: str
    transactionHash: str
    blockNumber: int


class RegisteredType(Result):
    code: str
    typeId: str
    category: str
    zh: str
    en: str
    holder: str
    transactionHash: str


class Authorisation(Result):
    type: str
    department: str
    roles: list[str]
    transactionHash: str


class RetiredKey(Result):
    key: str
    retiredAt: int
    transactionHash: str


class HolderView(Result):
    kind: str | None
    display: str | None
    subject: str


class LicenceView(Result):
    """A licence as the enterprise view and verifications list it (``statusReason`` when it is
    suspended or revoked). ``identifier``: the GB/T 36904 identifier of the current version
    (None when a part is unknown here: a type without a type code, a department whose USCC this
    node does not know); ``fingerprint``: the type's document fingerprint (sha256 or sm3)."""

    licenceId: str
    identifier: str | None
    type: dict[str, Any]
    fingerprint: str
    serialNumber: str | None
    issuer: dict[str, Any] | None
    holder: HolderView
    holderAddress: str | None
    documentHash: str
    validFrom: int
    validUntil: str | None
    validUntilExclusive: int | None
    validFromIso: str | None
    validUntilIso: str | None
    version: int
    status: str
    issuedAt: int
    issuedTransaction: str


class LicenceDetail(LicenceView):
    """``GET /v1/licences/{id}``: the licence with its history, its GB/T 36903 ``metadata``
    (docs/standards.md) and the free ``attributes`` its issuance sent as ``metadata``."""

    history: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    attributes: dict[str, Any] | None


class EnterpriseView(Result):
    uscc: str
    subject: str
    licences: list[LicenceView]
    supervision: list[dict[str, Any]]
    indexedHeight: int
    asOf: int


class DocumentVerdict(Result):
    """A document checked against the chain (``verification`` when a clerk or department asked:
    the record's id, hash and anchoring status)."""

    verdict: str
    reasons: list[str]
    licenceIds: list[str]
    documentHash: str
    claimedLicenceId: str | None
    licences: list[LicenceView]
    material: dict[str, Any] | None
    checkedAt: int


class VerificationRecord(Result):
    id: str
    record: dict[str, Any]
    recordHash: str
    recordHashAlgorithm: str
    anchor: dict[str, Any] | None
    receipt: dict[str, Any] | None
