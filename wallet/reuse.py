"""Reuse by the grantee, with a use record on chain (Jinan's 使用记录).

1. The grantee (a bank) calls ``ConsentRegistry.consume(holder, assetId, purpose)`` with its own
   key: the chain counts the use and emits ``ConsentUsed``.
2. It asks the wallet for the asset with that transaction hash, in a request it signs (EIP-712
   ``Fetch``, domain "CredLedger Wallet"), with a fresh nonce and a short expiry.
3. The wallet checks the signature, the transaction (mined, confirmed, succeeded), the
   ``ConsentUsed`` event in it (holder, asset, purpose, grantee = signer), that the grant is still
   in force, and that this use was never redeemed; then it streams the material's file (or the
   licence's details). Each use redeems once. Every refusal is a 403 with a reason code.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from credledger.node.core.contracts.consent_registry import grant_key
from credledger.node.core.contracts.eip712 import sign_typed_data
from credledger.node.core.errors import InputError
from credledger.node.core.receipts import hex32, parse_hash
from credledger.wallet import purposes
from credledger.wallet.consent import ConsentChain
from credledger.wallet.errors import UseRefused
from credledger.wallet.materials import MaterialService
from credledger.wallet.node_client import NodeClient
from credledger.wallet.store import WalletStore

FETCH_DOMAIN_NAME = "CredLedger Wallet"
FETCH_DOMAIN_VERSION = "1"
FETCH_TYPE = [
    {"name": "useTransaction", "type": "bytes32"},
    {"name": "holder", "type": "address"},
    {"name": "assetId", "type": "bytes32"},
    {"name": "purpose", "type": "bytes32"},
    {"name": "nonce", "type": "uint256"},
    {"name": "expiresAt", "type": "uint64"},
]
MAX_REQUEST_TTL = 600

#: every reason a fetch is refused, with what it means (docs/wallet.md has the same table)
REASONS = {
    "bad_signature": "the request is not signed by the grantee's key",
    "request_expired": "the signed request's expiry has passed (or is too far ahead)",
    "nonce_reused": "this request nonce was already used; sign a new request",
    "transaction_not_found": "no such transaction on chain (not mined yet?)",
    "transaction_not_confirmed": "the use transaction does not have enough confirmations yet",
    "transaction_failed": "the consume transaction reverted",
    "use_not_found": "the transaction records no use of this holder's asset for this purpose",
    "wrong_grantee": "the use was recorded by another grantee than the request's signer",
    "grant_not_found": "the holder never granted this grantee the asset for this purpose",
    "grant_revoked": "the holder revoked the grant",
    "grant_expired": "the grant expired",
    "grant_exhausted": "the grant has been used its maximum number of times",
    "use_already_redeemed": "this use was already redeemed; record a new use on chain",
    "asset_not_here": "this wallet does not hold the asset for this holder",
    "asset_deleted": "the holder deleted the material's file (its anchor stays)",
}


def fetch_domain(chain_id: int, consent_registry: str) -> dict[str, Any]:
    return {
        "name": FETCH_DOMAIN_NAME,
        "version": FETCH_DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(consent_registry),
    }


def fetch_typed_data(
    chain_id: int,
    consent_registry: str,
    *,
    use_transaction: str,
    holder: str,
    asset_id: str,
    purpose: str,
    nonce: int,
    expires_at: int,
) -> dict[str, Any]:
    """The ``eth_signTypedData_v4`` payload of a grantee's fetch request."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Fetch": FETCH_TYPE,
        },
        "primaryType": "Fetch",
        "domain": fetch_domain(chain_id, consent_registry),
        "message": {
            "useTransaction": hex32(parse_hash(use_transaction)),
            "holder": to_checksum_address(holder),
            "assetId": hex32(parse_hash(asset_id)),
            "purpose": hex32(parse_hash(purpose)),
            "nonce": nonce,
            "expiresAt": expires_at,
        },
    }


def sign_fetch(
    grantee: LocalAccount,
    chain_id: int,
    consent_registry: str,
    *,
    use_transaction: str,
    holder: str,
    asset_id: str,
    purpose: str,
    ttl: int = 120,
) -> dict[str, Any]:
    """A signed fetch request body, as ``POST /v1/uses`` takes it (used by the CLI and tests)."""
    nonce = secrets.randbits(128)
    expires_at = int(time.time()) + ttl
    data = fetch_typed_data(
        chain_id, consent_registry, use_transaction=use_transaction, holder=holder,
        asset_id=asset_id, purpose=purpose, nonce=nonce, expires_at=expires_at,
    )  # fmt: skip
    message = data["message"]
    request = {
        "useTransaction": message["useTransaction"],
        "holder": message["holder"],
        "assetId": message["assetId"],
        "purpose": message["purpose"],
        "nonce": str(nonce),
        "expiresAt": expires_at,
    }
    return {"request": request, "signature": "0x" + sign_typed_data(grantee, data).hex()}


def purpose_hash(value: str) -> bytes:
    """A purpose as a code (catalogue) or as its 0x keccak256."""
    v = (value or "").strip()
    if v.startswith("0x") and len(v) == 66:
        return parse_hash(v)
    return purposes.purpose(v).hash


@dataclass
class Redeemed:
    """A redeemed use: what to send and the headers that name it."""

    kind: str  # "material" | "licence"
    content: bytes
    media_type: str
    file_name: str
    headers: dict[str, str]
    receipt: dict[str, Any]


class ReuseService:
    def __init__(
        self,
        store: WalletStore,
        consent: ConsentChain,
        materials: MaterialService,
        node: NodeClient,
        confirmations: int,
    ) -> None:
        self.store = store
        self.consent = consent
        self.materials = materials
        self.node = node
        self.confirmations = confirmations

    def info(self) -> dict[str, Any]:
        return {
            "chainId": self.consent.chain.chain_id,
            "consentRegistry": self.consent.address,
            "fetchDomain": fetch_domain(self.consent.chain.chain_id, self.consent.address),
            "fetchType": FETCH_TYPE,
            "reasons": REASONS,
        }

    def redeem(self, request: dict[str, Any], signature: str) -> Redeemed:
        try:
            use_tx = parse_hash(str(request["useTransaction"]))
            holder = to_checksum_address(str(request["holder"]))
            asset = parse_hash(str(request["assetId"]))
            purpose = purpose_hash(str(request["purpose"]))
            nonce = int(request["nonce"])
            expires_at = int(request["expiresAt"])
            sig = bytes.fromhex(str(signature).removeprefix("0x"))
        except (KeyError, ValueError, TypeError):
            raise InputError(
                "request: useTransaction, holder, assetId, purpose, nonce, expiresAt; "
                "signature: 0x + 65 bytes"
            ) from None
        if not 0 <= nonce < 2**256 or not 0 <= expires_at < 2**64:
            raise InputError("nonce or expiresAt out of range")
        data = fetch_typed_data(
            self.consent.chain.chain_id, self.consent.address,
            use_transaction=hex32(use_tx), holder=holder, asset_id=hex32(asset),
            purpose=hex32(purpose), nonce=nonce, expires_at=expires_at,
        )  # fmt: skip
        try:
            signer = to_checksum_address(
                Account.recover_message(encode_typed_data(full_message=data), signature=sig)
            )
        except Exception:
            raise UseRefused("bad_signature", REASONS["bad_signature"]) from None
        now = time.time()
        if expires_at <= now or expires_at > now + MAX_REQUEST_TTL:
            raise UseRefused("request_expired", REASONS["request_expired"])

        receipt, uses = self.consent.uses_in(use_tx)
        if receipt is None:
            raise UseRefused("transaction_not_found", REASONS["transaction_not_found"])
        head = self.consent.head()
        if int(receipt["blockNumber"]) + self.confirmations > head:
            raise UseRefused(
                "transaction_not_confirmed",
                f"{REASONS['transaction_not_confirmed']} ({self.confirmations} needed)",
            )
        state = self.consent.state(holder, asset, signer, purpose)
        chain_now = self.consent.now()
        if receipt["status"] != 1:
            reason = state.state(chain_now)
            if reason == "revoked" and not self._ever_granted(holder, asset, signer, purpose):
                reason = "not_found"
            code = {
                "not_found": "grant_not_found",
                "revoked": "grant_revoked",
                "expired": "grant_expired",
                "exhausted": "grant_exhausted",
            }.get(reason, "transaction_failed")
            raise UseRefused(code, REASONS[code])
        mine = [
            u for u in uses if u.holder == holder and u.asset_id == asset and u.purpose == purpose
        ]
        if not mine:
            raise UseRefused("use_not_found", REASONS["use_not_found"])
        use = next((u for u in mine if u.grantee == signer), None)
        if use is None:
            raise UseRefused("wrong_grantee", REASONS["wrong_grantee"], signer=signer)
        live = state.state(chain_now)
        if live == "revoked":
            raise UseRefused("grant_revoked", REASONS["grant_revoked"])
        if live == "expired":
            raise UseRefused("grant_expired", REASONS["grant_expired"])

        ent = self.store.one("SELECT * FROM enterprises WHERE address=?", holder)
        if ent is None:
            raise UseRefused("asset_not_here", REASONS["asset_not_here"])
        material = self.materials.by_asset(hex32(asset))
        licence: dict[str, Any] | None = None
        if material is not None:
            if material["enterprise_id"] != ent["id"]:
                raise UseRefused("asset_not_here", REASONS["asset_not_here"])
            if material["file_deleted_at"] is not None:
                raise UseRefused("asset_deleted", REASONS["asset_deleted"])
        else:
            licence = self.node.licence(hex32(asset))
            if licence is None or str(licence.get("holderAddress") or "").lower() != holder.lower():
                raise UseRefused("asset_not_here", REASONS["asset_not_here"])

        gid = hex32(grant_key(holder, asset, signer, purpose))
        code = purposes.name_of(purpose)
        try:
            with self.store.tx() as c:
                c.execute(
                    "INSERT INTO uses (tx_hash, log_index, grant_id, enterprise_id, grantee,"
                    " asset_id, purpose, uses, block_number, redeemed_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (use.tx_hash, use.log_index, gid, ent["id"], signer, hex32(asset), code,
                     use.uses, use.block_number, now),
                )  # fmt: skip
                try:
                    c.execute(
                        "INSERT INTO fetch_nonces (grantee, nonce, expires_at) VALUES (?,?,?)",
                        (signer, str(nonce), expires_at),
                    )
                except sqlite3.IntegrityError:
                    raise UseRefused("nonce_reused", REASONS["nonce_reused"]) from None
                c.execute("DELETE FROM fetch_nonces WHERE expires_at < ?", (int(now) - 60,))
                self.store.event(c, int(ent["id"]), f"grantee:{signer}", "used", grantId=gid,
                                 assetId=hex32(asset), grantee=signer, purpose=code,
                                 uses=use.uses, transactionHash=use.tx_hash)  # fmt: skip
        except sqlite3.IntegrityError:
            raise UseRefused("use_already_redeemed", REASONS["use_already_redeemed"]) from None

        use_receipt = {
            "format": "credledger-use-receipt",
            "version": 1,
            "chainId": self.consent.chain.chain_id,
            "consentRegistry": self.consent.address,
            "grantId": gid,
            "holder": holder,
            "assetId": hex32(asset),
            "grantee": signer,
            "purpose": {"code": code, "hash": hex32(purpose)},
            "uses": use.uses,
            "maxUses": state.max_uses,
            "useTransaction": use.tx_hash,
            "blockNumber": use.block_number,
            "logIndex": use.log_index,
            "redeemedAt": int(now),
        }
        headers = {
            "X-Credledger-Grant": gid,
            "X-Credledger-Use-Count": str(use.uses),
            "X-Credledger-Max-Uses": str(state.max_uses),
            "X-Credledger-Use-Transaction": use.tx_hash,
            "X-Credledger-Asset": hex32(asset),
        }
        if material is not None:
            content = self.materials.content(material)
            headers["X-Credledger-Document-Sha256"] = hex32(bytes(material["doc_hash"]))
            use_receipt["documentSha256"] = hex32(bytes(material["doc_hash"]))
            return Redeemed("material", content, material["content_type"], material["name"],
                            headers, use_receipt)  # fmt: skip
        assert licence is not None
        body = json.dumps({"licence": licence, "use": use_receipt}, ensure_ascii=False, indent=2)
        return Redeemed("licence", body.encode(), "application/json",
                        f"licence-{hex32(asset)[2:14]}.json", headers, use_receipt)  # fmt: skip

    def _ever_granted(self, holder: str, asset: bytes, grantee: str, purpose: bytes) -> bool:
        """Whether the wallet knows a grant of this slot (made here or adopted from the chain by
        the reconciler): no grant on chain then means revoked, else never granted."""
        gid = hex32(grant_key(holder, asset, grantee, purpose))
        return self.store.one("SELECT 1 FROM grants WHERE id=?", gid) is not None
