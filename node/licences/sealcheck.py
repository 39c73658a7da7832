"""Checking a licence's e-seal, and what ``GET /v1/licences/{id}/seal`` answers.

Facts come from the read model (``LicenceSealed``, the department keys) at the verdict's block;
the signed metadata is the one the holder presents, else the one this node kept when it sealed
(not for a person's licence: its metadata holds the citizen ID, kept only masked). The rules are
:func:`credledger.node.licences.verdicts.judge_seal`; docs/standards.md "E-seals" gives them.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from credledger.node.core.contracts import licence_events as ev
from credledger.node.core.contracts.licence_registry import licence_id_of, serial_of
from credledger.node.core.errors import InputError, NotFoundError
from credledger.node.core.gbt import LicenceMetadata, parse_gbt_identifier
from credledger.node.core.identifiers import IdentifierError
from credledger.node.licences.context import LicenceContext
from credledger.node.licences.seal_store import StoredSeal
from credledger.node.licences.seals import (
    ALGORITHM,
    DEFAULT_DIST_ID,
    SM2_KIND,
    NotSealed,
    metadata_from_json,
)
from credledger.node.licences.verdicts import SealCheck, SealFacts, SealStatus, judge_seal
from credledger.node.readmodel import KeyEntry, SealEntry

KIND_NAMES = {1: "SM2", 2: "P-256"}


def key_json(k: KeyEntry) -> dict[str, Any]:
    """A department key's on-chain record as answers show it."""
    return {
        "keyId": k.key_id,
        "department": k.department,
        "kind": KIND_NAMES.get(k.kind, str(k.kind)),
        "registeredAt": k.registered_at,
        "registeredBlock": k.registered_block,
        "retiredAt": k.retired_at or None,
    }


class SealChecker:
    def __init__(self, ctx: LicenceContext) -> None:
        self.ctx = ctx
        # signature checks already made: (key id, r, s, sha256 of the data, dist id) -> ok
        self._checked: dict[tuple[int, bytes, bytes, bytes, bytes], bool] = {}
        # rows of the seal store by (licence, version), with their metadata parsed: a row never
        # changes once written, and verdicts read it under the read model's lock (hits only: a
        # row may be written just after its seal is indexed)
        self._rows: dict[tuple[bytes, int], tuple[StoredSeal, LicenceMetadata | None]] = {}
        # verdicts without presented metadata (see check)
        self._results: dict[bytes, tuple[Any, Any, int, Any, SealCheck]] = {}

    @staticmethod
    def presented(metadata: Any) -> LicenceMetadata | None:
        """The metadata a verify request carries (JSON object or its text), checked; None."""
        if metadata is None or metadata == "":
            return None
        if isinstance(metadata, str):
            import json

            try:
                metadata = json.loads(metadata)
            except ValueError:
                raise InputError("metadata is not JSON", field="metadata") from None
        return metadata_from_json(metadata)

    def _stored(self, licence_id: bytes, version: int) -> StoredSeal | None:
        row = self._row(licence_id, version)
        return row[0] if row else None

    def _row(
        self, licence_id: bytes, version: int
    ) -> tuple[StoredSeal, LicenceMetadata | None] | None:
        """The stored seal and, unless masked, its metadata (cached)."""
        found = self._rows.get((licence_id, version))
        if found is not None or self.ctx.seals is None:
            return found
        stored = self.ctx.seals.store.get(licence_id, version)
        if stored is None:
            return None
        md = None if stored.holder_masked else metadata_from_json(stored.metadata)
        if len(self._rows) > 100_000:
            self._rows.clear()
        self._rows[(licence_id, version)] = (stored, md)
        return stored, md

    def _signature_ok(self, key: KeyEntry, seal: SealEntry, data: bytes, dist: bytes) -> bool:
        memo = (seal.key_id, seal.r, seal.s, hashlib.sha256(data).digest(), dist)
        ok = self._checked.get(memo)
        if ok is None:
            from credledger.node.core.sm2 import Sm2PublicKey, rs_to_der

            der = rs_to_der(int.from_bytes(seal.r, "big"), int.from_bytes(seal.s, "big"))
            try:
                ok = Sm2PublicKey.from_raw(key.public_key).verify(data, der, dist)
            except Exception:  # a public key that is no point: the seal cannot verify
                ok = False
            if len(self._checked) > 50_000:
                self._checked.clear()
            self._checked[memo] = ok
        return ok

    def _written(self, rec: ev.LicenceRecord) -> tuple[int, str]:
        """The block the licence's current version was written in (issued or amended) and the
        department that wrote it: its seal must be that department's."""
        for h in reversed(rec.history):
            if h.get("action") in ("ISSUED", "AMENDED"):
                return int(h["blockNumber"]), str(h.get("by") or rec.issuer)
        return rec.issued_block, rec.issuer

    def check(self, licence_id: bytes, presented: LicenceMetadata | None) -> SealCheck | None:
        """The seal verdict of the licence's current version (inside ``model.snapshot()``);
        None for a licence the read model does not know.

        Without presented metadata the verdict is cached: it holds while the read model's
        record, seal and key retirement are the very ones it was judged from (a reorg rebuilds
        them as new objects), and only once the node's own metadata was there to check."""
        model = self.ctx.model
        rec = model.licence(licence_id)
        if rec is None:
            return None
        version = rec.version
        seal = model.seal(licence_id, version)
        if presented is None:
            hit = self._results.get(licence_id)
            if hit is not None and hit[0] is rec and hit[1] is seal and hit[2] == version:
                retired = model.department_key(seal.key_id) if seal else None
                if hit[3] == (retired.retired_pos if retired else None):
                    return hit[4]
        found = self._judge(licence_id, rec, version, seal, presented)
        if presented is None and (seal is None or found.status is not SealStatus.UNCHECKED):
            key = model.department_key(seal.key_id) if seal else None
            if len(self._results) > 100_000:
                self._results.clear()
            self._results[licence_id] = (
                rec,
                seal,
                version,
                key.retired_pos if key else None,
                found,
            )
        return found

    def _judge(
        self,
        licence_id: bytes,
        rec: ev.LicenceRecord,
        version: int,
        seal: SealEntry | None,
        presented: LicenceMetadata | None,
    ) -> SealCheck:
        model = self.ctx.model
        block, writer = self._written(rec)
        if seal is None:
            had = [
                k
                for k in model.keys_of(writer)
                if k.kind == SM2_KIND
                and k.registered_block <= block
                and (k.retired_pos is None or k.retired_pos[0] > block)
            ]
            return judge_seal(
                SealFacts(
                    licence_id,
                    version,
                    writer,
                    issuer_had_key=bool(had),
                    issuer_key_id=had[-1].key_id if had else None,
                )
            )
        key = model.department_key(seal.key_id)
        row = self._row(licence_id, version)
        dist = row[0].dist_id.encode("utf-8") if row else DEFAULT_DIST_ID
        md, source = presented, "presented"
        if md is None and row is not None and row[1] is not None:
            md, source = row[1], "node"
        number: str | None = None
        names_licence = True
        md_version: int | None = None
        if md is not None:
            number = md.number
            try:
                names_licence = licence_id_of(rec.type_id, serial_of(md.number)) == licence_id
            except ValueError:
                names_licence = False
            try:
                md_version = parse_gbt_identifier(md.identifier).version
            except IdentifierError:
                md_version = -1
        ok: bool | None = None
        if md is not None and key is not None and key.kind == SM2_KIND:
            ok = self._signature_ok(key, seal, md.canonical(), dist)
        return judge_seal(
            SealFacts(
                licence_id,
                version,
                writer,
                key_id=seal.key_id,
                sealed_at=seal.block_time,
                key_department=key.department if key else None,
                key_kind=key.kind if key else 0,
                key_retired_at=key.retired_at if key else 0,
                sealed_after_retirement=bool(
                    key
                    and key.retired_pos is not None
                    and (seal.block_number, seal.log_index) > key.retired_pos
                ),
                signature_ok=ok,
                metadata_source=source if md is not None else None,
                metadata_number=number,
                metadata_names_licence=names_licence,
                metadata_version=md_version,
            )
        )

    def seal_json(self, licence_id: bytes) -> dict[str, Any]:
        """``GET /v1/licences/{id}/seal``: what an outsider needs to check the seal of the
        licence's current version with OpenSSL alone (docs/standards.md "E-seals")."""
        model = self.ctx.model
        with model.snapshot():
            rec = model.licence(licence_id)
            if rec is None:
                raise NotFoundError(f"no licence {ev.hexb(licence_id)} on chain")
            seal = model.seal(licence_id, rec.version)
            if seal is None:
                raise NotSealed(
                    f"licence {ev.hexb(licence_id)} version {rec.version} carries no e-seal "
                    "on chain (issued or amended without one)",
                    licenceId=ev.hexb(licence_id),
                    version=rec.version,
                )
            key = model.department_key(seal.key_id)
            check = self.check(licence_id, None)
        stored = self._stored(licence_id, rec.version)
        signed: bytes | None = None
        metadata: dict[str, Any] | None = None
        source = "holder"
        if stored is not None:
            metadata = dict(stored.metadata)
            if not stored.holder_masked:
                signed = metadata_from_json(stored.metadata).canonical()
                source = "node"
        from credledger.node.core.sm2 import Sm2PublicKey, rs_to_der

        der = rs_to_der(int.from_bytes(seal.r, "big"), int.from_bytes(seal.s, "big"))
        pem = Sm2PublicKey.from_raw(key.public_key).pem().decode("ascii") if key else None
        return {
            "licenceId": ev.hexb(licence_id),
            "version": rec.version,
            "algorithm": ALGORITHM,
            "signedData": base64.b64encode(signed).decode("ascii") if signed else None,
            # "node": signedData is the canonical metadata this node sealed; "holder": it holds
            # a citizen ID (kept masked here) or another node sealed it: the holder presents it
            "signedDataFrom": source,
            "metadata": metadata,
            "signature": base64.b64encode(der).decode("ascii"),
            "r": ev.hexb(seal.r),
            "s": ev.hexb(seal.s),
            "publicKeyPem": pem,
            "distId": stored.dist_id if stored else DEFAULT_DIST_ID.decode("ascii"),
            "key": key_json(key) if key else {"keyId": seal.key_id, "department": None},
            "transactionHash": seal.tx_hash,
            "blockNumber": seal.block_number,
            "sealedAt": seal.block_time,
            "check": check.to_json() if check else None,
        }
