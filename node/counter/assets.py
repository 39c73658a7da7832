"""One asset of a token: a licence (its one view, judged at the read model's block) or an
anchored material (checked against its document).

A licence is shown as the licence service shows it everywhere (``LicenceQueries.summary_json``:
the same type, issuer, status reason and validity — the last valid day — as
``GET /v1/licences/{id}``); its issuer's authorisation for the type is read from the read model
at the same block. A material is known by this node's anchoring records and is checked against
the document the clerk uploads: its asset id commits to its holder
(``eip712.material_asset_id``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from eth_utils.address import to_checksum_address

from credledger.node.anchoring.service import AnchoringService
from credledger.node.core.contracts.eip712 import material_asset_id
from credledger.node.core.errors import NotFoundError
from credledger.node.licences.inputs import iso
from credledger.node.licences.queries import LicenceQueries
from credledger.node.licences.verdicts import SealCheck
from credledger.node.licences.verification import DocumentVerifier
from credledger.node.readmodel import ReadModel

from .authority import PresenterAuthority
from .models import AssetCheck, DepartmentShown, DocumentMatch, StatusReason, TypeShown, reason

ROLE_ISSUER = 1  # LicenceRegistry authorisation bit


@dataclass(frozen=True)
class LicenceFacts:
    """A licence as one block shows it: its view and its issuer's roles for its type."""

    view: dict[str, Any]
    issuer_roles: int
    seal: SealCheck | None = None  # the e-seal of its current version


def _department(value: dict[str, Any] | None) -> DepartmentShown | None:
    return DepartmentShown(**value) if value is not None else None


class AssetChecks:
    def __init__(
        self,
        model: ReadModel,
        queries: LicenceQueries,
        documents: DocumentVerifier,
        authority: PresenterAuthority,
        anchoring: AnchoringService | None,
    ) -> None:
        self.model = model
        self.queries = queries
        self.documents = documents
        self.authority = authority
        self.anchoring = anchoring

    def licence_facts(self, licence_id: bytes) -> LicenceFacts | None:
        """The licence at the read model's block (call inside ``model.snapshot()``); None: no
        licence has this id (a material, or nothing)."""
        view = self.queries.summary_json(licence_id)
        if view is None:
            return None
        issuer = (view.get("issuer") or {}).get("address")
        type_id = (view.get("type") or {}).get("typeId")
        roles = (
            self.model.authorisation(bytes.fromhex(type_id[2:]), issuer)
            if issuer and type_id
            else 0
        )
        return LicenceFacts(view, roles, self.documents.seals.check(licence_id, None))

    def check(
        self, asset: bytes, presenter: str, doc: bytes | None, facts: LicenceFacts | None
    ) -> AssetCheck:
        """The asset's verdict; ``doc``: the document uploaded for it, if any."""
        check = AssetCheck.of(asset)
        if facts is not None:
            check.kind = "licence"
            self._licence(check, facts, presenter, doc)
        else:
            self._material(check, presenter, doc)
        return check.settle()

    # --- a licence ---------------------------------------------------------------------------

    def _licence(
        self, check: AssetCheck, facts: LicenceFacts, presenter: str, doc: bytes | None
    ) -> None:
        lic = facts.view
        t = lic.get("type") or {}
        sr = lic.get("statusReason")
        check.type = TypeShown(code=t.get("code"), zh=t.get("zh"), en=t.get("en"))
        check.serialNumber = lic.get("serialNumber")
        check.identifier = lic.get("identifier")
        check.issuer = _department(lic.get("issuer"))
        check.status = str(lic.get("status"))
        check.statusReason = (
            StatusReason(**{**sr, "by": _department(sr.get("by"))}) if sr is not None else None
        )
        check.validFrom = lic.get("validFrom")
        check.validUntil = lic.get("validUntil")
        check.validFromIso = lic.get("validFromIso")
        check.validUntilIso = lic.get("validUntilIso")
        check.validLastDay = lic.get("validUntil")
        check.version = lic.get("version")
        check.documentHash = lic.get("documentHash")
        bound = lic.get("holderAddress")
        holder = to_checksum_address(bound) if bound else None
        self.authority.judge(check, holder, presenter, "licence")
        lid = check.assetId
        if facts.seal is not None:
            check.seal = facts.seal.to_json()
            if facts.seal.refuse:
                check.add(reason("TAMPERED", f"e-seal: {facts.seal.reason}"))
        if check.issuer is not None and t.get("typeId") and not facts.issuer_roles & ROLE_ISSUER:
            name = check.issuer.name or check.issuer.address
            check.add(
                reason(
                    "ISSUER_NOT_AUTHORISED",
                    f"the issuing department {name} is not (or no longer) authorised on "
                    f"chain to issue {t.get('code')}",
                )
            )
        status = check.status
        if status in ("SUSPENDED", "REVOKED"):
            since = sr.get("since") if sr else None
            text = sr.get("text") if sr else None
            check.add(
                reason(
                    status,
                    f"licence {lid} is {status.lower()}"
                    + (f" since {iso(since)}" if since else "")
                    + (f": {text}" if text else ""),
                    reason=text,
                    reasonCode=sr.get("code") if sr else None,
                    since=since,
                )
            )
        elif status == "EXPIRED":
            check.add(
                reason(
                    "EXPIRED",
                    f"licence {lid} expired after its last valid day {lic.get('validUntil')}",
                )
            )
        elif status == "NOT_YET_VALID":
            check.add(
                reason("NOT_YET_VALID", f"licence {lid} is valid from {lic.get('validFromIso')}")
            )
        if doc is not None:
            # an upload's digest under the licence type's fingerprint (SHA-256 or SM3)
            doc, _ = self.documents.document_digest(doc, check.asset_id)
            current = bytes.fromhex(str(lic.get("documentHash", "0x"))[2:])
            shown = DocumentMatch(hash="0x" + doc.hex(), match=doc == current)
            check.document = shown
            if not shown.match:
                judged = self.documents.verify_document(None, doc, check.asset_id)
                code: Literal["SUPERSEDED", "TAMPERED"] = (
                    "SUPERSEDED" if judged.verdict == "SUPERSEDED" else "TAMPERED"
                )
                shown.verdict = code
                check.add(reason(code, "; ".join(judged.reasons)))

    # --- a material --------------------------------------------------------------------------

    def _material(self, check: AssetCheck, presenter: str, doc: bytes | None) -> None:
        aid = check.assetId
        record = None
        if self.anchoring is not None:
            try:
                record = self.anchoring.get(check.asset_id)
            except NotFoundError:
                record = None
        if record is None or record.status != "confirmed" or not record.receipt:
            check.add(
                reason(
                    "UNKNOWN_ASSET",
                    f"no licence on chain and no anchored material known to this node has id {aid}"
                    + (" (its anchoring is not confirmed yet)" if record is not None else ""),
                )
            )
            return
        check.kind = "material"
        receipt = record.receipt
        anchored_at = int(receipt.get("blockTime") or receipt.get("anchoredAt") or 0)
        check.anchoredAt = anchored_at
        if doc is None:
            check.add(
                reason(
                    "DOCUMENT_NEEDED",
                    f"material {aid} was anchored at {iso(anchored_at)}; its holder and content "
                    "are checked against its document: upload it",
                )
            )
            return
        # the holder: the presenter, or a holder who granted the presenter this asset
        candidates = [presenter, *self.authority.grantors(check.asset_id, presenter)]
        holder = next((h for h in candidates if material_asset_id(h, doc) == check.asset_id), None)
        check.document = DocumentMatch(hash="0x" + doc.hex(), match=holder is not None)
        if holder is None:
            check.add(
                reason(
                    "TAMPERED",
                    f"the document (sha256 0x{doc.hex()}) is not material {aid} of the presenter "
                    "or of a holder who granted the presenter its use",
                )
            )
            return
        self.authority.judge(check, holder, presenter, "material")
