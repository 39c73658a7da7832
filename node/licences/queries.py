"""The read model: a licence (current state from the contract, history from the indexed events)
and an enterprise's licences and supervision facts."""

from __future__ import annotations

from typing import Any

from credledger.node.contracts.licence_registry import Licence, LicenceStatus
from credledger.node.errors import NotFoundError
from credledger.node.identifiers import enterprise_subject, normalise_uscc
from credledger.node.licences import events as ev
from credledger.node.licences.admin import LicenceAdmin
from credledger.node.licences.catalogue import LicenceType
from credledger.node.licences.context import LicenceContext
from credledger.node.licences.inputs import decode_serial, iso, reason_text
from credledger.node.licences.models import (
    EnterpriseView,
    LicenceDetail,
    LicenceView,
    last_valid_day,
)
from credledger.node.licences.verdicts import Status, effective_status


class LicenceQueries:
    def __init__(self, ctx: LicenceContext, admin: LicenceAdmin) -> None:
        self.ctx = ctx
        self.admin = admin

    def on_chain(self, licence_id: bytes) -> Licence | None:
        """The contract's record of the licence (None if there is none)."""
        return self.ctx.registry.get_licence(licence_id)

    def record(self, licence_id: bytes, on_chain: Licence | None) -> ev.LicenceRecord | None:
        """The licence rebuilt from indexed events, waiting for the indexer if it is behind."""
        for attempt in range(2):
            lid = ev.hexb(licence_id)
            evs = self.ctx.events(None, {"licenceId": lid})
            issued = [e for e in evs if e.event == "LicenceIssued"]
            rest = [e for e in evs if e.event in ev.LIFECYCLE]
            rec = ev.build_records(issued, rest).get(licence_id)
            if on_chain is None:
                return rec
            fresh = (
                rec is not None
                and rec.version == on_chain.version
                and rec.doc_hash == on_chain.doc_hash
                and (on_chain.status is LicenceStatus.EXPIRED or rec.status == on_chain.status.name)
            )
            if fresh or attempt == 1:
                return rec
            self.ctx.catch_up()
        return None  # pragma: no cover

    def department_json(self, address: str | None) -> dict[str, Any] | None:
        if address is None:
            return None
        d = self.ctx.departments.by_address(address)
        return {"address": address, "name": d.name if d else None}

    def _holder_json(self, subject: bytes, t: LicenceType | None) -> dict[str, Any]:
        known = self.ctx.store.holder_display(subject)
        kind = known[0] if known else (t.holder if t and t.holder != "any" else None)
        return {"kind": kind, "display": known[1] if known else None, "subject": ev.hexb(subject)}

    def _type_json(self, tid: bytes) -> dict[str, Any]:
        t = self.admin.type_by_id(tid)
        if t is None:
            return {"typeId": ev.hexb(tid), "code": None}
        return t.to_json()

    def _licence_json(self, rec: ev.LicenceRecord, stored: str, now: int) -> dict[str, Any]:
        t = self.admin.type_by_id(rec.type_id)
        status = effective_status(stored, rec.valid_from, rec.valid_until, now)
        body: dict[str, Any] = {
            "licenceId": ev.hexb(rec.licence_id),
            "type": self._type_json(rec.type_id),
            "serialNumber": (
                decode_serial(rec.serial)
                if rec.serial
                else self.ctx.store.serial_of(rec.licence_id)
            ),
            "issuer": self.department_json(rec.issuer),
            "holder": self._holder_json(rec.holder, t),
            "holderAddress": rec.holder_address,
            "documentHash": ev.hexb(rec.doc_hash),
            "validFrom": rec.valid_from,
            "validUntil": last_valid_day(rec.valid_until),
            "validUntilExclusive": rec.valid_until or None,
            "validFromIso": iso(rec.valid_from),
            "validUntilIso": iso(rec.valid_until),
            "version": rec.version,
            "status": status.value,
            "issuedAt": rec.issued_at,
            "issuedTransaction": rec.issued_tx,
        }
        if status in (Status.SUSPENDED, Status.REVOKED) and rec.status_reason is not None:
            body["statusReason"] = {
                "code": rec.status_reason,
                "text": reason_text(rec.status_reason),
                "since": rec.status_since,
                "by": self.department_json(rec.status_by),
            }
        return body

    def get(self, licence_id: bytes) -> LicenceDetail:
        self.ctx.own_writes_indexed()
        on_chain = self.on_chain(licence_id)
        if on_chain is None:
            raise NotFoundError(f"no licence {ev.hexb(licence_id)} on chain")
        rec = self.record(licence_id, on_chain)
        if rec is None:
            raise NotFoundError(
                f"licence {ev.hexb(licence_id)} exists on chain but is not indexed yet; retry"
            )
        # the contract is authoritative for the current state (it reports EXPIRED over the
        # stored status; the events keep that)
        if on_chain.status is not LicenceStatus.EXPIRED:
            rec.status = on_chain.status.name
        rec.version, rec.valid_until = on_chain.version, on_chain.valid_until
        rec.doc_hash = on_chain.doc_hash
        body = self._licence_json(rec, rec.status, self.ctx.now())
        body["history"] = self._history(licence_id, rec)
        body["metadata"] = self.ctx.store.metadata_of(licence_id)
        return LicenceDetail.model_validate(body)

    def summary(self, licence_id: bytes) -> LicenceView:
        """The licence without its history and metadata (as verifications list it)."""
        detail = self.get(licence_id).model_dump(mode="json")
        detail.pop("history", None)
        detail.pop("metadata", None)
        return LicenceView.model_validate(detail)

    def _history(self, licence_id: bytes, rec: ev.LicenceRecord) -> list[dict[str, Any]]:
        notes = self.ctx.store.notes_of(licence_id)
        history = []
        for h in rec.history:
            entry = dict(h)
            entry["by"] = self.department_json(h.get("by"))
            if "reasonCode" in h:
                entry["reason"] = reason_text(h["reasonCode"])
            if h["transactionHash"].lower() in notes:
                entry["note"] = notes[h["transactionHash"].lower()]
            history.append(entry)
        for vid, rhash, record in self.ctx.store.verifications_of(licence_id):
            history.append(
                {
                    "action": "VERIFIED",
                    "verificationId": vid,
                    "verdict": record["verdict"],
                    "by": record["checkedBy"],
                    "time": record["checkedAt"],
                    "chainHead": record["chainHead"],
                    "recordHash": ev.hexb(rhash),
                }
            )
        # chain events and this node's verifications in chain order: a verification comes after
        # every event of the head block it was judged at (wall-clock and block times may differ)
        history.sort(
            key=lambda e: (
                (e["blockNumber"], e["logIndex"])
                if "blockNumber" in e
                else (e["chainHead"], 1 << 30)
            )
        )
        return history

    def enterprise(self, uscc: str) -> EnterpriseView:
        code = normalise_uscc(uscc)
        subject = enterprise_subject(code)
        self.ctx.own_writes_indexed()
        issued = self.ctx.events("LicenceIssued", {"holder": ev.hexb(subject)})
        ids = {e.args["licenceId"].lower() for e in issued}
        lifecycle = [
            e
            for name in ev.LIFECYCLE
            for e in self.ctx.events(name)
            if e.args["licenceId"].lower() in ids
        ]
        records = ev.build_records(issued, lifecycle)
        now = self.ctx.now()
        supervision = [
            {**ev.supervision_entry(e), "supervisor": self.department_json(e.args["supervisor"])}
            for e in self.ctx.events("SupervisionRecorded", {"subject": ev.hexb(subject)})
        ]
        return EnterpriseView.model_validate(
            {
                "uscc": code,
                "subject": ev.hexb(subject),
                "licences": [self._licence_json(r, r.status, now) for r in records.values()],
                "supervision": supervision,
                "indexedHeight": self.ctx.indexer.indexed_height,
                "asOf": now,
            }
        )
