"""EIP-712 typed data for ConsentRegistry grants and revocations, and signing it.

``grant_typed_data`` / ``revoke_typed_data`` build the exact JSON object a wallet receives in
``eth_signTypedData_v4`` (types including ``EIP712Domain``, primaryType, domain, message), so a
holder can sign in any standard wallet; ``sign_typed_data`` signs the same object locally and gives
the same 65-byte signature (r || s || v, v in {27, 28}, low s). The keyed ``nonce`` (key << 64 |
sequence, far above 2**53) is written as a decimal string, which wallets and eth_account accept for
``uint256``; a JSON number would lose precision in JavaScript. The type strings must match the
contract's ``GRANT_TYPEHASH`` and ``REVOKE_TYPEHASH`` (a test checks both against the chain).

Asset ids and nonces (see ``IConsentRegistry``): a grant names its asset by kind — a licence by its
licence id, a material by its document hash, stored under :func:`material_asset_id` ``(holder,
docHash)``, the value the holder's wallet anchors. Nonces are keyed per grant slot: the signed
``nonce`` is ``nonces(holder, nonce_key(assetId, grantee, purpose))``, the key in the high 192 bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address

DOMAIN_NAME = "CredLedger ConsentRegistry"
DOMAIN_VERSION = "2"

DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
GRANT_TYPE = [
    {"name": "holder", "type": "address"},
    {"name": "kind", "type": "uint8"},
    {"name": "asset", "type": "bytes32"},
    {"name": "grantee", "type": "address"},
    {"name": "purpose", "type": "bytes32"},
    {"name": "expiresAt", "type": "uint64"},
    {"name": "maxUses", "type": "uint32"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]
REVOKE_TYPE = [
    {"name": "holder", "type": "address"},
    {"name": "assetId", "type": "bytes32"},
    {"name": "grantee", "type": "address"},
    {"name": "purpose", "type": "bytes32"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]


def _type_string(name: str, fields: list[dict[str, str]]) -> str:
    return f"{name}(" + ",".join(f"{f['type']} {f['name']}" for f in fields) + ")"


GRANT_TYPE_STRING = _type_string("Grant", GRANT_TYPE)
REVOKE_TYPE_STRING = _type_string("Revoke", REVOKE_TYPE)
GRANT_TYPEHASH = keccak(GRANT_TYPE_STRING.encode())
REVOKE_TYPEHASH = keccak(REVOKE_TYPE_STRING.encode())


class AssetKind(IntEnum):
    """``IConsentRegistry.AssetKind`` (``uint8`` in EIP-712)."""

    LICENCE = 0
    MATERIAL = 1


NONCE_KEY_BITS = 192


def _word(address: str) -> bytes:
    return bytes.fromhex(to_checksum_address(address)[2:]).rjust(32, b"\0")


def material_asset_id(holder: str, doc_hash: bytes) -> bytes:
    """``keccak256(abi.encode(holder, docHash))``: a material's asset id (its wallet anchors it)."""
    if len(doc_hash) != 32:
        raise ValueError(f"expected a 32-byte document hash, got {len(doc_hash)} bytes")
    return bytes(keccak(_word(holder) + doc_hash))


def nonce_key(asset_id: bytes, grantee: str, purpose: bytes) -> int:
    """The NoncesKeyed key of a grant slot.

    The low 192 bits of ``keccak256(abi.encode(assetId, grantee, purpose))``.
    """
    digest_ = keccak(bytes(asset_id) + _word(grantee) + bytes(purpose))
    return int.from_bytes(digest_, "big") & ((1 << NONCE_KEY_BITS) - 1)


@dataclass(frozen=True)
class GrantRequest:
    """One grant: ``ConsentRegistry.GrantRequest``, and EIP-712 ``Grant`` without nonce/deadline.

    ``asset`` is the licence id (kind LICENCE) or the material's document hash (kind MATERIAL);
    :attr:`asset_id` is the id the grant is stored under. Build with :meth:`licence` or
    :meth:`material`.
    """

    holder: str
    kind: AssetKind
    asset: bytes
    grantee: str
    purpose: bytes
    expires_at: int
    max_uses: int = 0

    @classmethod
    def licence(
        cls,
        holder: str,
        licence_id: bytes,
        grantee: str,
        purpose: bytes,
        expires_at: int,
        max_uses: int = 0,
    ) -> GrantRequest:
        return cls(holder, AssetKind.LICENCE, licence_id, grantee, purpose, expires_at, max_uses)

    @classmethod
    def material(
        cls,
        holder: str,
        doc_hash: bytes,
        grantee: str,
        purpose: bytes,
        expires_at: int,
        max_uses: int = 0,
    ) -> GrantRequest:
        return cls(holder, AssetKind.MATERIAL, doc_hash, grantee, purpose, expires_at, max_uses)

    @property
    def asset_id(self) -> bytes:
        """The id the grant is stored under (``isAuthorized``, ``consume``, ``revoke`` take it)."""
        if self.kind is AssetKind.MATERIAL:
            return material_asset_id(self.holder, self.asset)
        return bytes(self.asset)

    @property
    def nonce_key(self) -> int:
        return nonce_key(self.asset_id, self.grantee, self.purpose)

    def as_tuple(self) -> tuple[str, int, bytes, str, bytes, int, int]:
        """The ABI tuple for ``grantBySig``."""
        return (
            to_checksum_address(self.holder),
            int(self.kind),
            self.asset,
            to_checksum_address(self.grantee),
            self.purpose,
            self.expires_at,
            self.max_uses,
        )


def _hex32(value: bytes) -> str:
    if len(value) != 32:
        raise ValueError(f"expected 32 bytes, got {len(value)}")
    return "0x" + value.hex()


def domain(chain_id: int, verifying_contract: str) -> dict[str, Any]:
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(verifying_contract),
    }


def grant_typed_data(
    chain_id: int, verifying_contract: str, request: GrantRequest, nonce: int, deadline: int
) -> dict[str, Any]:
    """The ``eth_signTypedData_v4`` payload for a signed grant."""
    return {
        "types": {"EIP712Domain": DOMAIN_TYPE, "Grant": GRANT_TYPE},
        "primaryType": "Grant",
        "domain": domain(chain_id, verifying_contract),
        "message": {
            "holder": to_checksum_address(request.holder),
            "kind": int(request.kind),
            "asset": _hex32(request.asset),
            "grantee": to_checksum_address(request.grantee),
            "purpose": _hex32(request.purpose),
            "expiresAt": request.expires_at,
            "maxUses": request.max_uses,
            "nonce": str(nonce),  # keyed nonces exceed 2**53: a decimal string, as wallets expect
            "deadline": deadline,
        },
    }


def revoke_typed_data(
    chain_id: int,
    verifying_contract: str,
    *,
    holder: str,
    asset_id: bytes,
    grantee: str,
    purpose: bytes,
    nonce: int,
    deadline: int,
) -> dict[str, Any]:
    """The ``eth_signTypedData_v4`` payload for a signed revocation."""
    return {
        "types": {"EIP712Domain": DOMAIN_TYPE, "Revoke": REVOKE_TYPE},
        "primaryType": "Revoke",
        "domain": domain(chain_id, verifying_contract),
        "message": {
            "holder": to_checksum_address(holder),
            "assetId": _hex32(asset_id),
            "grantee": to_checksum_address(grantee),
            "purpose": _hex32(purpose),
            "nonce": str(nonce),  # keyed nonces exceed 2**53: a decimal string, as wallets expect
            "deadline": deadline,
        },
    }


def digest(typed_data: dict[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest ``keccak256(0x1901 || domainSeparator || structHash)``."""
    # EIP-191: keccak256(0x19 || version || header || body) of the signable message
    m = encode_typed_data(full_message=typed_data)
    return bytes(keccak(b"\x19" + m.version + m.header + m.body))


def sign_typed_data(account: LocalAccount, typed_data: dict[str, Any]) -> bytes:
    """Sign like ``eth_signTypedData_v4``: 65 bytes r || s || v with v in {27, 28}."""
    signed = Account.sign_message(encode_typed_data(full_message=typed_data), account.key)
    return bytes(signed.signature)
