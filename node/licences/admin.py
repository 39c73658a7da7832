"""Licence types and department authorisations: the catalogue plus types registered on chain,
registering new ones, and the per-type issuer/supervisor roles (admin only)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence

from eth_hash.auto import keccak

from credledger.node.auth import Principal, require
from credledger.node.core.chain import Chain
from credledger.node.core.contracts import licence_events as ev
from credledger.node.core.contracts.licence_registry import (
    ROLE_ISSUER,
    ROLE_SUPERVISOR,
    LicenceRegistry,
    NotIssuer,
)
from credledger.node.core.errors import ConflictError, InputError, NotFoundError
from credledger.node.core.gbt import parse_type_code
from credledger.node.core.identifiers import refuse_citizen_ids
from credledger.node.core.tx import TxSender
from credledger.node.departments import Departments
from credledger.node.licences.catalogue import Catalogue, LicenceType, type_id
from credledger.node.licences.context import LicenceContext
from credledger.node.licences.inputs import parse_address
from credledger.node.licences.models import Authorisation, RegisteredType, RetiredKey

ROLES = {"issuer": ROLE_ISSUER, "supervisor": ROLE_SUPERVISOR}


class LicenceAdmin:
    """Type lookups for every part, and the admin's writes."""

    def __init__(self, ctx: LicenceContext, admin: TxSender) -> None:
        self.ctx = ctx
        self.catalogue = ctx.catalogue
        self._admin = admin
        self._chain_types: dict[bytes, LicenceType] = {}
        self._lock = threading.Lock()

    # --- lookups ------------------------------------------------------------------------------

    def licence_type(self, code: str) -> LicenceType:
        try:
            return self.catalogue.get(code)
        except NotFoundError:
            pass
        found = self.type_by_id(type_id(code))
        if found is None and self.ctx.catch_up():
            found = self.type_by_id(type_id(code))
        if found is None:
            raise NotFoundError("unknown licence type; GET /v1/licence-types lists them")
        return found

    def type_by_id(self, tid: bytes) -> LicenceType | None:
        t = self.catalogue.by_id(tid)
        if t is not None:
            return t
        with self._lock:
            if tid in self._chain_types:
                return self._chain_types[tid]
        # from the read model, never the indexer's database: this runs inside read-model
        # snapshots, and the indexer takes its own lock before the model's
        entry = self.ctx.model.licence_type(tid)
        parsed = type_from_chain_name(entry.name) if entry is not None else None
        if parsed is not None and parsed.type_id == tid:
            with self._lock:
                self._chain_types[tid] = parsed
            return parsed
        return None

    def code_of(self, tid: bytes) -> str:
        t = self.type_by_id(tid)
        return t.code if t else ev.hexb(tid)

    def types(self) -> list[LicenceType]:
        """The catalogue plus types registered on chain later (by the admin API)."""
        extra = []
        for e in self.ctx.events("LicenceTypeRegistered"):
            t = type_from_chain_name(e.args["name"])
            if t is not None and self.catalogue.by_id(t.type_id) is None:
                extra.append(t)
        return list(self.catalogue.types) + extra

    def refine(self, exc: NotIssuer) -> NotIssuer:
        """A NotIssuer revert naming the type by its code rather than its id."""
        tid = exc.error_args[0] if exc.error_args else b""
        code = self.code_of(tid) if isinstance(tid, bytes) else "?"
        return NotIssuer(
            f"this department is not authorised on chain to issue {code}",
            error_name=exc.error_name,
            args=exc.error_args,
        )

    # --- admin writes -------------------------------------------------------------------------

    def register_type(self, principal: Principal | None, t: LicenceType) -> RegisteredType:
        """Register a new type on chain (admin only)."""
        require(principal, "admin", action="register licence types")
        # the names go on chain for ever, into every node's index and every answer: no ID
        for field, value in (("code", t.code), ("category", t.category), ("zh", t.zh),
                             ("en", t.en)):  # fmt: skip
            refuse_citizen_ids(value, field)
        if self.catalogue.category(t.category) is None:
            raise InputError(
                "category: unknown category; GET /v1/licence-types lists them", field="category"
            )
        if t.type_code and any(x.type_code == t.type_code for x in self.types()):
            raise ConflictError(
                f"typeCode {t.type_code} belongs to another licence type", field="typeCode"
            )
        registry = self.ctx.registry_for(self._admin)
        receipt = self.ctx.write(
            lambda: registry.register_type(t.type_id, chain_name(t), schema_hash(t))
        )
        with self._lock:
            self._chain_types[t.type_id] = t
        return RegisteredType.model_validate(
            {**t.to_json(), "transactionHash": ev.hexb(receipt["transactionHash"])}
        )

    def authorise(
        self, principal: Principal | None, type_code: str, department: str, roles: Sequence[str]
    ) -> Authorisation:
        """Set a department address's roles for a type (admin only)."""
        require(principal, "admin", action="authorise departments")
        t = self.licence_type(type_code)
        address = parse_address(department, "department")
        bits = 0
        for r in roles:
            if r not in ROLES:
                raise InputError("roles are 'issuer' and/or 'supervisor'", field="roles")
            bits |= ROLES[r]
        registry = self.ctx.registry_for(self._admin)
        receipt = self.ctx.write(lambda: registry.set_authorisation(t.type_id, address, bits))
        return Authorisation(
            type=t.code,
            department=address,
            roles=sorted(set(roles)),
            transactionHash=ev.hexb(receipt["transactionHash"]),
        )

    def retire_key(self, principal: Principal | None, key: str) -> RetiredKey:
        """Retire a department key for good (admin only): it loses every role and can never act
        or be authorised again; its licences stay valid under the type's current issuers."""
        require(principal, "admin", action="retire department keys")
        address = parse_address(key, "key")
        registry = self.ctx.registry_for(self._admin)
        receipt = self.ctx.write(lambda: registry.retire_key(address))
        return RetiredKey(
            key=address,
            retiredAt=registry.retired_at(address),
            transactionHash=ev.hexb(receipt["transactionHash"]),
        )


# --- chain encoding of licence types ----------------------------------------------------------


def chain_name(t: LicenceType) -> str:
    """The name stored on chain: the type as compact JSON, so other nodes can read it back (with
    its GB/T 36902 ``typeCode`` and its ``fingerprint`` when it has them)."""
    d: dict[str, str] = {
        "code": t.code, "category": t.category, "zh": t.zh, "en": t.en, "holder": t.holder
    }  # fmt: skip
    if t.type_code:
        d["typeCode"] = t.type_code
    if t.fingerprint != "sha256":
        d["fingerprint"] = t.fingerprint
    return json.dumps(
        d,
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )


def schema_hash(t: LicenceType) -> bytes:
    return keccak(chain_name(t).encode("utf-8"))


def type_from_chain_name(name: str) -> LicenceType | None:
    try:
        d = json.loads(name)
        code = d.get("typeCode")
        return LicenceType(
            d["code"],
            d["category"],
            d["zh"],
            d["en"],
            d.get("holder", "enterprise"),
            type_code=parse_type_code(code) if code else None,
            type_code_source="local" if code else None,
            fingerprint="sm3" if d.get("fingerprint") == "sm3" else "sha256",
        )
    except (ValueError, KeyError, TypeError):  # IdentifierError is a ValueError too
        return None


# --- set-up of a deployment (CLI, demo, tests, bench) -----------------------------------------


def register_catalogue(
    chain: Chain,
    registry_address: str,
    admin: TxSender,
    catalogue: Catalogue,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Register every catalogue type not yet on chain; return how many were registered."""
    registry = LicenceRegistry(chain, registry_address, admin)
    done = 0
    for t in catalogue.types:
        if registry.get_type(t.type_id) is not None:
            continue
        registry.register_type(t.type_id, chain_name(t), schema_hash(t))
        done += 1
        if progress:
            progress(f"registered licence type {t.code} ({t.zh})")
    return done


def authorise_departments(
    chain: Chain,
    registry_address: str,
    admin: TxSender,
    departments: Departments,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Give each configured department its on-chain roles (issuer/supervisor per type, and the
    global supervisor role to supervising departments). Needs the admin key; returns tx count."""
    registry = LicenceRegistry(chain, registry_address, admin)
    sent = 0
    for d in departments:
        for code in sorted(d.issues | d.supervises):
            bits = (ROLE_ISSUER if code in d.issues else 0) | (
                ROLE_SUPERVISOR if code in d.supervises else 0
            )
            tid = type_id(code)
            if registry.authorisation_of(tid, d.address) == bits:
                continue
            registry.set_authorisation(tid, d.address, bits)
            sent += 1
        if d.supervises and not registry.has_supervisor_role(d.address):
            registry.grant_supervisor_role(d.address)
            sent += 1
        if progress:
            progress(f"department {d.name} ({d.address}) authorised on chain")
    return sent
