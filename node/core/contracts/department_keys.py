"""Department keys (SM2 e-seal keys, P-256 credential keys) and e-seals in LicenceRegistry.

The data the binding (:mod:`.licence_registry`, which re-exports all of this) takes and returns
for the contract's department key registry and sealed issuance, and the custom errors of that
part of the contract. The seal is an SM2 signature (GM/T 0003, SM3 with Z) over a licence's
GB/T 36903 metadata (docs/standards.md); the chain holds its r and s in ``LicenceSealed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address
from web3.types import BlockIdentifier, TxReceipt

from credledger.node.core.contracts._base import Binding
from credledger.node.core.contracts.errors import register
from credledger.node.core.errors import ContractRevert

KEY_KIND_SM2 = 1  # a department's SM2 e-seal key (GM/T 0003), 64-byte x || y
KEY_KIND_P256 = 2  # a department's P-256 credential-signing key, 64-byte x || y


@dataclass(frozen=True)
class Seal:
    """A department's e-seal as the contract takes it (``ILicenceRegistry.Seal``): the SM2
    signature's r and s (32 bytes each, big-endian) and the id of the department key
    that made it."""

    key_id: int
    r: bytes
    s: bytes

    def __post_init__(self) -> None:
        if len(self.r) != 32 or len(self.s) != 32:
            raise ValueError("a seal's r and s are 32 bytes each")
        if not 0 < self.key_id < 2**32:
            raise ValueError("a seal's key id is a positive 32-bit number")

    @classmethod
    def of(cls, key_id: int, r: int, s: int) -> Seal:
        """A seal from the integers r, s (e.g. ``sm2.der_to_rs(signature)``)."""
        return cls(key_id, r.to_bytes(32, "big"), s.to_bytes(32, "big"))

    def rs(self) -> tuple[int, int]:
        return int.from_bytes(self.r, "big"), int.from_bytes(self.s, "big")

    def as_tuple(self) -> tuple[int, bytes, bytes]:
        return (self.key_id, self.r, self.s)


@dataclass(frozen=True)
class DepartmentKey:
    """A department key's on-chain record (``departmentKey``); times in unix seconds."""

    key_id: int
    department: str
    kind: int  # KEY_KIND_SM2 or KEY_KIND_P256
    registered_at: int
    retired_at: int  # 0 while in service
    public_key: bytes  # x || y

    def in_service_at(self, when: int) -> bool:
        """Whether a ``LicenceSealed`` event of block time ``when`` falls in the key's service.
        The contract refuses a seal by a retired key, so a seal in the very second of the
        retirement came before it: the end is inclusive."""
        return self.registered_at <= when and (self.retired_at == 0 or when <= self.retired_at)


@dataclass(frozen=True)
class SealedEvent:
    """One ``LicenceSealed`` event: the seal of one licence version, where the chain holds it."""

    licence_id: bytes
    key_id: int
    version: int
    r: bytes
    s: bytes
    transaction_hash: str  # 0x hex
    block_number: int
    log_index: int

    @property
    def seal(self) -> Seal:
        return Seal(self.key_id, self.r, self.s)


# --- errors ------------------------------------------------------------------------------------


class NotKeyManager(ContractRevert):
    """Only the department itself or the admin manages its keys (args: department, account)."""

    code = "not_key_manager"
    http_status = 403
    template = "only department {department} itself or the admin may manage its keys"


class UnknownDepartment(ContractRevert):
    """The address was never authorised for a type (args: department)."""

    code = "unknown_department"
    http_status = 404
    template = "{department} is not a department of the licence registry (never authorised)"


class InvalidDepartmentKey(ContractRevert):
    """Unknown kind, wrong length, or not a point of the kind's curve (args: kind, length)."""

    code = "invalid_department_key"
    http_status = 400
    template = (
        "not a valid department key of kind {kind} (a 64-byte x || y point of its curve; "
        "got {length} bytes)"
    )


class DepartmentKeyExists(ContractRevert):
    """This public key is registered already (args: keyId)."""

    code = "department_key_exists"
    http_status = 409
    template = "this public key is registered already as key {keyId}"


class UnknownDepartmentKey(ContractRevert):
    """No department key has this id (args: keyId)."""

    code = "unknown_department_key"
    http_status = 404
    template = "no department key {keyId} on chain"


class DepartmentKeyIsRetired(ContractRevert):
    """The department key was retired (args: keyId, retiredAt)."""

    code = "department_key_retired"
    http_status = 409
    template = "department key {keyId} was retired at {retiredAt}"


class InvalidSealKey(ContractRevert):
    """The seal's key is not an SM2 key of the caller (args: keyId, department, kind)."""

    code = "invalid_seal_key"
    http_status = 403
    template = (
        "key {keyId} is not an SM2 e-seal key of this department "
        "(it belongs to {department}, kind {kind})"
    )


class TooManySealKeys(ContractRevert):
    """The department has the most SM2 keys in service already (args: department, limit)."""

    code = "too_many_seal_keys"
    http_status = 409
    template = "department {department} has {limit} seal keys in service; retire one first"


class SealCountMismatch(ContractRevert):
    """A sealed batch needs one seal per request (args: requests, seals)."""

    code = "seal_count_mismatch"
    http_status = 400
    template = "{requests} licences but {seals} seals"


register(
    NotKeyManager,
    UnknownDepartment,
    InvalidDepartmentKey,
    DepartmentKeyExists,
    UnknownDepartmentKey,
    DepartmentKeyIsRetired,
    InvalidSealKey,
    TooManySealKeys,
    SealCountMismatch,
)


def sealed_event(e: Any) -> SealedEvent:
    """A decoded ``LicenceSealed`` log (web3's event data) as a :class:`SealedEvent`."""
    a = e["args"]
    tx = e["transactionHash"]
    return SealedEvent(
        licence_id=bytes(a["licenceId"]),
        key_id=int(a["keyId"]),
        version=int(a["version"]),
        r=bytes(a["r"]),
        s=bytes(a["s"]),
        transaction_hash=tx if isinstance(tx, str) else "0x" + bytes(tx).hex(),
        block_number=int(e["blockNumber"]),
        log_index=int(e["logIndex"]),
    )


class DepartmentKeys(Binding):
    """The department key registry of LicenceRegistry (mixed into its binding)."""

    # department keys (e-seals, credential keys)
    def register_department_key(
        self, department: str, kind: int, public_key: bytes
    ) -> tuple[int, TxReceipt]:
        """Register ``public_key`` (64-byte x || y) of ``kind`` for ``department``; the sender is
        the department itself or the admin. Returns the new key id."""
        receipt = self._send(
            self.contract.functions.registerDepartmentKey(
                to_checksum_address(department), kind, bytes(public_key)
            )
        )
        (event,) = self._events("DepartmentKeyRegistered", receipt)
        return int(event["keyId"]), receipt

    def retire_department_key(self, key_id: int) -> TxReceipt:
        """Retire a department key (the department itself or the admin): it seals nothing more."""
        return self._send(self.contract.functions.retireDepartmentKey(key_id))

    def department_key(
        self, key_id: int, block: BlockIdentifier = "latest"
    ) -> DepartmentKey | None:
        """The department key's record, or None if no key has this id."""
        if not 0 < key_id < 2**32:
            return None
        department, kind, registered, retired, public_key = self.contract.functions.departmentKey(
            key_id
        ).call(block_identifier=block)
        if int(kind) == 0:
            return None
        return DepartmentKey(
            key_id=key_id,
            department=to_checksum_address(str(department)),
            kind=int(kind),
            registered_at=int(registered),
            retired_at=int(retired),
            public_key=bytes(public_key),
        )

    def department_key_ids(self, department: str) -> list[int]:
        """Every key id registered for ``department``, retired ones included, oldest first."""
        ids = self.contract.functions.departmentKeyIds(to_checksum_address(department)).call()
        return [int(i) for i in ids]

    def sealed_events(self, receipt: TxReceipt) -> list[SealedEvent]:
        """The ``LicenceSealed`` events in ``receipt``, in log order."""
        return [sealed_event(e) for e in self._event_logs("LicenceSealed", receipt)]

    def seals_of(self, licence_id: bytes, from_block: int = 0) -> list[SealedEvent]:
        """Every seal of ``licence_id`` on chain (one per sealed version), oldest first, read from
        the ``LicenceSealed`` logs: what a verifier with nothing but an RPC needs."""
        logs = self._logs("LicenceSealed", from_block, licenceId=bytes(licence_id))
        return sorted((sealed_event(e) for e in logs), key=lambda e: (e.block_number, e.log_index))
