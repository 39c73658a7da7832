"""EIP-712 typed data for ConsentRegistry grants and revocations, and signing it.

``grant_typed_data`` / ``revoke_typed_data`` build the exact JSON object a wallet receives in
``eth_signTypedData_v4`` (types including ``EIP712Domain``, primaryType, domain, message), so a
holder can sign in any standard wallet; ``sign_typed_data`` signs the same object locally and gives
the same 65-byte signature (r || s || v, v in {27, 28}, low s). The type strings must match the
contract's ``GRANT_TYPEHASH`` and ``REVOKE_TYPEHASH`` (a test checks both against the chain).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address

DOMAIN_NAME = "CredLedger ConsentRegistry"
DOMAIN_VERSION = "1"

DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
GRANT_TYPE = [
    {"name": "holder", "type": "address"},
    {"name": "assetId", "type": "bytes32"},
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


@dataclass(frozen=True)
class GrantRequest:
    """One grant: ``ConsentRegistry.GrantRequest``, and EIP-712 ``Grant`` without nonce/deadline."""

    holder: str
    asset_id: bytes
    grantee: str
    purpose: bytes
    expires_at: int
    max_uses: int = 0

    def as_tuple(self) -> tuple[str, bytes, str, bytes, int, int]:
        """The ABI tuple for ``grantBySig``."""
        return (
            to_checksum_address(self.holder),
            self.asset_id,
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
            "assetId": _hex32(request.asset_id),
            "grantee": to_checksum_address(request.grantee),
            "purpose": _hex32(request.purpose),
            "expiresAt": request.expires_at,
            "maxUses": request.max_uses,
            "nonce": nonce,
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
            "nonce": nonce,
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
