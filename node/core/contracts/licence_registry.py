"""Typed binding for LicenceRegistry: licence types, issuance, lifecycle, supervision facts.

Every custom error of the contract has its own exception class here, registered with
:mod:`node.contracts.errors`, so a revert raises e.g. :class:`LicenceNotActive` with the licence id
and the stored status in ``error_args``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NewType

from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address
from web3.types import BlockIdentifier, TxReceipt

from credledger.node.core.contracts import openzeppelin as _oz  # noqa: F401 - registers the OpenZeppelin errors
from credledger.node.core.contracts._base import AdminRules
from credledger.node.core.contracts.department_keys import (
    KEY_KIND_P256,
    KEY_KIND_SM2,
    DepartmentKey,
    DepartmentKeys,
    Seal,
    SealedEvent,
)
from credledger.node.core.contracts.errors import register
from credledger.node.core.errors import ContractRevert
from credledger.node.core.merkle import DocHash

LicenceId = NewType("LicenceId", bytes)
TypeId = NewType("TypeId", bytes)  # keccak256 of a licence type's code

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ROLE_ISSUER = 1
ROLE_SUPERVISOR = 2
SUPERVISOR_ROLE = keccak(b"SUPERVISOR_ROLE")


class LicenceStatus(IntEnum):
    """``ILicenceRegistry.Status``; NOT_FOUND and EXPIRED are derived by the contract's views."""

    NOT_FOUND = 0
    ACTIVE = 1
    SUSPENDED = 2
    REVOKED = 3
    EXPIRED = 4


class SupervisionKind(IntEnum):
    """``ILicenceRegistry.SupervisionKind``."""

    ABNORMAL_OPERATION_LISTED = 0
    ABNORMAL_OPERATION_REMOVED = 1
    ADMINISTRATIVE_PENALTY = 2


def licence_id_of(type_id: bytes, serial: bytes) -> LicenceId:
    """``keccak256(abi.encode(typeId, serial))``, as the contract derives it."""
    if len(type_id) != 32 or len(serial) != 32:
        raise ValueError("type id and serial are 32 bytes each")
    return LicenceId(keccak(type_id + serial))


def serial_of(licence_number: str) -> bytes:
    """A licence number as the contract's ``serial`` (the one encoding, used by the node too):
    the number (NFKC, trimmed) left-aligned in 32 bytes if it is printable ASCII of at most 32
    characters, else the keccak256 of its UTF-8 bytes."""
    text = unicodedata.normalize("NFKC", licence_number).strip()
    if not text:
        raise ValueError("a licence number must not be empty")
    raw = text.encode("utf-8")
    if text.isascii() and text.isprintable() and len(raw) <= 32:
        return raw.ljust(32, b"\0")
    return keccak(raw)


def number_of(serial: bytes) -> str | None:
    """The licence number if ``serial`` is a left-aligned ASCII number, else None (a hash)."""
    body = serial.rstrip(b"\0")
    if body and all(32 <= c < 127 for c in body):
        return body.decode("ascii")
    return None


@dataclass(frozen=True)
class IssueRequest:
    """One licence to issue (``ILicenceRegistry.IssueRequest``)."""

    type_id: bytes
    serial: bytes
    holder: bytes
    doc_hash: bytes
    valid_from: int
    valid_until: int = 0  # 0: no end
    holder_address: str | None = None

    @property
    def licence_id(self) -> LicenceId:
        return licence_id_of(self.type_id, self.serial)

    def as_tuple(self) -> tuple[bytes, bytes, bytes, str, bytes, int, int]:
        return (
            self.type_id,
            self.serial,
            self.holder,
            to_checksum_address(self.holder_address or ZERO_ADDRESS),
            self.doc_hash,
            self.valid_from,
            self.valid_until,
        )


@dataclass(frozen=True)
class Licence:
    """What the registry stores about a licence (``getLicence``); status derived at the block."""

    licence_id: LicenceId
    issuer: str
    type_id: TypeId
    status: LicenceStatus
    version: int
    valid_until: int
    doc_hash: DocHash


@dataclass(frozen=True)
class LicenceTypeInfo:
    type_id: TypeId
    index: int
    schema_hash: bytes
    name: str


# --- errors ------------------------------------------------------------------------------------
# Each class carries its HTTP status and its message (``template``, with the error's argument
# names); the services raise them as they are.


class _StatusRevert(ContractRevert):
    """An error whose ``status`` argument is a :class:`LicenceStatus` (shown by name)."""

    @classmethod
    def describe(cls, args: dict[str, Any]) -> str:
        status = args.get("status")
        if isinstance(status, int) and status in {s.value for s in LicenceStatus}:
            args = {**args, "status": LicenceStatus(status).name.lower()}
        return super().describe(args)


class UnknownLicenceType(ContractRevert):
    """No licence type with this id is registered (args: typeId)."""

    code = "unknown_licence_type"
    http_status = 404
    template = "licence type {typeId} is not registered on chain"


class LicenceTypeExists(ContractRevert):
    """A licence type with this id is already registered (args: typeId)."""

    code = "licence_type_exists"
    http_status = 409
    template = "licence type {typeId} is already registered"


class InvalidLicenceType(ContractRevert):
    """A type needs a non-zero id and schema hash and a name (args: typeId)."""

    code = "invalid_licence_type"
    http_status = 400
    template = "a licence type needs an id, a schema hash and a name"


class InvalidAuthorisation(ContractRevert):
    """Unknown role bits, or a zero department (args: typeId, department, roles)."""

    code = "invalid_authorisation"
    http_status = 400
    template = "invalid authorisation roles or department"


class NotIssuer(ContractRevert):
    """The caller is not an authorised issuer of the type (args: typeId, account)."""

    code = "not_issuer"
    http_status = 403
    template = "this department is not authorised on chain to issue licence type {typeId}"


class NotAuthorised(ContractRevert):
    """The caller may not change this licence (args: licenceId, account)."""

    code = "not_authorised"
    http_status = 403
    template = "this department is not authorised on chain to change licence {licenceId}"


class LicenceNotFound(ContractRevert):
    """No licence has this id (args: licenceId)."""

    code = "licence_not_found"
    http_status = 404
    template = "no licence {licenceId} on chain"


class LicenceExists(ContractRevert):
    """A licence with this type and serial already exists (args: licenceId)."""

    code = "licence_exists"
    http_status = 409
    template = "licence {licenceId} (same type and serial) already exists"


class LicenceNotActive(_StatusRevert):
    """Only an active licence can be suspended (args: licenceId, status)."""

    code = "licence_not_active"
    http_status = 409
    template = "licence {licenceId} is not active (it is {status})"


class LicenceNotSuspended(_StatusRevert):
    """Only a suspended licence can be reinstated (args: licenceId, status)."""

    code = "licence_not_suspended"
    http_status = 409
    template = "licence {licenceId} is not suspended (it is {status})"


class LicenceIsRevoked(ContractRevert):
    """The licence is revoked; revocation is final (args: licenceId, status)."""

    code = "licence_revoked"
    http_status = 409
    template = "licence {licenceId} is revoked; revocation is final"


class InvalidHolder(ContractRevert):
    """The holder subject is zero (args: licenceId)."""

    code = "invalid_holder"
    http_status = 400
    template = "the holder subject must not be zero"


class InvalidDocHash(ContractRevert):
    """The document hash is zero (args: licenceId)."""

    code = "invalid_doc_hash"
    http_status = 400
    template = "the document hash must not be zero"


class InvalidValidity(ContractRevert):
    """The validity window is empty or over (args: licenceId, validFrom, validUntil)."""

    code = "invalid_validity"
    http_status = 400
    template = "validity window of {licenceId} is empty or already over"


class InvalidHolderAddress(ContractRevert):
    """The holder address is zero (args: licenceId, holderAddress)."""

    code = "invalid_holder_address"
    http_status = 400
    template = "the holder address must not be the zero address"


class KeyIsRetired(ContractRevert):
    """The key was retired: it may not act or be authorised again (args: key, retiredAt)."""

    code = "key_retired"
    http_status = 403


class RegistryFull(ContractRevert):
    """No more licence types or department keys fit a 16-bit index (args: limit)."""

    code = "registry_full"
    http_status = 409


class SafeCastOverflowedUintDowncast(ContractRevert):
    """An admin-delay value does not fit (OpenZeppelin SafeCast; args: bits, value)."""

    code = "value_too_large"
    http_status = 400


register(
    UnknownLicenceType,
    LicenceTypeExists,
    InvalidLicenceType,
    InvalidAuthorisation,
    NotIssuer,
    NotAuthorised,
    LicenceNotFound,
    LicenceExists,
    LicenceNotActive,
    LicenceNotSuspended,
    LicenceIsRevoked,
    InvalidHolder,
    InvalidDocHash,
    InvalidValidity,
    InvalidHolderAddress,
    KeyIsRetired,
    RegistryFull,
    SafeCastOverflowedUintDowncast,
)


# --- binding -----------------------------------------------------------------------------------


class LicenceRegistry(DepartmentKeys, AdminRules):
    """LicenceRegistry at ``address``; writes are signed by ``sender`` (a department's key)."""

    NAME = "LicenceRegistry"

    # governance (default admin)
    def register_type(self, type_id: bytes, name: str, schema_hash: bytes) -> TxReceipt:
        return self._send(self.contract.functions.registerType(type_id, name, schema_hash))

    def set_authorisation(self, type_id: bytes, department: str, roles: int) -> TxReceipt:
        return self._send(
            self.contract.functions.setAuthorisation(
                type_id, to_checksum_address(department), roles
            )
        )

    def retire_key(self, key: str) -> TxReceipt:
        """Retire a department key for good: it loses its roles and can never act again."""
        return self._send(self.contract.functions.retireKey(to_checksum_address(key)))

    def grant_supervisor_role(self, account: str) -> TxReceipt:
        """Allow ``account`` to record supervision facts."""
        return self._send(
            self.contract.functions.grantRole(SUPERVISOR_ROLE, to_checksum_address(account))
        )

    # issuance
    def issue(self, request: IssueRequest) -> tuple[LicenceId, TxReceipt]:
        receipt = self._send(self.contract.functions.issue(*request.as_tuple()))
        return request.licence_id, receipt

    def issue_batch(self, requests: list[IssueRequest]) -> tuple[list[LicenceId], TxReceipt]:
        receipt = self._send(self.contract.functions.issueBatch([r.as_tuple() for r in requests]))
        return [r.licence_id for r in requests], receipt

    def issue_sealed(self, request: IssueRequest, seal: Seal) -> tuple[LicenceId, TxReceipt]:
        receipt = self._send(
            self.contract.functions.issueSealed(request.as_tuple(), seal.as_tuple())
        )
        return request.licence_id, receipt

    def issue_batch_sealed(
        self, requests: list[IssueRequest], seals: list[Seal]
    ) -> tuple[list[LicenceId], TxReceipt]:
        receipt = self._send(
            self.contract.functions.issueBatchSealed(
                [r.as_tuple() for r in requests], [s.as_tuple() for s in seals]
            )
        )
        return [r.licence_id for r in requests], receipt

    def amend_sealed(
        self, licence_id: bytes, new_doc_hash: bytes, new_valid_until: int, seal: Seal
    ) -> TxReceipt:
        return self._send(
            self.contract.functions.amendSealed(
                licence_id, new_doc_hash, new_valid_until, seal.as_tuple()
            )
        )

    # lifecycle
    def suspend(self, licence_id: bytes, reason_code: int) -> TxReceipt:
        return self._send(self.contract.functions.suspend(licence_id, reason_code))

    def reinstate(self, licence_id: bytes) -> TxReceipt:
        return self._send(self.contract.functions.reinstate(licence_id))

    def revoke(self, licence_id: bytes, reason_code: int) -> TxReceipt:
        return self._send(self.contract.functions.revoke(licence_id, reason_code))

    def amend(self, licence_id: bytes, new_doc_hash: bytes, new_valid_until: int) -> TxReceipt:
        return self._send(self.contract.functions.amend(licence_id, new_doc_hash, new_valid_until))

    def bind_holder(self, licence_id: bytes, holder_address: str) -> TxReceipt:
        return self._send(
            self.contract.functions.bindHolder(licence_id, to_checksum_address(holder_address))
        )

    def record_supervision(
        self, subject: bytes, kind: SupervisionKind, ref_hash: bytes
    ) -> TxReceipt:
        return self._send(self.contract.functions.recordSupervision(subject, int(kind), ref_hash))

    # views
    def get_licence(self, licence_id: bytes, block: BlockIdentifier = "latest") -> Licence | None:
        """The licence, or None if no licence has this id."""
        raw: Any = self.contract.functions.getLicence(licence_id).call(block_identifier=block)
        issuer, type_id, status, version, valid_until, doc_hash = raw
        if LicenceStatus(status) is LicenceStatus.NOT_FOUND:
            return None
        return Licence(
            licence_id=LicenceId(bytes(licence_id)),
            issuer=str(issuer),
            type_id=TypeId(bytes(type_id)),
            status=LicenceStatus(status),
            version=int(version),
            valid_until=int(valid_until),
            doc_hash=DocHash(bytes(doc_hash)),
        )

    def status_of(self, licence_id: bytes, block: BlockIdentifier = "latest") -> LicenceStatus:
        return LicenceStatus(
            int(self.contract.functions.statusOf(licence_id).call(block_identifier=block))
        )

    def holder_of(self, licence_id: bytes, block: BlockIdentifier = "latest") -> str | None:
        """The holder's bound wallet address, or None if none is bound."""
        raw = str(self.contract.functions.holderOf(licence_id).call(block_identifier=block))
        return None if int(raw, 16) == 0 else to_checksum_address(raw)

    def holder_and_status(
        self, licence_id: bytes, block: BlockIdentifier = "latest"
    ) -> tuple[str | None, LicenceStatus]:
        """``holderAndStatus``: what the ConsentRegistry checks for a licence grant."""
        holder, status = self.contract.functions.holderAndStatus(licence_id).call(
            block_identifier=block
        )
        bound = None if int(str(holder), 16) == 0 else to_checksum_address(str(holder))
        return bound, LicenceStatus(int(status))

    def retired_at(self, key: str) -> int:
        """When ``key`` was retired (unix seconds), 0 if it is not."""
        return int(self.contract.functions.retiredAt(to_checksum_address(key)).call())

    def is_current_document(self, licence_id: bytes, doc_hash: bytes) -> bool:
        return bool(self.contract.functions.isCurrentDocument(licence_id, doc_hash).call())

    def get_type(self, type_id: bytes) -> LicenceTypeInfo | None:
        index, schema_hash, name = self.contract.functions.getType(type_id).call()
        if int(index) == 0:
            return None
        return LicenceTypeInfo(TypeId(bytes(type_id)), int(index), bytes(schema_hash), str(name))

    def authorisation_of(self, type_id: bytes, department: str) -> int:
        return int(
            self.contract.functions.authorisationOf(type_id, to_checksum_address(department)).call()
        )

    def has_supervisor_role(self, account: str) -> bool:
        return bool(
            self.contract.functions.hasRole(SUPERVISOR_ROLE, to_checksum_address(account)).call()
        )

    def issued_events(self, receipt: TxReceipt) -> list[dict[str, Any]]:
        return self._events("LicenceIssued", receipt)


__all__ = [
    "KEY_KIND_P256",
    "KEY_KIND_SM2",
    "ROLE_ISSUER",
    "ROLE_SUPERVISOR",
    "SUPERVISOR_ROLE",
    "DepartmentKey",
    "IssueRequest",
    "Licence",
    "LicenceId",
    "LicenceRegistry",
    "LicenceStatus",
    "LicenceTypeInfo",
    "Seal",
    "SealedEvent",
    "SupervisionKind",
    "TypeId",
    "licence_id_of",
    "number_of",
    "serial_of",
]
