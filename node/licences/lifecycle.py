"""Changing licences after issuance (suspend, reinstate, revoke, amend, bind a holder address) and
recording supervision facts about enterprises. Every change is signed by the acting department's
key; notes stay off chain, in this node's database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from web3.types import TxReceipt

from credledger.node.auth import Principal
from credledger.node.core.contracts import licence_events as ev
from credledger.node.core.contracts.licence_registry import (
    LicenceRegistry,
    Seal,
    SupervisionKind,
    number_of,
)
from credledger.node.core.errors import ForbiddenError, InputError, NotFoundError
from credledger.node.core.identifiers import (
    enterprise_subject,
    holder_from,
    normalise_citizen_id,
    normalise_uscc,
)
from credledger.node.licences.context import LicenceContext
from credledger.node.licences.inputs import clean_note, parse_address, parse_reason, parse_time
from credledger.node.licences.models import LifecycleChange, SupervisionRecorded
from credledger.node.licences.seal_store import StoredSeal
from credledger.node.licences.seals import build_metadata

SUPERVISION_KINDS = {k.name: k for k in SupervisionKind}

# the registry call of one change, given the acting department's binding
Change = Callable[[LicenceRegistry], TxReceipt]


class Lifecycle:
    def __init__(self, ctx: LicenceContext, subject_secret: bytes = b"") -> None:
        self.ctx = ctx
        # for a person's licence: its amendment's seal needs the holder's citizen ID, checked
        # against the licence's subject (set by the component builder when a department seals)
        self.subject_secret = subject_secret

    def _change(
        self,
        principal: Principal | None,
        licence_id: bytes,
        action: str,
        change: Change,
        note: str | None,
        idempotency_key: str | None,
        fingerprint: dict[str, Any],
        after: Callable[[], None] | None = None,
    ) -> LifecycleChange:
        dept = self.ctx.department(principal, f"{action} licences")
        assert principal is not None
        registry = self.ctx.registry_for(dept.sender)

        def work() -> LifecycleChange:
            receipt = self.ctx.write(lambda: change(registry))
            tx = ev.hexb(receipt["transactionHash"])
            if after is not None:
                after()
            if note:
                self.ctx.store.add_note(licence_id, tx, action, note)
            return LifecycleChange(
                licenceId=ev.hexb(licence_id),
                action=action,
                status=self.ctx.registry.status_of(licence_id).name,
                department=dept.name,
                transactionHash=tx,
                blockNumber=int(receipt["blockNumber"]),
            )

        fp = {"action": action, "licence": ev.hexb(licence_id), **fingerprint}
        return self.ctx.idempotent(principal, idempotency_key, fp, work, LifecycleChange)

    def suspend(
        self,
        principal: Principal | None,
        licence_id: bytes,
        reason_code: Any,
        note: Any = None,
        idempotency_key: str | None = None,
    ) -> LifecycleChange:
        """Suspend: a reason code on chain, the free-text note off chain."""
        reason = parse_reason(reason_code)
        text = clean_note(note)
        fp = {"reason": reason.code, "note": text}
        return self._change(
            principal,
            licence_id,
            "suspend",
            lambda r: r.suspend(licence_id, reason.code),
            text,
            idempotency_key,
            fp,
        )

    def reinstate(
        self,
        principal: Principal | None,
        licence_id: bytes,
        note: Any = None,
        idempotency_key: str | None = None,
    ) -> LifecycleChange:
        text = clean_note(note)
        return self._change(
            principal,
            licence_id,
            "reinstate",
            lambda r: r.reinstate(licence_id),
            text,
            idempotency_key,
            {"note": text},
        )

    def revoke(
        self,
        principal: Principal | None,
        licence_id: bytes,
        reason_code: Any,
        note: Any = None,
        idempotency_key: str | None = None,
    ) -> LifecycleChange:
        """Revoke (final): a reason code on chain, the free-text note off chain."""
        reason = parse_reason(reason_code)
        text = clean_note(note)
        fp = {"reason": reason.code, "note": text}
        return self._change(
            principal,
            licence_id,
            "revoke",
            lambda r: r.revoke(licence_id, reason.code),
            text,
            idempotency_key,
            fp,
        )

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
        """A new document (and validity end): version + 1. A department with a seal key seals
        the new version's metadata (``amendSealed``); for a person's licence the seal covers the
        citizen ID and the name, which this node does not keep, so the request gives them again."""
        text = clean_note(note)
        until = (
            0
            if valid_until in (None, "", 0, "0")
            else parse_time(valid_until, "validUntil", end_of_day=True)
        )
        if len(doc_hash) != 32 or not any(doc_hash):
            raise InputError("the document hash must be 32 non-zero bytes", field="documentHash")
        fp = {"doc": ev.hexb(doc_hash), "until": until, "note": text}
        sealed = self._amend_seal(principal, licence_id, until, holder_citizen_id, holder_name)
        if sealed is None:
            return self._change(
                principal,
                licence_id,
                "amend",
                lambda r: r.amend(licence_id, doc_hash, until),
                text,
                idempotency_key,
                fp,
            )
        seal, stored = sealed
        seals = self.ctx.seals
        assert seals is not None
        return self._change(
            principal,
            licence_id,
            "amend",
            lambda r: r.amend_sealed(licence_id, doc_hash, until, seal),
            text,
            idempotency_key,
            fp,
            after=lambda: seals.store.put(stored),
        )

    def _amend_seal(
        self,
        principal: Principal | None,
        licence_id: bytes,
        until: int,
        holder_citizen_id: str | None,
        holder_name: str | None = None,
    ) -> tuple[Seal, StoredSeal] | None:
        """The seal of the amended version, if the acting department has a seal key."""
        if self.ctx.seals is None or principal is None or principal.department is None:
            return None
        dept = self.ctx.department(principal, "amend licences")
        key = self.ctx.seals.key_of(dept.name)
        if key is None:
            return None
        self.ctx.own_writes_indexed()
        rec = self.ctx.model.licence(licence_id)
        if rec is None:
            self.ctx.catch_up()
            rec = self.ctx.model.licence(licence_id)
        if rec is None:
            raise NotFoundError(f"no licence {ev.hexb(licence_id)} on chain")
        t = self.ctx.catalogue.by_id(rec.type_id)
        if t is None:
            raise InputError("cannot seal a licence of a type outside the catalogue", field="type")
        before = self.ctx.seals.store.latest(licence_id)
        holder = self.ctx.store.holder_display(rec.holder)
        kind = holder[0] if holder else "enterprise"
        if before is not None:
            number, name = before.metadata["number"], before.metadata["holderName"]
            code = before.metadata["holderCode"]
        else:
            number = self.ctx.store.serial_of(licence_id) or number_of(rec.serial or b"") or ""
            extra = self.ctx.store.metadata_of(licence_id) or {}
            name = str(extra.get("holderName") or "")
            code = holder[1] if holder else ""
        if kind == "person":
            if not holder_citizen_id:
                raise InputError(
                    "this licence's seal covers its holder's citizen ID and name, which the "
                    "node does not keep: send holderCitizenId and holderName with the amendment",
                    field="holderCitizenId",
                )
            shown = holder_from(citizen_id=holder_citizen_id, secret=self.subject_secret)
            if shown.subject != rec.holder:
                raise InputError(
                    "holderCitizenId is not this licence's holder", field="holderCitizenId"
                )
            code = normalise_citizen_id(holder_citizen_id)
            name = (holder_name or "").strip()  # a person's name is not kept either
        if not number:
            raise InputError("this node does not know the licence's number; cannot seal it")
        md = build_metadata(
            t,
            dept,
            number,
            version=rec.version + 1,
            holder_kind=kind,
            holder_code=code,
            holder_name=name,
            valid_from=rec.valid_from,
            valid_until=until,
        )
        return key.seal(licence_id, rec.version + 1, md)

    def bind_holder(
        self,
        principal: Principal | None,
        licence_id: bytes,
        holder_address: Any,
        note: Any = None,
        idempotency_key: str | None = None,
    ) -> LifecycleChange:
        text = clean_note(note)
        address = parse_address(holder_address, "holderAddress")
        return self._change(
            principal,
            licence_id,
            "bind-holder",
            lambda r: r.bind_holder(licence_id, address),
            text,
            idempotency_key,
            {"address": address},
        )

    def record_supervision(
        self,
        principal: Principal | None,
        uscc: str,
        kind: str,
        ref_hash: bytes,
        idempotency_key: str | None = None,
    ) -> SupervisionRecorded:
        dept = self.ctx.department(principal, "record supervision facts")
        assert principal is not None
        code = normalise_uscc(uscc)
        if kind not in SUPERVISION_KINDS:
            raise InputError(f"kind must be one of {', '.join(SUPERVISION_KINDS)}", field="kind")
        if not dept.supervises:
            raise ForbiddenError(f"department {dept.name} is not a supervising department")
        if len(ref_hash) != 32 or not any(ref_hash):
            raise InputError("refHash must be 32 non-zero bytes", field="refHash")
        subject = enterprise_subject(code)
        registry = self.ctx.registry_for(dept.sender)

        def work() -> SupervisionRecorded:
            receipt = self.ctx.write(
                lambda: registry.record_supervision(subject, SUPERVISION_KINDS[kind], ref_hash)
            )
            self.ctx.store.remember_holder(subject, "enterprise", code)
            return SupervisionRecorded(
                uscc=code,
                kind=kind,
                refHash=ev.hexb(ref_hash),
                department=dept.name,
                transactionHash=ev.hexb(receipt["transactionHash"]),
                blockNumber=int(receipt["blockNumber"]),
            )

        fp = {"supervision": code, "kind": kind, "ref": ev.hexb(ref_hash)}
        return self.ctx.idempotent(principal, idempotency_key, fp, work, SupervisionRecorded)
