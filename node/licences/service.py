"""The licence service: what the API, the CLI and the tests call.

Departments issue and change licences with their own keys through ``LicenceRegistry`` (the typed
binding in ``node/core/contracts``); reads come from the contract (current record) and the event
indexer (history, enterprise view, document lookups); clerk verifications become records anchored
through the anchoring service. The work is split by concern, each part in its own module:

==============  =============================================================
``admin``        licence types and department authorisations
``issuance``     issuing, with idempotency (also across a crash) and group commit
``lifecycle``    suspend / reinstate / revoke / amend / bind holder; supervision facts
``queries``      the read model: one licence, an enterprise
``verification`` document verdicts and the clerk's verification records
==============  =============================================================

:class:`LicenceService` builds the parts from typed dependencies and offers their operations under
one name; results are the pydantic models of ``models.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from credledger.node.anchoring.service import AnchoringService
from credledger.node.auth import Principal
from credledger.node.core.chain import Chain
from credledger.node.core.contracts import licence_events as ev
from credledger.node.core.errors import CredledgerError, NotFoundError
from credledger.node.core.gbt import GbtIdentifier, looks_like_gbt_identifier, parse_gbt_identifier
from credledger.node.core.tx import TxSender
from credledger.node.departments import Departments
from credledger.node.licences.admin import (
    LicenceAdmin,
    authorise_departments,
    chain_name,
    register_catalogue,
    schema_hash,
)
from credledger.node.licences.catalogue import Catalogue, LicenceType
from credledger.node.licences.context import LicenceContext
from credledger.node.licences.inputs import parse_licence_id
from credledger.node.licences.issuance import MAX_BATCH, Issuance, IssueInput, Prepared
from credledger.node.licences.lifecycle import Lifecycle
from credledger.node.licences.models import (
    Authorisation,
    DocumentVerdict,
    EnterpriseView,
    IssuedBatch,
    IssuedLicence,
    LicenceDetail,
    LifecycleChange,
    RegisteredType,
    RetiredKey,
    SupervisionRecorded,
    VerificationRecord,
)
from credledger.node.licences.queries import LicenceQueries, identifier_of
from credledger.node.licences.store import LicenceStore
from credledger.node.licences.verification import DocumentVerifier
from credledger.node.readmodel import ReadModel

__all__ = [
    "MAX_BATCH",
    "IssueInput",
    "LicenceService",
    "Prepared",
    "authorise_departments",
    "chain_name",
    "register_catalogue",
    "schema_hash",
]


class LicenceService:
    def __init__(
        self,
        chain: Chain,
        registry_address: str,
        catalogue: Catalogue,
        departments: Departments,
        store: LicenceStore,
        subject_secret: bytes,
        admin: TxSender,
        *,
        indexer: ev.EventSource,
        anchoring: AnchoringService | None,
        public_url: str | None = None,
        max_writers: int = 4,
        coalesce_max: int = 50,
        readmodel: ReadModel | None = None,
    ) -> None:
        self.ctx = LicenceContext(
            chain,
            registry_address,
            catalogue,
            departments,
            store,
            indexer,
            max_writers=max_writers,
            readmodel=readmodel,
        )
        self.admin = LicenceAdmin(self.ctx, admin)
        self.issuance = Issuance(self.ctx, self.admin, subject_secret, coalesce_max=coalesce_max)
        self.lifecycle = Lifecycle(self.ctx)
        self.queries = LicenceQueries(self.ctx, self.admin)
        self.verifier = DocumentVerifier(self.ctx, self.queries, anchoring)
        self.public_url = public_url

    # shared parts the routes and the demo read
    @property
    def catalogue(self) -> Catalogue:
        return self.ctx.catalogue

    @property
    def departments(self) -> Departments:
        return self.ctx.departments

    @property
    def registry_address(self) -> str:
        return self.ctx.registry_address

    @property
    def store(self) -> LicenceStore:
        return self.ctx.store

    def now(self) -> int:
        return self.ctx.now()

    def health(self) -> dict[str, Any]:
        """Shown under ``licences`` in ``GET /health``."""
        return {
            "registry": self.registry_address,
            "departments": [
                {
                    "name": d.name,
                    "address": d.address,
                    "issues": len(d.issues),
                    "supervises": len(d.supervises),
                }
                for d in self.departments
            ],
            "issuance": self.issuance.health(),
        }

    # --- admin --------------------------------------------------------------------------------

    def types(self) -> list[LicenceType]:
        return self.admin.types()

    def licence_type(self, code: str) -> LicenceType:
        return self.admin.licence_type(code)

    def fingerprint_of_type(self, code: str) -> str:
        """A type's document fingerprint (``sha256`` or ``sm3``); ``sha256`` for a code that is
        not a type (issuing it is then refused with the reason)."""
        try:
            return self.admin.licence_type(code).fingerprint
        except NotFoundError:
            return "sha256"

    def fingerprint_of(self, licence_id: bytes) -> str:
        """The document fingerprint of a licence's type (this node's own writes indexed first:
        a licence it has just issued is known)."""
        self.ctx.own_writes_indexed()
        if self.ctx.model.licence(licence_id) is None:
            self.ctx.catch_up()
        return self.verifier.fingerprint_of(licence_id)

    def register_type(self, principal: Principal | None, t: LicenceType) -> RegisteredType:
        return self.admin.register_type(principal, t)

    def authorise(
        self, principal: Principal | None, type_code: str, department: str, roles: Sequence[str]
    ) -> Authorisation:
        return self.admin.authorise(principal, type_code, department, roles)

    def retire_key(self, principal: Principal | None, key: str) -> RetiredKey:
        return self.admin.retire_key(principal, key)

    # --- issuance -----------------------------------------------------------------------------

    def issue(
        self, principal: Principal | None, item: IssueInput, idempotency_key: str | None = None
    ) -> IssuedLicence:
        issued = self.issuance.issue(principal, item, idempotency_key)
        return self._with_identifier(principal, issued)

    def issue_batch(
        self,
        principal: Principal | None,
        items: Sequence[IssueInput],
        idempotency_key: str | None = None,
    ) -> IssuedBatch:
        batch = self.issuance.issue_batch(principal, items, idempotency_key)
        batch.licences = [self._with_identifier(principal, x) for x in batch.licences]
        return batch

    def _with_identifier(self, principal: Principal | None, issued: IssuedLicence) -> IssuedLicence:
        """The answer with the licence's GB/T 36904 ``identifier`` (None if it has none)."""
        if getattr(issued, "identifier", None):
            return issued
        try:
            dept = self.departments.of(principal) if principal is not None else None
            t = self.admin.licence_type(issued.type)
        except CredledgerError:
            dept, t = None, None
        setattr(  # noqa: B010 (an extra key of the model)
            issued,
            "identifier",
            identifier_of(
                t.type_code if t else None,
                dept.uscc if dept else None,
                issued.serialNumber,
                issued.version,
            ),
        )
        return issued

    # --- GB/T 36904 identifiers ---------------------------------------------------------------

    def resolve(self, ref: str) -> tuple[bytes, GbtIdentifier | None]:
        """A licence reference as callers send it: ``0x`` + 64 hex digits (the licence id) or a
        GB/T 36904 identifier (``1.2.156.3005.2.…``). A malformed one is refused (422, with the
        reason); an identifier names its licence through its type code and serial, and
        :meth:`check_identifier` then compares its issuer and version with the licence."""
        if looks_like_gbt_identifier(ref):
            ident = parse_gbt_identifier(ref)
            return self.queries.licence_id_of(ident), ident
        return parse_licence_id(ref), None

    def check_identifier(self, body: dict[str, Any], ident: GbtIdentifier | None) -> None:
        if ident is not None:
            self.queries.check(body, ident)

    def licence_id(self, ref: str) -> bytes:
        """:meth:`resolve` for writes: the licence id, the identifier checked against the
        licence (its issuer and version)."""
        lid, ident = self.resolve(ref)
        if ident is not None:
            self.check_identifier(self.get(lid).body(), ident)
        return lid

    # --- lifecycle ----------------------------------------------------------------------------

    def suspend(
        self,
        principal: Principal | None,
        licence_id: bytes,
        reason_code: Any,
        note: Any = None,
        idempotency_key: str | None = None,
    ) -> LifecycleChange:
        return self.lifecycle.suspend(principal, licence_id, reason_code, note, idempotency_key)

    def reinstate(
        self,
        principal: Principal | None,
        licence_id: bytes,
        note: Any = None,
        idempotency_key: str | None = None,
    ) -> LifecycleChange:
        return self.lifecycle.reinstate(principal, licence_id, note, idempotency_key)

    def revoke(
        self,
        principal: Principal | None,
        licence_id: bytes,
        reason_code: Any,
        note: Any = None,
        idempotency_key: str | None = None,
    ) -> LifecycleChange:
        return self.lifecycle.revoke(principal, licence_id, reason_code, note, idempotency_key)

    def amend(
        self,
        principal: Principal | None,
        licence_id: bytes,
        doc_hash: bytes,
        valid_until: Any = None,
        note: Any = None,
        idempotency_key: str | None = None,
        holder_citizen_id: str | None = None,
        holder_name: str | None = None,
    ) -> LifecycleChange:
        return self.lifecycle.amend(
            principal,
            licence_id,
            doc_hash,
            valid_until,
            note,
            idempotency_key,
            holder_citizen_id,
            holder_name,
        )

    def bind_holder(
        self,
        principal: Principal | None,
        licence_id: bytes,
        holder_address: Any,
        note: Any = None,
        idempotency_key: str | None = None,
    ) -> LifecycleChange:
        return self.lifecycle.bind_holder(
            principal, licence_id, holder_address, note, idempotency_key
        )

    def record_supervision(
        self,
        principal: Principal | None,
        uscc: str,
        kind: str,
        ref_hash: bytes,
        idempotency_key: str | None = None,
    ) -> SupervisionRecorded:
        return self.lifecycle.record_supervision(principal, uscc, kind, ref_hash, idempotency_key)

    # --- reads and verification ---------------------------------------------------------------

    def get(self, licence_id: bytes) -> LicenceDetail:
        return self.queries.get(licence_id)

    def enterprise(self, uscc: str) -> EnterpriseView:
        return self.queries.enterprise(uscc)

    def verify_document(
        self, principal: Principal | None, doc_hash: bytes, licence_id: bytes | None = None
    ) -> DocumentVerdict:
        return self.verifier.verify_document(principal, doc_hash, licence_id)

    def verify_json(
        self, principal: Principal | None, doc_hash: bytes, licence_id: bytes | None = None
    ) -> dict[str, Any]:
        """:meth:`verify_document` as plain JSON (the API's hot path: no model round trip)."""
        return self.verifier.verify_json(principal, doc_hash, licence_id)

    def verification(self, vid: str) -> VerificationRecord:
        return self.verifier.verification(vid)

    def start(self) -> None:
        """Nothing to start: the read model is fed by the indexer, the record writer runs."""

    def stop(self) -> None:
        """Commit the verification records still queued, then stop their writer."""
        self.verifier.close()
