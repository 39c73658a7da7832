"""The counter's answers on the wire: a presentation verdict, its asset checks and reasons.

Field names are the JSON names (the clerk page, the wallet and the tests read them). A field that
a check did not set is left out of the JSON (``body()`` dumps with ``exclude_unset``): a reason
carries only the extras that apply to it, an asset only the details its kind has.

Verdicts: ``VALID`` (every asset valid), ``INVALID`` (the token is sound but an asset is not),
``REFUSED`` (the token itself is refused). Reason codes are listed in :data:`REASONS` and
``docs/counter.md``; the clerk page translates them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

# code -> what it means (the API's English sentence is built per case; the page translates)
REASONS = {
    "TOKEN_MALFORMED": "the text is not a presentation token",
    "BAD_SIGNATURE": "the signature does not match the token (altered, damaged or forged)",
    "TOKEN_EXPIRED": "the token is older than its validity",
    "TOKEN_NOT_YET_VALID": "the token was issued in the future (the phone's clock is wrong)",
    "REPLAYED": "the token was already presented once",
    "NOT_ACCEPTED": "the node stopped or lost the chain before the token was spent on the network",
    "WRONG_AUDIENCE": "the token is meant for another department or counter",
    "NOT_HOLDER": "the presenter is not the asset's holder and has no grant from it",
    "AGENT_NOT_AUTHORISED": "the presenter's COUNTER-PRESENTATION grant is not active",
    "ISSUER_NOT_AUTHORISED": "the issuing department is not authorised for this licence type",
    "SUSPENDED": "the licence is suspended",
    "REVOKED": "the licence is revoked",
    "EXPIRED": "the licence has expired",
    "NOT_YET_VALID": "the licence is not valid yet",
    "SUPERSEDED": "the document is an earlier version of the licence",
    "TAMPERED": "the document does not match the asset",
    "UNKNOWN_ASSET": "no licence or anchored material has this id",
    "DOCUMENT_NEEDED": "a material is checked against its document; upload it",
    "VALID": "the asset is valid",
}
# precedence of asset verdicts: the first one found wins
ORDER = (
    "UNKNOWN_ASSET",
    "NOT_HOLDER",
    "AGENT_NOT_AUTHORISED",
    "ISSUER_NOT_AUTHORISED",
    "REVOKED",
    "SUSPENDED",
    "EXPIRED",
    "NOT_YET_VALID",
    "TAMPERED",
    "SUPERSEDED",
    "DOCUMENT_NEEDED",
)

Verdict = Literal["VALID", "INVALID", "REFUSED"]
AssetKind = Literal["licence", "material", "unknown", "not-checked"]


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def body(self) -> dict[str, Any]:
        """The JSON body: the fields that were set (``None`` included when set to it)."""
        return self.model_dump(mode="json", exclude_unset=True)


class Reason(Wire):
    """One reason code with its English sentence and the facts that go with it."""

    code: str
    message: str
    presenter: str | None = None
    reason: str | None = None
    reasonCode: int | None = None
    since: int | None = None
    firstVerification: str | None = None
    firstVerifier: str | None = None  # the node key that spent the token on chain (REPLAYED)
    firstAt: int | None = None
    issuedAt: int | None = None
    expiresAt: int | None = None


def reason(code: str, message: str, **extra: Any) -> Reason:
    """A reason with the extras that have a value (the others stay out of the JSON)."""
    return Reason(code=code, message=message, **{k: v for k, v in extra.items() if v is not None})


class TypeShown(Wire):
    code: str | None = None
    zh: str | None = None
    en: str | None = None


class DepartmentShown(Wire):
    """A department as the licence view shows it (its display names when this node knows it)."""

    address: str | None = None
    name: str | None = None
    displayName: dict[str, str] | None = None
    uscc: str | None = None  # GB 32100 code, when this node knows it (GB/T 36904 issuer)


class StatusReason(Wire):
    code: int
    text: str
    since: int | None = None
    by: DepartmentShown | None = None


class DocumentMatch(Wire):
    hash: str
    match: bool
    verdict: Literal["SUPERSEDED", "TAMPERED"] | None = None


class AssetCheck(Wire):
    """One asset of the token: its verdict, the reasons, and what the card shows."""

    assetId: str
    kind: AssetKind = "unknown"
    verdict: str = "VALID"
    reasons: list[Reason] = []
    # a licence (its one view, node/licences/queries.py)
    type: TypeShown | None = None
    serialNumber: str | None = None
    identifier: str | None = None  # GB/T 36904 (docs/standards.md)
    issuer: DepartmentShown | None = None
    status: str | None = None
    statusReason: StatusReason | None = None
    validFrom: int | None = None
    validUntil: str | None = None  # the last valid day (node/core/validity.py)
    validFromIso: str | None = None
    validUntilIso: str | None = None  # the last valid second
    validLastDay: str | None = None  # = validUntil (the clerk's card reads this name)
    version: int | None = None
    documentHash: str | None = None
    # its e-seal: status, reason, department, keyId (docs/standards.md "E-seals")
    seal: dict[str, Any] | None = None
    # a material
    anchoredAt: int | None = None
    # who presented it
    holder: str | None = None
    presentedBy: Literal["holder", "agent"] | None = None
    grant: Literal["paused"] | None = None
    document: DocumentMatch | None = None

    @classmethod
    def of(cls, asset_id: bytes) -> AssetCheck:
        """A check about to start (the fields every asset shows are set: they stay in the JSON)."""
        return cls(assetId="0x" + asset_id.hex(), kind="unknown", verdict="VALID", reasons=[])

    @property
    def asset_id(self) -> bytes:
        return bytes.fromhex(self.assetId[2:])

    def add(self, r: Reason) -> None:
        self.reasons.append(r)

    def codes(self) -> set[str]:
        return {r.code for r in self.reasons}

    def settle(self) -> AssetCheck:
        """The verdict from the reasons (VALID with its reason when there is none)."""
        if not self.reasons:
            self.add(reason("VALID", "the asset is valid"))
        codes = self.codes()
        self.verdict = next((c for c in ORDER if c in codes), "VALID")
        return self


def not_checked(asset_id: bytes) -> AssetCheck:
    """An asset of a refused token."""
    return AssetCheck(
        assetId="0x" + asset_id.hex(), kind="not-checked", verdict="NOT_CHECKED", reasons=[]
    )


class PresentationShown(Wire):
    statementHash: str | None
    presenter: str | None
    keyKind: str
    issuedAt: int
    expiresAt: int
    audienceTag: str | None
    assetIds: list[str]


class RecordReceipt(Wire):
    """The verification record of this check: its id, hash and anchoring status."""

    id: str
    recordHash: str
    anchorStatus: str


class PresentationVerdict(Wire):
    """``POST /v1/verify/presentation``."""

    verdict: Verdict
    reasons: list[Reason]
    presentation: PresentationShown | None
    assets: list[AssetCheck]
    documentHash: str | None
    checkedAt: int
    verification: RecordReceipt


class CheckedAsset(Wire):
    model_config = ConfigDict(extra="ignore")

    assetId: str
    verdict: str
    type: str | None = None


class CheckSummary(Wire):
    """One check as the counter's database keeps it (the clerk's list, the holder's receipt)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    checkedAt: float
    verdict: str
    reasons: list[str]
    assets: list[CheckedAsset]
    kind: Literal["document", "openid4vp"] | None = None


class PresentationChecks(Wire):
    """``GET /v1/presentations/{statementHash}``."""

    statementHash: str
    verifications: list[CheckSummary]


class VerifierAudience(Wire):
    """``GET /v1/verify/audience``: the audience that binds a token to this node alone."""

    audience: str | None
    verifier: str | None
    singleUse: str
